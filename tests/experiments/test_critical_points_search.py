"""`reproduce critical-points`'s bookkeeping: critical points are counted once up to the tanh
network's symmetries (hidden-unit permutations and sign flips)."""
import torch

from reluscope import MLP, Data
from reluscope.experiments.critical_points_search import DISTINCT_TOL, canonical, distinct, search

NET = MLP([4, 4, 4], "tanh", bias=False)


def images(theta, gen):
    """theta (P,) under a random permutation and random sign flips of the hidden units, with the
    function it computes."""
    (W1, _), (W2, _) = NET.unflatten(theta[None])
    perm = torch.randperm(4, generator=gen)
    sign = torch.randint(0, 2, (4,), generator=gen).double() * 2 - 1
    V1, V2 = (W1[0] * sign[:, None])[perm], (W2[0] * sign[None, :])[:, perm]
    return torch.cat([V1.flatten(), V2.flatten()])


def outputs(theta, X):
    (W1, _), (W2, _) = NET.unflatten(theta[None])
    return torch.tanh(X @ W1[0].T) @ W2[0].T


def test_symmetric_images_have_one_canonical_form():
    gen = torch.Generator().manual_seed(0)
    theta = NET.init(1, generator=gen, dtype=torch.float64)[0]
    X = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    imgs = torch.stack([images(theta, gen) for _ in range(20)])
    for img in imgs:                               # a symmetry: the same function
        torch.testing.assert_close(outputs(img, X), outputs(theta, X), rtol=0, atol=1e-14)
    c = canonical(NET, torch.cat([theta[None], imgs]))
    assert (c - c[0]).abs().max() == 0
    assert (imgs - theta).abs().amax(1).gt(0.1).sum() >= 15     # the images do move theta


def test_distinct_counts_each_point_once():
    gen = torch.Generator().manual_seed(1)
    a, b, c = NET.init(3, generator=gen, dtype=torch.float64)

    def near(t):
        return images(t, gen) + 1e-9 * torch.randn(32, generator=gen, dtype=torch.float64)

    theta = torch.stack([a, near(a), b, near(b), near(a), c])
    assert distinct(NET, theta, theta[:0]).tolist() == [0, 2, 5]
    assert distinct(NET, theta, torch.stack([near(b)])).tolist() == [0, 5]   # b known already
    far = a + 1e3 * DISTINCT_TOL * (1 + a.norm()) / 32 ** 0.5 * torch.ones(32, dtype=torch.float64)
    assert distinct(NET, torch.stack([a, far]), theta[:0]).tolist() == [0, 1]
    assert distinct(NET, theta[:0], theta).numel() == 0


def test_search_runs_batches_until_the_target_count():
    gen = torch.Generator().manual_seed(2)
    data = Data(torch.randn(40, 4, generator=gen, dtype=torch.float64),
                torch.randn(40, 4, generator=gen, dtype=torch.float64))
    size = dict(starts=16, rounds=1, copies=2, minima=4, steps=200)
    one = search(NET, data, torch.Generator().manual_seed(3), target=1, batches=5, **size)
    assert int(one["batches"]) == 1 and len(one["energy"]) >= 1     # a batch finds some
    more = search(NET, data, torch.Generator().manual_seed(3), target=10 ** 6, batches=3, **size)
    assert int(more["batches"]) == 3                               # the cap, target not reached
    assert len(more["energy"]) > len(one["energy"])
    assert int(more["tried"]) > int(one["tried"])
    assert len(distinct(NET, more["theta"], more["theta"][:0])) == len(more["energy"])
    # lineages: ids of the batches' starts (3 batches of 16 trajectories and 4 descents)
    assert more["root"].shape == more["energy"].shape and more["root"].dtype == torch.int64
    assert 0 <= int(more["root"].min()) and int(more["root"].max()) < 3 * (16 + 4)


def test_exponent_uncertainty_resamples_lineages_not_points():
    """Points of one lineage (a start, its trajectory, the hops from them) are correlated: ten
    copies of each point in its own lineage carry no more information than one, and the
    lineage bootstrap's SD must not shrink (a bootstrap of the points would, by ~sqrt(10))."""
    from reluscope.experiments.critical_points import _fit_exponent

    gen = torch.Generator().manual_seed(4)
    alpha = torch.randint(1, 9, (120,), generator=gen).double() / 32
    energy = 0.3 + 0.2 * alpha ** (1 / 1.5) + 0.02 * torch.randn(120, generator=gen,
                                                                 dtype=torch.float64)
    one = _fit_exponent(energy, alpha, torch.arange(120), torch.Generator().manual_seed(5),
                        boot=60)
    ten = _fit_exponent(energy.repeat(10), alpha.repeat(10), torch.arange(120).repeat(10),
                        torch.Generator().manual_seed(5), boot=60)
    assert ten["p"] == one["p"]                    # the same fit: group means are unchanged
    assert ten["p_sd"] > 0.6 * one["p_sd"] > 0
    flat = _fit_exponent(energy.repeat(10), alpha.repeat(10), torch.arange(1200),
                         torch.Generator().manual_seed(5), boot=60)
    assert flat["p_sd"] < 0.6 * one["p_sd"]        # what a bootstrap of the points would say
