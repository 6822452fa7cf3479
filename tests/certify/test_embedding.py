"""reluscope.certify.embedding.split_neuron: saddles of wider networks at the images of certified
critical points (where the wider Hessian is singular), against Fukumizu & Amari's exact criterion,
the float engine, and every error path."""
import math
from fractions import Fraction

import pytest
import torch

import reluscope as rs
from reluscope import hessian
from reluscope.certify import Reason, Verdict, critical_points, split_neuron
from reluscope.reference import forward

f64 = torch.float64


def _descend(model, theta, data, steps):
    """Damped Newton on |H| in float64 (steps -(|H| + mu I)^-1 g accepted when the loss does not
    grow, mu adapted per network): theta (B, P) to nearby minima."""
    mu = torch.ones(theta.shape[0], dtype=f64)
    for _ in range(steps):
        L, g = hessian.value_and_grad(model, theta, data)
        lam, V = torch.linalg.eigh(hessian.hessian(model, theta, data))
        step = V @ ((V.mT @ g[..., None])[..., 0] / (lam.abs() + mu[:, None]))[..., None]
        new = theta - step[..., 0]
        ok = hessian.value_and_grad(model, new, data)[0] <= L
        theta = torch.where(ok[:, None], new, theta)
        mu = torch.where(ok, mu / 3, mu * 4).clamp(min=1e-30)
    return theta


def _scalar_students(B=12):
    """B bias-free tanh students with one neuron, trained on B random two-neuron teachers (x on a
    21-point grid): near their minima."""
    x = torch.linspace(-2, 2, 21, dtype=f64)[:, None]
    teacher, narrow = rs.MLP([1, 2, 1], "tanh", bias=False), rs.MLP([1, 1, 1], "tanh", bias=False)
    g = torch.Generator().manual_seed(4)
    t_theta = 1.5 * torch.randn(B, teacher.num_params, dtype=f64, generator=g)
    data = rs.Data(x.expand(B, -1, -1), forward(teacher, t_theta, x))
    theta = torch.randn(B, narrow.num_params, dtype=f64, generator=g)
    return narrow, _descend(narrow, theta, data, 60), data


def _curvature_of_split(narrow, theta, data):
    """G = sum_n dl/df_n a tanh''(w x_n) x_n^2 per network: the second derivative of the loss along
    (v, -v) in the two copies' incoming weights at lambda = 1/2, written independently."""
    w, a = theta[:, 0], theta[:, 1]
    x, t = data.X[..., 0], data.targets(1)[..., 0]
    z = w[:, None] * x
    r = 2 * (a[:, None] * torch.tanh(z) - t)
    return (r * a[:, None] * -2 * torch.tanh(z) * (1 - torch.tanh(z) ** 2) * x ** 2).sum(1)


