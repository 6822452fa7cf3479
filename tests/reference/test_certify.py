"""reluscope.reference.certify: mpmath interval enclosures (against the float64 Hessian engine at
the point and at random points of the box) and certificates at critical points known in closed
form."""
import math

import pytest
import torch

import reluscope as rs
from reluscope import MLP, TMS, Data, forward, hessian
from reluscope.certify import Flag, Reason, Verdict
from reluscope.reference import certify as rc

F64 = torch.float64


def _problem(model, loss="mse", N=6, seed=0, B=2, per_model=False, importance=False):
    g = torch.Generator().manual_seed(seed)
    theta = model.init(B, generator=g, dtype=F64, bias_std=0.3)
    shape = (B, N) if per_model else (N,)
    X = torch.randn(*shape, model.d_in, generator=g, dtype=F64)
    if loss == "cross_entropy":
        T = torch.randint(0, model.d_out, shape, generator=g)
    elif loss == "bce_with_logits":
        T = torch.rand(*shape, model.d_out, generator=g, dtype=F64)
    else:
        T = torch.randn(*shape, model.d_out, generator=g, dtype=F64)
    w = torch.rand(*shape, generator=g, dtype=F64) + 0.1
    imp = torch.rand(model.d_out, generator=g, dtype=F64) + 0.5 if importance else None
    return theta, Data(X, T, w, imp, loss=loss)


def _engine(model, theta, data):
    L, g = hessian.value_and_grad(model, theta, data)
    return L, g, hessian.hessian(model, theta, data)


def _assert_contains(enc, value, rel=1e-12):
    """lo <= value <= hi up to the engine's float64 rounding (rel * max(1, |value|))."""
    slack = rel * value.abs().max().clamp(min=1.0)
    assert bool((enc[..., 0] <= value + slack).all()), (enc[..., 0] - value).max()
    assert bool((value - slack <= enc[..., 1]).all()), (value - enc[..., 1]).max()


