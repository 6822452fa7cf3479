"""reluscope.certify._kernel.enclose: interval enclosures of loss, gradient and Hessian over boxes.

References: the Hessian engine's float64 values (reluscope.hessian.loss, value_and_grad, hessian)
and, for the loss, an mpmath evaluation at 40 digits.

Tolerances. The engine's float64 values differ from the exact ones by its own rounding: a sum of
N samples of terms built from O(P) operations each, so at most ~ (N + P) eps S, S the sum of the
terms' magnitudes. We bound that (and the width of a radius-0 enclosure, which is the same
computation with every operation widened by an ulp, libm by 4) by SLACK = 4 N P eps scale with
scale = (1 + the largest |value| of the network's loss, gradient and Hessian) (1 + max |y|), y
the network's outputs on the data: the cross-entropy's lse(y) - y_j and softmax e^{y - lse}
carry an absolute error ~ eps |y| (a quadratic network's logits reach ~ 10). Generous against the
~ (N + P) of the analysis, yet ~ 1e-10 relative at the sizes here, far below any real error.
"""
import math

import mpmath
import pytest
import torch

from reluscope import MLP, TMS, Data
from reluscope.forward import forward
from reluscope import hessian
from reluscope._ext import _core
from reluscope.certify import Enclosure, Flag
from reluscope.certify._kernel import enclose

EPS = torch.finfo(torch.float64).eps
F64 = dict(dtype=torch.float64)


def engine(model, theta, data):
    """The Hessian engine's float64 loss (B,), gradient (B, P) and Hessian (B, P, P)."""
    loss, grad = hessian.value_and_grad(model, theta, data)
    return loss, grad, hessian.hessian(model, theta, data)


def slack(model, theta, data, values):
    """(B,) engine-rounding allowance 4 N P eps scale (module docstring)."""
    loss, grad, hess = values
    scale = 1 + torch.maximum(loss.abs(), torch.maximum(grad.abs().amax(1),
                                                        hess.abs().flatten(1).amax(1)))
    scale = scale * (1 + forward(model, theta, data.X).abs().flatten(1).amax(1))
    return 4 * data.N * model.num_params * EPS * scale


def assert_contains(enc, values, tol):
    """Each engine value lies in its enclosure, widened by tol (B,)."""
    for box, v in zip((enc.loss, enc.grad, enc.hess), values):
        t = tol.view(-1, *[1] * (v.dim() - 1))
        assert bool((box[..., 0] - t <= v).all()), (box[..., 0] - v).max()
        assert bool((v <= box[..., 1] + t).all()), (v - box[..., 1]).max()


