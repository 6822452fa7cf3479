"""reluscope.hessian inside torch: autograd (gradcheck and gradgradcheck for every activation and
loss, double backward = the fused HVP, derivatives of the products), torch.func (grad, vmap) and
torch.compile(fullgraph=True) through the custom ops, and the errors where no derivative exists."""
import subprocess
import sys

import pytest
import torch

from reluscope import ACTIVATIONS, MLP, TMS, Data, hessian
from reluscope.data import LOSSES
from reluscope import _fused
from reluscope.reference import hessian as reference
from tests.utils import DEVICES, DTYPES, assert_matches_reference, jvp_ways, random_problem


def problem(act="tanh", loss="mse", B=2, N=6, per_model=False, dtype=torch.float64,
            device="cpu"):
    net = MLP([2, 3, 2], act)
    theta, data = random_problem(net, B, N, dtype, per_model=per_model, weighted=True,
                                 importance=True, loss=loss, device=device)
    return net, theta, data


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_gradcheck_and_gradgradcheck(act, loss):
    """loss and value_and_grad in theta: first derivatives (the gradient kernel), second (the
    HVP kernel) and, for value_and_grad's gradient, third (the torch reference) against finite
    differences."""
    net, theta, data = problem(act, loss)
    theta.requires_grad_()
    for fn in (hessian.loss, hessian.value_and_grad):
        f = lambda t: fn(net, t, data)  # noqa: E731
        assert torch.autograd.gradcheck(f, (theta,))
        assert torch.autograd.gradgradcheck(f, (theta,))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_double_backward_is_the_fused_hvp(dtype, device):
    """grad(loss, create_graph) then the gradient of g . v is hvp(v), the same kernel call (same
    bits), and a gradient-norm penalty's gradient is g + 2 H g."""
    for loss in LOSSES:
        net, theta, data = problem("softplus", loss, B=3, N=40, dtype=dtype, device=device)
        v = torch.randn_like(theta)
        t = theta.clone().requires_grad_()
        (g,) = torch.autograd.grad(hessian.loss(net, t, data).sum(), t, create_graph=True)
        (hv,) = torch.autograd.grad((g * v).sum(), t)
        assert torch.equal(hv, hessian.hvp(net, theta, data, v))
        L, G = hessian.value_and_grad(net, t, data)
        (L.sum() + (G ** 2).sum()).backward()
        ref_g = reference.value_and_grad(net, theta.cpu(), data.__class__(
            data.X.cpu(), data.T.cpu(), data.weights.cpu(), data.importance.cpu(),
            loss=loss))[1]
        want = G.detach() + 2 * hessian.hvp(net, theta, data, G.detach())
        assert_matches_reference(t.grad, want, kind="reduction")
        assert_matches_reference(G.detach().cpu(), ref_g, kind="reduction")


@pytest.mark.parametrize("mode", ["hvp", "gnvp"])
def test_products_are_differentiable_in_v_and_theta(mode):
    """In V the product is the (symmetric) operator again; in theta a third derivative from the
    torch reference; directions (K, P) shared by the models (the op's own form) too."""
    net, theta, data = problem("sigmoid", "cross_entropy", B=2, N=5)
    fn = getattr(hessian, mode)
    V = torch.randn(2, 2, net.num_params, dtype=torch.float64)
    theta.requires_grad_()
    V.requires_grad_()
    assert torch.autograd.gradcheck(lambda t, v: fn(net, t, data, v), (theta, V))
    shared = torch.randn(3, net.num_params, dtype=torch.float64, requires_grad=True)
    args = (theta.detach(), data.X, data.T, data.w, data.imp)
    model = (net.flat_layers, net.num_params, net.slope, int(data.loss_code))
    code = int(getattr(_fused.Mode, mode))
    op = torch.ops.reluscope.hess_products
    assert torch.autograd.gradcheck(lambda v: op(*args, v, *model, code), (shared,))


