"""Reference hypercube sums by plain enumeration of all 2^n vertices with torch (matmuls over
vertex chunks of 2^16, so memory stays bounded; time O(B n 2^n), meant for n <= 20). The calls take
the arguments of ``reluscope.hypercube``'s (``method`` is accepted so the signatures match; the
reference always enumerates) and apply the same tie rule."""
from __future__ import annotations

import torch

from ..hypercube.sums import METHODS, TIES, tie_tolerance
from ..hypercube.vertices import vertex_bits

__all__ = ["delta", "f", "mass", "moments"]

_CHUNK = 1 << 16


def _chunks(n, dtype, device):
    for k0 in range(0, 1 << n, _CHUNK):
        k = torch.arange(k0, min(k0 + _CHUNK, 1 << n), device=device)
        yield k, vertex_bits(k, n).to(dtype)


def _batched(w: torch.Tensor, method: str) -> tuple[torch.Tensor, bool]:
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    return (w[None], True) if w.dim() == 1 else (w, False)


def _sums(w, p, tie):
    """(B, n+1) float64 [f, mass] with the tie rule of reluscope.hypercube."""
    n = w.shape[1]
    probs = p.probabilities(torch.float64, w.device)
    tol = tie_tolerance(w)[:, None]
    out = torch.zeros(w.shape[0], n + 1, dtype=torch.float64, device=w.device)
    for k, x in _chunks(n, w.dtype, w.device):
        s = w @ x.T
        ind = torch.where(s > tol, 1.0, torch.where(s < -tol, 0.0, TIES[tie])).double()
        pi = ind * probs[k]
        out[:, :n] += pi @ x.double()
        out[:, n] += pi.sum(1)
    return out


def f(w: torch.Tensor, p, *, tie: str = "include", method: str = "auto") -> torch.Tensor:
    """(B, n) Σ_x p(x) 1(<w,x> ≥ 0) x in w's dtype ((n,) for one w)."""
    wb, squeeze = _batched(w, method)
    out = _sums(wb, p, tie)[:, :wb.shape[1]].to(w.dtype)
    return out[0] if squeeze else out


def mass(w: torch.Tensor, p, *, tie: str = "include", method: str = "auto") -> torch.Tensor:
    """(B,) P(<w,X> ≥ 0) (a scalar for one w)."""
    wb, squeeze = _batched(w, method)
    out = _sums(wb, p, tie)[:, wb.shape[1]].to(w.dtype)
    return out[0] if squeeze else out


def delta(w: torch.Tensor, *, method: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) min_x |<w,x>| and a minimising vertex (B, n) (the first in vertex order)."""
    wb, squeeze = _batched(w, method)
    B, n = wb.shape
    best = torch.full((B,), float("inf"), dtype=w.dtype, device=w.device)
    arg = torch.zeros(B, dtype=torch.int64, device=w.device)
    for k, x in _chunks(n, w.dtype, w.device):
        v, i = (wb @ x.T).abs().min(1)
        better = v < best
        best, arg = torch.where(better, v, best), torch.where(better, k[i], arg)
    x = vertex_bits(arg, n).to(w.dtype)
    return (best[0], x[0]) if squeeze else (best, x)


def moments(p, dtype=torch.float64, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (n,) and E[X Xᵀ] (n, n) by enumeration."""
    x = vertex_bits(torch.arange(1 << p.n, device=device), p.n).double()
    pr = p.probabilities(torch.float64, device)
    return (pr @ x).to(dtype), ((x * pr[:, None]).T @ x).to(dtype)
