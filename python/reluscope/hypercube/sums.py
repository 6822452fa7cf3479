"""Exact sums over the hypercube for a batch of w: f, mass, delta, moments, log_partition.

Calls take (w, p, *, options): w (B, n) (or (n,) for one w, the result then has no batch
dimension) and a weight family p. They validate, choose the algorithm and dispatch to
``reluscope.hypercube._sweeps`` (or to the closed forms of ``Gaussian`` p).

Tie rule. <w,x> is a tie when |<w,x>| <= tol(w) = 4 n eps Σ|w_i| (eps of the dtype). Every sum the
kernels form is a sequential sum of at most n+1 terms of magnitude <= Σ|w_i|, so its rounding error
is below n eps Σ|w_i| / 2 + eps: exact ties (e.g. integer-valued w such as e_i + e_j) are always
detected, and since tol scales with w the classification, hence f, is invariant under w -> αw
(α > 0) except for w with some |<w,x>| within rounding of tol itself. Only the sign of <w,x> and
this rule enter f, so f(αw) = f(w) to the last bit (brute force, every family; meet in the middle
with Uniform weights — with Product weights mitm adds probabilities in sorted-sum order, which the
rounding of αw may permute among equal sums, so there it holds to rounding); for symmetric p
(p(x) = p(-x)) the brute-force sweep gives f(-w) = -f(w) to the last bit for every tie rule (pairs
{x, -x} share one sum).
"""
from __future__ import annotations

import math

import torch

from .._validate import as_float_tensor, check_finite, check_ndim
from . import _sweeps
from .gaussian import Gaussian, f_gaussian
from .vertices import vertex_bits
from .weights import Ising, Product, Table, Uniform, Weights

__all__ = ["METHODS", "TIES", "delta", "f", "log_partition", "mass", "moments", "tie_tolerance"]

#: The tie rules: the indicator's value at a tie.
TIES = {"include": 1.0, "exclude": 0.0, "half": 0.5}
METHODS = ("auto", "brute", "mitm")
_MITM_AUTO_MIN_N = 12      # method="auto" below this: brute force is as fast
_MOMENTS_MAX_N = 26        # moments of Ising/Table enumerate 2^n vertices with torch
_MOMENTS_BLOCK = 256       # vertices per matrix product in moments (its rounding error)


def tie_tolerance(w: torch.Tensor) -> torch.Tensor:
    """(B,) tie tolerance 4 n eps Σ|w_i| of each row of w (see the module docstring)."""
    n = w.shape[-1]
    return (4 * n * torch.finfo(w.dtype).eps) * w.abs().sum(-1)


def _tie_value(tie: str) -> float:
    if tie not in TIES:
        raise ValueError(f"tie must be one of {list(TIES)}, got {tie!r}")
    return TIES[tie]


def _check_w(w) -> tuple[torch.Tensor, bool]:
    """w as (B, n) contiguous and finite, and whether it came as one (n,) vector."""
    w = as_float_tensor(w, "w")
    check_ndim(w, "w", (1, 2), "(B, n) or (n,)")
    if w.shape[-1] < 1:
        raise ValueError(f"w must have n >= 1 columns, got shape {tuple(w.shape)}")
    check_finite(w, "w")
    squeeze = w.dim() == 1
    return (w.unsqueeze(0) if squeeze else w).contiguous(), squeeze