CASES = {
    "sigmoid": (MLP([2, 2, 1], "sigmoid"), {}),
    "tanh": (MLP([2, 2, 1], "tanh"), {"importance": True}),
    "softplus": (MLP([2, 2, 1], "softplus"), {"per_model": True}),
    "erf": (MLP([2, 2, 1], "erf"), {}),
    "quadratic": (MLP([2, 2, 1], "quadratic"), {}),
    "leaky_relu_deep": (MLP([2, 2, 2, 1], "leaky_relu", slope=0.2), {}),
    "tms": (TMS(2, 1), {}),
    "cross_entropy": (MLP([2, 2, 3], "tanh"), {"loss": "cross_entropy", "importance": True}),
    "bce": (MLP([2, 2, 2], "sigmoid", bias=False), {"loss": "bce_with_logits"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_enclose_at_the_point_contains_the_engine_and_is_tight(case):
    model, kw = CASES[case]
    theta, data = _problem(model, **kw)
    e = rc.enclose(model, theta, data, 0.0)
    assert e.flags.tolist() == [0, 0]
    for enc, value in zip(e[:3], _engine(model, theta, data)):
        _assert_contains(enc, value)
        # 113 bits, then outward to float64: at most two float64 steps wide
        assert bool((enc[..., 1] <= torch.nextafter(torch.nextafter(
            enc[..., 0], torch.tensor(math.inf, dtype=F64)), torch.tensor(math.inf, dtype=F64)))
            .all())
    # at 24 bits the enclosures are wide (~1e-7) and still contain the values: outward rounding
    low = rc.enclose(model, theta, data, 0.0, prec=24)
    for enc, value in zip(low[:3], _engine(model, theta, data)):
        _assert_contains(enc, value)
    assert bool(((low.hess[..., 1] - low.hess[..., 0]) >= (e.hess[..., 1] - e.hess[..., 0])).all())
    assert float((low.loss[:, 1] - low.loss[:, 0]).max()) > 1e-12


@pytest.mark.parametrize("case", ["sigmoid", "tanh", "softplus", "erf", "quadratic", "tms",
                                  "cross_entropy", "bce"])
def test_enclose_over_a_box_contains_the_engine_at_points_of_the_box(case):
    model, kw = CASES[case]
    theta, data = _problem(model, seed=3, **kw)  # seed 3: no TMS pre-activation within 0.06 of 0
    radius = torch.tensor([1e-3, 1e-2], dtype=F64)
    e = rc.enclose(model, theta, data, radius)
    assert e.flags.tolist() == [0, 0]
    g = torch.Generator().manual_seed(2)
    for _ in range(5):
        u = 2 * torch.rand(theta.shape, generator=g, dtype=F64) - 1
        point = theta + 0.99 * radius[:, None] * u
        for enc, value in zip(e[:3], _engine(model, point, data)):
            _assert_contains(enc, value)
    # the box's enclosures are wider than the point's
    e0 = rc.enclose(model, theta, data, 0.0)
    assert bool((e.hess[..., 0] <= e0.hess[..., 0]).all())
    assert bool((e0.hess[..., 1] <= e.hess[..., 1]).all())
    assert float((e.loss[1, 1] - e.loss[1, 0])) > float((e.loss[0, 1] - e.loss[0, 0])) > 0


def test_enclose_flags_a_kink_of_a_weighted_sample_only():
    """MLP([1, 1, 1], relu) with w = 1, b = -1: the sample x = 1 has pre-activation exactly 0."""
    net = MLP([1, 1, 1], "relu")
    theta = torch.tensor([[1.0, -1.0, 2.0, 0.5]], dtype=F64)
    X = torch.tensor([[1.0], [3.0]], dtype=F64)
    T = torch.tensor([[0.0], [1.0]], dtype=F64)
    on = rc.enclose(net, theta, Data(X, T), 0.0)
    assert on.flags.tolist() == [int(Flag.KINK)]
    off = rc.enclose(net, theta, Data(X, T, torch.tensor([0.0, 1.0], dtype=F64)), 0.0)
    assert off.flags.tolist() == [0]
    # x = 3 alone: pre-activation 2 +- 4 r over the box of radius r reaches 0 at r = 0.5 ...
    w3 = Data(X, T, torch.tensor([0.0, 1.0], dtype=F64))
    assert rc.enclose(net, theta, w3, 0.5).flags.tolist() == [int(Flag.KINK)]
    # ... not at r = 0.45; there the relu is the identity and the enclosure holds the engine's
    e = rc.enclose(net, theta, w3, 0.45)
    assert e.flags.tolist() == [0]
    _assert_contains(e.loss, hessian.loss(net, theta, w3))


def test_enclose_flags_nonfinite_beyond_float64():
    net = MLP([1, 1, 1], "quadratic", bias=False)
    theta = torch.tensor([[1e100, 1.0], [1.0, 1.0]], dtype=F64)
    data = Data(torch.ones(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64))
    e = rc.enclose(net, theta, data, 0.0)
    assert e.flags.tolist() == [int(Flag.NONFINITE), 0]
    assert math.isinf(e.loss[0, 1]) and e.loss[1].tolist() == [1.0, 1.0]
    c = rc.critical_points(net, theta[:1], data)
    assert (c.verdict.item(), c.reason.item()) == (Verdict.not_certified, Reason.nonfinite)


# ---------------------------------------------------------------------------------------------
# certificates at critical points known in closed form

def _tms_basis():
    """TMS(2, 1, bias=False), W = (w1, w2), on the data e1, e2 (weights 1/2, targets = inputs):
    y(e1) = relu((w1^2, w1 w2)), y(e2) = relu((w1 w2, w2^2)), so

        L = 1/2 [(w1^2 - 1)^2 + (w2^2 - 1)^2] + relu(w1 w2)^2.

    Off the kinks (w1 = 0, w2 = 0, w1 w2 = 0): where w1 w2 < 0, grad L = 2 w_i (w_i^2 - 1) vanishes
    at (1, -1) and (-1, 1) only, with L = 0 and H = diag(6 w_i^2 - 2) = 4 I (strict minima); where
    w1 w2 > 0, L = 1/2 (rho^2 - 1)^2 + 1/2 with rho^2 = w1^2 + w2^2, a circle of degenerate minima
    (L = 1/2, H singular along the circle). W = 0 has every pre-activation exactly 0 (a kink)."""
    return TMS(2, 1, bias=False), Data(torch.eye(2, dtype=F64), torch.eye(2, dtype=F64))


def test_tms_minima_exact_and_perturbed():
    net, data = _tms_basis()
    theta = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1 + 1e-9, -1 - 2e-9]], dtype=F64)
    c = rc.critical_points(net, theta, data)
    assert c.verdict.tolist() == [Verdict.minimum] * 3
    assert c.reason.tolist() == [Reason.none] * 3 and c.index_lower.tolist() == [0] * 3
    # exact critical points: gradient exactly 0, radius 0, L = 0, lambda_min = 4 exactly
    assert c.radius[:2].tolist() == [0.0, 0.0] and c.loss[:2].tolist() == [[0.0, 0.0]] * 2
    assert c.lambda_min[:2].tolist() == [[4.0, 4.0]] * 2
    # the perturbed point: a box that holds (1, -1), L = 0 and lambda_min = 4 there
    r = c.radius[2].item()
    assert 2e-9 <= r < 1e-6 and (theta[2] - torch.tensor([1.0, -1.0], dtype=F64)).abs().max() <= r
    assert c.loss[2, 0] <= 0 <= c.loss[2, 1] < 1e-12
    assert c.lambda_min[2, 0] <= 4 <= c.lambda_min[2, 1] and c.lambda_min[2, 0] > 3.99


