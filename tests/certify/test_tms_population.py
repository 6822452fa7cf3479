"""reluscope.certify.tms_population: the phase-transition talk's critical points of the TMS(2, 1)
population loss, proved at their closed forms; the closed forms against the independent exact
quadrature (``rs.tms_population``) and the seed's formulas; the phase transition bracketed by
proofs; errors."""
import math

import pytest
import sympy as sp
import torch

import reluscope as rs
from reluscope import hessian
from reluscope.certify import Reason, Verdict, tms_population_critical_points
from reluscope.certify.tms_population import closed_forms

f64 = torch.float64
TMS21 = rs.TMS(2, 1, bias=False)
S_STAR = (3 + 4 * math.sqrt(14)) / 43          # the talk's first-order transition


def _family_a():
    return [(2 ** -0.5, 2 ** -0.5), (-2 ** -0.5, -2 ** -0.5)]


def _family_b(s):
    a = math.sqrt((3 + 5 * s) / (1 + 3 * s) / 2)
    return [(-a, a), (a, -a)]


def _eig_a(s):      # the talk: lambda = (1 - s)^2, (2/3)(7 - 3s)(1 - s) at +-(1/sqrt2, 1/sqrt2)
    return min((1 - s) ** 2, 2 / 3 * (7 - 3 * s) * (1 - s))


def _eig_b(s):      # the talk: (3 - s + 57 s^2 - 59 s^3) / (6 + 18 s), (3 + 2s - 5 s^2) / 3
    return min((3 - s + 57 * s ** 2 - 59 * s ** 3) / (6 + 18 * s), (3 + 2 * s - 5 * s ** 2) / 3)


@pytest.mark.parametrize("s", [0.0, 0.1, 0.3, 0.5, 0.8, 0.95])
def test_both_families_are_proved_strict_minima_with_the_talks_eigenvalues(s):
    """+-(1/sqrt2, 1/sqrt2) and +-(a, -a), a^2 = (3 + 5s) / (2 (1 + 3s)), rounded to float64: a box
    of radius ~1e-15 with exactly one critical point, a strict local minimum; the smallest Hessian
    eigenvalue's enclosure holds the talk's closed form."""
    theta = torch.tensor(_family_a() + _family_b(s), dtype=f64)
    c = tms_population_critical_points(TMS21, theta, s)
    assert c.verdict.tolist() == [Verdict.minimum] * 4
    assert (c.radius > 0).all() and (c.radius < 1e-14).all()
    for k, lam in enumerate([_eig_a(s)] * 2 + [_eig_b(s)] * 2):
        assert c.lambda_min[k, 0] <= lam <= c.lambda_min[k, 1]
        assert c.lambda_min[k, 1] - c.lambda_min[k, 0] < 1e-12
    # the loss at the minima, from the closed forms in exact arithmetic (mpmath, 50 digits)
    import mpmath
    w1, w2, s_ = closed_forms.symbols
    forms = closed_forms()
    with mpmath.workdps(50):
        r = sp.Rational(s)
        la = float(forms["same"][0].subs({s_: r, w1: 1 / sp.sqrt(2), w2: 1 / sp.sqrt(2)}).evalf(40))
        a = sp.sqrt((3 + 5 * r) / (1 + 3 * r) / 2)
        lb = float(forms["a"][0].subs({s_: r, w1: -a, w2: a}).evalf(40))
    assert (c.loss[:2, 0] <= la).all() and (la <= c.loss[:2, 1]).all()
    assert (c.loss[2:, 0] <= lb).all() and (lb <= c.loss[2:, 1]).all()


def test_the_phase_transition_is_bracketed_by_proofs():
    """Below s* the family-A minima have the lower loss, above it family B: the certified loss
    enclosures are disjoint and ordered at s = s* -+ 1e-9 (and at 0.3 / 0.5), so the global
    minimiser's family provably changes within 1e-9 of the talk's s* = (3 + 4 sqrt 14) / 43."""
    for s, a_lower in ((0.3, True), (S_STAR - 1e-9, True), (S_STAR + 1e-9, False), (0.5, False)):
        theta = torch.tensor([_family_a()[0], _family_b(s)[0]], dtype=f64)
        c = tms_population_critical_points(TMS21, theta, s)
        assert c.verdict.tolist() == [Verdict.minimum] * 2
        A, B = c.loss
        assert (A[1] < B[0]) if a_lower else (B[1] < A[0])