def test_torch_func_grad_and_vmap():
    """torch.func.grad equals the reference gradient; vmap over an extra leading dimension of
    theta (folded into the batch of models) and vmap of grad equal the per-slice results."""
    net, theta, data = problem("tanh", "bce_with_logits", B=3)
    got = torch.func.grad(lambda t: hessian.loss(net, t, data).sum())(theta)
    assert_matches_reference(got, reference.value_and_grad(net, theta, data)[1],
                             kind="reduction")
    stack = torch.stack([theta, theta * 0.5, -theta])
    per_slice = torch.stack([hessian.loss(net, t, data) for t in stack])
    assert torch.equal(torch.func.vmap(lambda t: hessian.loss(net, t, data))(stack), per_slice)
    grads = torch.func.vmap(torch.func.grad(lambda t: hessian.loss(net, t, data).sum()))(stack)
    assert torch.equal(grads, torch.stack([hessian.value_and_grad(net, t, data)[1]
                                           for t in stack]))
    V = torch.randn(3, 2, net.num_params, dtype=torch.float64)
    hv = torch.func.vmap(lambda t: hessian.hvp(net, t, data, V))(stack)
    assert torch.equal(hv, torch.stack([hessian.hvp(net, t, data, V) for t in stack]))
    per_model_data = problem("tanh", "mse", B=3, per_model=True)[2]
    vm = torch.func.vmap(lambda t: hessian.value_and_grad(net, t, per_model_data))(stack)
    for i, t in enumerate(stack):
        assert torch.equal(vm[1][i], hessian.value_and_grad(net, t, per_model_data)[1])


def _stack(fn, slices):
    """fn over each slice, stacked (tuples element by element)."""
    outs = [fn(z) for z in slices]
    if isinstance(outs[0], tuple):
        return tuple(torch.stack(o) for o in zip(*outs))
    return torch.stack(outs)


_DATA_ARGS = ["theta", "X", "X per model", "T", "labels", "weights", "importance"]


@pytest.mark.parametrize("fn, arg", [(f, a) for f in ("loss", "value_and_grad") for a in _DATA_ARGS]
                         + [(f, a) for f in ("hvp", "gnvp")
                            for a in _DATA_ARGS + ["V", "V shared", "V one"]])
def test_vmap_over_every_argument_equals_a_loop(fn, arg):
    """vmap over any tensor argument (the issue: weights and importance failed with "'list'
    object has no attribute 'select'") equals a Python loop over the slices. theta, X and T fold
    into more models, V into more directions (one pass), weights and importance run once per
    slice. The fold changes the number of models per call and with it, for N >= 128, the data
    chunks (the order of the sums): equal within the reduction tolerance."""
    S, B, N = 3, 2, 6
    g = torch.Generator().manual_seed(5)
    loss = "cross_entropy" if arg == "labels" else "mse"
    net, theta, data = problem("tanh", loss, B=B, N=N)
    P = net.num_params
    args = {"theta": theta, "X": data.X, "T": data.T, "weights": data.weights,
            "importance": data.importance, "V": torch.randn(B, 2, P, generator=g,
                                                          dtype=torch.float64)}
    slices = {"theta": torch.randn(S, B, P, generator=g, dtype=torch.float64),
              "X": torch.randn(S, N, 2, generator=g, dtype=torch.float64),
              "X per model": torch.randn(S, B, N, 2, generator=g, dtype=torch.float64),
              "T": torch.randn(S, N, 2, generator=g, dtype=torch.float64),
              "labels": torch.randint(0, 2, (S, N), generator=g),
              "weights": torch.rand(S, N, generator=g, dtype=torch.float64),
              "importance": torch.rand(S, 2, generator=g, dtype=torch.float64) + 0.5,
              "V": torch.randn(S, B, 2, P, generator=g, dtype=torch.float64),
              "V shared": torch.randn(S, 2, P, generator=g, dtype=torch.float64),
              "V one": torch.randn(S, B, P, generator=g, dtype=torch.float64)}[arg]
    key = {"X per model": "X", "labels": "T", "V shared": "V", "V one": "V"}.get(arg, arg)
    if arg == "X per model":
        args["T"] = args["T"].expand(B, *args["T"].shape)

    def call(z):
        a = {**args, key: z}
        d = Data(a["X"], a["T"], a["weights"], a["importance"], loss=loss)
        if fn in ("hvp", "gnvp"):
            V = a["V"].expand(B, *a["V"].shape) if arg == "V shared" else a["V"]
            return getattr(hessian, fn)(net, a["theta"], d, V)
        return getattr(hessian, fn)(net, a["theta"], d)

    assert_matches_reference(torch.func.vmap(call)(slices), _stack(call, slices),
                             kind="reduction")


