"""reluscope.tms_population: the TMS population (two features) as a per-model dataset exact at
theta, against the seed's closed forms, an adaptive quadrature, finite differences of its own
loss, the engine's kink flags and the first-order transition s*."""
import math

import numpy as np
import pytest
import torch

import reluscope as rs
from reluscope.models.tms_population import hessian_exists

F64 = torch.float64
EPS = torch.finfo(F64).eps
S_STAR = (3 + 4 * math.sqrt(14)) / 43


def seed_loss(w1: float, w2: float, s: float) -> float:
    """The seed's population loss of TMS(2, 1, bias=False) (same-sign and mixed-sign formulas,
    both branches of the mixed one)."""
    edges = s * (1 - s) / 3
    if w1 * w2 >= 0:
        return (edges * (w1**4 + 2 * w1**2 * w2**2 - 2 * w1**2 + w2**4 - 2 * w2**2 + 2)
                + (1 - s) ** 2 / 6 * (2 * w1**4 + 3 * w1**3 * w2 + 4 * w1**2 * (w2**2 - 1)
                                      + 3 * w1 * w2 * (w2**2 - 2) + 2 * (w2**4 - 2 * w2**2 + 2)))
    if w1 > 0:  # the seed's w1 < 0 < w2 region, mirrored (w -> -w leaves L unchanged)
        w1, w2 = -w1, -w2
    le = (4 * w1**5 + 6 * w1**4 * w2 + 4 * w1**3 * (w2**2 - 2) + w1**2 * w2 * (w2**2 - 6)
          + 8 * w1 - w2**5 + 4 * w2**3) / (12 * w1)
    gt = (4 * (w1**2 - 2) * w2**3 + w1 * (w1**2 - 6) * w2**2 - w1**3 * (w1**2 - 4)
          + 6 * w1 * w2**4 + 4 * w2**5 + 8 * w2) / (12 * w2)
    return edges * ((w2**2 - 1) ** 2 + (w1**2 - 1) ** 2) + (1 - s) ** 2 * (le if w1 + w2 <= 0
                                                                          else gt)


@pytest.mark.parametrize("s", [0.0, 0.3, 0.8])
def test_loss_equals_the_seeds_closed_form(s):
    """At random w of both sign patterns (kinks crossing the square at the mixed ones). Tolerance:
    85 terms of size <= 2 summed in float64, |error| <= 85 * eps * 2 per term sum ~ 4e-14."""
    w = torch.tensor([[0.7, -1.1], [-0.4, 1.3], [1.2, 0.5], [-0.9, -0.2], [0.8, -0.3]], dtype=F64)
    tms = rs.TMS(2, 1, bias=False)
    got = rs.hessian.loss(tms, w, rs.tms_population(tms, w, s))
    want = torch.tensor([seed_loss(*row, s) for row in w.tolist()], dtype=F64)
    torch.testing.assert_close(got, want, rtol=0, atol=85 * 2 * EPS * 10)


def quad_loss(M: np.ndarray, b: np.ndarray, s: float, I: np.ndarray) -> float:
    """The population loss by nested Gauss-Legendre quadrature (8 nodes, exact to degree 15),
    split where the integrand has kinks (x_2 where a kink line crosses at x_1; x_1 where it meets
    x_2 = 0, x_2 = 1 or the other line). Between the splits the inner integrand is a polynomial of
    degree 2 in x_2 and the inner integral one of degree <= 3 in x_1 (its limits move linearly), so
    each piece is integrated exactly up to rounding, by code that shares nothing with the engine's
    (which cuts the square into polygons and sums closed-form moments)."""
    nodes, weights = np.polynomial.legendre.leggauss(8)

    def f(x1, x2):
        x = np.array([x1, x2])
        return float(I @ (np.maximum(M @ x + b, 0) - x) ** 2)

    def quad(g, points):
        pts = [0.0] + sorted(p for p in points if 0 < p < 1) + [1.0]
        return sum((hi - lo) / 2 * sum(w * g((hi - lo) / 2 * t + (hi + lo) / 2)
                                       for t, w in zip(nodes, weights))
                   for lo, hi in zip(pts, pts[1:]))

    def inner(x1):
        return quad(lambda x2: f(x1, x2), [-(b[i] + M[i, 0] * x1) / M[i, 1] for i in range(2)])

    with np.errstate(divide="ignore", invalid="ignore"):  # no such point: inf or nan, dropped
        det = M[0, 0] * M[1, 1] - M[0, 1] ** 2
        cuts = [-(b[i] + M[i, 1] * x2) / M[i, 0] for i in range(2) for x2 in (0, 1)]
        cuts.append((M[0, 1] * b[1] - b[0] * M[1, 1]) / det)
        edges = [quad(lambda t: f(t, 0), [-b[i] / M[i, 0] for i in range(2)]),
                 quad(lambda t: f(0, t), [-b[i] / M[i, 1] for i in range(2)])]
    return (1 - s) ** 2 * quad(inner, cuts) + s * (1 - s) * sum(edges) + s * s * f(0, 0)


