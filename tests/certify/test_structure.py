"""reluscope.certify.structure.teacher_match: copies, splits, sign flips, zero-sum groups and dead
neurons of two-layer students of a teacher, the symmetric point and its certified gap."""
import math
from fractions import Fraction

import mpmath
import pytest
import torch

from reluscope import MLP, TMS, Data, forward
from reluscope.certify.structure import REFLECTION, teacher_match
from reluscope.experiments.teacher_student import TEACHER_A, TEACHER_W, grid

F64 = torch.float64
TW = torch.tensor(TEACHER_W, dtype=F64)
TA = torch.tensor(TEACHER_A, dtype=F64)


def net(width, activation="sigmoid", bias=False, d_out=1):
    return MLP([2, width, d_out], activation, bias=bias)


def theta_of(W, a, activation="sigmoid", b=None, c=None):
    """(1, P) of a two-layer net with incoming W (h, 2), outgoing a (h,) or (h, m), biases b, c."""
    a = a[:, None] if a.dim() == 1 else a
    model = net(W.shape[0], activation, b is not None, a.shape[1])
    return model, model.flatten([(W[None], None if b is None else b[None]),
                                 (a.T[None], None if c is None else c[None])])


TEACHER, T_THETA = theta_of(TW, TA)


def same_function(model, theta, teacher=TEACHER, t_theta=T_THETA, atol=1e-14):
    """The student at theta computes the teacher's outputs on the study's grid (float64)."""
    X = grid()
    diff = (forward(model, theta, X) - forward(teacher, t_theta.expand(theta.shape[0], -1), X))
    return diff.abs().max().item() <= atol


def test_teacher_itself_and_a_permutation():
    r = teacher_match(TEACHER, T_THETA, TEACHER, T_THETA)
    assert r.group.tolist() == [[0, 1, 2, 3]] and not r.flipped.any() and r.matched.all()
    assert r.distance.item() == 0 and r.gap.item() == 0 and torch.equal(r.symmetric_point, T_THETA)
    perm = torch.tensor([2, 0, 3, 1])
    model, theta = theta_of(TW[perm], TA[perm])
    r = teacher_match(model, theta, TEACHER, T_THETA[0])   # a (P_t,) teacher too
    assert r.group[0].tolist() == perm.tolist() and r.matched.all() and r.gap.item() == 0
    assert torch.equal(r.symmetric_point, theta) and r.zero_sum.eq(-1).all()


def test_split_neuron_is_projected_onto_the_sum_and_its_gap_is_exact():
    lam = 0.3
    model, theta = theta_of(torch.cat([TW, TW[:1]]), torch.cat([TA[:1] * lam, TA[1:],
                                                                 TA[:1] * (1 - lam)]))
    r = teacher_match(model, theta, TEACHER, T_THETA)
    assert r.group.tolist() == [[0, 1, 2, 3, 0]] and r.matched.all() and r.distance.item() < 1e-15
    # 0.3 + 0.7 rounds to 1 but is 1 - 2^-54 exactly (as float64 values): the gap says so.
    exact = sum(Fraction(v) for v in r.symmetric_point[0, [10, 14]].tolist()) - 1
    assert r.gap.item() >= abs(float(exact)) > 0 and r.gap.item() < 1e-16
    assert same_function(model, r.symmetric_point)


def test_sign_flips_need_their_constants_cancelled_for_sigmoid_not_for_tanh():
    # Flip teacher neuron 0 (constant kappa * a = -1 for sigmoid) and add a pair v, -v with
    # outgoing weights 1, 1 (sigma(v.x) + sigma(-v.x) = 1): the constants cancel.
    v = torch.tensor([[0.3, 0.2], [-0.3, -0.2]], dtype=F64)
    W = torch.cat([-TW[:1], TW[1:], v])
    a = torch.cat([-TA[:1], TA[1:], torch.tensor([1.0, 1.0], dtype=F64)])
    model, theta = theta_of(W, a)
    r = teacher_match(model, theta, TEACHER, T_THETA)
    assert r.group.tolist() == [[0, 1, 2, 3, -1, -1]] and r.zero_sum.tolist() == [[-1] * 4 + [4, 4]]
    assert r.flipped.tolist() == [[True, False, False, False, False, True]]
    assert r.matched.all() and r.distance.item() == 0 and r.gap.item() == 0
    assert same_function(model, r.symmetric_point)
    # Without the pair the sigmoid student is off by the constant -1: not a match; for tanh (odd)
    # the flip alone is exact.
    model, theta = theta_of(W[:4], a[:4])
    r = teacher_match(model, theta, TEACHER, T_THETA)
    assert not r.matched.any() and r.gap.item() > 0.5
    assert not same_function(model, r.symmetric_point)
    tanh_teacher, tanh_theta = theta_of(TW, TA, "tanh")
    model, theta = theta_of(W[:4], a[:4], "tanh")
    r = teacher_match(model, theta, tanh_teacher, tanh_theta)
    assert r.matched.all() and r.gap.item() == 0 and r.flipped[0].tolist() == [True] + [False] * 3
    assert same_function(model, r.symmetric_point, tanh_teacher, tanh_theta)


