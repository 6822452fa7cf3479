"""Reference hypercube sums by plain enumeration of all 2^n vertices with torch (matmuls over
vertex chunks of 2^16, so memory stays bounded; time O(B n 2^n), meant for n <= 20)."""
from __future__ import annotations

import torch

from ..hypercube.sums import tie_tolerance
from ..hypercube.weights import vertex_bits

__all__ = ["delta", "f", "mass", "moments"]

_CHUNK = 1 << 16
_TIES = {"include": 1.0, "exclude": 0.0, "half": 0.5}


def _chunks(n, dtype, device):
    for k0 in range(0, 1 << n, _CHUNK):
        k = torch.arange(k0, min(k0 + _CHUNK, 1 << n), device=device)
        yield k, vertex_bits(k, n).to(dtype)


def _sums(w, p, tie):
    """(B, n+1) float64 [f, mass] with the same tie rule as reluscope.hypercube."""
    n = w.shape[1]
    probs = p.probabilities(torch.float64, w.device)
    tol = tie_tolerance(w)[:, None]
    out = torch.zeros(w.shape[0], n + 1, dtype=torch.float64, device=w.device)
    for k, x in _chunks(n, w.dtype, w.device):
        s = w @ x.T
        ind = torch.where(s > tol, 1.0, torch.where(s < -tol, 0.0, _TIES[tie])).double()
        pi = ind * probs[k]
        out[:, :n] += pi @ x.double()
        out[:, n] += pi.sum(1)
    return out


def f(w: torch.Tensor, p, tie: str = "include") -> torch.Tensor:
    """(B, n) Σ_x p(x) 1(<w,x> ≥ 0) x in w's dtype."""
    return _sums(w, p, tie)[:, :w.shape[1]].to(w.dtype)


def mass(w: torch.Tensor, p, tie: str = "include") -> torch.Tensor:
    """(B,) P(<w,X> ≥ 0)."""
    return _sums(w, p, tie)[:, w.shape[1]].to(w.dtype)


def delta(w: torch.Tensor) -> torch.Tensor:
    """(B,) min_x |<w,x>|."""
    best = torch.full((w.shape[0],), float("inf"), dtype=w.dtype, device=w.device)
    for _, x in _chunks(w.shape[1], w.dtype, w.device):
        best = torch.minimum(best, (w @ x.T).abs().min(1).values)
    return best


def moments(p, dtype=torch.float64):
    """Mean (n,) and E[X Xᵀ] (n, n) by enumeration."""
    x = vertex_bits(torch.arange(1 << p.n), p.n).double()
    pr = p.probabilities(torch.float64)
    return (pr @ x).to(dtype), ((x * pr[:, None]).T @ x).to(dtype)