@pytest.mark.parametrize("bias,m", [(True, 1), (False, 2), (True, 2)])
def test_loss_equals_an_independent_quadrature(bias, m):
    """With a bias or two hidden units (no closed form), at random theta whose kinks cross the
    square, against ``quad_loss``. Both are exact up to rounding (~100 terms of size <= 2 in
    float64 each side): tolerance 1e-13."""
    tms = rs.TMS(2, m, bias=bias)
    theta = torch.randn(3, tms.num_params, generator=torch.Generator().manual_seed(m), dtype=F64)
    I = np.array([1.0, 2.5])
    got = rs.hessian.loss(tms, theta, rs.tms_population(tms, theta, 0.3, importance=I))
    W, b = tms.unflatten(theta)
    for k in range(3):
        M = (W[k].T @ W[k]).numpy()
        want = quad_loss(M, b[k].numpy() if bias else np.zeros(2), 0.3, I)
        assert abs(got[k].item() - want) <= 1e-13, (k, got[k].item(), want)


@pytest.mark.parametrize("bias,m", [(False, 1), (True, 1), (False, 2), (True, 2)])
def test_gradient_is_the_derivative_of_the_exact_loss(bias, m):
    """Central differences of the loss (each on the population cut at its own theta) converge
    to the gradient as h^2: at h and h/2 the errors fall ~4x; the bound |D(h/2) - g| <=
    |D(h) - D(h/2)| / 3 (the h^2 term) x 2 + 2 eps L / h (rounding)."""
    tms = rs.TMS(2, m, bias=bias)
    theta = torch.randn(4, tms.num_params, generator=torch.Generator().manual_seed(5), dtype=F64)
    s = 0.4

    def L(th):
        return rs.hessian.loss(tms, th, rs.tms_population(tms, th, s))

    def D(h):
        E = torch.eye(tms.num_params, dtype=F64) * h
        return torch.stack([(L(theta + e) - L(theta - e)) / (2 * h) for e in E], 1)

    g = rs.hessian.value_and_grad(tms, theta, rs.tms_population(tms, theta, s))[1]
    h = 1e-3
    coarse, fine = D(h), D(h / 2)
    bound = 2 * (coarse - fine).abs() / 3 + 2 * EPS * L(theta).abs()[:, None] / (h / 2)
    assert ((fine - g).abs() <= bound).all()


def test_nodes_off_the_kinks_and_shapes():
    """Every node with positive weight is interior to its piece: the engine flags none (random
    theta of every kind, and the family-B point whose kink is the diagonal); the x = 0 atom is on
    a kink only with a bias b_i = 0. One model: (85, 2); weights sum to 1."""
    for bias, m in [(False, 1), (True, 1), (False, 3), (True, 2)]:
        tms = rs.TMS(2, m, bias=bias)
        theta = torch.randn(50, tms.num_params, generator=torch.Generator().manual_seed(m),
                            dtype=F64)
        data = rs.tms_population(tms, theta, 0.3)
        assert data.X.shape == (50, 85, 2) and data.w.shape == (50, 85)
        assert rs.hessian.kinks(tms, theta, data).sum() == 0
        torch.testing.assert_close(data.w.sum(1), torch.ones(50, dtype=F64), rtol=0,
                                   atol=100 * EPS)
    a = math.sqrt((3 + 5 * 0.5) / (2 * (1 + 3 * 0.5)))
    tms = rs.TMS(2, 1, bias=False)
    one = rs.tms_population(tms, torch.tensor([-a, a], dtype=F64), 0.5)
    assert one.X.shape == (85, 2) and one.w.shape == (85,)
    assert rs.hessian.kinks(tms, torch.tensor([-a, a], dtype=F64), one).item() == 0
    biased = rs.TMS(2, 1)
    theta = torch.tensor([[0.3, 0.8, 0.0, 0.1]], dtype=F64)
    assert rs.hessian.kinks(biased, theta, rs.tms_population(biased, theta, 0.5)).item() == 1
    assert not hessian_exists(biased, theta, 0.5).item()


def test_errors():
    with pytest.raises(ValueError, match="n_features = 2"):
        rs.tms_population(rs.TMS(3, 1), torch.zeros(3, dtype=F64), 0.5)
    with pytest.raises(TypeError, match="reluscope.TMS"):
        rs.tms_population(rs.MLP([2, 2]), torch.zeros(6, dtype=F64), 0.5)
    with pytest.raises(ValueError, match="sparsity"):
        rs.tms_population(rs.TMS(2, 1), torch.zeros(4, dtype=F64), 1.5)
    with pytest.raises(ValueError, match="theta must have shape"):
        rs.tms_population(rs.TMS(2, 1), torch.zeros(1, 5, dtype=F64), 0.5)
    with pytest.raises(ValueError, match="NaN"):
        rs.tms_population(rs.TMS(2, 1), torch.full((4,), math.nan, dtype=F64), 0.5)
    # found by the fuzz harness: s of another type quoted Python's comparison error, and a theta
    # whose kink crossings overflow blamed an X the user never passed
    for s in (None, "0.5", True):
        with pytest.raises(TypeError, match="sparsity s must be a number"):
            rs.tms_population(rs.TMS(2, 1), torch.zeros(4, dtype=F64), s)
    with pytest.raises(ValueError, match=r"theta of model\(s\) \[1\] is too large"):
        rs.tms_population(rs.TMS(2, 1), torch.tensor([[0.5] * 4, [1e300] * 4], dtype=F64), 0.5)
