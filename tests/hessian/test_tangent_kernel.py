"""reluscope.hessian.jacobian / ntk / ntk_vp vs torch.func's vmap(jacrev) recipe (every activation,
both parameterisations, tied-weight TMS, shared and per-model inputs, both dtypes, every CPU vector
variant, CPU and CUDA), exact linear cases, the chunked and matrix-free paths, errors."""
import math

import pytest
import torch

from reluscope import ACTIVATIONS, MLP, TMS, hessian
from reluscope.hessian import tangent_kernel
from reluscope.reference import hessian as reference
from tests.utils import CPU_ISAS, DEVICES, DTYPES, assert_matches_reference

f64 = torch.float64


def problem(model, B, N, dtype, per_model=False, seed=0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    theta = model.init(B, generator=g, dtype=dtype, bias_std=0.3)
    shape = (B, N, model.d_in) if per_model else (N, model.d_in)
    return theta.to(device), torch.randn(*shape, generator=g, dtype=dtype).to(device)


CASES = [(act, par, per) for act in ACTIVATIONS for par in ("standard", "ntk")
         for per in (False, True)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act,par,per_model", CASES)
def test_jacobian_and_ntk_match_torch_func(act, par, per_model, dtype, device, monkeypatch):
    """Jacobian, NTK (full and traced, X2 = X1 and X2 != X1, by the per-layer factors and by the
    Jacobians) and NTK-vector products equal the vmap(jacrev) reference: float64 to 1e-12
    relative (elementwise tolerance: the Jacobian is a product of O(depth) factors per entry),
    float32 to 1e-5; the NTK sums P products: the reduction tolerance."""
    net = MLP([3, 5, 4, 2], act, parameterization=par)
    theta, X = problem(net, 3, 11, dtype, per_model, device=device)
    _, X2 = problem(net, 3, 6, dtype, per_model, seed=1, device=device)
    J = hessian.jacobian(net, theta, X)
    assert J.shape == (3, 11, 2, net.num_params)
    assert_matches_reference(J, reference.jacobian(net, theta.cpu(), X.cpu()))
    for factored in (True, False):
        monkeypatch.setattr(tangent_kernel, "_factorises", lambda model: factored)
        for x2 in (None, X2):
            for trace in (False, True):
                got = hessian.ntk(net, theta, X, x2, trace=trace)
                want = reference.ntk(net, theta.cpu(), X.cpu(),
                                     None if x2 is None else x2.cpu(), trace=trace)
                assert_matches_reference(got, want, kind="reduction")
    V = torch.randn(3, 6, 2, generator=torch.Generator().manual_seed(3), dtype=dtype)
    full = reference.ntk(net, theta.cpu(), X.cpu(), X2.cpu())
    assert_matches_reference(hessian.ntk_vp(net, theta, X, V.to(device), X2=X2),
                             torch.einsum("bnmij,bmj->bni", full, V), kind="reduction")


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_tied_weights_add_into_shared_slots(bias, dtype):
    """TMS y = relu(W^T W x + b): each weight enters twice; the Jacobian sums both, and the NTK
    (which does not factorise over layers then) contracts the full Jacobians."""
    net = TMS(5, 2, bias=bias)
    theta, X = problem(net, 4, 9, dtype)
    assert_matches_reference(hessian.jacobian(net, theta, X), reference.jacobian(net, theta, X))
    for trace in (False, True):
        assert_matches_reference(hessian.ntk(net, theta, X, trace=trace),
                                 reference.ntk(net, theta, X, trace=trace), kind="reduction")


@pytest.mark.parametrize("par", ["standard", "ntk"])
def test_layer_factored_ntk_equals_the_jacobian_contraction(par, monkeypatch):
    """The MLP path (per-layer features) against the generic one (J J'^T), float64 to 1e-12,
    with and without bias, several outputs, X2 != X1, traced and not."""
    for bias in (True, False):
        net = MLP([3, 6, 5, 3], "softplus", bias=bias, parameterization=par)
        theta, X = problem(net, 2, 7, f64)
        _, X2 = problem(net, 2, 4, f64, seed=1)
        with monkeypatch.context() as m:
            m.setattr(tangent_kernel, "_factorises", lambda model: True)
            fast = [hessian.ntk(net, theta, X, X2, trace=t) for t in (False, True)]
        with monkeypatch.context() as m:
            m.setattr(tangent_kernel, "_factorises", lambda model: False)
            slow = [hessian.ntk(net, theta, X, X2, trace=t) for t in (False, True)]
        for a, b in zip(fast, slow):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("isa", CPU_ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_cpu_vector_variant_matches_reference(isa, dtype, monkeypatch):
    """RELUSCOPE_CPU_ISA caps the compiled variant; N = 150 gives whole tiles and a partial one."""
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    for model in (MLP([3, 6, 2], "sigmoid"), MLP([2, 9, 1], "relu", parameterization="ntk")):
        theta, X = problem(model, 2, 150, dtype)
        assert_matches_reference(hessian.jacobian(model, theta, X),
                                 reference.jacobian(model, theta, X))
        u = torch.randn(2, 150, model.d_out, dtype=dtype)
        assert_matches_reference(hessian.ntk_vp(model, theta, X, u),
                                 torch.einsum("bnmij,bmj->bni", reference.ntk(model, theta, X), u),
                                 kind="reduction")


def test_linear_layer_exact():
    """y = W x + b (one layer): J[n, i, W_ik] = x_k, J[n, i, b_i] = 1, so Theta(x, x') =
    (<x, x'> + 1) I; in the NTK parameterisation (<x, x'> / d + 1) I. Integer-valued inputs: exact."""
    X = torch.tensor([[1.0, 2.0, -1.0], [0.0, 3.0, 1.0]], dtype=f64)
    for par, scale in (("standard", 1.0), ("ntk", 1 / 3)):
        net = MLP([3, 2], parameterization=par)
        theta = torch.arange(8, dtype=f64)
        K = hessian.ntk(net, theta, X)
        want = (X @ X.T * scale + 1)[:, :, None, None] * torch.eye(2, dtype=f64)
        torch.testing.assert_close(K, want, rtol=1e-15, atol=1e-15)
        J = hessian.jacobian(net, theta, X)
        w_factor = math.sqrt(scale)
        torch.testing.assert_close(J[1, 0, :3], X[1] * w_factor, rtol=1e-15, atol=0)
        assert J[1, 0, 3:6].abs().max() == 0 and J[1, 0, 6].item() == 1 and J[1, 0, 7].item() == 0


def test_ntk_nonzero_eigenvalues_are_the_gauss_newton_ones():
    """For mse with unit sample weights, H0 = 2 J^T J (all samples' Jacobians stacked) and
    Theta = J J^T share their nonzero eigenvalues (up to the factor 2): checked to round-off."""
    from reluscope import Data

    net = MLP([2, 6, 2], "tanh")
    theta, X = problem(net, 2, 5, f64)
    K = hessian.ntk(net, theta, X)                       # (B, N, N, d, d)
    Kmat = K.permute(0, 1, 3, 2, 4).reshape(2, 10, 10)
    G = hessian.gauss_newton(net, theta, Data(X, torch.zeros(5, 2, dtype=f64),
                                              weights=torch.ones(5, dtype=f64)))
    ek = torch.linalg.eigvalsh(Kmat)
    eg = torch.linalg.eigvalsh(G)[:, -10:] / 2
    torch.testing.assert_close(ek, eg, rtol=1e-12, atol=1e-12)


def test_one_network_and_the_chunked_ntk(monkeypatch):
    """theta (P,) drops the network dimension; NTK_CHUNK_BYTES forcing one network per chunk
    gives the values of one chunk (to round-off: the batched product's blocking may differ);
    the path choice: a wide MLP factorises, a narrow one and TMS contract Jacobians."""
    assert tangent_kernel._factorises(MLP([8, 128, 128, 1]))
    assert not tangent_kernel._factorises(MLP([2, 64, 1]))
    assert not tangent_kernel._factorises(TMS(40, 30))
    net = MLP([2, 4, 3], "relu")
    theta, X = problem(net, 3, 7, f64)
    one = hessian.jacobian(net, theta[1], X)
    assert one.shape == (7, 3, net.num_params)
    assert torch.equal(one, hessian.jacobian(net, theta, X)[1])
    assert hessian.ntk(net, theta[1], X, trace=True).shape == (7, 7)
    assert hessian.ntk_vp(net, theta[1], X, torch.ones(7, 3, dtype=f64)).shape == (7, 3)
    whole = hessian.ntk(net, theta, X)
    monkeypatch.setattr(tangent_kernel, "NTK_CHUNK_BYTES", 1)
    torch.testing.assert_close(hessian.ntk(net, theta, X), whole, rtol=1e-14, atol=1e-14)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_grid_stride_with_a_small_workspace(dtype, monkeypatch):
    """More (network, sample) pairs than workspace threads: the grid-stride loop covers them."""
    net = MLP([3, 7, 2], "tanh")
    theta, X = problem(net, 5, 300, dtype, device="cuda")
    from reluscope._ext import _core

    real = _core.jac_workspace
    monkeypatch.setattr(_core, "jac_workspace", lambda net, B, N, cuda, elem:
                        real(net, B, N, cuda, elem, 200 * 8 * 64))
    assert_matches_reference(hessian.jacobian(net, theta, X),
                             reference.jacobian(net, theta.cpu(), X.cpu()))


def test_errors(monkeypatch):
    net = MLP([2, 3, 1], "tanh")
    theta, X = problem(net, 2, 4, f64)
    with pytest.raises(ValueError, match="X must be"):
        hessian.jacobian(net, theta, torch.zeros(4, 3, dtype=f64))
    with pytest.raises(ValueError, match="X must be"):
        hessian.jacobian(net, theta, torch.zeros(3, 4, 2, dtype=f64))
    with pytest.raises(ValueError, match="theta must have shape"):
        hessian.jacobian(net, theta[:, :-1], X)
    with pytest.raises(TypeError, match="float32"):
        hessian.jacobian(net, theta, X.float())
    with pytest.raises(TypeError):
        hessian.jacobian(net, theta.long(), X)
    with pytest.raises(ValueError, match="NaN or inf"):
        hessian.jacobian(net, theta, X.clone().fill_(math.inf))
    with pytest.raises(ValueError, match="NaN or inf"):
        hessian.ntk(net, theta.clone().fill_(math.nan), X)
    with pytest.raises(ValueError, match="X2 must be"):
        hessian.ntk(net, theta, X, torch.zeros(4, 5, dtype=f64))
    with pytest.raises(ValueError, match="V must be"):
        hessian.ntk_vp(net, theta, X, torch.zeros(2, 3, 1, dtype=f64))
    with pytest.raises(ValueError, match="NaN or inf"):
        hessian.ntk_vp(net, theta, X, torch.full((2, 4, 1), math.nan, dtype=f64))
    with pytest.raises(NotImplementedError, match="requires grad"):
        hessian.jacobian(net, theta.requires_grad_(), X)
    with pytest.raises(TypeError, match="MLP or"):
        hessian.ntk("net", theta, X)
    monkeypatch.setattr(tangent_kernel, "HESSIAN_MAX_BYTES", 100)
    with pytest.raises(ValueError, match="ntk_vp"):
        hessian.jacobian(net, theta.detach(), X)
    with pytest.raises(ValueError, match="ntk_vp"):
        hessian.ntk(net, theta.detach(), X)
