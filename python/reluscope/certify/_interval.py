"""Rigorous float64 interval linear algebra in midpoint-radius form, for the certificate's small
P x P matrices (Krawczyk operator, congruence V^T H V, orthogonality defect of V).

An interval matrix is (c, r): every real matrix A with |A - c| <= r entrywise. Nothing here
changes the rounding mode: every radius is a rigorous upper bound computed in round-to-nearest
from a-priori error bounds (Higham, Accuracy and Stability, Thm 3.5): a computed dot product of
length n — any summation order, with or without FMA — is within gamma_n |a|.|b| of the exact one,
gamma_n = n u / (1 - n u), u = 2^-53; a computed sum of n non-negative terms is at least
(1 - gamma_n) times the exact one. ``up`` turns such a computed non-negative bound into a rigorous
one, and every product adds n eta (eta = 2^-1074, the underflow of each product). Assumptions:
IEEE 754 binary64 in round-to-nearest, torch's matmul a sum of products in some order (no Strassen),
as MKL / OpenBLAS / cuBLAS dgemm are. Cost: a few matmuls of the operands' size.
"""
from __future__ import annotations

import torch

U = 2.0 ** -53
ETA = 2.0 ** -1074


def gamma(n: int) -> float:
    """An upper bound of gamma_n = n u / (1 - n u) (rounded generously)."""
    return 1.01 * (n + 2) * U / (1 - (n + 2) * U)


def up(x: torch.Tensor, n: int = 1) -> torch.Tensor:
    """A rigorous upper bound of the exact value of a non-negative quantity whose computed value is
    x, when computing it took at most n rounding errors of relative size u on non-negative terms
    (so exact <= x / (1 - gamma_n)), plus the underflow of n products."""
    g = gamma(n)
    return torch.nextafter(x * (1 + 2 * g) + n * ETA, torch.full_like(x, torch.inf))


def from_bounds(lohi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(lo, hi) in the last dimension -> (c, r) with [lo, hi] inside [c - r, c + r]."""
    lo, hi = lohi[..., 0], lohi[..., 1]
    c = lo / 2 + hi / 2
    return c, up(torch.maximum(c - lo, hi - c), 2)


def to_bounds(c: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """(c, r) -> (lo, hi) stacked in the last dimension, rounded outward."""
    inf = torch.full_like(c, torch.inf)
    return torch.stack([torch.nextafter(c - r, -inf), torch.nextafter(c + r, inf)], -1)


def matmul(A: torch.Tensor, B: torch.Tensor, Br: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The point matrix A (..., m, n) times the interval matrix (B, Br) (..., n, k) (Br None: B is
    a point matrix): (C, R) with A (B ± Br) inside C ± R.
    |fl(A B) - A B| <= gamma_n |A| |B| and |A| Br adds the operand's radius."""
    n = A.shape[-1]
    Aa = A.abs()
    C = A @ B
    R = gamma(n) * (Aa @ B.abs())
    if Br is not None:
        R = R + Aa @ Br
    return C, up(R, n + 2)


def rmatmul(A: torch.Tensor, Ar: torch.Tensor, B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The interval matrix (A, Ar) (..., m, n) times the point matrix B (..., n, k)."""
    C, R = matmul(B.transpose(-1, -2), A.transpose(-1, -2), Ar.transpose(-1, -2))
    return C.transpose(-1, -2), R.transpose(-1, -2)


def identity_minus(C: torch.Tensor, R: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """I - (C ± R): one subtraction per diagonal entry, its rounding added to the radius."""
    eye = torch.eye(C.shape[-1], dtype=C.dtype, device=C.device)
    D = eye - C
    return D, up(R + U * D.abs() * eye, 2)


def gershgorin(C: torch.Tensor, R: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper ends of the Gershgorin intervals of every symmetric matrix in (C ± R)
    (..., n, n), per row (..., n): [c_ii - r_ii - rho_i, c_ii + r_ii + rho_i],
    rho_i = sum_{j != i} (|c_ij| + r_ij), rounded outward."""
    n = C.shape[-1]
    off = (C.abs() + R) * (1 - torch.eye(n, dtype=C.dtype, device=C.device))
    rad = up(off.sum(-1) + R.diagonal(0, -2, -1), n + 2)
    d = C.diagonal(0, -2, -1)
    inf = torch.full_like(d, torch.inf)
    return torch.nextafter(d - rad, -inf), torch.nextafter(d + rad, inf)


def orthogonality_defect(V: torch.Tensor) -> torch.Tensor:
    """A rigorous upper bound of ||V^T V - I||_F for the point matrices V (..., n, n) (so every
    squared singular value of V lies in [1 - e, 1 + e])."""
    G, R = matmul(V.transpose(-1, -2), V)
    n = V.shape[-1]
    D = (G - torch.eye(n, dtype=V.dtype, device=V.device)).abs()
    E = up(D + R, 2)
    return up(torch.sqrt(up((E * E).sum((-1, -2)), n * n + 2)), 2)