def _power_of_two_scale(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(w', e): each row of w times the power of two 2^-e that brings its largest |w_i| into
    [1/2, 1) (zero rows unchanged), and e (B, 1). Exact, and f, mass and δ's minimisers are
    invariant under positive scaling, so nothing changes except that no sum of n terms (nor the
    tie tolerance) can overflow or lose bits to subnormals, whatever the scale of w."""
    _, e = torch.frexp(w.abs().amax(1, keepdim=True))
    return _times_power_of_two(w, -e), e


def _times_power_of_two(t: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """t * 2^e, exactly where the result is a normal number: two factors, each a normal number
    whatever e in the float range."""
    half = torch.div(e, 2, rounding_mode="floor")
    two = torch.tensor(2.0, dtype=t.dtype, device=t.device)
    return t * two.pow(half) * two.pow(e - half)


def _check_family(p, n: int) -> None:
    if not isinstance(p, (Weights, Gaussian)):
        raise TypeError(f"p must be a hypercube weight family or Gaussian, got {type(p).__name__}")
    if p.n != n:
        raise ValueError(f"w must have n={p.n} columns for {p!r}, got n={n}")


def _choose(method: str, n: int, B: int, device: torch.device, product_form: bool) -> str:
    """The algorithm for a call: "brute" or "mitm"; ValueError when neither fits."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    dev = "cuda" if device.type == "cuda" else "cpu"
    if method == "auto":
        method = "mitm" if product_form and n >= _MITM_AUTO_MIN_N else "brute"
    if method == "mitm":
        if not product_form:
            raise ValueError("meet in the middle needs Uniform or Product weights (a product over "
                             "coordinates); use method='brute'")
        top = _sweeps.mitm_max_n(device)
        if n < 2 or n > top:
            raise ValueError(f"meet in the middle on {dev} handles 2 <= n <= {top}, got n={n}"
                             + ("; use method='brute'" if n < 2 else ""))
        return method
    lim = _sweeps.limits(device)
    if n > lim.brute_max_n or B * (1 << min(n, 62)) > lim.brute_max_work:
        largest = min(lim.brute_max_n, int(math.log2(lim.brute_max_work / max(B, 1))))
        hint = (f"; method='mitm' handles n <= {_sweeps.mitm_max_n(device)} for these weights"
                if product_form else "; meet in the middle needs Uniform or Product weights")
        raise ValueError(f"brute force over 2^{n} vertices for B={B} on {dev} is too large "
                         f"(it handles n <= {largest} at this B){hint}")
    return method


def _sums(w, p, tie: str, method: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(B, n+1) float64 [f, mass], w (B, n), and whether to drop the batch dimension."""
    w, squeeze = _check_w(w)
    _check_family(p, w.shape[1])
    tie_v = _tie_value(tie)
    w = _power_of_two_scale(w)[0]
    if isinstance(p, Gaussian):
        res = torch.cat([f_gaussian(w, p.Sigma).double(),
                         torch.full((w.shape[0], 1), 0.5, dtype=torch.float64, device=w.device)], 1)
        return res, w, squeeze
    if w.shape[0] == 0:
        return torch.zeros(0, p.n + 1, dtype=torch.float64, device=w.device), w, squeeze
    method = _choose(method, p.n, w.shape[0], w.device, p.product_form)
    run = _sweeps.mitm_sums if method == "mitm" else _sweeps.brute_sums
    return run(w, p, tie_tolerance(w), tie_v), w, squeeze


def f(w: torch.Tensor, p, *, tie: str = "include", method: str = "auto") -> torch.Tensor:
    """f(w) = Σ_x p(x) 1(<w,x> ≥ 0) x, exactly, for each row of w.

    Args:
        w: (B, n) or (n,), float32/float64, CPU or CUDA, finite.
        p: Uniform, Product, Ising, Table (or Gaussian: the closed form ``f_gaussian``).
        tie: the indicator's value where <w,x> = 0 (see the module docstring for the tolerance):
            "include" 1, "exclude" 0, "half" 1/2.
        method: "brute" (all 2^n vertices, every weight family, n ≤ 34 CPU / 32 CUDA, and
            B·2^n ≤ 2^38 on CPU), "mitm" (meet in the middle, Uniform/Product only, n ≤ 52 CPU /
            50 CUDA), "auto" (mitm where it applies and n ≥ 12, else brute). The limits come from
            the extension (``_core.hc_limits``).

    Returns:
        (B, n) (or (n,)) in w's dtype; sums are accumulated in float64.
    """
    res, w, squeeze = _sums(w, p, tie, method)
    out = res[:, :p.n].to(w.dtype)
    return out[0] if squeeze else out


def mass(w: torch.Tensor, p, *, tie: str = "include", method: str = "auto") -> torch.Tensor:
    """P(<w,X> ≥ 0) under p (tie rule as in ``f``): (B,) (or a scalar for 1-D w)."""
    res, w, squeeze = _sums(w, p, tie, method)
    out = res[:, p.n].to(w.dtype)
    return out[0] if squeeze else out


def delta(w: torch.Tensor, *, method: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """δ(w) = min_x |<w,x>| over {-1,+1}^n and a minimising vertex.

    Args:
        w: (B, n) or (n,), float32/float64, finite.
        method: "brute" (n ≤ 34 CPU / 32 CUDA), "mitm" (n ≤ 52 CPU / 50 CUDA), "auto".

    Returns:
        values (B,) = |<w, x*>| recomputed from the minimiser, and x* (B, n) of ±1 in w's dtype.
        When several vertices attain the minimum (x and −x always do; integer w often has more),
        which one comes back depends on the method and the device; the values do not.
    """
    w, squeeze = _check_w(w)
    B, n = w.shape
    method = _choose(method, n, max(B, 1), w.device, product_form=True)
    scaled, e = _power_of_two_scale(w)
    if B == 0:
        idx = torch.zeros(0, dtype=torch.int64, device=w.device)
    else:
        search = _sweeps.mitm_delta_index if method == "mitm" else _sweeps.brute_delta_index
        idx = search(scaled.contiguous())
    x = vertex_bits(idx, n).to(w.dtype)
    # summed at the scale the search used, then scaled back: the bits of (w x).sum() where no
    # partial sum overflows, and no overflow to inf where the minimum itself is finite
    values = _times_power_of_two((scaled * x).sum(-1, keepdim=True).abs(), e)[:, 0]
    return (values[0], x[0]) if squeeze else (values, x)


def log_partition(p: Ising, dtype=torch.float64, device=None) -> torch.Tensor:
    """log Σ_x exp(h·x + ½ xᵀJx) of an Ising family as a scalar tensor, by the brute-force sweep
    (n within the brute-force limits), computed once per dtype and device."""
    if not isinstance(p, Ising):
        raise TypeError(f"log_partition takes Ising weights, got {type(p).__name__}")
    device = torch.device(device or "cpu")
    _choose("brute", p.n, 1, device, product_form=False)
    shift, log_sum = _sweeps.log_partition_parts(p, dtype, device)
    return torch.tensor(shift, dtype=torch.float64).add(log_sum).to(dtype=dtype, device=device)


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
    starts = range(0, 1 << n, chunk)

    def chunk_vertices(k0):
        return vertex_bits(torch.arange(k0, k0 + chunk, device=device), n).double()

    if isinstance(p, Ising):  # weights exp(E - M) / S with M, S of the same energies (no log Z)
        J, h = p.J.to(device), p.h.to(device)

        def energy(x):
            return x @ h + 0.5 * ((x @ J) * x).sum(1)

        M = max(energy(chunk_vertices(k0)).max() for k0 in starts)
        S = sum(torch.exp(energy(chunk_vertices(k0)) - M).sum() for k0 in starts)
    # Sums over blocks of _MOMENTS_BLOCK vertices (batched matrix products), then over the blocks:
    # each entry errs by at most ~(_MOMENTS_BLOCK + 2^n / _MOMENTS_BLOCK + 3) u (a product summed
    # over a chunk's 2^16 vertices at once could err by 2^16 u in the worst case).
    blk = min(chunk, _MOMENTS_BLOCK)
    for k0 in starts:
        x = chunk_vertices(k0)
        pr = p.p[k0:k0 + chunk].to(device) if isinstance(p, Table) else \
            torch.exp(energy(x) - M) / S
        px = (x * pr[:, None]).view(-1, blk, n)
        mean += px.sum(1).sum(0)
        second += torch.bmm(px.transpose(1, 2), x.view(-1, blk, n)).sum(0)
    return mean.to(dtype), second.to(dtype)
