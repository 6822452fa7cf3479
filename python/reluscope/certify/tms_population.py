"""certify.tms_population_critical_points: proofs about the critical points of the *population* loss
of the phase-transition talk's model (``../shared/seeds/``: TMS with 2 features in 1 dimension, no
bias, f(x) = relu(W^T W x), W = (w1, w2)), where the kinks cross the data's support and a
sample-based enclosure cannot apply.

The loss: x_i = 0 with probability s, else x_i ~ U[0, 1], independently;
L(w) = E ||x - relu(W^T W x)||^2 (``Data``'s mse convention: no 1/2, importance 1). Closed forms,
derived here by sympy's exact integration (not copied from the slides), on closed regions of the
w-plane:
  * w1 w2 >= 0: every pre-activation w_i (w . x) is >= 0 on the support, L = L_same (a polynomial);
  * w1 <= 0 <= w2: unit 1 is active where x1 > r x2, unit 2 where x1 < r x2 (r = -w2 / w1); the
    kink line x1 = r x2 leaves the square through its top edge when r <= 1 (w1 + w2 <= 0:
    L = L_a, a polynomial over 12 w1) and through its right edge when r >= 1 (w1 + w2 >= 0:
    L = L_b, over 12 w2); the edges x2 = 0 and x1 = 0 have unit 2, resp. 1, off;
  * w1 >= 0 >= w2: L(w) = L(-w) (W^T W is even in w).
L_a and L_b agree to second order on w1 + w2 = 0 (checked symbolically by the tests), so L is C^2 on
each open quadrant; across an axis its gradient jumps (w_i = 0 puts the kink of unit i on the whole
square), so a box that meets an axis is ``not_certified`` with ``Reason.kink``.

What is proved, per network: the steps of ``critical.decide`` (Krawczyk's test, the curvature
tests, no critical point by the mean-value form) on enclosures of L and its Hessian over the box
and of the gradient at theta-hat: every expression (L, 2 gradient and 3 Hessian entries per region)
is evaluated in mpmath interval arithmetic at 113 bits (outward rounding; rational coefficients as
exact quotients) over the box, and the hull is taken over the regions the box meets (a formula
evaluated on the whole box encloses L on its part of the box). On an open quadrant the gradient is
C^1, so the hull of the Hessians is a valid slope set for Krawczyk's operator. s is taken as its
exact float64 value. Cost: O(terms) interval operations per network and radius, ~ms; a Python path
for this 2-parameter model, not a kernel.
"""
from __future__ import annotations

import functools
import math
import numbers

import torch
from mpmath import iv

from .._certificate import Certificate, Enclosure, Flag
from .._validate import as_float_tensor, check_finite
from ..models.tms import TMS
from ..reference.certify._interval import hull, lower, outward, precision, upper
from .critical import decide

__all__ = ["closed_forms", "tms_population_critical_points"]

_PREC = 113


def tms_population_critical_points(model: TMS, theta, s: float, *, max_tries: int = 6
                                   ) -> Certificate:
    """Certify the critical points near theta-hat of the population loss of TMS(2, 1, bias=False).

    model: ``TMS(2, 1, bias=False)``; theta: (B, 2) or (2,) (w1, w2), float32 or float64 (used as
    the exact float64 point); s: sparsity in [0, 1]. max_tries: radii tried in Krawczyk's test.

    Returns a ``Certificate`` of (B,) tensors (squeezed for a single theta), as
    ``critical_points``: sound under the module docstring's assumptions.
    """
    if not isinstance(model, TMS) or (model.n_features, model.n_hidden, model.bias) != (2, 1, False):
        raise ValueError(f"tms_population_critical_points takes TMS(2, 1, bias=False) (the talk's "
                         f"model), got {model!r}")
    if isinstance(s, bool) or not isinstance(s, numbers.Real) or not 0 <= float(s) <= 1:
        raise ValueError(f"s must be a real in [0, 1], got {s!r}")
    if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
        raise ValueError(f"max_tries must be a positive int, got {max_tries!r}")
    theta = as_float_tensor(theta, "theta")
    single = theta.ndim == 1
    th = theta[None] if single else theta
    if th.ndim != 2 or th.shape[1] != 2:
        raise ValueError(f"theta must be (B, 2) or (2,), got {tuple(theta.shape)}")
    check_finite(th, "theta")
    th = th.to(torch.float64)
    s = float(s)

    def point():
        E = _enclose(th, torch.zeros(th.shape[0], dtype=torch.float64), s)
        mid = lambda t: (t[..., 0] + t[..., 1]) / 2  # noqa: E731 (float estimates only)
        return mid(E.grad), mid(E.hess)

    def enc(r, rows):
        return _enclose(th[rows], r, s)

    cert = decide(enc, point, th, max_tries)
    return Certificate(*(t[0] for t in cert)) if single else cert