def test_vmapped_directions_are_one_pass_with_more_directions(monkeypatch):
    """vmap over V alone (jacfwd's basis, torch.func.hessian) is one kernel call with V K
    directions per model, not V times more models."""
    net, theta, data = problem()
    Vs = torch.randn(5, 2, 3, net.num_params, dtype=torch.float64)
    calls = []
    run = _fused.run
    monkeypatch.setattr(_fused, "run", lambda *a, **k: calls.append(
        (a[0].theta.shape[0], a[2].shape)) or run(*a, **k))
    torch.func.vmap(lambda v: hessian.hvp(net, theta, data, v))(Vs)
    assert calls == [(2, (2, 15, net.num_params))]


def test_torch_compile_fullgraph():
    """torch.compile(fullgraph=True) (inductor) on loss, and on value_and_grad, hvp and a
    training objective with a gradient penalty (backward through the compiled graph)."""
    net, theta, data = problem("tanh", "cross_entropy")
    compiled = torch.compile(lambda t: hessian.loss(net, t, data), fullgraph=True)
    assert_matches_reference(compiled(theta), reference.loss(net, theta, data), kind="reduction")
    V = torch.randn_like(theta)
    for fn, want in ((lambda t: hessian.value_and_grad(net, t, data),
                      reference.value_and_grad(net, theta, data)),
                     (lambda t: hessian.hvp(net, t, data, V), reference.hvp(net, theta, data, V))):
        got = torch.compile(fn, backend="aot_eager", fullgraph=True)(theta)
        assert_matches_reference(got, want, kind="reduction")

    def objective(t):
        L, G = hessian.value_and_grad(net, t, data)
        return L.sum() + 0.1 * (G ** 2).sum()

    t1, t2 = theta.clone().requires_grad_(), theta.clone().requires_grad_()
    torch.compile(objective, backend="aot_eager", fullgraph=True)(t1).backward()
    objective(t2).backward()
    assert_matches_reference(t1.grad, t2.grad, kind="reduction")


def test_custom_ops_pass_opcheck():
    """Every opcheck test, autograd registration included: theta requiring grad for the loss
    ops, V for the products (their derivative in theta, a third derivative from the torch
    reference, is not traced with dynamic shapes)."""
    net, theta, data = problem("relu", "mse")
    args = (theta.requires_grad_(), data.X, data.T, data.w, data.imp, net.flat_layers,
            net.num_params, net.slope, int(data.loss_code))
    torch.library.opcheck(torch.ops.reluscope.hess_loss.default, args)
    torch.library.opcheck(torch.ops.reluscope.hess_grad.default, args)
    V = torch.randn(2, 3, net.num_params, dtype=torch.float64, requires_grad=True)
    for mode in (2, 3):
        torch.library.opcheck(torch.ops.reluscope.hess_products.default,
                              (theta.detach(), *args[1:5], V, *args[5:], mode))


def test_backward_reuses_the_gradient_pass(monkeypatch):
    """loss + backward is one gradient pass; double backward adds one Hessian-vector pass."""
    net, theta, data = problem()
    modes = []
    run = _fused.run
    monkeypatch.setattr(_fused, "run", lambda *a, **k: modes.append(a[1]) or run(*a, **k))
    t = theta.clone().requires_grad_()
    hessian.loss(net, t, data).sum().backward()
    assert modes == [_fused.Mode.grad]
    modes.clear()
    g, = torch.autograd.grad(hessian.loss(net, t, data).sum(), t, create_graph=True)
    v = torch.randn_like(t)
    hv, = torch.autograd.grad(g, t, v)
    assert modes == [_fused.Mode.grad, _fused.Mode.hvp]
    assert torch.equal(hv, hessian.hvp(net, theta, data, v))


