"""reluscope.TMS (tied weights) and tms_quadrature (the TMS population as an exact dataset)."""
import math

import pytest
import torch

import reluscope as rs
from tests.utils import assert_matches_reference


def test_tms_layout():
    tms = rs.TMS(5, 2)
    assert tms.num_params == 15 and tms.d_in == 5 and tms.d_out == 5
    theta = torch.arange(30.0).reshape(2, 15)
    W, b = tms.unflatten(theta)
    assert W.shape == (2, 2, 5) and b.shape == (2, 5)
    assert torch.equal(tms.flatten(W, b), theta)
    assert rs.TMS(5, 2, bias=False).num_params == 10
    assert tms.layers[1].transposed and tms.layers[1].w_off == tms.layers[0].w_off


def test_tms_init_is_lecun_by_default():
    tms = rs.TMS(400, 30, bias=False)
    theta = tms.init(4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert theta.shape == (4, 400 * 30)
    assert abs(theta.var().item() * 400 - 1) < 0.05


def test_tms_errors():
    with pytest.raises(ValueError):
        rs.TMS(0, 2)
    # sizes used to be truncated (2.5 -> 2) or accepted beyond the kernels' 32-bit widths
    with pytest.raises(ValueError, match="n_features must be an integer, got 2.5"):
        rs.TMS(2.5, 1)
    with pytest.raises(TypeError, match="n_hidden must be an integer"):
        rs.TMS(3, "2")
    with pytest.raises(TypeError, match="n_hidden must be an integer"):
        rs.TMS(3, True)
    with pytest.raises(ValueError, match="n_features and n_hidden must be at most 2147483647"):
        rs.TMS(2 ** 31, 1)
    assert rs.TMS(3.0, 2).n_features == 3
    with pytest.raises(ValueError, match="W must be"):
        rs.TMS(5, 2).flatten(torch.zeros(1, 5, 2))


@pytest.mark.parametrize("s", [0.0, 0.3, 0.9])
def test_tms_quadrature_moments_are_exact(s):
    """Each feature is 0 w.p. s, else U[0, 1]: E x_i = (1-s)/2, E x_i^2 = (1-s)/3,
    E x_1 x_2 = (1-s)^2/4, E x_1^3 x_2^2 = (1-s)^2/12; weights sum to 1; targets = inputs."""
    data = rs.tms_quadrature(s, n_nodes=4)
    X, w = data.X, data.weights
    assert torch.equal(data.T, X)
    assert math.isclose(w.sum().item(), 1.0, rel_tol=1e-14)
    got = torch.stack([w @ X[:, 0], w @ X[:, 1] ** 2, w @ (X[:, 0] * X[:, 1]),
                       w @ (X[:, 0] ** 3 * X[:, 1] ** 2)])
    want = torch.tensor([(1 - s) / 2, (1 - s) / 3, (1 - s) ** 2 / 4, (1 - s) ** 2 / 12],
                        dtype=torch.float64)
    assert_matches_reference(got, want)


@pytest.mark.parametrize("s", [0.0, 0.7])
def test_tms_quadrature_importance_weights_squared_errors_linearly(s):
    """W = 0, b = c > 0: y = c, so L = sum_i I_i E (c_i - x_i)^2 = sum_i I_i (c_i^2 - c_i (1-s)
    + (1-s)/3) and dL/db_i = I_i (2 c_i - (1-s)), linear in the importance I."""
    tms, I, c = rs.TMS(3, 2), [0.5, 2.0, 0.0], torch.tensor([0.2, 0.4, 0.9], dtype=torch.float64)
    theta = torch.cat([torch.zeros(6, dtype=torch.float64), c])
    data = rs.tms_quadrature(s, n_nodes=3, n_features=3, importance=I)
    L, G = rs.hessian.value_and_grad(tms, theta, data)
    I = torch.tensor(I, dtype=torch.float64)
    assert_matches_reference(L, (I * (c ** 2 - c * (1 - s) + (1 - s) / 3)).sum())
    assert_matches_reference(G[6:], I * (2 * c - (1 - s)))
    assert data.importance.dtype == torch.float64


def test_tms_quadrature_errors():
    with pytest.raises(ValueError, match="sparsity"):
        rs.tms_quadrature(1.5)
    with pytest.raises(TypeError, match="sparsity s must be a number"):
        rs.tms_quadrature("0.5")
    with pytest.raises(ValueError, match="n_nodes"):
        rs.tms_quadrature(0.5, n_nodes=0)
    with pytest.raises(ValueError, match="use fewer"):
        rs.tms_quadrature(0.5, n_nodes=16, n_features=6)
    with pytest.raises(ValueError, match="importance must be"):
        rs.tms_quadrature(0.5, n_nodes=2, n_features=2, importance=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=">= 0"):
        rs.tms_quadrature(0.5, n_nodes=2, n_features=2, importance=[1.0, -2.0])


def test_tms_quadrature_is_exact_only_where_no_kink_crosses_the_data():
    """At family A (w1 w2 > 0) no kink enters the square and tms_quadrature's loss is the
    population's to rounding; at family B the kink is the diagonal and its loss is off by far more
    than rounding (its Hessian does not exist: n_nodes grid nodes sit on the kink)."""
    tms, s = rs.TMS(2, 1, bias=False), 0.5
    a = math.sqrt((3 + 5 * s) / (2 * (1 + 3 * s)))
    theta = torch.tensor([[2 ** -0.5, 2 ** -0.5], [-a, a]], dtype=torch.float64)
    grid = rs.hessian.loss(tms, theta, rs.tms_quadrature(s))
    exact = rs.hessian.loss(tms, theta, rs.tms_population(tms, theta, s))
    assert abs(grid[0] - exact[0]) < 1e-14 and abs(grid[1] - exact[1]) > 1e-7
    assert rs.hessian.kinks(tms, theta, rs.tms_quadrature(s)).tolist() == [0, 16]
