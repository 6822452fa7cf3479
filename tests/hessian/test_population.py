"""reluscope.tms_population_hessian: the TMS population Hessian with its kink-line term, against
the seed's closed forms, finite differences of the exact gradient, Newton's minimiser and the
first-order transition s*, and NaN with a KinkWarning where it does not exist."""
import math

import pytest
import torch

import reluscope as rs
from reluscope import hessian

F64 = torch.float64
EPS = torch.finfo(F64).eps
S_STAR = (3 + 4 * math.sqrt(14)) / 43
TMS1 = rs.TMS(2, 1, bias=False)


def a_of(s: float) -> float:
    """Family B = a (-1, 1), a^2 = (3 + 5 s) / (2 (1 + 3 s)) (the seed)."""
    return math.sqrt((3 + 5 * s) / (2 * (1 + 3 * s)))


def seed_eigenvalues(s: float) -> tuple[list[float], list[float]]:
    """The seed's Hessian eigenvalues at A = (1, 1) / sqrt 2 and at B, ascending; re-derived
    (sympy) from the seed's loss formulas, both branches of the mixed-sign one agree at B."""
    A = sorted([(1 - s) ** 2, 2 / 3 * (7 - 3 * s) * (1 - s)])
    B = sorted([(3 - s + 57 * s**2 - 59 * s**3) / (6 + 18 * s), (3 + 2 * s - 5 * s**2) / 3])
    return A, B


@pytest.mark.parametrize("s", [0.0, 0.05, 0.3, S_STAR, 0.5, 0.8, 0.95])
def test_family_a_and_b_eigenvalues_are_the_seeds(s):
    """At B the kink (the diagonal) crosses the square: the engine's Hessian of the dataset lacks
    the line term, the population Hessian has it. Tolerance: the Hessian sums 85 + 6 terms of
    size <= 10 in float64 (error <= 91 * 4 eps * 10 ~ 8e-13) and eigvalsh is backward stable:
    1e-12."""
    a = a_of(s)
    theta = torch.tensor([[2 ** -0.5, 2 ** -0.5], [-a, a]], dtype=F64)
    H = rs.tms_population_hessian(TMS1, theta, s)
    A, B = seed_eigenvalues(s)
    got = torch.linalg.eigvalsh(H)
    torch.testing.assert_close(got, torch.tensor([A, B], dtype=F64), rtol=0, atol=1e-12)
    dataset = hessian.eigvalsh(hessian.Hessian(TMS1, theta, rs.tms_population(TMS1, theta, s)))
    if s < 1:
        assert (dataset[1] - got[1]).abs().max() > 1e-3  # the line term is there


def test_the_issues_reproducer():
    """TMS(2, 1, bias=False) at s = 0.5, family B: tms_quadrature's Hessian [0.917, 1.125] does
    not exist (its grid has nodes on the kink, now flagged); the population's is the seed's
    [0.625, 0.917]."""
    theta = torch.tensor([[-a_of(0.5), a_of(0.5)]], dtype=F64)
    with pytest.warns(hessian.KinkWarning):
        grid = hessian.eigvalsh(hessian.Hessian(TMS1, theta, rs.tms_quadrature(0.5)))
    assert abs(grid[0, 0].item() - 0.917) < 1e-3
    pop = torch.linalg.eigvalsh(rs.tms_population_hessian(TMS1, theta[0], 0.5))
    torch.testing.assert_close(pop, torch.tensor([0.625, 11 / 12], dtype=F64), rtol=0, atol=1e-12)


def exact_grad(model, theta, s, importance=None):
    data = rs.tms_population(model, theta, s, importance=importance)
    return hessian.value_and_grad(model, theta, data)[1]


