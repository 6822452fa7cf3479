"""Reference certificates of critical points in mpmath interval arithmetic; see the package
docstring (steps a-e, what is proved)."""
from __future__ import annotations

import math

import mpmath
import torch
from mpmath import iv, mp

from ..._certificate import Certificate, Reason, Verdict
from ...data import Data
from ._interval import finite64, is_zero, lower, magnitude, midpoint, outward, precision, upper
from .enclose import enclose_one, network_rows

__all__ = ["critical_points"]

_SINGULAR = 1e-12          # hessian_singular: min |lambda| <= _SINGULAR max |lambda| of mid(H0)
_TINY = 1e-300             # added to every tried radius (a box for a zero Newton step)


def _matmul(A: list, B: list) -> list:
    n, m, p = len(A), len(B), len(B[0])
    return [[sum((A[i][k] * B[k][j] for k in range(m)), iv.mpf(0)) for j in range(p)]
            for i in range(n)]


def _transpose(A: list) -> list:
    return [list(col) for col in zip(*A)]


def _curvature(Hbox: list):
    """(verdict minimum / saddle / None, index_lower, lambda_min interval) of the interval matrix
    Hbox (steps d and e of the module docstring)."""
    P = len(Hbox)
    E, Q = mp.eigsy(mp.matrix([[midpoint(v) for v in row] for row in Hbox]))
    V = [[iv.mpf(Q[i, j]) for j in range(P)] for i in range(P)]
    Vt = _transpose(V)
    G = _matmul(Vt, V)
    eps_o = upper(iv.sqrt(sum(((G[i][j] - (1 if i == j else 0)) ** 2
                               for i in range(P) for j in range(P)), iv.mpf(0))))
    M = _matmul(Vt, _matmul(Hbox, V))
    mag = [[magnitude(v) for v in row] for row in M]
    if eps_o >= 1:
        return None, 0, iv.mpf([-mpmath.inf, mpmath.inf])
    low = [lower(M[i][i] - sum((mag[i][j] for j in range(P) if j != i), iv.mpf(0)))
           for i in range(P)]
    s = 1 + iv.mpf([-eps_o, eps_o])
    lam = iv.mpf([min(low), min(upper(M[i][i]) for i in range(P))]) / s
    if min(low) > 0:
        return Verdict.minimum, 0, lam
    for k in range(sum(1 for i in range(P) if E[i] < 0), 0, -1):
        if all(upper(M[i][i] + sum((mag[i][j] for j in range(k) if j != i), iv.mpf(0))) < 0
               for i in range(k)):
            return Verdict.saddle, k, lam
    return None, 0, lam


