"""reluscope.hypercube.gaussian: the closed-form Gaussian f, the nonlinear Gaussian data model and
Monte Carlo f."""
import math

import pytest
import torch

import reluscope.hypercube as hc


def test_f_gaussian_closed_form_and_family():
    g = torch.Generator().manual_seed(8)
    S = hc.moments(hc.Ising.chain(6, 0.5))[1]
    w = torch.randn(3, 6, generator=g, dtype=torch.float64)
    v = w[0]
    torch.testing.assert_close(hc.f_gaussian(v, S), S @ v / torch.sqrt(2 * math.pi * (v @ S @ v)))
    G = hc.Gaussian(S)
    torch.testing.assert_close(hc.f(w, G), hc.f_gaussian(w, S))
    assert torch.equal(hc.mass(w, G), torch.full((3,), 0.5, dtype=torch.float64))
    assert hc.moments(G)[1] is S


def test_nonlinear_gaussian():
    g = torch.Generator().manual_seed(9)
    n, xi, gain = 8, 2.0, 1.5
    X = hc.nonlinear_gaussian(200000, n, xi, gain, generator=g)
    C = hc.nonlinear_gaussian_covariance(n, xi, gain)
    assert torch.allclose(C.diagonal(), torch.ones(n, dtype=torch.float64))
    # sample covariance: entries are means of bounded terms (|x_i x_j| <= 1/Z(g) < 1.2), so the
    # standard error is below 1.2/sqrt(M) ≈ 0.0027; allow 5 of them
    torch.testing.assert_close(X.T @ X / X.shape[0], C, atol=0.014, rtol=0)
    # large gain: the data approach the hypercube
    Xh = hc.nonlinear_gaussian(1000, n, xi, 200.0, generator=g)
    assert (Xh.abs() - 1).abs().median() < 1e-2


def test_errors():
    w = torch.randn(2, 4, dtype=torch.float64)
    with pytest.raises(TypeError, match="dtype"):
        hc.f_gaussian(w, torch.eye(4, dtype=torch.float32))
    with pytest.raises(TypeError, match="dtype"):
        hc.f_monte_carlo(w, torch.ones(3, 4, dtype=torch.float32))
    with pytest.raises(ValueError, match="symmetric"):
        hc.Gaussian(torch.tensor([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="xi and g"):
        hc.nonlinear_gaussian(10, 4, 0.0, 1.0)


def test_f_gaussian_at_zero_and_in_the_null_space_is_zero():
    """w = 0 or Σ w = 0: <w,X> = 0 almost surely, every point is a tie, f = E[X] = 0."""
    S = torch.diag(torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64))
    w = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    got = hc.f_gaussian(w, S)
    assert torch.equal(got[:2], torch.zeros(2, 3, dtype=torch.float64))
    assert torch.isfinite(got).all() and got[2, 0] > 0


def test_f_monte_carlo_chunk_must_be_positive():
    with pytest.raises(ValueError, match="chunk"):
        hc.f_monte_carlo(torch.ones(1, 2), torch.ones(3, 2), chunk=0)