@pytest.mark.parametrize("bias,m", [(False, 1), (True, 1), (False, 2), (True, 2)])
@pytest.mark.parametrize("s", [0.0, 0.4, 0.9])
def test_equals_the_jacobian_of_the_exact_gradient(bias, m, s):
    """At random theta (kinks crossing the square; a line term of size >= 1e-3), central
    differences of the exact gradient converge to it as h^2: |D(h/2) - H| <= 2 |D(h) - D(h/2)| / 3
    (the h^2 term: D(h) - D(h/2) = 3/4 c h^2) + 4 eps |g| / h (rounding)."""
    tms = rs.TMS(2, m, bias=bias)
    theta = torch.randn(24, tms.num_params, generator=torch.Generator().manual_seed(7 + m),
                        dtype=F64)
    I = [1.0, 2.5]
    line = rs.tms_population_hessian(tms, theta, s, importance=I) - hessian.hessian(
        tms, theta, rs.tms_population(tms, theta, s, importance=I))
    theta = theta[line.abs().amax((1, 2)) > 1e-3][:4]  # kinks crossing the support
    assert len(theta) == 4
    H = rs.tms_population_hessian(tms, theta, s, importance=I)

    def D(h):
        cols = [(exact_grad(tms, theta + e, s, I) - exact_grad(tms, theta - e, s, I)) / (2 * h)
                for e in torch.eye(tms.num_params, dtype=F64) * h]
        J = torch.stack(cols, -1)
        return (J + J.mT) / 2

    h = 1e-3
    coarse, fine = D(h), D(h / 2)
    g = exact_grad(tms, theta, s, I).abs().amax(1)[:, None, None]
    assert ((fine - H).abs() <= 2 * (coarse - fine).abs() / 3 + 4 * EPS * g / (h / 2)).all()


def test_minimiser_and_transition_to_1e_10():
    """Newton from 1 % off finds B = a(s) (-1, 1) to 1e-12; bisection of L_A(s) - L_B(s) (each at
    its Newton minimum, on the exact population) finds s* = (3 + 4 sqrt 14) / 43 to 1e-10
    (tms_quadrature: ~5e-4 and 2.6 %). 45 halvings of [0.3, 0.5] leave 6e-15; the loss gap's
    rounding (~1e-16) over its slope (~0.03) adds ~1e-14."""
    from reluscope.experiments.tms import newton, transition

    s = 0.5
    B, _ = newton(TMS1, torch.tensor([[-1.01 * a_of(s), 0.99 * a_of(s)]], dtype=F64), s)
    torch.testing.assert_close(B, torch.tensor([[-a_of(s), a_of(s)]], dtype=F64), rtol=0,
                               atol=1e-12)
    assert abs(transition(TMS1, 0.3, 0.5, 45) - S_STAR) < 1e-10


def test_nan_and_a_kink_warning_where_the_population_hessian_does_not_exist():
    """A bias b_1 = 0 puts the x = 0 atom on a kink; W = (1, 0) has z_2 = 0 on the whole square
    and edges; b_1 = -M_11 puts output 1's kink at the end x = e_1 of its edge. Those models'
    rows are NaN, the others are finite; one model: (P, P)."""
    biased = rs.TMS(2, 1)
    theta = torch.tensor([[0.3, 0.8, 0.0, 0.1], [1.0, 0.5, -1.0, 0.2], [0.3, 0.8, 0.2, 0.1]],
                         dtype=F64)
    with pytest.warns(hessian.KinkWarning, match=r"2 of 3 models \(models 0, 1\)"):
        H = rs.tms_population_hessian(biased, theta, 0.5)
    assert H[:2].isnan().all() and H[2].isfinite().all()
    with pytest.warns(hessian.KinkWarning):
        assert rs.tms_population_hessian(TMS1, torch.tensor([1.0, 0.0], dtype=F64),
                                         0.5).isnan().all()
    one = rs.tms_population_hessian(TMS1, torch.tensor([-0.5, 0.9], dtype=F64), 0.0)
    assert one.shape == (2, 2) and one.isfinite().all()
