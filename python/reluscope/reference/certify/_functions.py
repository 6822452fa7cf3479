"""Enclosures of the activations (sigma, sigma', sigma'' over an interval) and the per-sample
losses (loss_math.h's conventions) as hyper-duals, for the certify reference."""
from __future__ import annotations

import mpmath
from mpmath import iv

from ._interval import (HD, hd_chain, hd_scale, hd_shift, hd_sum, hull, lower, precision,
                        upper)

_GUARD_BITS = 160          # erf series: extra bits over prec (its terms reach e^{x^2} < 2^145)
_ERF_SERIES_MAX = 10       # erf: Taylor series below |x| = 10, the erfc tail bound above


def erf_point(x: mpmath.mpf):
    """An interval containing erf(x) (see the module docstring)."""
    if x == 0:
        return iv.mpf(0)
    ax = abs(x)
    if ax >= _ERF_SERIES_MAX:
        X = iv.mpf(ax)   # 0 <= erfc(|x|) <= e^{-x^2} / (|x| sqrt(pi))
        y = 1 - iv.mpf([0, upper(iv.exp(-X ** 2) / (X * iv.sqrt(iv.pi)))])
    else:
        prec = iv.prec
        with precision(prec + _GUARD_BITS):
            X = iv.mpf(ax)
            X2, term, total, n = X ** 2, X, iv.mpf(0), 0   # term = (-1)^n x^{2n+1} / n!
            eps = mpmath.mpf(2) ** -(prec + 20)
            while True:
                t = term / (2 * n + 1)
                if n >= ax ** 2 and upper(abs(t)) < eps:   # terms decrease from here: |tail| <= |t|
                    total = total + iv.mpf([-upper(abs(t)), upper(abs(t))])
                    break
                total = total + t
                n += 1
                term = -term * X2 / n
            y = 2 / iv.sqrt(iv.pi) * total
        y = iv.mpf([lower(y), upper(y)])   # the same ends (exact), now in the caller's precision
    return y if x > 0 else -y


def erf(z):
    lo, hi = lower(z), upper(z)
    a = erf_point(lo)
    return a if lo == hi else hull(a, erf_point(hi))


def sigmoid(z):
    return 1 / (1 + iv.exp(-z))


def activation(name: str, z, slope: float):
    """(f0, f1, f2 or None, kink) over the interval z: enclosures of sigma, sigma', sigma''."""
    if name == "identity":
        return z, iv.mpf(1), None, False
    if name in ("relu", "leaky_relu"):
        s = iv.mpf(0 if name == "relu" else slope)
        if lower(z) > 0:
            return z, iv.mpf(1), None, False
        if upper(z) < 0:
            return s * z, s, None, False
        value = hull(s * iv.mpf([lower(z), 0]), iv.mpf([0, upper(z)]))
        return value, hull(s, iv.mpf(1)), None, True
    if name == "tanh":
        t = 1 - 2 / (iv.exp(2 * z) + 1)
        d1 = 1 - t ** 2
        return t, d1, -2 * t * d1, False
    if name == "sigmoid":
        s = sigmoid(z)
        d1 = s * (1 - s)
        return s, d1, d1 * (1 - 2 * s), False
    if name == "softplus":
        s = sigmoid(z)
        return iv.log1p(iv.exp(z)), s, s * (1 - s), False
    if name == "erf":
        d1 = 2 / iv.sqrt(iv.pi) * iv.exp(-z ** 2)
        return erf(z), d1, -2 * z * d1, False
    if name == "quadratic":
        return z ** 2, 2 * z, iv.mpf(2), False
    raise ValueError(f"unknown activation {name!r}")


def sample_loss(kind: str, y: list, t: list, w, imp: list) -> HD:
    """w l(y, t) for one sample (loss_math.h's conventions)."""
    if kind == "mse":
        terms = []
        for yj, tj, Ij in zip(y, t, imp):
            d = hd_shift(yj, -tj)
            terms.append(hd_scale(hd_chain(d, d.v ** 2, 2 * d.v, iv.mpf(2)), Ij))
        return hd_scale(hd_sum(terms), w)
    if kind == "bce_with_logits":
        terms = []
        for yj, tj, Ij in zip(y, t, imp):
            s = sigmoid(yj.v)
            sp = hd_chain(yj, iv.log1p(iv.exp(yj.v)), s, s * (1 - s))
            terms.append(hd_scale(hd_sum([sp, hd_scale(yj, -tj)]), Ij))
        return hd_scale(hd_sum(terms), w)
    if kind == "cross_entropy":
        exps = []
        for yj in y:
            e = iv.exp(yj.v)
            exps.append(hd_chain(yj, e, e, e))
        S = hd_sum(exps)
        lse = hd_chain(S, iv.log(S.v), 1 / S.v, -1 / S.v ** 2)
        it = [Ij * tj for tj, Ij in zip(t, imp)]
        s = sum(it, iv.mpf(0))
        return hd_scale(hd_sum([hd_scale(lse, s)] + [hd_scale(yj, -c) for yj, c in zip(y, it)]), w)
    raise ValueError(f"unknown loss {kind!r}")