def test_closed_forms_match_the_exact_quadrature():
    """L, its gradient and Hessian from the closed forms (float evaluation) against the engine on
    ``rs.tms_population`` (the kink-aligned Gauss rule, exact to rounding; its Hessian with the
    kink-line term) at random points of every region and both mixed quadrants."""
    w1, w2, s_ = closed_forms.symbols
    forms = closed_forms()
    g = torch.Generator().manual_seed(0)
    for s in (0.0, 0.35, 0.9):
        pts = 0.2 + 1.3 * torch.rand(12, 2, dtype=f64, generator=g)
        pts[4:8, 0] *= -1          # w1 < 0 < w2 (both sub-regions: |w1| vs w2 at random)
        pts[8:, 1] *= -1           # w1 > 0 > w2
        data = rs.tms_population(TMS21, pts, s)
        L, G = hessian.value_and_grad(TMS21, pts, data)
        H = rs.tms_population_hessian(TMS21, pts, s)
        for k, (p1, p2) in enumerate(pts.tolist()):
            sign = 1
            if p1 * p2 > 0:
                name = "same"
            else:
                if p1 > 0:
                    p1, p2, sign = -p1, -p2, -1
                name = "a" if p1 + p2 <= 0 else "b"
            val = [float(e.subs({w1: p1, w2: p2, s_: s})) for e in forms[name]]
            assert val[0] == pytest.approx(L[k].item(), rel=1e-12, abs=1e-14)
            assert [sign * v for v in val[1:3]] == pytest.approx(G[k].tolist(), rel=1e-11, abs=1e-13)
            assert [val[3], val[4], val[5]] == pytest.approx(
                [H[k, 0, 0].item(), H[k, 0, 1].item(), H[k, 1, 1].item()], rel=1e-10, abs=1e-12)


def test_the_regions_join_to_second_order_inside_a_quadrant_and_kink_on_the_axes():
    """L_a - L_b and its first and second derivatives vanish on w1 + w2 = 0 (so L is C^2 on the
    open quadrant and a box across that line is sound); across the axis w2 = 0 (w1 < 0: region a
    above, same signs below) dL/dw2 jumps by -(1 - s)^2 w1 / 2, which is why a box meeting an axis
    is not certified."""
    w1, w2, s = closed_forms.symbols
    f = closed_forms()
    d = f["a"][0] - f["b"][0]
    on_line = {w2: -w1}
    assert sp.simplify(d.subs(on_line)) == 0
    for v in (w1, w2):
        assert sp.simplify(sp.diff(d, v).subs(on_line)) == 0
        for u in (w1, w2):
            assert sp.simplify(sp.diff(d, v, u).subs(on_line)) == 0
    jump = (sp.diff(f["same"][0], w2) - sp.diff(f["a"][0], w2)).subs(w2, 0)
    assert sp.simplify(jump + (1 - s) ** 2 * w1 / 2) == 0