@pytest.mark.parametrize("lam", [0.5, 0.2, 1.5, -0.5])
def test_saddle_exactly_where_fukumizu_amari_say(lam):
    """A strict minimum theta* of the one-neuron student, its neuron split with shares lambda and
    1 - lambda: the image is a saddle when lambda (1 - lambda) G < 0 and a (non-strict) local minimum
    when lambda (1 - lambda) G > 0 (Fukumizu & Amari 2000, Thm 3; G a scalar here). The certificate
    proves every saddle of the first kind (|G| >= 1e-4 here) and never calls one of the second
    kind a saddle."""
    narrow, theta, data = _scalar_students()
    sc = split_neuron(narrow, theta, data, neuron=0, fraction=lam)
    strict = sc.narrow.verdict == Verdict.minimum
    G = _curvature_of_split(narrow, theta, data)
    want = strict & (lam * (1 - lam) * G < 0)
    clear = G.abs() >= 1e-3
    assert (want & clear).sum() >= 3 and (strict & ~want).sum() >= 3
    saddle = sc.certificate.verdict == Verdict.saddle
    assert not (saddle & strict & ~want).any()          # sound: a local minimum is no saddle
    assert saddle[want & clear].all()                   # and complete beyond |G| >= 1e-3
    assert (sc.certificate.reason[strict & ~want] == Reason.curvature_unresolved).all()
    assert (sc.certificate.index_lower[saddle & strict] == 1).all()
    # the enclosures hold the float engine's values at the centre (the critical point is within
    # ~1e-13 of it) and the narrow network's loss (the same function)
    H = hessian.hessian(sc.model, sc.theta, data)
    lam_min = torch.linalg.eigvalsh(H)[:, 0]
    c = sc.certificate
    assert ((c.lambda_min[saddle, 0] <= lam_min[saddle]) & (lam_min[saddle] <= c.lambda_min[saddle, 1])).all()
    L = hessian.value_and_grad(narrow, theta, data)[0]
    assert ((c.loss[saddle, 0] <= L[saddle]) & (L[saddle] <= c.loss[saddle, 1])).all()
    assert (c.radius[saddle] < 1e-9).all() and c.radius[~saddle].isnan().all()
    # the cube holds the image of the narrow box, exactly: lambda [a - r, a + r] within R of c1,
    # (1 - lambda) [a - r, a + r] within R of c2 (rational arithmetic on the float64 values)
    for b in saddle.nonzero()[:, 0].tolist():
        r, a = Fraction(sc.narrow.radius[b].item()), Fraction(theta[b, 1].item())
        c1, c2 = Fraction(sc.theta[b, 2].item()), Fraction(sc.theta[b, 3].item())
        rad, lam_ = Fraction(c.radius[b].item()), Fraction(lam)
        assert abs(lam_) * r + abs(lam_ * a - c1) <= rad
        assert abs(1 - lam_) * r + abs((1 - lam_) * a - c2) <= rad
        assert Fraction(sc.theta[b, 0].item()) == Fraction(sc.theta[b, 1].item()) == \
            Fraction(theta[b, 0].item())


def test_deep_vector_output_split_keeps_the_function_and_the_critical_point():
    """A tanh MLP [2, 3, 2, 2] with biases near minima of its fit to a wider teacher [2, 4, 3, 2]
    (100 Gaussian inputs), neuron j of the second hidden layer split (a different j per network):
    the wider networks compute the narrow ones' function, their float gradient vanishes at the
    centre, and every saddle verdict agrees with the float Hessian (a negative eigenvalue, inside
    the certified enclosure)."""
    narrow, teacher = rs.MLP([2, 3, 2, 2], "tanh"), rs.MLP([2, 4, 3, 2], "tanh")
    g = torch.Generator().manual_seed(1)
    B = 6
    X = torch.randn(100, 2, dtype=f64, generator=g)
    t_theta = 1.2 * torch.randn(1, teacher.num_params, dtype=f64, generator=g)
    data = rs.Data(X, forward(teacher, t_theta, X)[0])
    theta = _descend(narrow, 0.8 * torch.randn(B, narrow.num_params, dtype=f64, generator=g),
                     data, 300)
    j = torch.tensor([0, 1, 0, 1, 0, 1])
    sc = split_neuron(narrow, theta, data, neuron=j, layer=1, fraction=0.3)
    assert sc.model.widths == [2, 3, 3, 2]
    torch.testing.assert_close(forward(sc.model, sc.theta, X), forward(narrow, theta, X),
                               rtol=1e-13, atol=1e-13)
    proved = (sc.narrow.verdict == Verdict.minimum) | (sc.narrow.verdict == Verdict.saddle)
    assert proved.sum() >= 3
    grad = hessian.value_and_grad(sc.model, sc.theta, data)[1]
    assert (grad[proved].abs().amax(1) < 1e-10).all()
    c = sc.certificate
    saddle = c.verdict == Verdict.saddle
    assert saddle.any() and not (saddle & ~proved).any()
    lam_min = torch.linalg.eigvalsh(hessian.hessian(sc.model, sc.theta, data))[:, 0]
    assert (lam_min[saddle] < 0).all()
    assert ((c.lambda_min[saddle, 0] <= lam_min[saddle])
            & (lam_min[saddle] <= c.lambda_min[saddle, 1])).all()
    # the narrow network's own saddles stay saddles after the split (its negative curvature
    # directions embed: the copy's weights follow the original's)
    assert (saddle[sc.narrow.verdict == Verdict.saddle]).all()


