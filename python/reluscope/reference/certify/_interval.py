"""Interval helpers of the certify reference (mpmath.iv): precision, ends, outward conversion to
float64, and second-order forward mode over intervals (``HD``: value, sparse gradient, sparse upper
Hessian; absent entries are exactly 0)."""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Optional

import mpmath
from mpmath import iv, mp

@contextmanager
def precision(prec: int):
    """iv.prec = mp.prec = prec inside the block (mpmath's contexts are global)."""
    old = iv.prec, mp.prec
    iv.prec = mp.prec = prec
    try:
        yield
    finally:
        iv.prec, mp.prec = old


def lower(x) -> mpmath.mpf:
    return mp.make_mpf(x._mpi_[0])


def upper(x) -> mpmath.mpf:
    return mp.make_mpf(x._mpi_[1])


def midpoint(x) -> mpmath.mpf:
    return (lower(x) + upper(x)) / 2


def magnitude(x):
    """max |x| over the interval x, as a point interval."""
    return iv.mpf(max(abs(lower(x)), abs(upper(x))))


def hull(*xs):
    return iv.mpf([min(lower(x) for x in xs), max(upper(x) for x in xs)])


def is_zero(x) -> bool:
    return lower(x) == 0 and upper(x) == 0


def outward(x) -> tuple[float, float]:
    """The float64 interval [lo, hi] containing x (lo rounded down, hi rounded up)."""
    lo, hi = lower(x), upper(x)
    a, b = float(lo), float(hi)
    while mp.mpf(a) > lo:
        a = math.nextafter(a, -math.inf)
    while mp.mpf(b) < hi:
        b = math.nextafter(b, math.inf)
    return a, b


def finite64(x) -> bool:
    """Whether both ends of x fit in float64's finite range (after outward rounding)."""
    return all(math.isfinite(v) for v in outward(x))


# ---------------------------------------------------------------------------------------------
# second-order forward mode: value, gradient {i: interval}, Hessian {(i, j), i <= j: interval}

class HD:
    """A hyper-dual number; absent gradient / Hessian entries are exactly 0. Never mutated."""

    __slots__ = ("v", "g", "h")

    def __init__(self, v, g: Optional[dict] = None, h: Optional[dict] = None):
        self.v, self.g, self.h = v, {} if g is None else g, {} if h is None else h


def _acc(d: dict, k, x) -> None:
    d[k] = d[k] + x if k in d else x


def hd_sum(terms) -> HD:
    v, g, h = iv.mpf(0), {}, {}
    for t in terms:
        v = v + t.v
        for k, x in t.g.items():
            _acc(g, k, x)
        for k, x in t.h.items():
            _acc(h, k, x)
    return HD(v, g, h)


def hd_scale(a: HD, c) -> HD:
    """c a for an interval constant c."""
    return HD(c * a.v, {k: c * x for k, x in a.g.items()}, {k: c * x for k, x in a.h.items()})


def hd_shift(a: HD, c) -> HD:
    """a + c for an interval constant c."""
    return HD(a.v + c, a.g, a.h)


def hd_mul(a: HD, b: HD) -> HD:
    """a b: gradient a g_b + b g_a, Hessian a H_b + b H_a + g_a g_b^T + g_b g_a^T."""
    g = {k: a.v * x for k, x in b.g.items()}
    for k, x in a.g.items():
        _acc(g, k, b.v * x)
    h = {k: a.v * x for k, x in b.h.items()}
    for k, x in a.h.items():
        _acc(h, k, b.v * x)
    for i, ai in a.g.items():
        for j, bj in b.g.items():
            t = ai * bj
            if i == j:
                _acc(h, (i, i), t + t)
            else:
                _acc(h, (i, j) if i < j else (j, i), t)
    return HD(a.v * b.v, g, h)


def hd_chain(a: HD, f0, f1, f2) -> HD:
    """f(a) from enclosures f0, f1, f2 of f, f', f'' over a's value interval (f2 None: 0)."""
    g = {k: f1 * x for k, x in a.g.items()}
    h = {k: f1 * x for k, x in a.h.items()}
    if f2 is not None:
        items = list(a.g.items())
        for p, (i, gi) in enumerate(items):
            for j, gj in items[p:]:
                _acc(h, (i, j) if i < j else (j, i), f2 * (gi ** 2 if i == j else gi * gj))
    return HD(f0, g, h)