def problem(model, B=3, N=40, loss="mse", seed=0, per_net=False, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    theta = model.init(B, generator=g, **F64, bias_std=0.3 if model.bias else 0.0)
    shape = (B, N) if per_net else (N,)
    X = scale * torch.randn(*shape, model.d_in, generator=g, **F64)
    if loss == "cross_entropy":
        T = torch.randint(0, model.d_out, shape, generator=g)
    else:
        T = torch.randn(*shape, model.d_out, generator=g, **F64)
        if loss == "bce_with_logits":
            T = torch.sigmoid(T)
    w = torch.rand(*shape, generator=g, **F64) + 0.1
    imp = torch.rand(model.d_out, generator=g, **F64) + 0.5
    return theta, Data(X, T, weights=w, importance=imp, loss=loss)


# Models are built inside each test (pytest keeps parameters alive to interpreter exit, where
# nanobind reports every live NetSpec as a leak).
MODELS = {
    "mlp-sigmoid": lambda: MLP([2, 4, 1], "sigmoid", bias=False),
    "mlp-tanh": lambda: MLP([2, 3, 2], "tanh"),
    "mlp-softplus-deep": lambda: MLP([3, 3, 2, 2], "softplus"),
    "mlp-erf-deep": lambda: MLP([2, 3, 3, 1], "erf", bias=False),
    "mlp-quadratic": lambda: MLP([2, 3, 2], "quadratic"),
    "mlp-relu": lambda: MLP([2, 5, 2], "relu"),
    "mlp-leaky-deep": lambda: MLP([2, 3, 3, 2], "leaky_relu", bias=False),
    "tms": lambda: TMS(4, 2),
    "tms-nobias": lambda: TMS(3, 2, bias=False),
}
LOSSES = ["mse", "cross_entropy", "bce_with_logits"]


def smooth_here(enc):
    return bool((enc.flags == 0).all())


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
@pytest.mark.parametrize("loss", LOSSES)
def test_point_contains_engine_and_is_tight(make, loss):
    """radius 0: the enclosures hold the engine's values and are as narrow as its rounding."""
    model = make()
    if loss == "cross_entropy" and model.d_out < 2:
        loss = "bce_with_logits"
    theta, data = problem(model, loss=loss, per_net=model.d_in == 3)
    enc = enclose(model, theta, data, 0.0)
    assert isinstance(enc, Enclosure)
    B, P = theta.shape
    assert enc.loss.shape == (B, 2) and enc.grad.shape == (B, P, 2)
    assert enc.hess.shape == (B, P, P, 2) and enc.flags.shape == (B,)
    assert enc.flags.dtype == torch.int32 and enc.hess.dtype == torch.float64
    assert smooth_here(enc), enc.flags  # random data: no pre-activation exactly 0
    values = engine(model, theta, data)
    tol = slack(model, theta, data, values)
    assert_contains(enc, values, tol)
    for box in (enc.loss, enc.grad, enc.hess):
        width = box[..., 1] - box[..., 0]
        assert bool((width >= 0).all())
        assert bool((width <= tol.view(-1, *[1] * (width.dim() - 1))).all())
    assert torch.equal(enc.hess, enc.hess.transpose(1, 2))  # intersected with its transpose


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
@pytest.mark.parametrize("loss", LOSSES)
def test_box_contains_engine_at_random_points(make, loss):
    """radius r > 0 (soundness): at corners and random points of the box, the engine's values
    lie in the enclosures (up to the engine's own rounding)."""
    model = make()
    if loss == "cross_entropy" and model.d_out < 2:
        loss = "bce_with_logits"
    theta, data = problem(model, B=2, N=25, loss=loss, seed=1)
    radius = torch.tensor([1e-3, 3e-2], **F64)
    enc = enclose(model, theta, data, radius)
    if model.activation not in ("relu", "leaky_relu"):
        assert smooth_here(enc), enc.flags
    g = torch.Generator().manual_seed(2)
    for i in range(6):
        u = torch.rand(theta.shape, generator=g, **F64) * 2 - 1
        if i < 2:
            u = u.sign()  # corners
        point = theta + radius[:, None] * u
        values = engine(model, point, data)
        assert_contains(enc, values, slack(model, point, data, values))


def mp_loss(model, theta, data):
    """The exact loss of one network (theta (P,)) at 40 digits, by mpmath."""
    mpmath.mp.dps = 40
    th = [mpmath.mpf(float(v)) for v in theta]
    act = {"sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)), "tanh": mpmath.tanh,
           "erf": mpmath.erf, "quadratic": lambda z: z * z,
           "softplus": lambda z: mpmath.log(1 + mpmath.exp(z)), "identity": lambda z: z,
           "relu": lambda z: max(z, 0)}
    T, imp = data.targets(model.d_out), data.importance_for(model.d_out)
    total = mpmath.mpf(0)
    for n in range(data.N):
        a = [mpmath.mpf(float(v)) for v in data.X[n]]
        for L in model.layers:
            z = []
            for j in range(L.d_out):
                s = th[L.b_off + j] if L.b_off >= 0 else mpmath.mpf(0)
                for k in range(L.d_in):
                    s += th[L.w_off + (k * L.d_out + j if L.transposed else j * L.d_in + k)] * a[k]
                z.append(s)
            a = [act[L.activation.name](v) for v in z]
        t = [mpmath.mpf(float(v)) for v in T[n]]
        I = [mpmath.mpf(float(v)) for v in imp]
        if data.loss == "mse":
            l = sum(I[j] * (a[j] - t[j]) ** 2 for j in range(len(a)))
        elif data.loss == "bce_with_logits":
            l = sum(I[j] * (mpmath.log(1 + mpmath.exp(a[j])) - t[j] * a[j]) for j in range(len(a)))
        else:
            lse = mpmath.log(sum(mpmath.exp(v) for v in a))
            l = sum(I[j] * t[j] * (lse - a[j]) for j in range(len(a)))
        total += mpmath.mpf(float(data.w[n])) * l
    return total


@pytest.mark.parametrize("make,loss", [
    (lambda: MLP([2, 3, 1], "sigmoid", bias=False), "mse"),
    (lambda: MLP([2, 3, 2], "tanh"), "cross_entropy"),
    (lambda: MLP([2, 2, 2], "softplus"), "bce_with_logits"),
    (lambda: MLP([2, 3, 1], "erf"), "mse"),
    (lambda: TMS(3, 2), "mse"),
], ids=["sigmoid-mse", "tanh-ce", "softplus-bce", "erf-mse", "tms-mse"])
def test_point_loss_contains_exact_value(make, loss):
    """radius 0: the loss enclosure holds the exact real loss (mpmath), with no slack."""
    model = make()
    theta, data = problem(model, B=1, N=6, loss=loss, seed=3)
    enc = enclose(model, theta, data, 0)
    exact = mp_loss(model, theta[0], data)
    lo, hi = (mpmath.mpf(float(v)) for v in enc.loss[0])
    assert lo <= exact <= hi and hi - lo < 1e-13 * (1 + abs(exact))


def test_per_network_data_and_float32():
    """Per-network X and weights; float32 theta and data are converted exactly to float64."""
    model = MLP([2, 3, 1], "tanh")
    theta, data = problem(model, B=2, N=20, per_net=True, seed=4)
    enc = enclose(model, theta, data, 1e-4)
    for b in range(2):
        one = Data(data.X[b], data.T[b], weights=data.w[b], importance=data.imp)
        single = enclose(model, theta[b:b + 1], one, 1e-4)
        for u, v in zip(enc, single):
            assert torch.equal(u[b:b + 1], v)  # the same sums, network by network
    theta32, data32 = theta.float(), Data(data.X.float(), data.T.float(),
                                          weights=data.w.float(), importance=data.imp.float())
    data64 = Data(data32.X.double(), data32.T.double(), weights=data32.w.double(),
                  importance=data32.imp.double())
    a = enclose(model, theta32, data32, 1e-4)
    b = enclose(model, theta32.double(), data64, 1e-4)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_chunked_sums_match_one_chunk_and_are_deterministic():
    """Few networks split the samples into chunks (certify_plan); the result is the same every
    call and encloses the one-chunk result's values."""
    model = MLP([2, 3, 1], "sigmoid")
    theta, data = problem(model, B=2, N=400, seed=5)
    assert _core.certify_plan(model.spec, 2, 400, False).chunks > 1
    assert _core.certify_plan(model.spec, 64, 400, False).chunks == 1
    a, b = enclose(model, theta, data, 1e-5), enclose(model, theta, data, 1e-5)
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    values = engine(model, theta, data)
    assert_contains(a, values, slack(model, theta, data, values))


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_grad_at_centre(make):
    """grad_at_centre: grad is bitwise the radius-0 call's (per network, whatever its radius, also
    with chunked sums), loss, hess and flags bitwise the same-radius call's without the option."""
    model = make()
    loss = "cross_entropy" if model.d_out >= 2 else "bce_with_logits"
    B = 3
    theta, data = problem(model, B=B, N=200, loss=loss, seed=6)
    assert _core.certify_plan(model.spec, B, 200, False).chunks > 1
    radius = torch.tensor([1e-4, 0.0, 2e-2], **F64)
    box, point = enclose(model, theta, data, radius), enclose(model, theta, data, 0.0)
    both = enclose(model, theta, data, radius, grad_at_centre=True)
    assert torch.equal(both.grad, point.grad)
    for name in ("loss", "hess", "flags"):
        assert torch.equal(getattr(both, name), getattr(box, name)), name
    assert not torch.equal(both.grad, box.grad)  # the box's gradient is wider
    values = engine(model, theta, data)
    assert_contains(both, values, slack(model, theta, data, values))


def test_hessian_lower_triangle_encloses_both_orders():
    """The Hessian is filled from the lower triangle (row p: the R-pass along e_p, entries
    q <= p) and mirrored: symmetric, and it holds the engine's Hessian at box points also where
    the engine's own H_ij and H_ji differ by rounding (a deep net: dense R-passes both ways)."""
    model = MLP([2, 3, 3, 2], "tanh")
    theta, data = problem(model, B=2, N=30, seed=7)
    enc = enclose(model, theta, data, 1e-3)
    assert torch.equal(enc.hess, enc.hess.transpose(1, 2))
    g = torch.Generator().manual_seed(8)
    for _ in range(3):
        point = theta + 1e-3 * (torch.rand(theta.shape, generator=g, **F64) * 2 - 1)
        values = engine(model, point, data)
        tol = slack(model, point, data, values)
        hess = values[2]
        for h in (hess, hess.transpose(1, 2)):
            assert bool((enc.hess[..., 0] - tol[:, None, None] <= h).all())
            assert bool((h <= enc.hess[..., 1] + tol[:, None, None]).all())


@pytest.mark.parametrize("case", ["huge", "tiny", "near_kink", "wide_box"])
def test_contains_the_mpmath_values_on_adversarial_inputs(case):
    """The kernel's float64 enclosures contain the exact values — the mpmath reference's
    enclosures at points (113 bits: widths ~1e-30 relative) — where float64 rounding is at its
    worst: weights of 1e150 (products near the overflow edge for the loss), weights of 1e-160
    (subnormal products), a relu sample whose pre-activation is 2^-997 from its kink (the box of
    radius 1e-310 does not reach it: no flag, and the enclosures are still sound); and over a wide
    box (radius 0.3), at its centre, corners and random points."""
    from reluscope.reference import certify as ref

    g = torch.Generator().manual_seed(11)
    X = torch.randn(7, 2, generator=g, **F64)
    T = torch.randn(7, 1, generator=g, **F64)
    act, radius = {"huge": ("tanh", 0.0), "tiny": ("sigmoid", 0.0),
                   "near_kink": ("relu", 1e-310), "wide_box": ("erf", 0.3)}[case]
    model = MLP([2, 2, 1], act, bias=case == "near_kink")
    theta = torch.randn(1, model.num_params, generator=g, **F64)
    if case == "huge":
        theta = theta * 1e150
    if case == "tiny":
        theta = theta * 1e-160
    if case == "near_kink":  # unit 0's pre-activation on sample 0 is 2^-997 ~ 7.5e-301 exactly
        theta[0, 0], theta[0, 1], theta[0, model.layers[0].b_off] = 2.0 ** -500, 0.0, 0.0
        X[0, 0] = 2.0 ** -497
    data = Data(X, T)
    ours = enclose(model, theta, data, radius)
    points = theta
    if case == "wide_box":
        P = model.num_params
        corners = torch.tensor([[1.0] * P, [-1.0] * P], **F64)
        inside = 2 * torch.rand(4, P, generator=g, **F64) - 1
        points = theta + radius * torch.cat([torch.zeros(1, P, **F64), corners, inside])
    assert not int(ours.flags[0]) & int(Flag.KINK)
    if int(ours.flags[0]) & int(Flag.NONFINITE):
        return  # overflowed: flagged (the reference, unbounded in mpmath, is not)
    for k in range(points.shape[0]):
        exact = ref.enclose(model, points[k:k + 1], data, 0.0)
        for a, b in ((ours.loss, exact.loss), (ours.grad, exact.grad), (ours.hess, exact.hess)):
            # both are sound, so they overlap; where the reference is tight (<= 2 ulps: the
            # float64 neighbours of its 113-bit enclosure, so of the exact value) it lies in ours
            assert bool(((a[..., 0] <= b[..., 1]) & (b[..., 0] <= a[..., 1])).all()), k
            big = b.abs().amax(-1)
            tight = (b[..., 1] - b[..., 0]) <= 2 * (torch.nextafter(big, big + 1) - big)
            if case != "huge":  # mpmath's interval tanh of 1e150-sized arguments is wide
                assert bool(tight.float().mean() > 0.5), k  # the check below is not vacuous
            inside = (a[..., 0] <= b[..., 0]) & (b[..., 1] <= a[..., 1])
            assert bool(inside[tight].all()), k


def test_kink_flag():
    """relu: a sample exactly on a kink, or within the box's reach of one, sets KINK; a box that
    stays clear of every kink does not. Weight-0 samples do not count."""
    model = MLP([1, 1, 1], "relu", bias=True)
    theta = torch.tensor([[1.0, -0.5, 1.0, 0.0]], **F64)  # z = x - 0.5
    on = Data(torch.tensor([[0.5], [2.0]], **F64), torch.zeros(2, 1, **F64))
    near = Data(torch.tensor([[0.5001], [2.0]], **F64), torch.zeros(2, 1, **F64))
    assert enclose(model, theta, on, 0).flags.tolist() == [int(Flag.KINK)]
    assert enclose(model, theta, near, 0).flags.tolist() == [0]
    assert enclose(model, theta, near, 1e-3).flags.tolist() == [int(Flag.KINK)]
    assert enclose(model, theta, near, 1e-6).flags.tolist() == [0]
    off = Data(on.X, on.T, weights=torch.tensor([0.0, 1.0], **F64))
    assert enclose(model, theta, off, 0).flags.tolist() == [0]
    tms = TMS(2, 1, bias=False)  # x = 0: every pre-activation is 0
    data = Data(torch.tensor([[0.0, 0.0], [1.0, 0.5]], **F64), torch.zeros(2, 2, **F64))
    assert enclose(tms, torch.tensor([[0.3, 0.7]], **F64), data, 0).flags.tolist() == [1]


def test_nonfinite_flag():
    """An overflowing network sets NONFINITE, only for that network."""
    model = MLP([1, 1, 1], "quadratic", bias=False)
    theta = torch.tensor([[1e200, 1.0], [1.0, 1.0]], **F64)
    data = Data(torch.ones(3, 1, **F64), torch.zeros(3, 1, **F64))
    enc = enclose(model, theta, data, 0)
    assert enc.flags.tolist() == [int(Flag.NONFINITE), 0]
    assert not bool(torch.isfinite(enc.loss[0]).all())
    assert bool(torch.isfinite(enc.hess[1]).all())


def test_radius_forms():
    """radius: a Python number, a 0-d tensor or a (B,) tensor, all the same boxes."""
    model = MLP([2, 2, 1], "tanh")
    theta, data = problem(model, B=2, N=10)
    a = enclose(model, theta, data, 0.01)
    b = enclose(model, theta, data, torch.tensor(0.01, **F64))
    c = enclose(model, theta, data, torch.full((2,), 0.01, **F64))
    for u, v, w in zip(a, b, c):
        assert torch.equal(u, v) and torch.equal(u, w)


def test_errors():
    model = MLP([2, 3, 1], "tanh")
    theta, data = problem(model, B=2, N=10)
    with pytest.raises(TypeError, match="model"):
        enclose("mlp", theta, data, 0)
    with pytest.raises(TypeError, match="Data"):
        enclose(model, theta, (data.X, data.T), 0)
    with pytest.raises(ValueError, match=r"theta must be \(B, 13\)"):
        enclose(model, theta[0], data, 0)
    with pytest.raises(ValueError, match="theta must have shape"):
        enclose(model, theta[:, :5], data, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        enclose(model, theta.long(), data, 0)
    for bad in (math.nan, math.inf):
        t = theta.clone()
        t[1, 3] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            enclose(model, t, data, 0)
    for bad in (-1e-3, math.nan, math.inf, torch.tensor([0.1, -0.1])):
        with pytest.raises(ValueError, match="finite and >= 0"):
            enclose(model, theta, data, bad)
    with pytest.raises(ValueError, match=r"radius must be a number or a \(2,\) tensor"):
        enclose(model, theta, data, torch.zeros(3))
    with pytest.raises(TypeError, match="bool"):
        enclose(model, theta, data, True)
    with pytest.raises(TypeError, match="radius"):
        enclose(model, theta, data, "0.1")
    with pytest.raises(TypeError, match="grad_at_centre must be a bool"):
        enclose(model, theta, data, 0.1, grad_at_centre=1)
    with pytest.raises(ValueError, match="features"):
        enclose(MLP([3, 2, 1]), MLP([3, 2, 1]).init(2, **F64), data, 0)
    per_net = Data(torch.randn(3, 10, 2, **F64), torch.randn(3, 10, 1, **F64))
    with pytest.raises(ValueError, match="per model with 3 models"):
        enclose(model, theta, per_net, 0)
    ce = Data(data.X, torch.zeros(10, dtype=torch.long), loss="cross_entropy")
    with pytest.raises(ValueError, match="at least two outputs"):
        enclose(model, theta, ce, 0)
    with pytest.raises(NotImplementedError, match="requires grad"):
        enclose(model, theta.clone().requires_grad_(), data, 0)
    with pytest.raises(ValueError, match="HESSIAN_MAX_BYTES"):
        big = MLP([2, 1000, 1])
        enclose(big, torch.zeros(300, big.num_params, **F64), Data(data.X, data.T), 0)


def test_core_checks():
    """The binding's own checks (the second line of defence): dtypes, shapes, radius."""
    model = MLP([2, 3, 1], "tanh")
    theta, data = problem(model, B=2, N=10)
    P = model.num_params
    T, w, imp = data.targets(1), data.w, data.imp
    out = lambda: (torch.empty(2, 2, **F64), torch.empty(2, P, 2, **F64),  # noqa: E731
                   torch.empty(2, P, P, 2, **F64), torch.zeros(2, dtype=torch.int32))
    r = torch.zeros(2, **F64)
    call = lambda *a, **k: _core.certify_enclose(model.spec, *a, **k)  # noqa: E731
    call(theta, r, data.X, T, w, imp, 0, *out())  # fine
    call(theta, r, data.X, T, w, imp, 0, *out(), grad_at_centre=True)
    with pytest.raises(TypeError):   # the options are keyword-only
        call(theta, r, data.X, T, w, imp, 0, *out(), None, 0, True)
    with pytest.raises(ValueError, match="wrong dtype"):
        call(theta.float(), r, data.X, T, w, imp, 0, *out())
    with pytest.raises(ValueError, match="out_hess"):
        o = list(out())
        o[2] = torch.empty(2, P, P, **F64)
        call(theta, r, data.X, T, w, imp, 0, *o)
    with pytest.raises(ValueError, match="unknown loss"):
        call(theta, r, data.X, T, w, imp, 3, *out())
    with pytest.raises(ValueError, match="radius must be finite"):
        call(theta, -r - 1, data.X, T, w, imp, 0, *out())
    with pytest.raises(ValueError, match="X has size"):
        call(theta, r, data.X[:, :1], T, w, imp, 0, *out())
    with pytest.raises(ValueError, match="out_flags"):
        o = list(out())
        o[3] = torch.zeros(3, dtype=torch.int32)
        call(theta, r, data.X, T, w, imp, 0, *o)


@pytest.mark.cuda
def test_cuda_matches_cpu_enclosures():
    """CUDA (directed-rounding intrinsics): contains the engine's values, overlaps the CPU's
    enclosures, same flags."""
    for model, loss in ((MLP([2, 3, 2], "tanh"), "cross_entropy"), (TMS(4, 2), "mse")):
        theta, data = problem(model, B=3, N=50, loss=loss)
        cpu = enclose(model, theta, data, 1e-3)
        gpu_data = Data(data.X.cuda(), data.T.cuda(), weights=data.w.cuda(),
                        importance=data.imp.cuda(), loss=loss)
        gpu = enclose(model, theta.cuda(), gpu_data, 1e-3)
        assert torch.equal(gpu.flags.cpu(), cpu.flags)
        for u, v in zip(gpu[:3], cpu[:3]):
            u = u.cpu()
            assert bool((u[..., 0] <= v[..., 1]).all() and (v[..., 0] <= u[..., 1]).all())
        values = engine(model, theta, data)
        assert_contains(gpu._replace(**{k: getattr(gpu, k).cpu() for k in gpu._fields}), values,
                        slack(model, theta, data, values))
