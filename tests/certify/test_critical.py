"""reluscope.certify.critical: the decision logic (Krawczyk's test, the curvature tests, the
lambda_min enclosure) on quadratics L(theta) = 1/2 (theta - a)^T A (theta - a), whose exact
gradient and Hessian are given as point enclosures (small integers: exact in float64), so each
verdict is known in closed form."""
import pytest
import torch

from reluscope.certify import Enclosure, Flag, Reason, Verdict
from reluscope.certify.critical import decide

F64 = torch.float64


def quadratic(A: torch.Tensor, a: torch.Tensor, theta: torch.Tensor, flags=0):
    """enclose(radius) of the quadratics (A (B, P, P), a (B, P)) at theta (B, P): grad at theta
    (exact: integers), the constant Hessian, a loss enclosure over the box."""
    def enclose(r):
        d = theta - a
        g = (A @ d[..., None])[..., 0]
        L = 0.5 * (d[:, None, :] @ A @ d[..., None])[:, 0, 0]
        spread = (A.abs().sum((1, 2)) * (d.abs().amax(1) + r) ** 2) + g.abs().sum(1) * r
        loss = torch.stack([L - spread - 1, L + spread + 1], 1)
        B = theta.shape[0]
        return Enclosure(loss, torch.stack([g, g], -1), torch.stack([A, A], -1),
                         torch.full((B,), flags, dtype=torch.int32))
    return enclose


def test_minimum_saddle_and_singular():
    A = torch.tensor([[[4.0, 1.0], [1.0, 3.0]],     # positive definite
                      [[2.0, 0.0], [0.0, -1.0]],    # index 1
                      [[-2.0, 1.0], [1.0, -3.0]],   # index 2 (a maximum: a critical point, not
                      [[1.0, 1.0], [1.0, 1.0]]],    # a minimum); singular
                     dtype=F64)
    a = torch.tensor([[1.0, -2.0], [0.5, 0.25], [3.0, 1.0], [0.0, 0.0]], dtype=F64)
    theta = a + torch.tensor([[0.25, -0.5], [1.0, 2.0], [-0.125, 0.0], [1.0, 0.0]], dtype=F64)
    c = decide(quadratic(A, a, theta), theta, max_tries=4)
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
    c = decide(quadratic(A, a, a.clone()), a.clone(), max_tries=2)
    assert c.verdict.tolist() == [Verdict.critical_degenerate, Verdict.saddle, Verdict.minimum]
    assert c.radius.tolist() == [0.0, 0.0, 0.0] and c.index_lower.tolist() == [0, 1, 0]


def test_flags_stop_the_proof():
    A = torch.eye(2, dtype=F64)[None].repeat(2, 1, 1)
    a = torch.zeros(2, 2, dtype=F64)
    theta = torch.full((2, 2), 0.5, dtype=F64)
    for flag, why in ((Flag.KINK, Reason.kink), (Flag.NONFINITE, Reason.nonfinite)):
        c = decide(quadratic(A, a, theta, int(flag)), theta, max_tries=2)
        assert (c.verdict == Verdict.not_certified).all() and (c.reason == int(why)).all()


def test_a_wide_hessian_enclosure_is_not_a_proof():
    """Krawczyk needs I - C H(X) to contract: with H(theta-hat) = 1 but [-10, 10] over every box
    the test fails at every radius, and g + [-10, 10] [-r, r] contains 0 at the no-critical-point
    radius min(r, 1 / 2): not certified, existence not proved. A gradient whose
    mean-value form excludes 0 on the box gives no_critical_point."""
    theta = torch.zeros(1, 1, dtype=F64)

    def enclose_with(g, h_lo, h_hi):  # H(theta-hat) = h at r = 0 (the point), h(r) on boxes
        def enclose(r):
            return Enclosure(torch.tensor([[0.0, 1.0]], dtype=F64),
                             torch.tensor([[[g, g]]], dtype=F64),
                             torch.tensor([[[[h_lo(r), h_hi(r)]]]], dtype=F64),
                             torch.zeros(1, dtype=torch.int32))
        return enclose

    c = decide(enclose_with(1.0, lambda r: 1.0 if float(r) == 0 else -10.0,
                            lambda r: 1.0 if float(r) == 0 else 10.0), theta, max_tries=3)
    assert c.verdict.item() == Verdict.not_certified
    assert c.reason.item() == Reason.existence_not_proved
    # g = 1, H(theta) = 1, H(X) = [0.5, 1.5] on boxes of radius <= 1, [-10, 10] beyond: the
    # Krawczyk boxes (r = 2, 8) are too wide; the no-critical-point box has radius
    # min(8, |g| / (2 |H|)) = 0.5, where g + [0.5, 1.5] [-0.5, 0.5] = [0.25, 1.75] excludes 0
    c = decide(enclose_with(1.0, lambda r: 0.5 if float(r) <= 1 else -10.0,
                            lambda r: 1.5 if float(r) <= 1 else 10.0), theta, max_tries=2)
    assert c.verdict.item() == Verdict.no_critical_point and c.radius.item() == 0.5
    assert c.reason.item() == Reason.none


def test_bad_theta():
    with pytest.raises(ValueError, match="theta"):
        decide(lambda r: None, torch.zeros(3, dtype=F64), 1)
