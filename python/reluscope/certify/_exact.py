"""Exact float64 sums with a known rounding direction (math.fsum), for ``structure``'s certified
bounds: no rounding-mode change, no libm."""
from __future__ import annotations

import math
from fractions import Fraction

import torch


def abs_sums_up(M: torch.Tensor, v: torch.Tensor, Y: torch.Tensor) -> list[list[float]]:
    """Per model and output j: an upper bound on sum over rows r of |(M v - Y)_rj|. M's entries
    are 0, +-1 and kappa in {0, 1}, so every term M_ri v_ij is exact, and ``sum_up`` bounds
    each exact sum from above."""
    Ml, vl, Yl = M.cpu().tolist(), v.cpu().tolist(), Y.cpu().tolist()
    out = []
    for Mb, vb, Yb in zip(Ml, vl, Yl):
        cols = [[(mi, i) for i, mi in enumerate(Mr) if mi] for Mr in Mb]
        res = [[[mi * vb[i][j] for mi, i in cr] + [-y[j]] for cr, y in zip(cols, Yb)]
               for j in range(len(Yb[0]))]
        out.append([sum_up(max(sum_up(t), sum_up([-x for x in t])) for t in rj) for rj in res])
    return out


def sum_up(xs) -> float:
    """The smallest float64 >= the exact sum of the float64 values xs. math.fsum rounds the
    exact sum correctly, so the exact sum is s + e with e exact and fsum(xs + [-s]) of e's sign
    (a nonzero sum of float64 values is a multiple of 2^-1074: it never rounds to 0)."""
    xs = list(xs)
    try:
        s = math.fsum(xs)
        return math.nextafter(s, math.inf) if math.fsum(xs + [-s]) > 0 else s
    except OverflowError:
        return math.inf


def up(x: Fraction) -> float:
    """The smallest float64 >= x (inf beyond the float range)."""
    try:
        f = float(x)
    except OverflowError:
        return math.inf
    return math.nextafter(f, math.inf) if Fraction(f) < x else f