def test_tms_kink_and_singular_hessian():
    net, data = _tms_basis()
    theta = torch.tensor([[0.0, 0.0], [0.6, 0.8]], dtype=F64)  # W = 0; a point of the circle
    c = rc.critical_points(net, theta, data)
    assert c.verdict.tolist() == [Verdict.not_certified] * 2
    assert c.reason.tolist() == [Reason.kink, Reason.hessian_singular]
    assert torch.isnan(c.radius).all() and torch.isnan(c.loss).all()
    assert torch.isnan(c.lambda_min).all()


def test_tms_random_points_never_contradict_the_closed_form():
    """Minimum only in a box holding (1, -1) or (-1, 1); never a saddle or a degenerate critical
    point (there is none off the kinks); no_critical_point only for a box without those minima
    and without points of the circle of minima in w1 w2 > 0."""
    net, data = _tms_basis()
    g = torch.Generator().manual_seed(3)
    theta = torch.cat([torch.randn(12, 2, generator=g, dtype=F64),
                       torch.tensor([[1.0, -1.0]], dtype=F64)
                       + 1e-3 * torch.randn(6, 2, generator=g, dtype=F64)])
    c = rc.critical_points(net, theta, data)
    minima = torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=F64)
    t = torch.linspace(1e-3, math.pi / 2 - 1e-3, 2000, dtype=F64)
    arc = torch.cat([torch.stack([t.cos(), t.sin()], 1), -torch.stack([t.cos(), t.sin()], 1)])
    seen = set()
    for th, v, r in zip(theta, c.verdict.tolist(), c.radius.tolist()):
        seen.add(v)
        assert v not in (Verdict.saddle, Verdict.critical_degenerate)
        inside = lambda p: ((p - th).abs().max(-1).values <= r)  # noqa: E731
        if v == Verdict.minimum:
            assert int(inside(minima).sum()) == 1
        if v == Verdict.no_critical_point:
            assert not bool(inside(minima).any()) and not bool(inside(arc).any())
    assert Verdict.minimum in seen  # the points near (1, -1)


def _tanh_line(scale: float = 1.0):
    """MLP([1, 1, 1], tanh, bias=False), y = v tanh(w x) with theta = (w, v), on samples (x_n, t_n)
    of weight 1/3 (targets times scale). At the origin every y_n and every first derivative of
    y_n vanish, so grad L = 0 exactly, and the Hessian is 2 sum_n w_n (dy/dtheta dy/dtheta^T -
    t_n d2y/dtheta2) = [[0, -2c], [-2c, 0]] with c = sum_n w_n t_n x_n (d2y/dw dv = x sech^2(0)
    = x): eigenvalues +-2c, a saddle of index 1, L = sum_n w_n t_n^2.
    """
    X = torch.tensor([[1.0], [-0.5], [2.0]], dtype=F64)
    T = scale * torch.tensor([[0.5], [0.3], [-1.0]], dtype=F64)
    c = float((X * T).sum() / 3)
    return MLP([1, 1, 1], "tanh", bias=False), Data(X, T), c, float((T ** 2).sum() / 3)


@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_tanh_saddle_exact_and_perturbed(scale):
    net, data, c_, L0 = _tanh_line(scale)
    theta = torch.tensor([[0.0, 0.0], [1e-8, -2e-8]], dtype=F64)
    c = rc.critical_points(net, theta, data)
    assert c.verdict.tolist() == [Verdict.saddle] * 2 and c.index_lower.tolist() == [1, 1]
    assert c.radius[0].item() == 0.0 and 2e-8 <= c.radius[1].item() < 1e-6
    for b in range(2):
        assert c.loss[b, 0] <= L0 <= c.loss[b, 1]
        assert c.lambda_min[b, 0] <= -2 * abs(c_) <= c.lambda_min[b, 1]
    assert c.loss[0, 1] - c.loss[0, 0] <= 2 * math.ulp(L0)


