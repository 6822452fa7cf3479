"""The vertex convention of ``reluscope.hypercube`` and tables over subsets of coordinates.

Vertex k in [0, 2^n) is the x in {-1,+1}^n with x_i = +1 iff bit i of k is set.
"""
from __future__ import annotations

import torch

__all__ = ["subset_products", "subset_sums", "vertex_bits", "vertices"]


def vertex_bits(k: torch.Tensor, n: int) -> torch.Tensor:
    """(..., n) of ±1 for vertex indices k (int64 tensor): x_i = +1 iff bit i of k is set."""
    bits = (k.unsqueeze(-1) >> torch.arange(n, device=k.device)) & 1
    return bits * 2 - 1


def vertices(n: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """All 2^n vertices as a (2^n, n) tensor of ±1, row k = vertex k."""
    return vertex_bits(torch.arange(1 << n, device=device), n).to(dtype)


def subset_sums(w: torch.Tensor) -> torch.Tensor:
    """(B, m) -> (B, 2^m): entry k = sum_j w_j x_j(k), built by doubling in place (each entry is
    the same sequential sum of m terms, elementwise ops only, so -w gives exactly the negated
    table). O(B 2^m) time and memory."""
    B, m = w.shape
    s = w.new_zeros(B, 1 << m)
    for j in range(m):
        half, wj = 1 << j, w[:, j:j + 1]
        torch.add(s[:, :half], wj, out=s[:, half:2 * half])
        s[:, :half] -= wj
    return s


def subset_products(q: torch.Tensor) -> torch.Tensor:
    """(m,) -> (2^m,): entry k = prod_j (q_j if x_j(k) = +1 else 1 - q_j)."""
    p = q.new_ones(1)
    for j in range(q.shape[0]):
        p = torch.cat([p * (1 - q[j]), p * q[j]])
    return p