def test_no_derivative_is_an_error_not_a_detached_result():
    """What has no derivative raises when theta requires grad (the issue's example: a penalty
    with the Hessian's trace); data never requires grad; under no_grad everything runs."""
    net, theta, data = problem()
    t = theta.clone().requires_grad_()
    named = "theta requires grad, but reluscope.hessian.{} has no derivative"
    with pytest.raises(NotImplementedError, match=named.format("operators.Hessian")):
        hessian.trace(hessian.Hessian(net, t, data))
    for fn in (hessian.dense_hessian, hessian.hessian):   # the new name and the old
        with pytest.raises(NotImplementedError, match=named.format("products.dense_hessian")):
            fn(net, t, data)
    with pytest.raises(NotImplementedError, match=named.format("training.fit")):
        hessian.fit(net, t, data, steps=1, progress=False)
    with pytest.raises(NotImplementedError, match="X requires grad, but reluscope.data.Data "):
        Data(data.X.clone().requires_grad_(), data.T)
    with torch.no_grad():
        assert hessian.trace(hessian.Hessian(net, t, data)).shape == (2,)


@pytest.mark.parametrize("loss", LOSSES)
def test_forward_mode_matches_the_reference(loss):
    """Tangents (torch.func.jvp and forward_ad dual tensors; the issue: the tangent was None) of
    loss and value_and_grad in theta (<grad L, v>, H v: the fused kernels) and of hvp and gnvp in
    V, against torch.func.jvp through the torch reference (tolerance: sums over the data);
    forward mode against finite differences (gradcheck), and forward over reverse."""
    net, theta, data = problem("softplus", loss, B=2, N=7)
    v = torch.randn_like(theta)
    for fn, ref in ((hessian.loss, reference.loss), (hessian.value_and_grad,
                                                     reference.value_and_grad)):
        want = torch.func.jvp(lambda t: ref(net, t, data), (theta,), (v,))[1]
        for way in jvp_ways(lambda t: fn(net, t, data), (theta,), (v,)):
            assert_matches_reference(way(), want, kind="reduction")
        t = theta.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda t: fn(net, t, data), (t,), check_forward_ad=True)
    t = theta.clone().requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: hessian.loss(net, t, data), (t,),
                                        check_fwd_over_rev=True)
    V, dV = torch.randn(2, 2, 3, net.num_params, dtype=torch.float64)
    for name in ("hvp", "gnvp"):
        fn, ref = getattr(hessian, name), getattr(reference, name)
        want = torch.func.jvp(lambda u: ref(net, theta, data, u), (V,), (dV,))[1]
        for way in jvp_ways(lambda u: fn(net, theta, data, u), (V,), (dV,)):
            assert_matches_reference(way(), want, kind="reduction")