def test_the_studys_two_flipped_neurons():
    """The study's width-4 example: neurons 0 and 1 flipped, their constants -1 + 1 cancel."""
    model, theta = theta_of(torch.cat([-TW[:2], TW[2:]]), torch.cat([-TA[:2], TA[2:]]))
    r = teacher_match(model, theta, TEACHER, T_THETA)
    assert r.matched.all() and r.flipped[0].tolist() == [True, True, False, False]
    assert same_function(model, theta)


def test_zero_sum_pair_and_dead_neuron():
    v = torch.tensor([[0.9, -0.1], [0.9, -0.1], [2.0, 3.0]], dtype=F64)
    model, theta = theta_of(torch.cat([v[:1], TW, v[1:]]),
                            torch.cat([torch.tensor([0.4], dtype=F64), TA,
                                       torch.tensor([-0.4, 0.0], dtype=F64)]))
    r = teacher_match(model, theta, TEACHER, T_THETA)
    assert r.group.tolist() == [[-1, 0, 1, 2, 3, -1, -1]]
    assert r.zero_sum.tolist() == [[0, -1, -1, -1, -1, 0, 6]]
    assert r.matched.all() and r.distance.item() == 0 and r.gap.item() == 0
    # An unbalanced pair is not zero-sum: the projection moves the outgoing weights by 0.05 each.
    theta[0, -2] = -0.3
    r = teacher_match(model, theta, TEACHER, T_THETA)
    assert not r.matched.any() and abs(r.distance.item() - 0.05) < 1e-15
    assert same_function(model, r.symmetric_point)


def test_perturbed_student_matches_at_a_coarser_tol():
    noise = 1e-3 * (2 * torch.rand(T_THETA.shape, generator=torch.Generator().manual_seed(0),
                                   dtype=F64) - 1)
    theta = T_THETA + noise
    fine = teacher_match(TEACHER, theta, TEACHER, T_THETA, tol=1e-6)
    coarse = teacher_match(TEACHER, theta, TEACHER, T_THETA, tol=1e-2)
    assert not fine.matched.any() and fine.group.eq(-1).all()
    assert coarse.matched.all() and coarse.group.tolist() == [[0, 1, 2, 3]]
    assert coarse.distance.item() == pytest.approx(noise.abs().max().item(), rel=1e-12)
    assert same_function(TEACHER, coarse.symmetric_point)


def test_random_students_are_not_matched_and_their_gap_is_an_upper_bound():
    model = net(5)
    theta = model.init(64, generator=torch.Generator().manual_seed(1), scheme="normal", dtype=F64)
    r = teacher_match(model, theta, TEACHER, T_THETA)
    assert not r.matched.any() and (r.distance > 1e-2).all()
    X = grid()
    diff = (forward(model, r.symmetric_point, X) - forward(TEACHER, T_THETA, X)[None]).abs()
    assert (diff.amax((1, 2)) <= r.gap[:, 0]).all()


def test_missing_teacher_neuron_gap_and_loss_bound():
    model, theta = theta_of(TW[:3], TA[:3])
    X = grid()
    data = Data(X, forward(TEACHER, T_THETA, X)[0])
    r = teacher_match(model, theta, TEACHER, T_THETA, data)
    assert r.gap.item() == 1.0 and r.distance.item() == 0 and not r.matched.any()
    # U = (sum_n 1/N) * 1^2, rounded up; the float loss at the point lies below it.
    assert r.loss_bound[0, 0] == 0 and 1.0 <= r.loss_bound[0, 1].item() <= 1.0 + 1e-12
    y = forward(model, r.symmetric_point, X)[0]
    assert (data.w * ((y - data.T) ** 2).sum(1)).sum() <= r.loss_bound[0, 1]
    r = teacher_match(TEACHER, T_THETA, TEACHER, T_THETA, data)
    assert r.loss_bound.tolist() == [[0.0, 0.0]]


