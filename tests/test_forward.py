"""reluscope.forward vs reluscope.reference.forward: values and derivatives, exact cases, error
paths, torch.func and torch.compile."""
import functools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reluscope as rs
from reluscope import reference
from reluscope._ext import _core
from tests.utils import CPU_ISAS, DEVICES, DTYPES, assert_matches_reference, jvp_ways


def matches_reference(model, theta, X, factor=1.0):
    """forward on theta's device vs the reference on the CPU."""
    assert_matches_reference(rs.forward(model, theta, X.to(theta.device)),
                             rs.reference.forward(model, theta.cpu(), X.cpu()), factor=factor)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("activation", rs.ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_net", [False, True])
def test_forward_matches_reference(activation, dtype, per_net, device):
    """CUDA (FMA) rounds differently from the reference: 10x the tolerance there."""
    factor = 10 if device == "cuda" else 1
    g = torch.Generator().manual_seed(1)
    net = rs.MLP([3, 7, 5, 2], activation, slope=0.1)
    theta = net.init(5, generator=g, dtype=dtype, bias_std=0.5, device=device)
    X = torch.randn(*((5,) if per_net else ()), 150, 3, generator=g, dtype=dtype)  # >1 CPU tile
    matches_reference(net, theta, X, factor)
    wide = rs.MLP([9, 10, 9, 2], activation, slope=0.1)  # register-blocked sums + remainder
    theta = wide.init(5, generator=g, dtype=dtype, bias_std=0.5, device=device)
    X = torch.randn(*((5,) if per_net else ()), 150, 9, generator=g, dtype=dtype)
    matches_reference(wide, theta, X, factor)


@pytest.mark.parametrize("isa", CPU_ISAS)
def test_every_cpu_vector_variant_matches_reference(isa, monkeypatch):
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    g = torch.Generator().manual_seed(3)
    for dtype in DTYPES:
        for model in [rs.MLP([3, 7, 5, 2], a, slope=0.1) for a in rs.ACTIVATIONS] + [rs.TMS(6, 2)]:
            theta = model.init(4, generator=g, dtype=dtype)
            for X in (torch.randn(150, model.d_in, generator=g, dtype=dtype),
                      torch.randn(4, 70, model.d_in, generator=g, dtype=dtype)):
                matches_reference(model, theta, X)


@settings(max_examples=40, deadline=None)
@given(widths=st.lists(st.integers(1, 9), min_size=2, max_size=5), B=st.integers(1, 4),
       N=st.integers(1, 140), bias=st.booleans(), activation=st.sampled_from(rs.ACTIVATIONS),
       double=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_forward_random_shapes(widths, B, N, bias, activation, double, seed):
    dtype = torch.float64 if double else torch.float32
    g = torch.Generator().manual_seed(seed)
    net = rs.MLP(widths, activation, bias=bias)
    theta = net.init(B, generator=g, dtype=dtype, bias_std=0.3)
    X = torch.randn(N, widths[0], generator=g, dtype=dtype)
    matches_reference(net, theta, X)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tms_forward_matches_reference_and_formula(dtype):
    g = torch.Generator().manual_seed(2)
    tms = rs.TMS(6, 3)
    theta = tms.init(4, generator=g, dtype=dtype, bias_std=0.2)
    X = torch.rand(4, 10, 6, generator=g, dtype=dtype)
    out = rs.forward(tms, theta, X)
    assert_matches_reference(out, rs.reference.forward(tms, theta, X))
    W, b = tms.unflatten(theta)
    direct = torch.relu(torch.einsum("bmn,bmk,bsk->bsn", W, W, X) + b[:, None, :])
    assert_matches_reference(out, direct, factor=10)


def test_forward_exact_small_case():
    # one hidden relu neuron: y = 3 * relu(2 x - 1) + 0.5
    net = rs.MLP([1, 1, 1])
    theta = torch.tensor([[2.0, -1.0, 3.0, 0.5]], dtype=torch.float64)
    X = torch.tensor([[0.0], [0.5], [1.0], [2.0]], dtype=torch.float64)
    assert rs.forward(net, theta, X).flatten().tolist() == [0.5, 0.5, 3.5, 9.5]


def test_deep_linear_network_is_product_of_matrices():
    net = rs.MLP([4, 3, 5, 2], "identity", bias=False)
    theta = net.init(3, dtype=torch.float64)
    (W1, _), (W2, _), (W3, _) = net.unflatten(theta)
    X = torch.randn(8, 4, dtype=torch.float64)
    expected = torch.einsum("bij,bjk,bkl,nl->bni", W3, W2, W1, X)
    assert_matches_reference(rs.forward(net, theta, X), expected)


def test_erf_and_softplus_values():
    for act, fn in (("erf", torch.erf), ("softplus", torch.nn.functional.softplus)):
        net = rs.MLP([1, 1, 1], act, bias=False)
        theta = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
        x = torch.tensor([[-30.0], [-1.0], [0.3], [25.0]], dtype=torch.float64)
        assert torch.allclose(rs.forward(net, theta, x)[0], fn(x), rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_based_activations_over_the_whole_range(dtype):
    """sigmoid, softplus and erf' go through the kernels' own vectorised exp (1 ulp of libm), tanh,
    softplus's log1p and erf through vectorised versions built on it (2.2, 2.2 and 1.1 eps
    measured): 4 eps over the whole range, overflow to inf / underflow to 0 (and subnormals)
    handled, NaN kept."""
    tiny = torch.logspace(-30, 0, 301, dtype=torch.float64)  # relative accuracy near 0
    z = torch.cat([torch.linspace(-800, 800, 4001, dtype=torch.float64),
                   torch.linspace(-30, 30, 4001, dtype=torch.float64), tiny, -tiny]).to(dtype)
    x = torch.cat([z, torch.tensor([math.nan, math.inf, -math.inf], dtype=dtype)])[:, None]
    tol = 4 * torch.finfo(dtype).eps
    for act, fn in (("sigmoid", torch.sigmoid), ("softplus", torch.nn.functional.softplus),
                    ("tanh", torch.tanh), ("erf", torch.erf)):
        net = rs.MLP([1, 1, 1], act, bias=False)  # y = 1 * act(1 * x)
        y = rs.forward(net, torch.ones(1, 2, dtype=dtype), x)[0]
        ref = fn(x)
        assert torch.equal(y.isnan(), ref.isnan())
        ok = ~ref.isnan()
        assert torch.allclose(y[ok], ref[ok], rtol=tol, atol=torch.finfo(dtype).tiny)


def test_forward_accepts_non_contiguous_inputs():
    net = rs.MLP([3, 4, 2], "tanh")
    theta_big = net.init(6, dtype=torch.float64)
    theta = theta_big[::2]  # non-contiguous rows
    X = torch.randn(3, 8, dtype=torch.float64).t()  # (8, 3) transposed view
    assert not theta.is_contiguous() and not X.is_contiguous()
    matches_reference(net, theta, X)


def test_forward_empty_batches():
    net = rs.MLP([2, 3, 1])
    assert rs.forward(net, net.init(0), torch.randn(5, 2)).shape == (0, 5, 1)
    assert rs.forward(net, net.init(3), torch.randn(0, 2)).shape == (3, 0, 1)


def test_forward_under_no_grad_and_nan_propagation():
    net = rs.MLP([2, 3, 1], "sigmoid")
    theta = net.init(2, dtype=torch.float64)
    X = torch.tensor([[0.1, 0.2], [math.nan, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        out = rs.forward(net, theta, X)
    assert torch.isfinite(out[:, 0]).all() and torch.isnan(out[:, 1]).all()


def test_forward_error_paths():
    net = rs.MLP([2, 3, 1])
    theta = net.init(2)
    X = torch.randn(4, 2)
    with pytest.raises(ValueError, match=r"theta must have shape \(B, 13\)"):
        rs.forward(net, theta[:, :-1], X)
    with pytest.raises(ValueError, match="X must be"):
        rs.forward(net, theta, torch.randn(4, 3))
    with pytest.raises(ValueError, match="X must be"):
        rs.forward(net, theta, torch.randn(3, 4, 2))  # per-network X with the wrong B
    with pytest.raises(ValueError, match="X must be"):
        rs.forward(net, theta, torch.randn(2))
    with pytest.raises(TypeError, match="float32 or float64"):
        rs.forward(net, theta, X.to(torch.int64))
    with pytest.raises(TypeError, match="float32 or float64"):
        rs.forward(net, theta.half(), X.half())
    with pytest.raises(TypeError, match="one dtype"):
        rs.forward(net, theta, X.double())
    with pytest.raises(TypeError, match="torch.Tensor"):
        rs.forward(net, "theta", X)
    with pytest.raises(TypeError, match="model must be a reluscope.MLP"):
        rs.forward("mlp", theta, X)


def test_extension_rejects_what_python_would_have_fixed():
    """The C++ side checks again and raises (never aborts, never converts silently)."""
    net = rs.MLP([2, 3, 1])
    theta, X = net.init(2), torch.randn(4, 2)
    out = torch.empty(2, 4, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.forward(net.spec, theta, X.t().contiguous().t(), out)
    with pytest.raises(ValueError, match="wrong dtype"):
        _core.forward(net.spec, theta, X.double(), out)
    with pytest.raises(ValueError, match="out has size"):
        _core.forward(net.spec, theta, X, torch.empty(2, 5, 1))


def test_torch_compile_traces_the_custom_op():
    net = rs.MLP([2, 4, 1], "tanh")
    theta, X = net.init(3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)

    def f(theta, X):
        return rs.forward(net, theta, X) * 2

    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    assert_matches_reference(compiled(theta, X), 2 * rs.reference.forward(net, theta, X))


def test_custom_ops_pass_opcheck():
    """Every opcheck test, autograd registration included (theta and X requiring grad)."""
    net = rs.MLP([2, 4, 1], "relu")
    theta = net.init(2, dtype=torch.float64).requires_grad_()
    X = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    model = (net.flat_layers, net.num_params, net.slope)
    torch.library.opcheck(torch.ops.reluscope.forward.default, (theta, X, *model))
    for need_x in (False, True):
        torch.library.opcheck(torch.ops.reluscope.forward_vjp.default,
                              (theta, X, torch.randn(2, 3, 1, dtype=torch.float64), *model, need_x))


def test_lane_workspace_plan():
    """The C++ plan of the sample-parallel CUDA kernels: nothing on the CPU; on CUDA whole threads
    of 2 max_width values, at least one thread, at most one per pair, within the byte budget."""
    spec = rs.MLP([3, 16, 8, 2]).spec
    assert _core.lane_workspace(spec, 10_000, False, 8) == 0
    assert _core.lane_workspace(spec, 5, True, 8) == 5 * 2 * 16
    big = _core.lane_workspace(spec, 10**9, True, 8)
    assert big % 32 == 0 and big * 8 <= 1 << 30
    assert _core.lane_workspace(spec, 10**9, True, 8, max_workspace_bytes=1) == 32


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_cuda_sample_loop_per_model_data_and_small_workspace(dtype, monkeypatch):
    """B N > the scratch threads of the plan (grid-stride loop), per-model X, then a workspace
    budget that allows a single thread."""
    g = torch.Generator().manual_seed(4)
    net = rs.MLP([3, 16, 8, 2], "tanh")
    theta = net.init(300, generator=g, dtype=dtype, bias_std=0.3)
    X = torch.randn(300, 1000, 3, generator=g, dtype=dtype)
    want = rs.reference.forward(net, theta, X)
    assert_matches_reference(rs.forward(net, theta.cuda(), X.cuda()), want, factor=10)
    monkeypatch.setattr(_core, "lane_workspace",
                        functools.partial(_core.lane_workspace, max_workspace_bytes=1))
    got = rs.forward(net, theta[:3].cuda(), X[:3, :50].cuda())
    assert_matches_reference(got, want[:3, :50], factor=10)


@pytest.mark.cuda
@pytest.mark.sanitize
def test_cuda_forward_small_case():
    """One small call per dtype for compute-sanitizer (bench/gpu_check.sh)."""
    for dtype in DTYPES:
        net = rs.MLP([3, 6, 2], "tanh")
        theta = net.init(3, dtype=dtype, bias_std=0.3)
        matches_reference(net, theta.cuda(), torch.randn(40, 3, dtype=dtype), factor=10)


@pytest.mark.cuda
def test_cuda_forward_on_a_side_stream_interleaved_with_torch_ops():
    """The kernel runs on torch's current stream: inputs made by torch ops just before it on a
    side stream, its output used by torch ops after it, no synchronisation in between."""
    net = rs.MLP([3, 16, 8, 2], "sigmoid")
    g = torch.Generator().manual_seed(7)
    theta = net.init(64, generator=g, dtype=torch.float64, bias_std=0.3)
    X = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    want = 2 * rs.reference.forward(net, theta, X) + 1
    side = torch.cuda.Stream()
    theta_c, X_c = theta.cuda(), X.cuda()
    torch.cuda.synchronize()
    with torch.cuda.stream(side):
        big = torch.randn(4096, 4096, device="cuda", dtype=torch.float64)
        delay = (big @ big).sum() * 0  # keeps the side stream busy before the inputs are made
        got = 2 * rs.forward(net, theta_c + delay, X_c * (1 + delay)) + 1
    side.synchronize()
    assert_matches_reference(got, want, factor=10)


@pytest.mark.cuda
def test_forward_cuda_error_on_mixed_devices():
    net = rs.MLP([2, 3, 1])
    with pytest.raises(ValueError, match="is on"):
        rs.forward(net, net.init(2).cuda(), torch.randn(4, 2))


@pytest.mark.parametrize("activation", rs.ACTIVATIONS)
def test_nan_and_inf_propagate_like_torch(activation):
    """relu(NaN) is NaN (not 0), as in torch: every activation, NaN and inf in X and in theta."""
    net = rs.MLP([2, 3, 1], activation)
    theta = net.init(3, dtype=torch.float64, bias_std=0.3)
    theta[1, 0] = math.nan
    theta[2, 1] = math.inf
    X = torch.tensor([[0.3, -0.2], [math.nan, 0.0], [math.inf, 1.0], [-math.inf, 0.5]],
                     dtype=torch.float64)
    got, want = rs.forward(net, theta, X), rs.reference.forward(net, theta, X)
    assert torch.equal(got.isnan(), want.isnan())
    ok = ~want.isnan()
    assert torch.equal(got[ok].isinf(), want[ok].isinf())
    finite = ok & ~want.isinf()
    assert_matches_reference(got[finite], want[finite])


def test_data_that_requires_grad_is_an_error_not_a_detached_result():
    """The Hessian engine has no derivative in X, T or the weights: with grad mode on, data that
    requires grad raises (it would otherwise get a result silently cut from the graph)."""
    net = rs.MLP([2, 3, 1])
    theta = net.init(2, dtype=torch.float64)
    X = torch.randn(4, 2, dtype=torch.float64)
    with pytest.raises(NotImplementedError, match="X requires grad"):
        rs.hessian.loss(net, theta, rs.Data(X.requires_grad_(), X[:, :1].detach()))
    with torch.no_grad():
        data = rs.Data(X, X[:, :1] ** 2)
    with pytest.raises(NotImplementedError, match="data.X requires grad"):
        rs.hessian.loss(net, theta, data)


@pytest.mark.parametrize("activation", rs.ACTIVATIONS)
@pytest.mark.parametrize("per_net", [False, True])
def test_gradcheck_and_gradgradcheck_in_theta_and_x(activation, per_net):
    """forward is differentiable in theta and X: its backward is the Hessian kernel's vector-
    Jacobian product (checked against finite differences), its double backward the reference."""
    net = rs.MLP([3, 4, 2], activation)
    g = torch.Generator().manual_seed(1)
    theta = net.init(2, generator=g, dtype=torch.float64, bias_std=0.5).requires_grad_()
    X = torch.randn(*((2,) if per_net else ()), 5, 3, generator=g, dtype=torch.float64)
    X.requires_grad_()
    f = lambda t, x: rs.forward(net, t, x)  # noqa: E731
    assert torch.autograd.gradcheck(f, (theta, X))
    assert torch.autograd.gradgradcheck(f, (theta, X))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_matches_the_reference(device, dtype):
    """Gradients of a random scalar of the outputs, in theta and X, equal torch autograd's on the
    reference forward pass (TMS too: tied weights add the two layers' gradients)."""
    for net in (rs.MLP([3, 6, 5, 2], "softplus"), rs.TMS(5, 2)):
        g = torch.Generator().manual_seed(2)
        theta = net.init(3, generator=g, dtype=dtype, bias_std=0.3).to(device)
        X = torch.rand(300, net.d_in, generator=g, dtype=dtype).to(device)
        W = torch.randn(3, 300, net.d_out, generator=g, dtype=dtype).to(device)
        grads = []
        for fn in (rs.forward, reference.forward):
            t, x = theta.clone().requires_grad_(), X.clone().requires_grad_()
            (fn(net, t, x) * W).sum().backward()
            grads.append((t.grad, x.grad))
        assert_matches_reference(grads[0], grads[1], kind="reduction")


def test_torch_func_grad_and_vmap():
    """torch.func.grad and vmap over an extra leading dimension (folded into the batch of
    networks) see through the custom op."""
    net = rs.MLP([2, 5, 1], "tanh")
    theta = net.init(4, dtype=torch.float64, bias_std=0.3)
    X = torch.randn(9, 2, dtype=torch.float64)
    want = torch.func.grad(lambda t: reference.forward(net, t, X).sum())(theta)
    got = torch.func.grad(lambda t: rs.forward(net, t, X).sum())(theta)
    assert_matches_reference(got, want, kind="reduction")
    stacked = torch.stack([theta, 2 * theta, -theta])
    assert_matches_reference(torch.func.vmap(lambda t: rs.forward(net, t, X))(stacked),
                             torch.stack([reference.forward(net, t, X) for t in stacked]))


def test_inputs_convert_like_torch_as_tensor_and_one_network():
    """numpy arrays and nested lists are converted (lists to theta's dtype); a 1-D theta is one
    network and the result has no network dimension."""
    net = rs.MLP([2, 3, 1])
    theta = net.init(1, dtype=torch.float64)[0]
    X = [[0.5, -1.0], [2.0, 0.25]]
    Xt = torch.tensor(X, dtype=torch.float64)
    want = rs.forward(net, theta[None], Xt)[0]
    assert_matches_reference(want, reference.forward(net, theta[None], Xt)[0])
    assert torch.equal(rs.forward(net, theta, X), want)
    assert torch.equal(rs.forward(net, theta.numpy(), np.array(X)), want)
    with pytest.raises(TypeError, match="one dtype"):
        rs.forward(net, theta, np.array(X, dtype=np.float32))


@pytest.mark.parametrize("per_net", [False, True])
def test_forward_mode_in_theta_and_x_matches_the_reference(per_net):
    """The tangent J_theta v + J_x u (the issue: forward_ad's tangent was None) by torch.func.jvp,
    forward_ad and compiled jvp (both backends) equals the reference's; forward mode against
    finite differences (gradcheck)."""
    net = rs.MLP([3, 4, 2], "softplus")
    g = torch.Generator().manual_seed(4)
    theta = net.init(2, generator=g, dtype=torch.float64, bias_std=0.5)
    X = torch.randn(*((2,) if per_net else ()), 5, 3, generator=g, dtype=torch.float64)
    v, u = torch.randn_like(theta), torch.randn_like(X)
    want = torch.func.jvp(lambda t, x: reference.forward(net, t, x), (theta, X), (v, u))[1]
    for way in jvp_ways(lambda t, x: rs.forward(net, t, x), (theta, X), (v, u)):
        assert_matches_reference(way(), want)
    for backend in ("eager", "aot_eager"):
        torch._dynamo.reset()
        compiled = torch.compile(lambda t, x: torch.func.jvp(
            lambda a, b: rs.forward(net, a, b), (t, x), (v, u))[1], backend=backend,
            fullgraph=True)
        assert_matches_reference(compiled(theta, X), want)
    t, x = theta.clone().requires_grad_(), X.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: rs.forward(net, a, b), (t, x),
                                    check_forward_ad=True)


def test_torch_func_hessian_through_forward():
    """torch.func.hessian (jacfwd of jacrev) in theta of a function of the outputs: forward over
    the backward is the fused HVP of the linear loss sum G . y; equals the reference's (sums over
    the data). In X that would need second derivatives in X by forward mode: a clear error
    pointing to jacrev(jacrev), which works."""
    net = rs.MLP([2, 3, 2], "tanh")
    g = torch.Generator().manual_seed(6)
    theta = net.init(2, generator=g, dtype=torch.float64, bias_std=0.3)
    X = torch.randn(6, 2, generator=g, dtype=torch.float64)
    W = torch.randn(2, 6, 2, generator=g, dtype=torch.float64)

    def f(fwd, t, x):
        return (fwd(net, t, x) ** 3 * W).sum()

    want = torch.func.hessian(lambda t: f(reference.forward, t, X))(theta)
    got = torch.func.hessian(lambda t: f(rs.forward, t, X))(theta)
    assert_matches_reference(got, want, kind="reduction")
    with pytest.raises(NotImplementedError, match=r"second derivatives.*in X.*jacrev\(jacrev"):
        torch.func.hessian(lambda x: f(rs.forward, theta, x))(X)
    J = torch.func.jacrev(torch.func.jacrev(lambda x: f(rs.forward, theta, x)))(X)
    assert_matches_reference(J, torch.func.hessian(lambda x: f(reference.forward, theta, x))(X),
                             kind="reduction")


@pytest.mark.parametrize("arg", ["theta", "X", "X per network"])
def test_vmap_over_every_argument_equals_a_loop(arg):
    """vmap over theta, X or per-network X folds into more networks: equals a loop."""
    net = rs.MLP([2, 5, 1], "tanh")
    g = torch.Generator().manual_seed(7)
    theta = net.init(4, generator=g, dtype=torch.float64, bias_std=0.3)
    X = torch.randn(9, 2, generator=g, dtype=torch.float64)
    slices = {"theta": torch.randn(3, 4, net.num_params, generator=g, dtype=torch.float64),
              "X": torch.randn(3, 9, 2, generator=g, dtype=torch.float64),
              "X per network": torch.randn(3, 4, 9, 2, generator=g, dtype=torch.float64)}[arg]
    call = (lambda z: rs.forward(net, z, X)) if arg == "theta" else (
        lambda z: rs.forward(net, theta, z))
    assert_matches_reference(torch.func.vmap(call)(slices), torch.stack([call(z) for z in slices]))
