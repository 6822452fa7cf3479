"""Hessian engine vs its torch.func reference, exact TMS case, properties and error paths."""
import math

import pytest
import torch

from reluscope import ACTIVATIONS, MLP, TMS, forward
from reluscope import hessian as H
from reluscope.reference import hessian as R
from conftest import CPU_ISAS

TOL = {torch.float64: 1e-10, torch.float32: 1e-4}


def close(a, b, dtype):
    scale = b.abs().max().clamp_min(1.0)
    assert (a - b).abs().max() <= TOL[dtype] * scale, ((a - b).abs().max(), scale)


def make(model, B, N, dtype, per_model=False, weighted=False, importance=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    theta = model.init(B, generator=g, dtype=dtype, bias_std=0.3)
    shape = (B, N) if per_model else (N,)
    X = torch.randn(*shape, model.d_in, generator=g, dtype=dtype)
    T = torch.randn(*shape, model.d_out, generator=g, dtype=dtype)
    w = torch.rand(N, generator=g, dtype=dtype) if weighted else None
    u = torch.rand(model.d_out, generator=g, dtype=dtype) + 0.5 if importance else None
    return theta, H.Data(X, T, w, u), dict(weights=w, importance=u), X, T


CASES = [(act, dtype, per, flags)
         for act in ACTIVATIONS for dtype in (torch.float64, torch.float32)
         for per, flags in ((False, (False, False)), (True, (True, True)))]


@pytest.mark.parametrize("act,dtype,per_model,flags", CASES)
def test_mlp_matches_reference(act, dtype, per_model, flags):
    net = MLP([3, 4, 3, 2], act)
    theta, data, kw, X, T = make(net, 3, 19, dtype, per_model, *flags)
    close(H.loss(net, theta, data), R.loss(net, theta, X, T, **kw), dtype)
    value, grad = H.value_and_grad(net, theta, data)
    rv, rg = R.value_and_grad(net, theta, X, T, **kw)
    close(value, rv, dtype)
    close(grad, rg, dtype)
    g = torch.Generator().manual_seed(1)
    for V in (torch.randn(3, net.num_params, generator=g, dtype=dtype),
              torch.randn(3, 4, net.num_params, generator=g, dtype=dtype)):
        close(H.hvp(net, theta, data, V), R.hvp(net, theta, X, T, V, **kw), dtype)
        close(H.gnvp(net, theta, data, V), R.gnvp(net, theta, X, T, V, **kw), dtype)
    close(H.hessian(net, theta, data), R.hessian(net, theta, X, T, **kw), dtype)
    close(H.gauss_newton(net, theta, data), R.gauss_newton(net, theta, X, T, **kw), dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_wide_layers_match_reference(act, dtype):
    """Sums of >= 8 terms run in register blocks of 4 outputs plus a remainder (widths 10 and 9):
    the forward, backward, R-forward and R-backward sums of the middle layers take that path."""
    net = MLP([9, 10, 9, 2], act)
    theta, data, kw, X, T = make(net, 3, 40, dtype, weighted=True)
    close(H.value_and_grad(net, theta, data)[1], R.value_and_grad(net, theta, X, T, **kw)[1], dtype)
    V = torch.randn(3, 2, net.num_params, generator=torch.Generator().manual_seed(2), dtype=dtype)
    close(H.hvp(net, theta, data, V), R.hvp(net, theta, X, T, V, **kw), dtype)
    close(H.gnvp(net, theta, data, V), R.gnvp(net, theta, X, T, V, **kw), dtype)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_tms_matches_reference(bias, dtype):
    tms = TMS(5, 2, bias=bias)
    theta, data, kw, X, T = make(tms, 4, 23, dtype, importance=True)
    close(H.hessian(tms, theta, data), R.hessian(tms, theta, X, T, **kw), dtype)
    close(H.value_and_grad(tms, theta, data)[1], R.value_and_grad(tms, theta, X, T, **kw)[1], dtype)


@pytest.mark.parametrize("isa", CPU_ISAS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_every_cpu_vector_variant_matches_reference(isa, dtype, monkeypatch):
    """RELUSCOPE_CPU_ISA caps the compiled variant the CPU launcher runs; N = 150 gives whole
    tiles and a partial one, with shared and per-model data, MLP and tied-weight TMS."""
    from reluscope.info import config

    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    assert CPU_ISAS.index(config()["cpu_vector_isa"]) <= CPU_ISAS.index(isa)
    for model in (MLP([3, 6, 2], "sigmoid"), MLP([2, 5, 1], "relu"), TMS(5, 2)):
        for per_model in (False, True):
            theta, data, kw, X, T = make(model, 3, 150, dtype, per_model, True, True)
            V = torch.randn(3, 2, model.num_params, generator=torch.Generator().manual_seed(2),
                            dtype=dtype)
            close(H.hvp(model, theta, data, V), R.hvp(model, theta, X, T, V, **kw), dtype)
            value, grad = H.value_and_grad(model, theta, data)
            rv, rg = R.value_and_grad(model, theta, X, T, **kw)
            close(value, rv, dtype)
            close(grad, rg, dtype)


def test_properties():
    net = MLP([3, 6, 2], "tanh")
    theta, data, *_ = make(net, 4, 31, torch.float64)
    Hs = H.hessian(net, theta, data)
    assert torch.equal(Hs, Hs.transpose(1, 2))
    g = torch.Generator().manual_seed(2)
    V1, V2 = (torch.randn(4, net.num_params, generator=g, dtype=torch.float64) for _ in range(2))
    close(H.hvp(net, theta, data, 2 * V1 - 3 * V2),
          2 * H.hvp(net, theta, data, V1) - 3 * H.hvp(net, theta, data, V2), torch.float64)
    close(H.hvp(net, theta, data, V1), (Hs @ V1[..., None])[..., 0], torch.float64)
    assert (torch.linalg.eigvalsh(H.gauss_newton(net, theta, data)) > -1e-10).all()
    close(H.trace(net, theta, data), Hs.diagonal(dim1=1, dim2=2).sum(1), torch.float64)
    est = H.trace(net, theta, data, n_probes=4000, generator=g)
    assert ((est - H.trace(net, theta, data)).abs() < 0.1 * Hs.norm(dim=(1, 2)) + 1e-6).all()
    ev = torch.linalg.eigvalsh(Hs)
    close(H.eigvalsh(net, theta, data), ev, torch.float64)
    assert torch.equal(H.index(net, theta, data), (ev < -1e-8).sum(1))
    r = H.extreme_eigs(net, theta, data, k=2, which="both", return_vectors=True)
    close(r.values, ev[:, [0, 1, -2, -1]], torch.float64)
    assert r.vectors.shape == (4, 4, net.num_params) and (r.residuals < 1e-8).all()


def test_lanczos_matches_dense():
    net = MLP([4, 16, 8, 2], "sigmoid")  # P = 234
    theta, data, *_ = make(net, 3, 40, torch.float64)
    ev = H.eigvalsh(net, theta, data)
    g = torch.Generator().manual_seed(3)
    r = H.extreme_eigs(net, theta, data, k=3, which="both", method="lanczos", generator=g,
                       return_vectors=True, max_iter=net.num_params)
    close(r.values, ev[:, [0, 1, 2, -3, -2, -1]], torch.float64)
    V = r.vectors
    HV = H.hvp(net, theta, data, V)
    true_res = torch.linalg.vector_norm(HV - r.values[..., None] * V, dim=-1)
    assert (true_res < 1e-6 * ev.abs().amax(1, keepdim=True)).all()


@pytest.mark.parametrize("s", [0.1, 0.4, 0.75])
def test_tms_two_features_closed_form(s):
    # Seed 000: L(w) = E ||x - relu(W^T W x)||^2 (no factor 1/2), features 0 w.p. s else U[0,1].
    # At W = (1/sqrt2, 1/sqrt2) the Hessian is (s-1)/6 [[9s-17, 3s-11], [3s-11, 9s-17]] and the
    # gradient vanishes (derived by hand: same-sign region, where L is a polynomial in w).
    tms = TMS(2, 1, bias=False)
    data = H.tms_quadrature(s, n_nodes=6)
    theta = torch.full((1, 2), 2 ** -0.5, dtype=torch.float64)
    a, b = 9 * s - 17, 3 * s - 11
    expected = (s - 1) / 6 * torch.tensor([[a, b], [b, a]], dtype=torch.float64)
    close(H.hessian(tms, theta, data)[0], expected, torch.float64)
    assert H.value_and_grad(tms, theta, data)[1].abs().max() < 1e-12
    # loss in the same-sign region, from the seed's polynomial at w1 = w2 = 1/sqrt2
    w1 = w2 = 2 ** -0.5
    L = s * (1 - s) / 3 * (w1**4 + 2 * w1**2 * w2**2 - 2 * w1**2 + w2**4 - 2 * w2**2 + 2) + \
        (1 - s) ** 2 / 6 * (2 * w1**4 + 3 * w1**3 * w2 + 4 * w1**2 * (w2**2 - 1)
                            + 3 * w1 * w2 * (w2**2 - 2) + 2 * (w2**4 - 2 * w2**2 + 2))
    assert math.isclose(H.loss(tms, theta, data).item(), L, rel_tol=1e-12)


def test_fit_then_classify():
    net = MLP([2, 3, 1], "tanh")
    g = torch.Generator().manual_seed(4)
    X = torch.randn(50, 2, generator=g, dtype=torch.float64)
    data = H.Data(X, torch.sin(X[:, :1]))
    theta0 = net.init(8, generator=g, dtype=torch.float64)
    theta, hist = H.fit(net, theta0, data, lr=1e-2, steps=200, log_every=50, progress=False)
    assert hist.loss.shape == (5, 8) and hist.grad_norm.shape == (5, 8)
    assert hist.steps.tolist() == [0, 50, 100, 150, 200]
    assert (hist.loss[-1] < hist.loss[0]).all()
    close(hist.loss[-1], H.loss(net, theta, data), torch.float64)
    assert H.extreme_eigs(net, theta, data).values.shape == (8, 1)


def test_levenberg_marquardt_recovers_teacher():
    """A perturbed teacher on its own (zero-residual) data: LM reaches loss ~0 with a monotone
    loss per model; a model with NaN data stays put."""
    net = MLP([2, 4, 1], "sigmoid", bias=False)
    g = torch.Generator().manual_seed(5)
    X = torch.randn(80, 2, generator=g, dtype=torch.float64) * 3
    teacher = net.init(1, generator=g, dtype=torch.float64)
    data = H.Data(X, forward(net, teacher, X)[0])
    theta0 = teacher + 0.05 * torch.randn(6, net.num_params, generator=g, dtype=torch.float64)
    theta, hist = H.levenberg_marquardt(net, theta0, data, steps=60)
    assert hist.loss.shape == (61, 6) and hist.steps.tolist() == list(range(61))
    assert (hist.loss[1:] <= hist.loss[:-1]).all()
    assert (hist.loss[-1] < 1e-20).all() and (hist.grad_norm[-1] < 1e-9).all()
    close(hist.loss[-1], H.loss(net, theta, data), torch.float64)
    theta1, _ = H.levenberg_marquardt(net, theta0, data, steps=0)
    assert torch.equal(theta1, theta0)
    with pytest.raises(ValueError, match="steps"):
        H.levenberg_marquardt(net, theta0, data, steps=-1)
    with pytest.raises(ValueError, match="damping"):
        H.levenberg_marquardt(net, theta0, data, damping=0.0)


def test_errors():
    net = MLP([2, 3, 1])
    theta, data, *_ = make(net, 2, 10, torch.float64)
    P = net.num_params
    with pytest.raises(ValueError, match="V must be"):
        H.hvp(net, theta, data, torch.zeros(2, P + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="V must be"):
        H.gnvp(net, theta, data, torch.zeros(3, P, dtype=torch.float64))
    with pytest.raises(TypeError):
        H.hvp(net, theta, data, torch.zeros(2, P))
    with pytest.raises(ValueError, match="does not match"):
        H.Data(torch.zeros(5, 2), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="weights"):
        H.Data(torch.zeros(5, 2), torch.zeros(5, 1), weights=torch.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        H.Data(torch.full((5, 2), math.nan), torch.zeros(5, 1))
    with pytest.raises(ValueError, match="outputs"):
        H.loss(net, theta, H.Data(torch.zeros(5, 2, dtype=torch.float64),
                                  torch.zeros(5, 2, dtype=torch.float64)))
    with pytest.raises(ValueError, match="per model"):
        H.loss(net, theta, H.Data(torch.zeros(3, 5, 2, dtype=torch.float64),
                                  torch.zeros(3, 5, 1, dtype=torch.float64)))
    with pytest.raises(TypeError, match="float32"):
        H.loss(net, theta.float(), data)
    bad = theta.clone()
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        H.value_and_grad(net, bad, data)
    with pytest.raises(ValueError, match="theta must have shape"):
        H.loss(net, theta[:, :-1], data)
    with pytest.raises(ValueError, match="HESSIAN_MAX_BYTES"):
        big = MLP([2, 200, 200, 1])
        H.hessian(big, big.init(20, dtype=torch.float64), data)
    with pytest.raises(ValueError, match="which"):
        H.extreme_eigs(net, theta, data, which="middle")
    with pytest.raises(ValueError, match="more eigenvalues"):
        H.extreme_eigs(net, theta, data, k=P + 1)
    with pytest.raises(ValueError, match="optimizer"):
        H.fit(net, theta, data, optimizer="lbfgs")


def _cuda_data(data: H.Data) -> H.Data:
    return H.Data(data.X.cuda(), data.T.cuda(), data.weights.cuda(), data.importance.cuda())


def _check_cuda_matches_cpu(model, theta, data, V, dtype, dense=True):
    cuda, theta_c = _cuda_data(data), theta.cuda()
    close(H.loss(model, theta_c, cuda).cpu(), H.loss(model, theta, data), dtype)
    for got, want in zip(H.value_and_grad(model, theta_c, cuda), H.value_and_grad(model, theta, data)):
        close(got.cpu(), want, dtype)
    close(H.hvp(model, theta_c, cuda, V.cuda()).cpu(), H.hvp(model, theta, data, V), dtype)
    close(H.gnvp(model, theta_c, cuda, V.cuda()).cpu(), H.gnvp(model, theta, data, V), dtype)
    if dense:
        close(H.hessian(model, theta_c, cuda).cpu(), H.hessian(model, theta, data), dtype)


CUDA_MODELS = [MLP([3, 5, 4, 2], act) for act in ACTIVATIONS] + [TMS(6, 2), TMS(6, 2, bias=False)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
@pytest.mark.parametrize("per_model", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("model", CUDA_MODELS, ids=repr)
def test_cuda_matches_cpu(model, dtype, per_model):
    """Every activation and the tied-weight TMS, shared and per-model data, every mode; N = 700
    gives two chunks per model and a partial block."""
    theta, data, kw, X, T = make(model, 5, 700, dtype, per_model, True, True)
    V = torch.randn(5, 3, model.num_params, dtype=dtype)
    _check_cuda_matches_cpu(model, theta, data, V, dtype)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cuda_task_loop_and_small_workspace(dtype, monkeypatch):
    """More (model, chunk) tasks than blocks (grid-stride loop), then a workspace budget that
    allows a single block for everything."""
    net = MLP([2, 5, 1], "relu")
    theta, data, kw, X, T = make(net, 600, 2000, dtype, weighted=True, importance=True)
    V = torch.randn(600, net.num_params, dtype=dtype)
    _check_cuda_matches_cpu(net, theta, data, V, dtype, dense=False)
    monkeypatch.setattr(H, "_CUDA_WORKSPACE_BYTES", 1)
    _check_cuda_matches_cpu(net, theta[:7], data, V[:7], dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_empty_batch_gives_empty_results(dtype):
    net = MLP([2, 3, 1], "sigmoid")
    theta, data, kw, X, T = make(net, 0, 10, dtype)
    assert H.loss(net, theta, data).shape == (0,)
    value, grad = H.value_and_grad(net, theta, data)
    assert value.shape == (0,) and grad.shape == (0, net.num_params)
    V = torch.zeros(0, 2, net.num_params, dtype=dtype)
    assert H.hvp(net, theta, data, V).shape == (0, 2, net.num_params)
    assert H.hessian(net, theta, data).shape == (0, net.num_params, net.num_params)
