"""Exact sums over the hypercube for a batch of w: f, mass, delta, moments.

Tie rule. <w,x> is a tie when |<w,x>| <= tol(w) = 4 n eps Σ|w_i| (eps of the dtype). Every sum the
kernels form is a sequential sum of at most n+1 terms of magnitude <= Σ|w_i|, so its rounding error
is below n eps Σ|w_i| / 2 + eps: exact ties (e.g. integer-valued w such as e_i + e_j) are always
detected, and since tol scales with w the classification, hence f, is invariant under w -> αw
(α > 0) except for w with some |<w,x>| within rounding of tol itself. Only the sign of <w,x> and
this rule enter f, so f(αw) = f(w) to the last bit (brute force, every family; meet in the middle
with Uniform weights — with Product weights mitm adds probabilities in sorted-sum order, which the
rounding of αw may permute among equal sums, so there it holds to rounding); for symmetric p (p(x) = p(-x)) the brute-force
sweep gives f(-w) = -f(w) to the last bit for every tie rule (pairs {x, -x} share one sum).
"""
from __future__ import annotations

import math

import torch

from .._ext import _core, cuda_stream
from .._validate import as_float_tensor, check_finite, check_ndim
from . import mitm_torch
from .weights import Gaussian, Ising, Product, Table, Uniform, Weights, subset_sums, vertex_bits

__all__ = ["delta", "f", "mass", "moments", "tie_tolerance"]

_TIES = {"include": 1.0, "exclude": 0.0, "half": 0.5}
_METHODS = ("auto", "brute", "mitm")
_CPU_CHUNK_BITS = 12       # pairs per chunk of the CPU sweep: 2^12 (buffers in L1/L2)
_CPU_GROUPS = 64           # fixed partials per w: the result does not depend on the thread count
_CUDA_CHUNKS_LOG2 = 16     # the CUDA sweep runs 2^16 chunks per w (one thread per chunk and w)
_BRUTE_MAX_N = {"cpu": 34, "cuda": 32}
_BRUTE_MAX_WORK = {"cpu": 1 << 38, "cuda": 1 << 44}   # B * 2^n: about a minute
_MITM_MAX_N = {"cpu": 52, "cuda": 50}
_MITM_AUTO_MIN_N = 12      # below this brute force is as fast
_MOMENTS_MAX_N = 26


def tie_tolerance(w: torch.Tensor) -> torch.Tensor:
    """(B,) tie tolerance 4 n eps Σ|w_i| of each row of w (see the module docstring)."""
    n = w.shape[-1]
    return (4 * n * torch.finfo(w.dtype).eps) * w.abs().sum(-1)


def _check_w(w, p) -> tuple[torch.Tensor, bool]:
    w = as_float_tensor(w, "w")
    check_ndim(w, "w", (1, 2), "(B, n) or (n,)")
    squeeze = w.dim() == 1
    w = w.unsqueeze(0) if squeeze else w
    if not isinstance(p, (Weights, Gaussian)):
        raise TypeError(f"p must be a hypercube weight family or Gaussian, got {type(p).__name__}")
    if w.shape[1] != p.n:
        raise ValueError(f"w must have n={p.n} columns for {p!r}, got shape {tuple(w.shape)}")
    check_finite(w, "w")
    return w.contiguous(), squeeze


def _tie_value(tie: str) -> float:
    if tie not in _TIES:
        raise ValueError(f"tie must be one of {list(_TIES)}, got {tie!r}")
    return _TIES[tie]


def _choose(method: str, p: Weights, B: int, device: torch.device, for_delta: bool = False) -> str:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}")
    dev = "cuda" if device.type == "cuda" else "cpu"
    n = p.n
    mitm_ok = for_delta or p.mitm_ok
    if method == "auto":
        method = "mitm" if mitm_ok and n >= _MITM_AUTO_MIN_N else "brute"
    if method == "mitm":
        if not mitm_ok:
            p.half_probabilities(1, torch.float64, device)  # raises the explanatory ValueError
        if n < 2 or n > _MITM_MAX_N[dev]:
            raise ValueError(f"meet in the middle on {dev} handles 2 <= n <= {_MITM_MAX_N[dev]}, "
                             f"got n={n}" + ("; use method='brute'" if n < 2 else ""))
        return method
    work = B * (1 << min(n, 62))
    if n > _BRUTE_MAX_N[dev] or work > _BRUTE_MAX_WORK[dev]:
        largest = min(_BRUTE_MAX_N[dev], int(math.log2(_BRUTE_MAX_WORK[dev] / max(B, 1))))
        hint = (f"; method='mitm' handles n <= {_MITM_MAX_N[dev]} for these weights" if mitm_ok
                else "; meet in the middle needs Uniform or Product weights")
        raise ValueError(f"brute force over 2^{n} vertices for B={B} on {dev} is too large "
                         f"(it handles n <= {largest} at this B){hint}")
    return method


