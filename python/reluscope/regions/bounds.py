"""Upper bounds on the number of linear regions of a ReLU network (widths [n0, n1, ..., nL, out])."""
from __future__ import annotations

import numbers
from functools import lru_cache
from math import comb
from typing import Sequence

from ..models.base import check_widths as _check_widths

__all__ = ["zaslavsky", "serra", "trivial"]


def zaslavsky(n_in: int, n_hidden: int) -> int:
    """Regions of an arrangement of n_hidden hyperplanes in general position in R^n_in:
    sum_{i <= n_in} C(n_hidden, i) (Zaslavsky). Exact for one hidden layer in general position.
    n_in, n_hidden: integers >= 0 (2.0 is 2; 2.5 is an error)."""
    for name, v in (("n_in", n_in), ("n_hidden", n_hidden)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be an integer, got {type(v).__name__} {v!r}")
        if int(v) != v:
            raise ValueError(f"{name} must be an integer, got {v!r}")
    if n_in < 0 or n_hidden < 0:
        raise ValueError(f"n_in and n_hidden must be >= 0, got {n_in}, {n_hidden}")
    n_in, n_hidden = int(n_in), int(n_hidden)
    return sum(comb(n_hidden, i) for i in range(n_in + 1))


def serra(widths: Sequence[int]) -> int:
    """Serra, Tjandraatmadja & Ramalingam (2018, Thm. 1) bound for a deep ReLU net:
    sum over (j_1..j_L) in J of prod_l C(n_l, j_l), with
    J = {0 <= j_l <= min(n_0, n_1 - j_1, ..., n_{l-1} - j_{l-1}, n_l)}. Equals Zaslavsky's count
    for one hidden layer."""
    widths = _check_widths(widths)
    n0, hidden = widths[0], widths[1:-1]

    @lru_cache(maxsize=None)
    def f(l: int, d: int) -> int:  # d = min(n_0, n_1 - j_1, ..., n_{l-1} - j_{l-1})
        if l == len(hidden):
            return 1
        n = hidden[l]
        return sum(comb(n, j) * f(l + 1, min(d, n - j)) for j in range(min(d, n) + 1))

    return f(0, n0)


def trivial(widths: Sequence[int], ternary: bool = False) -> int:
    """2^(#hidden neurons): one region per on/off pattern. With ``ternary=True``, the seed's
    3^(#hidden neurons) (signs in {-, 0, +}), which also counts the lower-dimensional sign cells;
    for full-dimensional linear regions 2^N already holds."""
    widths = _check_widths(widths)
    return (3 if ternary else 2) ** sum(widths[1:-1])