def test_a_point_far_from_critical_proves_nothing():
    """theta-hat with a large gradient: the narrow certificate proves no critical point, so the
    wider one is not_certified (existence_not_proved), never a saddle; a single theta squeezes."""
    narrow = rs.MLP([1, 2, 1], "tanh")
    data = rs.Data(torch.linspace(-1, 1, 9, dtype=f64)[:, None],
                   torch.linspace(-1, 1, 9, dtype=f64)[:, None] ** 2)
    theta = torch.tensor([1.0, -0.5, 0.2, 0.1, 0.7, 0.4, 0.3], dtype=f64)
    sc = split_neuron(narrow, theta, data, neuron=1)
    assert sc.theta.shape == (sc.model.num_params,) and sc.certificate.verdict.dim() == 0
    assert sc.narrow.verdict.item() in (Verdict.no_critical_point, Verdict.not_certified)
    assert sc.certificate.verdict.item() == Verdict.not_certified
    want = Reason.existence_not_proved if sc.narrow.reason.item() == Reason.none \
        else sc.narrow.reason.item()
    assert sc.certificate.reason.item() == want and math.isnan(sc.certificate.radius.item())


def test_the_origin_of_the_tanh_line():
    """y = a tanh(w x) at w = a = 0, L = sum_n (y_n - t_n)^2 / N, c = -2 sum_n t_n x_n / N != 0:
    exactly critical, Hessian [[0, c], [c, 0]] (a saddle of index 1). Its split is the origin of the wider network, exactly
    critical with Hessian blocks [[0, c], [c, 0]] per copy: a saddle of index 2, in a cube of
    (1 + |lambda|) times the narrow radius (nothing to round)."""
    narrow = rs.MLP([1, 1, 1], "tanh", bias=False)
    x = torch.tensor([[-1.0], [0.5], [2.0]], dtype=f64)
    data = rs.Data(x, torch.tensor([[0.3], [-0.2], [0.9]], dtype=f64))
    sc = split_neuron(narrow, torch.zeros(2, dtype=f64), data, neuron=0, fraction=0.1)
    assert (sc.narrow.verdict.item(), sc.narrow.index_lower.item()) == (Verdict.saddle, 1)
    assert sc.model.widths == [1, 2, 1] and (sc.theta == 0).all()
    c = sc.certificate
    assert (c.verdict.item(), c.index_lower.item()) == (Verdict.saddle, 2)
    assert c.radius.item() <= (1 + 0.1) * sc.narrow.radius.item() * (1 + 1e-14) + 1e-320
    curv = 2 * (0.3 * -1.0 + -0.2 * 0.5 + 0.9 * 2.0) / 3  # |d2 L / dw da| = 2 |sum t x| / N
    assert c.lambda_min[0] <= -curv <= c.lambda_min[1]


def test_errors():
    narrow = rs.MLP([1, 2, 1], "tanh")
    data = rs.Data(torch.zeros(3, 1, dtype=f64), torch.zeros(3, 1, dtype=f64))
    theta = torch.zeros(2, narrow.num_params, dtype=f64)
    with pytest.raises(TypeError, match="hidden layer"):
        split_neuron(rs.MLP([1, 1], "tanh"), torch.zeros(2, 2, dtype=f64), data, neuron=0)
    with pytest.raises(TypeError, match="hidden layer"):
        split_neuron(rs.TMS(3, 2), torch.zeros(1, rs.TMS(3, 2).num_params), data, neuron=0)
    with pytest.raises(ValueError, match="layer"):
        split_neuron(narrow, theta, data, neuron=0, layer=1)
    with pytest.raises(ValueError, match="fraction"):
        split_neuron(narrow, theta, data, neuron=0, fraction=math.nan)
    with pytest.raises(ValueError, match="neuron must lie"):
        split_neuron(narrow, theta, data, neuron=2)
    with pytest.raises(ValueError, match="neuron must lie"):
        split_neuron(narrow, theta, data, neuron=torch.tensor([0, -1]))
    with pytest.raises(TypeError, match="neuron"):
        split_neuron(narrow, theta, data, neuron=torch.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="neuron"):
        split_neuron(narrow, theta, data, neuron=torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="NaN|finite"):
        split_neuron(narrow, torch.full_like(theta, math.nan), data, neuron=0)