def _chunking(n: int, device: torch.device) -> tuple[int, int]:
    """(c, groups): low bits per chunk and partial results per w."""
    if device.type == "cuda":
        c = max(0, n - 1 - _CUDA_CHUNKS_LOG2)
        return c, 1 << (n - 1 - c)
    c = min(n - 1, _CPU_CHUNK_BITS)
    return c, min(1 << (n - 1 - c), _CPU_GROUPS)


def _half_tables(w: torch.Tensor, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    """H (B, 2^(n-1-c)) over bits c..n-2 with x_{n-1} = -1, L (B, 2^c) over bits 0..c-1."""
    n = w.shape[1]
    H = subset_sums(w[:, c:n - 1]) - w[:, n - 1:n]
    return H.contiguous(), subset_sums(w[:, :c]).contiguous()


def _cuda_batch(n: int, c: int, per_item: int) -> int:
    """How many w the CUDA sweep takes at once so its partials stay near 256 MiB."""
    return max(1, (256 << 20) // (((1 << (n - 1 - c)) * per_item * 8)))


def _brute_sums(w: torch.Tensor, p: Weights, tie: float) -> torch.Tensor:
    n = p.n
    c, groups = _chunking(n, w.device)
    W = p.kernel_weights(c, w.dtype, w.device)
    tol = tie_tolerance(w)
    step = _cuda_batch(n, c, n + 1) if w.is_cuda else w.shape[0]
    parts = []
    for b in range(0, w.shape[0], step):
        wb = w[b:b + step]
        H, L = _half_tables(wb, c)
        out = torch.empty(groups, wb.shape[0], n + 1, dtype=torch.float64, device=w.device)
        _core.hc_brute_f(W, H, L, tol[b:b + step].contiguous(), tie, out, cuda_stream(w))
        parts.append(out.sum(0))
    return torch.cat(parts)


def _mitm_sums(w: torch.Tensor, p: Weights, tie: float) -> torch.Tensor:
    n = p.n
    hA = n // 2
    tol = tie_tolerance(w)
    if w.is_cuda:
        pA, pB = p.half_probabilities(hA, w.dtype, w.device)
        return mitm_torch.mitm_sums(w, pA, pB, hA, tol, tie)
    out = torch.empty(w.shape[0], n + 1, dtype=torch.float64)
    _core.hc_mitm_f(w, p.coordinate_q(w.dtype, w.device), hA, tol, tie, out)
    return out


def _sums(w, p, tie: str, method: str):
    w, squeeze = _check_w(w, p)
    tie_v = _tie_value(tie)
    if isinstance(p, Gaussian):
        from .dynamics import f_gaussian
        res = torch.cat([f_gaussian(w, p.Sigma).double(),
                         torch.full((w.shape[0], 1), 0.5, dtype=torch.float64, device=w.device)], 1)
        return res, w, squeeze
    if w.shape[0] == 0:
        return torch.zeros(0, p.n + 1, dtype=torch.float64, device=w.device), w, squeeze
    method = _choose(method, p, w.shape[0], w.device)
    res = _mitm_sums(w, p, tie_v) if method == "mitm" else _brute_sums(w, p, tie_v)
    return res, w, squeeze


def f(w: torch.Tensor, p, tie: str = "include", method: str = "auto") -> torch.Tensor:
    """f(w) = Σ_x p(x) 1(<w,x> ≥ 0) x, exactly, for each row of w.

    Args:
        w: (B, n) or (n,), float32/float64, CPU or CUDA, finite.
        p: Uniform, Product, Ising, Table (or Gaussian: the closed form ``f_gaussian``).
        tie: the indicator's value where <w,x> = 0 (see the module docstring for the tolerance):
            "include" 1, "exclude" 0, "half" 1/2.
        method: "brute" (all 2^n vertices, every weight family, n ≤ 34 CPU / 32 CUDA, and
            B·2^n ≤ 2^38 on CPU), "mitm" (meet in the middle, Uniform/Product only, n ≤ 52 CPU /
            50 CUDA), "auto" (mitm where it applies and n ≥ 12, else brute).

    Returns:
        (B, n) (or (n,)) in w's dtype; sums are accumulated in float64.
    """
    res, w, squeeze = _sums(w, p, tie, method)
    out = res[:, :p.n].to(w.dtype)
    return out[0] if squeeze else out


def mass(w: torch.Tensor, p, tie: str = "include", method: str = "auto") -> torch.Tensor:
    """P(<w,X> ≥ 0) under p (tie rule as in ``f``): (B,) (or a scalar for 1-D w)."""
    res, w, squeeze = _sums(w, p, tie, method)
    out = res[:, p.n].to(w.dtype)
    return out[0] if squeeze else out


def delta(w: torch.Tensor, method: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """δ(w) = min_x |<w,x>| over {-1,+1}^n and a minimising vertex.

    Args:
        w: (B, n) or (n,), float32/float64, finite.
        method: "brute" (n ≤ 34 CPU / 32 CUDA), "mitm" (n ≤ 52 CPU / 50 CUDA), "auto".

    Returns:
        values (B,) = |<w, x*>| recomputed from the minimiser, and x* (B, n) of ±1 in w's dtype.
        When several vertices attain the minimum (x and −x always do; integer w often has more),
        which one comes back depends on the method and the device; the values do not.
    """
    w = as_float_tensor(w, "w")
    check_ndim(w, "w", (1, 2), "(B, n) or (n,)")
    if w.shape[-1] < 1:
        raise ValueError(f"w must have n >= 1 columns, got shape {tuple(w.shape)}")
    check_finite(w, "w")
    squeeze = w.dim() == 1
    w = (w.unsqueeze(0) if squeeze else w).contiguous()
    n, B = w.shape[1], w.shape[0]
    method = _choose(method, Uniform(n), max(B, 1), w.device, for_delta=True)
    if B == 0:
        idx = torch.zeros(0, dtype=torch.int64, device=w.device)
    elif method == "mitm":
        if w.is_cuda:
            idx = mitm_torch.mitm_delta_index(w, n // 2)
        else:
            val = torch.empty(B, dtype=w.dtype)
            idx = torch.empty(B, dtype=torch.int64)
            _core.hc_mitm_delta(w, n // 2, val, idx)
    else:
        idx = _brute_delta_index(w)
    x = vertex_bits(idx, n).to(w.dtype)
    values = (w * x).sum(-1).abs()
    return (values[0], x[0]) if squeeze else (values, x)


def _brute_delta_index(w: torch.Tensor) -> torch.Tensor:
    n = w.shape[1]
    c, groups = _chunking(n, w.device)
    step = _cuda_batch(n, c, 2) if w.is_cuda else w.shape[0]
    parts = []
    for b in range(0, w.shape[0], step):
        wb = w[b:b + step]
        H, L = _half_tables(wb, c)
        val = torch.empty(groups, wb.shape[0], dtype=w.dtype, device=w.device)
        idx = torch.empty(groups, wb.shape[0], dtype=torch.int64, device=w.device)
        _core.hc_brute_delta(n, c, H, L, val, idx, cuda_stream(w))
        g = val.argmin(0)  # first group on ties: the smallest pair index
        parts.append(idx.gather(0, g[None])[0])
    return torch.cat(parts)


def ising_log_partition(p: Ising, dtype, device) -> torch.Tensor:
    """log Z of an Ising family by the brute-force sweep (used by ``Ising.log_partition``)."""
    n = p.n
    _choose("brute", p, 1, device)
    c, groups = _chunking(n, device)
    W = p.kernel_weights(c, dtype, device, log_z=0.0)
    out = torch.empty(groups, 2, dtype=torch.float64, device=device)
    _core.hc_log_partition(W, out, cuda_stream(out))
    return torch.logsumexp(out[:, 0] + out[:, 1].log(), 0).to(dtype)


def moments(p, dtype=torch.float64, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (n,) and second moment E[X Xᵀ] (n, n) of p (closed form for Uniform, Product and
    Gaussian; by enumeration in chunks for Ising and Table, n ≤ 26)."""
    n = p.n
    if isinstance(p, Gaussian):
        return p.Sigma.new_zeros(n), p.Sigma
    if isinstance(p, Uniform):
        return (torch.zeros(n, dtype=dtype, device=device),
                torch.eye(n, dtype=dtype, device=device))
    if isinstance(p, Product):
        m = (2 * p.q - 1).to(dtype=dtype, device=device)
        S = torch.outer(m, m)
        S.diagonal().fill_(1)
        return m, S
    if n > _MOMENTS_MAX_N:
        raise ValueError(f"moments of {p!r} enumerate 2^n vertices: n <= {_MOMENTS_MAX_N}, got {n}")
    mean = torch.zeros(n, dtype=torch.float64, device=device)
    second = torch.zeros(n, n, dtype=torch.float64, device=device)
    chunk = 1 << min(n, 16)
    log_z = p.log_partition(torch.float64, device) if isinstance(p, Ising) else None
    for k0 in range(0, 1 << n, chunk):
        x = vertex_bits(torch.arange(k0, k0 + chunk, device=device), n).double()
        if isinstance(p, Table):
            pr = p.p[k0:k0 + chunk].to(device)
        else:
            J, h = p.J.to(device), p.h.to(device)
            pr = torch.exp(x @ h + 0.5 * ((x @ J) * x).sum(1) - log_z)
        mean += pr @ x
        second += (x * pr[:, None]).T @ x
    return mean.to(dtype), second.to(dtype)