def _structured(activation, bias, seed):
    """A random teacher (width 3, 2 outputs) and a student built from it: each teacher neuron
    split into 1-2 copies with random shares, each copy flipped at random, a zero-sum pair (one
    member flipped), a dead neuron, and the constants cancelled (output bias, else a pair
    v, -v with equal outgoing weights for sigmoid); neurons shuffled."""
    g = torch.Generator().manual_seed(seed)
    kappa = REFLECTION[activation]
    k = 3 if bias else 2
    ut, at = torch.randn(3, k, generator=g, dtype=F64), torch.randn(3, 2, generator=g, dtype=F64)
    ct = torch.randn(2, generator=g, dtype=F64) if bias else None
    rows = []  # (u, a, group, flipped, pair id)
    for t in range(3):
        lam = torch.rand(1, generator=g, dtype=F64).item() if seed % 2 else 1.0
        for share in ([lam, 1 - lam] if lam < 1 else [1.0]):
            flip = bool(torch.rand(1, generator=g) < 0.5)
            s = -1.0 if flip else 1.0
            rows.append((s * ut[t], s * share * at[t], t, flip, None))
    v, alpha = 4 + torch.randn(k, generator=g, dtype=F64), torch.randn(2, generator=g, dtype=F64)
    rows += [(v, alpha, -1, False, 0), (-v, alpha, -1, True, 0)]
    dead = torch.randn(k, generator=g, dtype=F64) - 4
    rows.append((dead, torch.zeros(2, dtype=F64), -1, False, 1))
    const = kappa * sum(r[1] for r in rows if r[3])
    c = None
    if bias:
        c = ct - const
    elif kappa and bool(const.abs().max() > 0):
        z = torch.tensor([0.0, 6.0], dtype=F64)
        rows += [(z, -const, -1, False, 2), (-z, -const, -1, True, 2)]
    perm = torch.randperm(len(rows), generator=g).tolist()
    rows = [rows[i] for i in perm]
    U, A = torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])
    teacher, tt = theta_of(ut[:, :2], at, activation, ut[:, 2] if bias else None, ct)
    model, theta = theta_of(U[:, :2], A, activation, U[:, 2] if bias else None, c)
    return teacher, tt, model, theta, rows


@pytest.mark.parametrize("activation", sorted(REFLECTION))
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_structured_students(activation, bias, seed):
    teacher, tt, model, theta, rows = _structured(activation, bias, seed)
    r = teacher_match(model, theta, teacher, tt)
    assert r.group[0].tolist() == [row[2] for row in rows]
    assert r.matched.all() and r.distance.item() < 1e-14 and r.gap.max().item() < 1e-14
    for pid in {row[4] for row in rows if row[4] is not None}:
        members = [i for i, row in enumerate(rows) if row[4] == pid]
        assert r.zero_sum[0, members].tolist() == [members[0]] * len(members)
        # flipped relative to the group's leader
        lead = rows[members[0]][3]
        assert r.flipped[0, members].tolist() == [rows[i][3] != lead for i in members]
    assert same_function(model, r.symmetric_point, teacher, tt)
    # The student perturbed by 1e-3 on every weight: found again at tol 1e-2, at distance ~1e-3.
    noise = 1e-3 * torch.sign(torch.randn(theta.shape, generator=torch.Generator().manual_seed(9),
                                          dtype=F64))
    assert not teacher_match(model, theta + noise, teacher, tt).matched.any()
    r = teacher_match(model, theta + noise, teacher, tt, tol=1e-2)
    assert r.matched.all() and 1e-3 - 1e-12 <= r.distance.item() <= 3e-3
    assert same_function(model, r.symmetric_point, teacher, tt)


def _mp_output(model, theta, x):
    """The sigmoid net's outputs at x in 50-digit arithmetic (no biases)."""
    (W, _), (A, _) = model.unflatten(theta)
    h = [1 / (1 + mpmath.exp(-sum(mpmath.mpf(w) * mpmath.mpf(xi) for w, xi in zip(row, x))))
         for row in W[0].tolist()]
    return [sum(mpmath.mpf(a) * hi for a, hi in zip(row, h)) for row in A[0].tolist()]


def test_gap_bounds_the_exact_difference():
    """|f_sym(x) - f_teacher(x)| <= gap at 50 digits on grid points, for a structured student
    and the split (0.3 + 0.7 = 1 - 2^-54: gap 2^-54 > 0, reached up to the factor sigma)."""
    split, split_theta = theta_of(torch.cat([TW, TW[:1]]), torch.cat([TA[:1] * 0.3, TA[1:],
                                                                       TA[:1] * 0.7]))
    cases = [_structured("sigmoid", False, 1)[:4], (TEACHER, T_THETA, split, split_theta)]
    for teacher, tt, model, theta in cases:
        r = teacher_match(model, theta, teacher, tt)
        with mpmath.workdps(50):
            for x in grid()[::97].tolist():
                diff = [abs(p - q) for p, q in zip(_mp_output(model, r.symmetric_point, x),
                                                   _mp_output(teacher, tt, x))]
                assert all(d <= mpmath.mpf(g) for d, g in zip(diff, r.gap[0].tolist()))
    assert r.gap.item() == 2.0 ** -54 and diff[0] > 2.0 ** -56


