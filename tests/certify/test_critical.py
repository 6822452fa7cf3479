"""reluscope.certify.critical: the decision logic (Krawczyk's test, the curvature tests, the
lambda_min enclosure) on quadratics L(theta) = 1/2 (theta - a)^T A (theta - a), whose exact
gradient and Hessian are given as point enclosures (small integers: exact in float64), so each
verdict is known in closed form."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reluscope import MLP, Data, forward, hessian
from reluscope.certify import Enclosure, Flag, Reason, Verdict
from reluscope.certify.critical import decide

F64 = torch.float64


def quadratic(A: torch.Tensor, a: torch.Tensor, theta: torch.Tensor, flags=0):
    """(enclose, point) of the quadratics (A (B, P, P), a (B, P)) at theta (B, P): grad at theta
    (exact: integers), the constant Hessian, a loss enclosure over the box."""
    d = theta - a
    g = (A @ d[..., None])[..., 0]

    def enclose(r, rows):
        L = 0.5 * (d[:, None, :] @ A @ d[..., None])[:, 0, 0]
        spread = (A.abs().sum((1, 2)) * (d.abs().amax(1)) ** 2) + g.abs().sum(1)
        loss = torch.stack([L - spread - 1, L + spread + 1], 1)[rows]
        return Enclosure(loss, torch.stack([g, g], -1)[rows], torch.stack([A, A], -1)[rows],
                         torch.full((len(rows),), flags, dtype=torch.int32))
    return enclose, lambda: (g, A)


def test_minimum_saddle_and_singular():
    A = torch.tensor([[[4.0, 1.0], [1.0, 3.0]],     # positive definite
                      [[2.0, 0.0], [0.0, -1.0]],    # index 1
                      [[-2.0, 1.0], [1.0, -3.0]],   # index 2 (a maximum: a critical point, not
                      [[1.0, 1.0], [1.0, 1.0]]],    # a minimum); singular
                     dtype=F64)
    a = torch.tensor([[1.0, -2.0], [0.5, 0.25], [3.0, 1.0], [0.0, 0.0]], dtype=F64)
    theta = a + torch.tensor([[0.25, -0.5], [1.0, 2.0], [-0.125, 0.0], [1.0, 0.0]], dtype=F64)
    c = decide(*quadratic(A, a, theta), theta, max_tries=4)
    assert c.verdict.tolist() == [Verdict.minimum, Verdict.saddle, Verdict.saddle,
                                  Verdict.not_certified]
    assert c.reason.tolist() == [Reason.none] * 3 + [Reason.hessian_singular]
    assert c.index_lower.tolist() == [0, 1, 2, 0]
    # the critical point a lies in the box, which is the epsilon-inflated Newton step
    dist = (theta - a).abs().amax(1)
    assert (dist[:3] < c.radius[:3]).all() and (c.radius[:3] <= 2 * 4 ** 3 * dist[:3] * 1.01).all()
    lam = torch.linalg.eigvalsh(A[:3])[:, 0]
    assert ((c.lambda_min[:3, 0] <= lam) & (lam <= c.lambda_min[:3, 1])).all()
    assert (c.lambda_min[:3, 1] - c.lambda_min[:3, 0] < 1e-12).all()  # point Hessians: tight
    assert c.radius[3].isnan() and c.loss[3].isnan().all()


def test_exactly_critical_point_and_degenerate():
    """theta = a: the gradient is exactly 0, theta itself is critical (radius 0); with a singular
    PSD Hessian the sign is not resolvable: critical_degenerate; with a negative direction it
    is still a proved saddle."""
    A = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, -1.0]], [[2.0, 1.0], [1.0, 2.0]]],
                     dtype=F64)
    a = torch.tensor([[1.0, 2.0], [0.0, 0.0], [-1.0, 0.5]], dtype=F64)
    c = decide(*quadratic(A, a, a.clone()), a.clone(), max_tries=2)
    assert c.verdict.tolist() == [Verdict.critical_degenerate, Verdict.saddle, Verdict.minimum]
    assert c.radius.tolist() == [0.0, 0.0, 0.0] and c.index_lower.tolist() == [0, 1, 0]


def test_flags_stop_the_proof():
    A = torch.eye(2, dtype=F64)[None].repeat(2, 1, 1)
    a = torch.zeros(2, 2, dtype=F64)
    theta = torch.full((2, 2), 0.5, dtype=F64)
    for flag, why in ((Flag.KINK, Reason.kink), (Flag.NONFINITE, Reason.nonfinite)):
        c = decide(*quadratic(A, a, theta, int(flag)), theta, max_tries=2)
        assert (c.verdict == Verdict.not_certified).all() and (c.reason == int(why)).all()


def test_a_wide_hessian_enclosure_is_not_a_proof():
    """Krawczyk needs I - C H(X) to contract: with H(theta-hat) = 1 but [-10, 10] over every box
    the test fails at every radius, and g + [-10, 10] [-r, r] contains 0 at the no-critical-point
    radius min(r, 1 / 2): not certified, existence not proved. A gradient whose
    mean-value form excludes 0 on the box gives no_critical_point."""
    theta = torch.zeros(1, 1, dtype=F64)

    def enclose_with(g, h_lo, h_hi):  # H(theta-hat) = h at r = 0 (the point), h(r) on boxes
        def enclose(r, rows):
            return Enclosure(torch.tensor([[0.0, 1.0]], dtype=F64),
                             torch.tensor([[[g, g]]], dtype=F64),
                             torch.tensor([[[[h_lo(r), h_hi(r)]]]], dtype=F64),
                             torch.zeros(1, dtype=torch.int32))
        H0 = (h_lo(torch.zeros(1)) + h_hi(torch.zeros(1))) / 2
        return enclose, lambda: (torch.tensor([[g]], dtype=F64),
                                 torch.tensor([[[H0]]], dtype=F64))

    enc, point = enclose_with(1.0, lambda r: 1.0 if float(r) == 0 else -10.0,
                              lambda r: 1.0 if float(r) == 0 else 10.0)
    calls = []
    c = decide(lambda r, rows: calls.append(float(r)) or enc(r, rows), point, theta, max_tries=3)
    assert c.verdict.item() == Verdict.not_certified
    assert c.reason.item() == Reason.existence_not_proved
    # |1 - 1 [-10, 10]| = 11 >= 1 at the first box: no larger box can pass, so one Krawczyk pass
    # (r = 2) and the no-critical-point pass (r = 1/2), not max_tries of them
    assert calls == [2.0, 0.5]
    # g = 1, H(theta) = 1, H(X) = [0.5, 1.5] on boxes of radius <= 1, [-10, 10] beyond: the
    # Krawczyk boxes (r = 2, 8) are too wide; the no-critical-point box has radius
    # min(8, |g| / (2 |H|)) = 0.5, where g + [0.5, 1.5] [-0.5, 0.5] = [0.25, 1.75] excludes 0
    c = decide(*enclose_with(1.0, lambda r: 0.5 if float(r) <= 1 else -10.0,
                            lambda r: 1.5 if float(r) <= 1 else 10.0), theta, max_tries=2)
    assert c.verdict.item() == Verdict.no_critical_point and c.radius.item() == 0.5
    assert c.reason.item() == Reason.none


def test_bad_theta():
    with pytest.raises(ValueError, match="theta"):
        decide(lambda r, rows: None, lambda: None, torch.zeros(3, dtype=F64), 1)


# ---- critical_points on the interval kernel: exact cases, agreement with the mpmath reference,
# soundness on random points

def _agree(net, theta, data):
    """The engine's certificate, checked against reference.certify's: same verdicts, index and
    reasons; where both prove something, the boxes have comparable radii and overlapping loss and
    lambda_min enclosures (both contain the same exact values)."""
    import reluscope.reference as ref
    from reluscope.certify import critical_points

    c = critical_points(net, theta, data)
    r = ref.certify.critical_points(net, theta, data)
    assert c.verdict.tolist() == r.verdict.tolist()
    assert c.reason.tolist() == r.reason.tolist()
    assert c.index_lower.tolist() == r.index_lower.tolist()
    proved = (c.verdict != Verdict.not_certified) & (c.radius > 0)
    assert torch.allclose(c.radius[proved], r.radius[proved], rtol=1e-3)  # r0: float g, H
    for a, b in ((c.loss, r.loss), (c.lambda_min, r.lambda_min)):
        both = ~a.isnan().any(1) & ~b.isnan().any(1)
        assert bool(((a[both, 0] <= b[both, 1]) & (b[both, 0] <= a[both, 1])).all())
    return c


def test_kernel_tms_minima_kink_and_singular_agree_with_the_reference():
    from tests.reference.test_certify import _tms_basis
    net, data = _tms_basis()
    theta = torch.tensor([[1 + 1e-9, -1 - 2e-9], [-1.0 + 3e-7, 1.0], [0.0, 0.0], [0.6, 0.8]],
                         dtype=F64)
    c = _agree(net, theta, data)
    assert c.verdict.tolist() == [Verdict.minimum] * 2 + [Verdict.not_certified] * 2
    assert c.reason.tolist()[2:] == [Reason.kink, Reason.hessian_singular]
    assert ((c.lambda_min[:2, 0] <= 4) & (4 <= c.lambda_min[:2, 1])).all()
    assert ((theta[:2].abs() - 1).abs().amax(1) <= c.radius[:2]).all()


@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_kernel_tanh_saddle_and_no_critical_point_agree_with_the_reference(scale):
    from tests.reference.test_certify import _tanh_line
    net, data, c_, L0 = _tanh_line(scale)
    theta = torch.tensor([[1e-8, -2e-8], [0.7, 0.3]], dtype=F64)
    c = _agree(net, theta, data)
    assert c.verdict.tolist() == [Verdict.saddle, Verdict.no_critical_point]
    assert c.index_lower[0] == 1 and c.loss[0, 0] <= L0 <= c.loss[0, 1]
    assert c.lambda_min[0, 0] <= -2 * abs(c_) <= c.lambda_min[0, 1]


def test_kernel_teacher_student():
    """The seed's width-4 teacher on its 1681-point grid: a certified strict minimum in a box of
    radius ~ the Newton step to the exact minimiser (the targets are rounded, so theta-hat is not
    exactly critical), loss ~ 0; the split-neuron width-5 student (a flat manifold of global
    minima): no point certificate (singular Hessian)."""
    from reluscope.certify import critical_points
    from reluscope.experiments import teacher_student as ts

    data = ts.data_of_teacher()
    teacher = ts.params(4, ts.TEACHER_W, ts.TEACHER_A)
    c = critical_points(ts.student(4), teacher[0], data)
    assert c.verdict.item() == Verdict.minimum and 0 < c.radius.item() < 1e-6
    assert c.loss[0] <= 0 <= c.loss[1] < 1e-12 and c.lambda_min[0] > 0
    lam = torch.linalg.eigvalsh(hessian.hessian(ts.student(4), teacher, data))[0, 0]
    assert c.lambda_min[0] <= lam <= c.lambda_min[1]
    split = ts.params(5, ts.TEACHER_W + [ts.TEACHER_W[0]], [0.3] + ts.TEACHER_A[1:] + [0.7])
    c = critical_points(ts.student(5), split, data)
    assert (c.verdict.item(), c.reason.item()) == (Verdict.not_certified, Reason.hessian_singular)


def _simplified_newton_stays(net, theta, data, radius, steps=60):
    """theta* of the simplified Newton iteration theta <- theta - C grad(theta), C = H(theta)^-1
    (a contraction on a Krawczyk box), and whether it stayed within radius of theta and
    converged (gradient below 1e-9 of its start)."""
    H = hessian.hessian(net, theta[None], data)[0]
    C = torch.linalg.inv(H)
    th = theta.clone()
    g0 = hessian.value_and_grad(net, theta[None], data)[1][0].norm()
    for _ in range(steps):
        th = th - C @ hessian.value_and_grad(net, th[None], data)[1][0]
        if (th - theta).abs().max() > radius * (1 + 1e-9):
            return th, False
    g = hessian.value_and_grad(net, th[None], data)[1][0].norm()
    return th, bool(g <= 1e-9 * max(g0, 1.0))


def _random_case(kind: str, seed: int, act: str, bias: bool, k: int):
    """(net, theta (1, P), data): 'random' a random point on random data; 'teacher' a student
    10^-k away from the teacher that labels its data (a minimum within ~10^-k); 'saddle'
    y = v tanh(w x) 10^-k away from the origin, a saddle of index 1 (see _tanh_line)."""
    g = torch.Generator().manual_seed(seed)
    if kind == "saddle":
        net = MLP([1, 1, 1], "tanh", bias=False)
        X = torch.randn(8, 1, generator=g, dtype=F64)
        data = Data(X, X * 0.5 + 0.1 * torch.randn(8, 1, generator=g, dtype=F64))
        return net, 10.0 ** -k * torch.randn(1, 2, generator=g, dtype=F64), data
    net = MLP([2, 2, 1], act, bias=bias)
    X = torch.randn(12, 2, generator=g, dtype=F64)
    theta = net.init(1, generator=g, dtype=F64, scheme="normal")
    if kind == "random":
        return net, theta, Data(X, torch.randn(12, 1, generator=g, dtype=F64))
    data = Data(X, forward(net, theta, X)[0])
    return net, theta + 10.0 ** -k * torch.randn(theta.shape, generator=g, dtype=F64), data


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["random", "teacher", "saddle"]), seed=st.integers(0, 2**31 - 1),
       act=st.sampled_from(["sigmoid", "tanh", "softplus", "erf"]), bias=st.booleans(),
       k=st.integers(1, 10))
def test_kernel_verdicts_are_sound(kind, seed, act, bias, k):
    """Every proof is checked independently in float64: a minimum or a saddle has a critical
    point in its box (the simplified Newton iteration converges there, as a contraction must),
    whose float Hessian is positive definite (minimum) or has at least index_lower eigenvalues
    below 0, and whose smallest eigenvalue lies in lambda_min (up to eigh's error);
    no_critical_point boxes hold 64 random points whose gradients keep one component's sign."""
    from reluscope.certify import critical_points

    net, theta, data = _random_case(kind, seed, act, bias, k)
    c = critical_points(net, theta, data)
    v, r = int(c.verdict[0]), float(c.radius[0])
    if v in (Verdict.minimum, Verdict.saddle) and r > 0:
        star, ok = _simplified_newton_stays(net, theta[0], data, r)
        assert ok, (v, r)
        lam = torch.linalg.eigvalsh(hessian.hessian(net, star[None], data))[0]
        err = 2 * net.num_params * torch.finfo(F64).eps * lam.abs().max()
        assert c.lambda_min[0, 0] - err <= lam[0] <= c.lambda_min[0, 1] + err
        if v == Verdict.minimum:
            assert lam[0] > -err
        else:
            assert int((lam < err).sum()) >= int(c.index_lower[0]) >= 1
    if v == Verdict.no_critical_point:
        g = torch.Generator().manual_seed(seed)
        pts = theta + r * (2 * torch.rand(64, net.num_params, generator=g, dtype=F64) - 1)
        grads = hessian.value_and_grad(net, pts, data)[1]
        assert bool(((grads > 0).all(0) | (grads < 0).all(0)).any())
    if kind == "saddle" and k >= 4:  # close to the saddle: proved (the data make c != 0)
        assert v == Verdict.saddle and int(c.index_lower[0]) == 1
    if kind == "teacher":  # a minimum nearby; no saddle can be proved there
        assert v != Verdict.saddle


def test_critical_points_errors():
    from reluscope.certify import critical_points

    net = MLP([2, 2, 1], "tanh")
    data = Data(torch.randn(5, 2, dtype=F64), torch.randn(5, 1, dtype=F64))
    theta = net.init(2, dtype=F64)
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="max_tries"):
            critical_points(net, theta, data, max_tries=bad)
    nan = theta.clone()
    nan[0, 0] = float("nan")
    with pytest.raises(ValueError):
        critical_points(net, nan, data)
    with pytest.raises(ValueError):
        critical_points(net, theta[:, :3], data)
    with pytest.raises((TypeError, ValueError)):
        critical_points(net, theta, (data.X, data.T))
    single = critical_points(net, theta[0], data)
    assert single.verdict.dim() == 0 and single.loss.shape == (2,)


def test_the_ntk_parameterisation_is_refused_not_enclosed():
    """certify's interval kernel encloses the standard parameterisation only: an NTK-
    parameterised MLP is a clear error, never a proof about a different function."""
    from reluscope.certify import critical_points

    net = MLP([2, 2, 1], "tanh", parameterization="ntk")
    data = Data(torch.randn(5, 2, dtype=F64), torch.randn(5, 1, dtype=F64))
    with pytest.raises(ValueError, match="standard parameterisation"):
        critical_points(net, net.init(2, dtype=F64), data)