def test_enclosures_hold_the_exact_quadrature_on_boxes_in_every_region():
    """The enclosure over theta +- 1e-3 (what Krawczyk's test reads) holds the engine's loss and
    Hessian on rs.tms_population at the box's corners and centre, and its gradient at the centre,
    for random boxes in both same-sign quadrants, regions a and b of both mixed quadrants, and
    across w1 + w2 = 0; a box meeting an axis is flagged."""
    from reluscope.certify.tms_population import _enclose

    g = torch.Generator().manual_seed(1)
    signs = torch.tensor([[1, 1], [-1, -1], [-1, 1], [1, -1]], dtype=f64)
    pts = (0.2 + 1.3 * torch.rand(16, 2, dtype=f64, generator=g)) * signs.repeat(4, 1)
    pts = torch.cat([pts, torch.tensor([[-0.7, 0.7], [0.6, -0.6 + 1e-4]], dtype=f64)])
    r = 1e-3
    for s in (0.1, 0.6):
        E = _enclose(pts, torch.full((len(pts),), r, dtype=f64), s)
        assert (E.flags == 0).all()
        corners = torch.tensor([[0, 0], [r, r], [r, -r], [-r, r], [-r, -r]], dtype=f64)
        for dc in corners:
            at = pts + dc
            data = rs.tms_population(TMS21, at, s)
            L = hessian.value_and_grad(TMS21, at, data)[0]
            H = rs.tms_population_hessian(TMS21, at, s)
            assert ((E.loss[:, 0] <= L) & (L <= E.loss[:, 1])).all()
            assert ((E.hess[..., 0] <= H + 1e-12) & (H - 1e-12 <= E.hess[..., 1])).all()
        G = hessian.value_and_grad(TMS21, pts, rs.tms_population(TMS21, pts, s))[1]
        assert ((E.grad[..., 0] <= G + 1e-13) & (G - 1e-13 <= E.grad[..., 1])).all()
        assert (E.grad[..., 1] - E.grad[..., 0] < 1e-14).all()      # a point: a few ulps wide
    E = _enclose(torch.tensor([[0.5, 1e-4], [-1e-4, 0.3]], dtype=f64),
                 torch.full((2,), 1e-3, dtype=f64), 0.3)
    assert E.flags.tolist() == [1, 1]


def test_the_origin_and_boxes_on_an_axis_are_not_certified():
    """(0, 0) (the talk's 'local maximum': every pre-activation is 0 on the support, four formulas
    meet and the gradient jumps) and a point whose Newton box reaches an axis: Reason.kink; a point
    1e-3 from a family-B minimum at s = 0.7: no critical point in a box smaller than that distance
    (or, at s = 0, the minimum inside a box that reaches it)."""
    c = tms_population_critical_points(TMS21, torch.tensor([[0.0, 0.0], [0.3, 0.9]], dtype=f64), 0.3)
    assert c.verdict.tolist() == [Verdict.not_certified] * 2
    assert c.reason.tolist() == [Reason.kink] * 2
    for s in (0.0, 0.7):
        a = _family_b(s)[0]
        c = tms_population_critical_points(TMS21, (a[0] + 1e-3, a[1]), s)
        if c.verdict.item() == Verdict.minimum:
            assert 1e-3 <= c.radius.item() < 1e-2
        else:
            assert c.verdict.item() == Verdict.no_critical_point and c.radius.item() < 1e-3
    # a single theta squeezes; float32 is used as its exact float64 value
    c = tms_population_critical_points(TMS21, torch.tensor(_family_a()[0]), 0.2)
    assert c.verdict.dim() == 0 and c.verdict.item() == Verdict.minimum


def test_errors():
    th = torch.zeros(1, 2, dtype=f64)
    for model in (rs.TMS(2, 1), rs.TMS(3, 1, bias=False), rs.TMS(2, 2, bias=False), rs.MLP([2, 1])):
        with pytest.raises(ValueError, match="TMS\\(2, 1, bias=False\\)"):
            tms_population_critical_points(model, th, 0.5)
    for s in (-0.1, 1.5, math.nan, True, "0.5"):
        with pytest.raises(ValueError, match="s must be"):
            tms_population_critical_points(TMS21, th, s)
    with pytest.raises(ValueError, match="\\(B, 2\\)"):
        tms_population_critical_points(TMS21, torch.zeros(1, 3, dtype=f64), 0.5)
    with pytest.raises(ValueError, match="NaN|finite"):
        tms_population_critical_points(TMS21, torch.tensor([[math.nan, 1.0]]), 0.5)
    with pytest.raises(ValueError, match="max_tries"):
        tms_population_critical_points(TMS21, th, 0.5, max_tries=0)
