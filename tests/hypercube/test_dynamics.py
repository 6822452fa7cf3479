"""reluscope.hypercube.dynamics: the localisation flow on hypercube and Gaussian data."""
import pytest
import torch

import reluscope.hypercube as hc
from tests.utils import DTYPES, assert_matches_reference


def test_flow_and_gaussian_contrast():
    n = 12
    g = torch.Generator().manual_seed(8)
    w0 = torch.randn(3, n, generator=g, dtype=torch.float64) * 0.3
    p1, p0 = hc.Ising.chain(n, correlation_length=2.0), hc.Ising.chain(n, correlation_length=0.7)
    r = hc.flow(w0, p1, p0, dt=0.05, steps=20, save_every=5)
    assert r.w.shape == (5, 3, n) and r.ipr.shape == (5, 3) and r.t.shape == (5,)
    torch.testing.assert_close(r.ipr, hc.ipr(r.w))
    # euler with one step is exactly w0 + dt * rhs
    e = hc.flow(w0, p1, p0, dt=0.1, steps=1, method="euler")
    A = 0.5 * (hc.moments(p0)[1] + hc.moments(p1)[1])
    torch.testing.assert_close(e.w[1], w0 + 0.1 * (0.5 * hc.f(w0, p1) - w0 @ A))
    # the Gaussian contrast: same call with Gaussian classes of the same covariances
    G1, G0 = hc.Gaussian(hc.moments(p1)[1]), hc.Gaussian(hc.moments(p0)[1])
    rg = hc.flow(w0, G1, G0, dt=0.05, steps=4)
    assert torch.isfinite(rg.w).all()
    e = hc.flow(w0, G1, G0, dt=0.1, steps=1, method="euler")
    torch.testing.assert_close(e.w[1], w0 + 0.1 * (0.5 * hc.f_gaussian(w0, G1.Sigma) - w0 @ A))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_flow_matches_cpu(dtype):
    g = torch.Generator().manual_seed(11)
    n = 12
    w0 = torch.randn(3, n, generator=g, dtype=dtype)
    p1, p0 = hc.Ising.chain(n, 0.4), hc.Uniform(n)
    got = hc.flow(w0.cuda(), p1, p0, dt=0.05, steps=20)
    assert got.w.is_cuda
    assert_matches_reference(got.w, hc.flow(w0, p1, p0, dt=0.05, steps=20).w, kind="hypercube",
                             factor=10)


def test_errors():
    u = hc.Uniform(4)
    w = torch.randn(2, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="rk4"):
        hc.flow(w, u, u, method="midpoint")
    with pytest.raises(ValueError, match="n=5"):
        hc.flow(w, u, hc.Uniform(5))
    with pytest.raises(ValueError, match="dt > 0"):
        hc.flow(w, u, u, dt=0.0)


def test_flow_progress_on_request(capsys):
    u = hc.Uniform(4)
    hc.flow(torch.randn(2, 4, dtype=torch.float64), u, u, steps=10, progress=True)
    assert "flow [" in capsys.readouterr().err
    hc.flow(torch.randn(2, 4, dtype=torch.float64), u, u, steps=10)
    assert capsys.readouterr().err == ""