def test_tanh_no_critical_point_far_from_one():
    """At (0.7, 0.3) the gradient is large: the certificate is no_critical_point (the tanh net's
    critical points lie elsewhere), and on a grid of its box one gradient component keeps its
    sign (what the mean-value proof claims)."""
    net, data, _, _ = _tanh_line()
    theta = torch.tensor([[0.7, 0.3]], dtype=F64)
    c = rc.critical_points(net, theta, data)
    assert c.verdict.tolist() == [Verdict.no_critical_point] and c.reason.item() == Reason.none
    r = c.radius.item()
    assert r > 0 and torch.isnan(c.lambda_min).all()
    s = torch.linspace(-r, r, 21, dtype=F64)
    grid = theta + torch.stack(torch.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)
    L, g = hessian.value_and_grad(net, grid, data)
    assert bool(((g > 0).all(0) | (g < 0).all(0)).any())
    assert bool(((c.loss[0, 0] <= L) & (L <= c.loss[0, 1])).all())


def test_teacher_is_a_certified_minimum_with_loss_near_zero():
    """A student equal to its sigmoid teacher on the teacher's (float64-rounded) outputs: the
    residuals are ~1e-17, the Hessian is the Gauss-Newton matrix 2 sum_n w_n J_n^T J_n, positive
    definite for N = 10 >= P = 6 generic samples: a minimum whose box holds loss 0 up to ~1e-20."""
    g = torch.Generator().manual_seed(1)
    net = MLP([2, 2, 1], "sigmoid", bias=False)
    theta = net.init(1, generator=g, dtype=F64, scheme="normal")
    X = torch.randn(10, 2, generator=g, dtype=F64)
    data = Data(X, forward(net, theta, X)[0])
    c = rc.critical_points(net, theta, data)
    assert c.verdict.tolist() == [Verdict.minimum]
    assert 0 < c.radius.item() < 1e-8
    assert c.loss[0, 0] <= 0 <= c.loss[0, 1] < 1e-15
    assert c.lambda_min[0, 0] > 0
    lam = torch.linalg.eigvalsh(hessian.hessian(net, theta, data))[0, 0]
    assert c.lambda_min[0, 0] * 0.99 <= lam <= c.lambda_min[0, 1] * 1.01


def test_relu_sample_on_a_kink_is_not_certified():
    net = MLP([1, 1, 1], "relu")
    theta = torch.tensor([[1.0, -1.0, 2.0, 0.5]], dtype=F64)
    data = Data(torch.tensor([[1.0], [3.0]], dtype=F64), torch.tensor([[0.0], [1.0]], dtype=F64))
    c = rc.critical_points(net, theta, data)
    assert (c.verdict.item(), c.reason.item()) == (Verdict.not_certified, Reason.kink)
    assert math.isnan(c.radius.item())


def test_errors():
    net, data = _tms_basis()
    theta = torch.zeros(1, 2, dtype=F64)
    with pytest.raises(ValueError, match="shape"):
        rc.enclose(net, torch.zeros(1, 3, dtype=F64), data, 0.0)
    with pytest.raises(TypeError, match="Data"):
        rc.enclose(net, theta, (data.X, data.T), 0.0)
    with pytest.raises(TypeError, match="MLP or reluscope.TMS"):
        rc.enclose("tms", theta, data, 0.0)
    with pytest.raises(ValueError, match="radius"):
        rc.enclose(net, theta, data, -1.0)
    with pytest.raises(ValueError, match="radius"):
        rc.enclose(net, theta, data, torch.zeros(2, dtype=F64))
    with pytest.raises(ValueError, match="finite"):
        rc.enclose(net, torch.full((1, 2), math.nan, dtype=F64), data, 0.0)
    with pytest.raises(ValueError, match="max_tries"):
        rc.critical_points(net, theta, data, max_tries=0)
    with pytest.raises(ValueError, match="models"):
        per_model = Data(torch.zeros(3, 2, 2, dtype=F64), torch.zeros(3, 2, 2, dtype=F64))
        rc.enclose(net, theta, per_model, 0.0)