def test_forward_mode_without_a_derivative_is_a_clear_error():
    """A tangent where there is no derivative raises, naming the argument (never dropped): the
    data (X, T, weights, importance) of every entry point, theta into hvp and gnvp (a third
    derivative: reverse mode only), theta into the functions that are not differentiable."""
    net, theta, data = problem()
    fields = {"X": data.X, "T": data.T, "weights": data.weights, "importance": data.importance}
    calls = {"loss": lambda d: hessian.loss(net, theta, d),
             "value_and_grad": lambda d: hessian.value_and_grad(net, theta, d),
             "hvp": lambda d: hessian.hvp(net, theta, d, theta)}
    for name, value in fields.items():
        match = f"{name} carries a forward-mode tangent.*reluscope.data.Data has no derivative"
        for call in calls.values():
            def with_field(x):
                return call(Data(**{**fields, name: x}))
            for way in jvp_ways(with_field, (value,), (torch.ones_like(value),)):
                with pytest.raises(NotImplementedError, match=match):
                    way()
    for name in ("hvp", "gnvp"):
        fn = getattr(hessian, name)
        for way in jvp_ways(lambda t: fn(net, t, data, theta), (theta,), (theta,)):
            with pytest.raises(NotImplementedError, match="third derivative of the loss"):
                way()
    named = "theta carries a forward-mode tangent .*, but reluscope.hessian.{} has no derivative"
    for fn, where in ((lambda t: hessian.dense_hessian(net, t, data), "products.dense_hessian"),
                      (lambda t: hessian.Hessian(net, t, data), "operators.Hessian")):
        for way in jvp_ways(fn, (theta,), (theta,)):
            with pytest.raises(NotImplementedError, match=named.format(where)):
                way()


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_compiled_jvp_matches_the_reference(backend):
    """torch.compile(fullgraph=True) around torch.func.jvp of loss and value_and_grad (the issue:
    an all-zero tangent with either backend: dynamo inlined the op, whose autograd dropped the
    tangent) equals the reference's tangent; where there is no derivative it raises."""
    net, theta, data = problem("tanh", "cross_entropy")
    v = torch.randn_like(theta)
    for fn, ref in ((hessian.loss, reference.loss), (hessian.value_and_grad,
                                                     reference.value_and_grad)):
        torch._dynamo.reset()
        compiled = torch.compile(lambda t: torch.func.jvp(lambda s: fn(net, s, data), (t,),
                                                          (v,))[1], backend=backend,
                                 fullgraph=True)
        want = torch.func.jvp(lambda t: ref(net, t, data), (theta,), (v,))[1]
        assert_matches_reference(compiled(theta), want, kind="reduction")
    torch._dynamo.reset()
    compiled = torch.compile(lambda x: torch.func.jvp(
        lambda z: hessian.loss(net, theta, Data(z, data.T)), (x,), (torch.ones_like(x),)),
        backend=backend, fullgraph=True)
    with pytest.raises(Exception, match="data.X carries a forward-mode tangent"):
        compiled(data.X)


def test_torch_func_hessian_is_the_engines_hessian():
    """torch.func.hessian (jacfwd of jacrev: the gradient's tangent along the P unit vectors, one
    fused pass with P directions) is the HVP kernel's Hessian, the same bits as hvp with the
    identity; jacfwd of jacfwd and a batch of models too. Against the torch reference: sums over
    the data."""
    net, theta, data = problem("sigmoid", "mse", B=2, N=9)
    f = lambda t: hessian.loss(net, t, data)  # noqa: E731
    eye = torch.eye(net.num_params, dtype=theta.dtype)
    for b in range(2):
        H = torch.func.hessian(f)(theta[b])
        assert torch.equal(H, hessian.hvp(net, theta[b], data, eye).T)
        assert_matches_reference(H, hessian.hessian(net, theta[b], data), kind="reduction")
        assert_matches_reference(torch.func.jacfwd(torch.func.jacfwd(f))(theta[b]), H,
                                 kind="reduction")
    batched = torch.func.jacfwd(torch.func.jacrev(lambda t: f(t).sum()))(theta)
    want = reference.hessian(net, theta, data)
    for b in range(2):
        assert_matches_reference(batched[b, :, b], want[b], kind="reduction")
        assert not batched[b, :, 1 - b].any()  # models are independent


def test_tms_gradients_add_the_tied_layers():
    tms = TMS(4, 2)
    theta, data = random_problem(tms, 2, 30, torch.float64, importance=True)
    theta.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: hessian.value_and_grad(tms, t, data), (theta,))


def test_no_nanobind_leak_warning_at_exit():
    """The model specs cached for the custom ops are released before the extension unloads."""
    code = ("import torch, reluscope as rs\n"
            "net = rs.MLP([2, 3, 1]); t = net.init(2, dtype=torch.float64).requires_grad_()\n"
            "d = rs.Data(torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 1, "
            "dtype=torch.float64))\n"
            "rs.hessian.loss(net, t, d).sum().backward(); rs.forward(net, t, d.X).sum()\n"
            "torch.compile(lambda x: rs.hessian.loss(net, x, d), backend='aot_eager', "
            "fullgraph=True)(t.detach())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "leaked" not in out.stderr