def test_batches_and_per_student_teachers():
    perm = torch.tensor([1, 0, 3, 2])
    _, theta = theta_of(TW[perm], TA[perm])
    thetas = torch.cat([T_THETA, theta, T_THETA + 0.5])
    r = teacher_match(TEACHER, thetas.float().double(), TEACHER, T_THETA.expand(3, -1))
    assert r.matched.tolist() == [True, True, False]
    assert r.group[:2].tolist() == [[0, 1, 2, 3], perm.tolist()]
    r32 = teacher_match(TEACHER, thetas.float(), TEACHER, T_THETA.float())
    assert torch.equal(r32.group, r.group) and r32.symmetric_point.dtype == F64
    empty = teacher_match(TEACHER, T_THETA[:0], TEACHER, T_THETA, Data(grid(), grid()[:, 0]))
    assert empty.group.shape == (0, 4) and empty.gap.shape == (0, 1)
    assert empty.loss_bound.shape == (0, 2)


def test_errors():
    with pytest.raises(TypeError, match="MLP"):
        teacher_match(TMS(2, 4), torch.zeros(1, 12), TEACHER, T_THETA)
    with pytest.raises(TypeError):
        teacher_match("mlp", T_THETA, TEACHER, T_THETA)
    with pytest.raises(ValueError, match="two layers"):
        teacher_match(MLP([2, 4, 4, 1], "sigmoid", bias=False), torch.zeros(1, 28), TEACHER,
                      T_THETA)
    with pytest.raises(NotImplementedError, match="relu"):
        teacher_match(net(4, "relu"), T_THETA, net(4, "relu"), T_THETA)
    for other in (net(4, "tanh"), net(4, bias=True), MLP([3, 4, 1], "sigmoid", bias=False),
                  net(4, d_out=2)):
        with pytest.raises(ValueError, match="differ"):
            teacher_match(TEACHER, T_THETA, other, torch.zeros(1, other.num_params))
    with pytest.raises(ValueError, match="theta must have shape"):
        teacher_match(TEACHER, T_THETA[0], TEACHER, T_THETA)
    with pytest.raises(ValueError, match="theta must have shape"):
        teacher_match(TEACHER, T_THETA[:, :-1], TEACHER, T_THETA)
    with pytest.raises(ValueError, match="teacher_theta must have shape"):
        teacher_match(TEACHER, T_THETA.expand(3, -1), TEACHER, T_THETA.expand(2, -1))
    with pytest.raises(ValueError, match="NaN"):
        teacher_match(TEACHER, T_THETA * math.nan, TEACHER, T_THETA)
    with pytest.raises(ValueError, match="NaN"):
        teacher_match(TEACHER, T_THETA, TEACHER, T_THETA * math.inf)
    with pytest.raises(TypeError, match="float32 or float64"):
        teacher_match(TEACHER, T_THETA.long(), TEACHER, T_THETA)
    for tol in (-1e-6, math.nan, math.inf, "1e-6"):
        with pytest.raises(ValueError, match="tol"):
            teacher_match(TEACHER, T_THETA, TEACHER, T_THETA, tol=tol)
    dup, dup_theta = theta_of(torch.cat([TW, -TW[:1]]), torch.cat([TA, TA[:1]]))
    with pytest.raises(ValueError, match="reduced form"):
        teacher_match(net(5), dup_theta, dup, dup_theta)
    with pytest.raises(ValueError, match="reduced form"):   # 0.3 apart: ambiguous at tol 0.2
        teacher_match(TEACHER, T_THETA, TEACHER, T_THETA, tol=0.2)
    X = grid()
    with pytest.raises(ValueError, match="mse"):
        teacher_match(TEACHER, T_THETA, TEACHER, T_THETA,
                      Data(X, torch.zeros(len(X), dtype=F64), loss="bce_with_logits"))
    with pytest.raises(ValueError, match="outputs"):
        teacher_match(TEACHER, T_THETA, TEACHER, T_THETA,
                      Data(X, torch.zeros(len(X), 2, dtype=F64)))
    with pytest.raises(ValueError, match="weights for 2 models"):
        teacher_match(TEACHER, T_THETA, TEACHER, T_THETA,
                      Data(X, torch.zeros(len(X), dtype=F64), torch.ones(2, len(X), dtype=F64)))
    with pytest.raises(TypeError, match="Data"):
        teacher_match(TEACHER, T_THETA, TEACHER, T_THETA, data=X)
