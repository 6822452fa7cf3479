"""reluscope._langevin: the bounds that flag SGLD chains, checked against what they claim."""
import math

import torch

from reluscope._langevin import energy_budget, past_stability_limit, ran_away, runaway_bounds


def test_energy_budget_holds_a_heated_quadratic_chain():
    """K(P) is T (P + 2 sqrt(40 P) + 80) / 2 with T = 10: exact draws of exp(-U / T) for a
    quadratic U in P dimensions (U - min U = T chi2_P / 2) stay below it; half of it is passed by
    draws at 4 T (so the test can fail)."""
    g = torch.Generator().manual_seed(0)
    for P in (1, 8, 1000):
        assert energy_budget(P) == 5 * (P + 2 * math.sqrt(40 * P) + 80)
        chi2 = (torch.randn(20_000, P, generator=g, dtype=torch.float64) ** 2).sum(1)
        assert float((10 * chi2 / 2).max()) < energy_budget(P)
        assert float((40 * chi2 / 2).max()) > energy_budget(P) / 2


def test_runaway_bounds_follow_from_the_budget():
    init, n_beta, gamma = (torch.tensor([v], dtype=torch.float64) for v in (0.5, 100.0, 4.0))
    b = runaway_bounds(init, n_beta, gamma, P=3, loss_factor=7.0)
    E = 100 * 0.5 + energy_budget(3)
    torch.testing.assert_close(b.distance, torch.tensor([math.sqrt(2 * E / 4)],
                                                        dtype=torch.float64))
    torch.testing.assert_close(b.loss, torch.tensor([7 * E / 100], dtype=torch.float64))
    assert runaway_bounds(init, n_beta, 0 * gamma, 3, 1.0).distance.item() == math.inf
    inside = ran_away(b.loss * 0.99, b.distance * 0.99, b)
    outside = [ran_away(b.loss * 1.01, b.distance * 0.5, b), ran_away(b.loss / 2, b.distance * 1.01, b),
               ran_away(b.loss * math.nan, b.distance / 2, b)]
    assert not inside.any() and all(o.all() for o in outside)


def test_stability_test_is_sound_for_a_quadratic_potential():
    """For U quadratic (g - g* = A u, A symmetric), with or without a diagonal preconditioner
    D: flagged only if eps |lambda|_max(D^1/2 A D^1/2) > 4, never below; and it does flag past
    the limit when u lies along the top eigenvector."""
    g = torch.Generator().manual_seed(1)
    P, rows = 6, 400
    M = torch.randn(rows, P, P, generator=g, dtype=torch.float64)
    A = M @ M.transpose(1, 2) + torch.diag_embed(torch.rand(rows, P, generator=g,
                                                            dtype=torch.float64))
    u = torch.randn(rows, P, generator=g, dtype=torch.float64)
    for D in (None, torch.rand(rows, P, generator=g, dtype=torch.float64) + 0.1):
        root = torch.ones(rows, P, dtype=torch.float64) if D is None else D.sqrt()
        S = root[:, :, None] * A * root[:, None, :]
        lam, vecs = torch.linalg.eigh(S)
        top = lam[:, -1]
        eps = (8 * torch.rand(rows, generator=g, dtype=torch.float64) / top)[:, None]
        flagged = past_stability_limit((A @ u[:, :, None])[..., 0], u, eps, D)
        assert not flagged[eps[:, 0] * top < 4].any()
        assert flagged.any()
        along = root * vecs[:, :, -1]  # u = D^1/2 v: D^1/2 A u = S v = lambda v
        worst = past_stability_limit((A @ along[:, :, None])[..., 0], along, eps, D)
        assert torch.equal(worst, eps[:, 0] * top > 4)