@functools.cache
def closed_forms():
    """{region: (L, dL/dw1, dL/dw2, d2L/dw1^2, d2L/dw1dw2, d2L/dw2^2)} as sympy expressions in
    (w1, w2, s), for the regions 'same' (w1 w2 >= 0), 'a' (w1 <= 0 <= w2, w1 + w2 <= 0) and 'b'
    (w1 <= 0 <= w2, w1 + w2 >= 0); the symbols are ``closed_forms.symbols``. Derived by exact
    integration (module docstring)."""
    import sympy as sp

    w1, w2, s, x1, x2, r = sp.symbols("w1 w2 s x1 x2 r", real=True)
    z = w1 * x1 + w2 * x2
    I = sp.integrate
    both = (x1 - w1 * z) ** 2 + (x2 - w2 * z) ** 2
    only1 = (x1 - w1 * z) ** 2 + x2 ** 2            # unit 2 off
    only2 = x1 ** 2 + (x2 - w2 * z) ** 2            # unit 1 off
    edges_same = I((x1 - w1 ** 2 * x1) ** 2 + (w1 * w2 * x1) ** 2, (x1, 0, 1)) \
        + I((w1 * w2 * x2) ** 2 + (x2 - w2 ** 2 * x2) ** 2, (x2, 0, 1))
    edges_mixed = I((x1 - w1 ** 2 * x1) ** 2, (x1, 0, 1)) + I((x2 - w2 ** 2 * x2) ** 2, (x2, 0, 1))
    square = {"same": I(both, (x1, 0, 1), (x2, 0, 1)),
              "a": I(only1, (x1, r * x2, 1), (x2, 0, 1)) + I(only2, (x1, 0, r * x2), (x2, 0, 1)),
              "b": I(only1, (x2, 0, x1 / r), (x1, 0, 1)) + I(only2, (x2, x1 / r, 1), (x1, 0, 1))}
    out = {}
    for name, sq in square.items():
        edges = edges_same if name == "same" else edges_mixed
        L = sp.cancel(s * (1 - s) * edges + (1 - s) ** 2 * sq.subs(r, -w2 / w1))
        g = [sp.cancel(sp.diff(L, v)) for v in (w1, w2)]
        h = [sp.cancel(sp.diff(L, u, v)) for u, v in ((w1, w1), (w1, w2), (w2, w2))]
        out[name] = tuple([L] + g + h)
    closed_forms.symbols = (w1, w2, s)
    return out


@functools.cache
def _terms():
    """closed_forms as (numerator terms, denominator terms) per expression, each term (i, j, k,
    p, q): the monomial p/q w1^i w2^j s^k."""
    import sympy as sp

    forms = closed_forms()
    w1, w2, s = closed_forms.symbols

    def terms(e):
        return tuple((*m, int(c.p), int(c.q)) for m, c in sp.Poly(e, w1, w2, s).terms())

    return {name: tuple(tuple(terms(part) for part in sp.fraction(sp.together(e)))
                        for e in exprs) for name, exprs in forms.items()}


def _enclose(theta: torch.Tensor, radius: torch.Tensor, s: float) -> Enclosure:
    """Enclosure (the ``critical.EncloseFn`` contract) of B networks' population loss and Hessian
    over theta +- radius and gradient at theta."""
    B = theta.shape[0]
    loss = torch.full((B, 2), math.nan, dtype=torch.float64)
    grad = torch.full((B, 2, 2), math.nan, dtype=torch.float64)
    hess = torch.full((B, 2, 2, 2), math.nan, dtype=torch.float64)
    flags = torch.zeros(B, dtype=torch.int32)
    with precision(_PREC):
        S = iv.mpf(s)
        for b, ((t1, t2), r) in enumerate(zip(theta.tolist(), radius.tolist())):
            R = iv.mpf([-r, r])
            box = (iv.mpf(t1) + R, iv.mpf(t2) + R)
            if any(lower(W) <= 0 <= upper(W) for W in box):
                flags[b] = int(Flag.KINK)
                continue
            L, = _values(box, S, (0,))
            G = _values((iv.mpf(t1), iv.mpf(t2)), S, (1, 2))
            h11, h12, h22 = _values(box, S, (3, 4, 5))
            ends = [outward(x) for x in (L, *G, h11, h12, h22)]
            if not all(math.isfinite(v) for e in ends for v in e):
                flags[b] = int(Flag.NONFINITE)
            f64 = dict(dtype=torch.float64)
            loss[b] = torch.tensor(ends[0], **f64)
            grad[b] = torch.tensor(ends[1:3], **f64)
            hess[b] = torch.tensor([[ends[3], ends[4]], [ends[4], ends[5]]], **f64)
    return Enclosure(loss, grad, hess, flags)


def _values(box, S, which) -> list:
    """The hull, over the regions the box meets, of the expressions ``which`` (indices into
    closed_forms' tuples), for a box in an open quadrant; w1 > 0 > w2 through L(w) = L(-w) (the
    gradient's sign flips, the Hessian's does not)."""
    W1, W2 = box
    flip = 1
    if (upper(W1) < 0) == (upper(W2) < 0):
        regions = ["same"]
    else:
        if upper(W1) > 0:                    # w1 > 0 > w2: evaluate at -w
            W1, W2, flip = -W1, -W2, -1
        total = W1 + W2
        regions = [name for name, ok in (("a", lower(total) <= 0), ("b", upper(total) >= 0)) if ok]
    forms = _terms()
    return [hull(*((flip if k in (1, 2) else 1) * _ratio(forms[name][k], W1, W2, S)
                   for name in regions)) for k in which]


def _ratio(parts, W1, W2, S):
    """numerator / denominator, each a sum of exact rational monomials p/q w1^i w2^j s^k, in
    interval arithmetic."""
    num, den = (sum((iv.mpf(p) / q * W1 ** i * W2 ** j * S ** k for i, j, k, p, q in t),
                    iv.mpf(0)) for t in parts)
    return num / den