def _certify_one(model, th, X, T, w, imp, kind, max_tries):
    """(verdict, radius, loss interval or None, lambda_min interval or None, index, reason)."""
    enc = lambda r: enclose_one(model, th, X, T, w, imp, kind, r)  # noqa: E731
    L0, g0, H0, kink = enc(0.0)
    if kink:
        return Verdict.not_certified, math.nan, None, None, 0, Reason.kink
    if not all(finite64(v) for v in [L0, *g0, *(v for row in H0 for v in row)]):
        return Verdict.not_certified, math.nan, None, None, 0, Reason.nonfinite
    P = len(g0)
    if all(is_zero(v) for v in g0):
        verdict, k, lam = _curvature(H0)
        if verdict is None:
            return Verdict.critical_degenerate, 0.0, L0, lam, 0, Reason.none
        return verdict, 0.0, L0, lam, k, Reason.none
    Hm = mp.matrix([[midpoint(v) for v in row] for row in H0])
    ev = [abs(e) for e in mp.eigsy(Hm, eigvals_only=True)]
    if min(ev) <= _SINGULAR * max(ev):
        return Verdict.not_certified, math.nan, None, None, 0, Reason.hessian_singular
    Cm = mp.inverse(Hm)
    C = [[iv.mpf(Cm[i, j]) for j in range(P)] for i in range(P)]
    r0 = max(sum(abs(Cm[i, j] * midpoint(g0[j]))
                 + abs(Cm[i, j]) * (upper(g0[j]) - lower(g0[j])) / 2 for j in range(P))
             for i in range(P))
    Cg = [sum((C[i][j] * g0[j] for j in range(P)), iv.mpf(0)) for i in range(P)]
    for k in range(max_tries):
        r = float(r0) * 2.0 * 4.0 ** k + _TINY
        if not math.isfinite(r):
            return Verdict.not_certified, math.nan, None, None, 0, Reason.existence_not_proved
        L, _, H, kink = enc(r)
        if kink:
            return Verdict.not_certified, math.nan, None, None, 0, Reason.kink
        X_ = iv.mpf([-r, r])
        CH = _matmul(C, H)
        K = [-Cg[i] + sum((((1 if i == j else 0) - CH[i][j]) * X_ for j in range(P)),
                          iv.mpf(0)) for i in range(P)]
        if all(lower(v) > -r and upper(v) < r for v in K):
            verdict, idx, lam = _curvature(H)
            if verdict is None:
                return (Verdict.not_certified, math.nan, None, None, 0,
                        Reason.curvature_unresolved)
            return verdict, r, L, lam, idx, Reason.none
    rows = [sum(abs(midpoint(v)) for v in row) for row in H0]
    ratios = [q for q in (float(abs(midpoint(g0[i])) / (2 * rows[i]))
                          for i in range(P) if rows[i] > 0) if q > 0]
    r = min([r] + ratios)
    if r > 0:
        L, _, H, kink = enc(r)
        X_ = iv.mpf([-r, r])
        mean_value = [g0[i] + sum((H[i][j] * X_ for j in range(P)), iv.mpf(0)) for i in range(P)]
        if not kink and any(lower(v) > 0 or upper(v) < 0 for v in mean_value):
            return Verdict.no_critical_point, r, L, None, 0, Reason.none
    return Verdict.not_certified, math.nan, None, None, 0, Reason.existence_not_proved


def critical_points(model, theta: torch.Tensor, data: Data, *, prec: int = 113,
                    max_tries: int = 6) -> Certificate:
    """Certified critical points of the loss around each theta-hat (steps a-e of the module
    docstring), in mpmath interval arithmetic at ``prec`` bits.

    theta (B, P). Returns ``Certificate`` of (B,) tensors: verdict, radius, loss (B, 2),
    lambda_min (B, 2), index_lower, reason (int64 codes of ``Verdict`` / ``Reason``; float64
    enclosures rounded outward).
    """
    if int(max_tries) != max_tries or max_tries < 1:
        raise ValueError(f"max_tries must be a positive integer, got {max_tries!r}")
    rows, imp, kind = network_rows(model, theta, data)
    B = len(rows)
    nan2 = (math.nan, math.nan)
    out = {k: [] for k in ("verdict", "radius", "loss", "lambda_min", "index_lower", "reason")}
    with precision(prec):
        for th, X, T, w in rows:
            verdict, r, L, lam, idx, reason = _certify_one(model, th, X, T, w, imp, kind,
                                                           int(max_tries))
            out["verdict"].append(int(verdict))
            out["radius"].append(r)
            out["loss"].append(nan2 if L is None else outward(L))
            out["lambda_min"].append(nan2 if lam is None else outward(lam))
            out["index_lower"].append(idx)
            out["reason"].append(int(reason))
    f64, i64 = torch.float64, torch.int64
    return Certificate(torch.tensor(out["verdict"], dtype=i64),
                       torch.tensor(out["radius"], dtype=f64),
                       torch.tensor(out["loss"], dtype=f64).reshape(B, 2),
                       torch.tensor(out["lambda_min"], dtype=f64).reshape(B, 2),
                       torch.tensor(out["index_lower"], dtype=i64),
                       torch.tensor(out["reason"], dtype=i64))
