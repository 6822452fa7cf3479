"""The compiled hypercube sweeps behind ``reluscope.hypercube.sums`` — the only module of the
package that calls the extension. It reads the limits and chunking from C++ (``_core.hc_limits``,
``_core.hc_brute_plan``), builds the tables each weight family needs (``_core.WeightTables``),
allocates the partial sums and adds them in a fixed order (results do not depend on the thread
count). Meet in the middle runs compiled on the CPU and as torch ops (sort, searchsorted, cumsum)
on CUDA; the torch version is also the CPU version's independent cross-check.

Inputs are validated by the caller: w (B, n) contiguous and finite, tol (B,) the tie tolerance,
tie the indicator's value at a tie.
"""
from __future__ import annotations

import os
import weakref

import torch

from .._ext import _core, cuda_stream
from .vertices import subset_products, subset_sums, vertices
from .weights import Ising, Product, Table, Uniform, Weights

#: The torch meet in the middle (CUDA) handles n up to this: ~160 bytes 2^(n/2) per w at the peak.
TORCH_MITM_MAX_N = 50
_TORCH_MITM_GROUP_BYTES = 4 << 30  # w per torch group: the peak memory stays near this


def limits(device: torch.device) -> _core.HcLimits:
    """What the compiled sweeps handle on this device."""
    return _core.hc_limits(device.type == "cuda")


def mitm_max_n(device: torch.device) -> int:
    return TORCH_MITM_MAX_N if device.type == "cuda" else limits(device).mitm_max_n


def _brute_plan(n: int, B: int, device: torch.device, values_per_w: int) -> _core.HcBrutePlan:
    return _core.hc_brute_plan(n, B, device.type == "cuda", values_per_w)


def _weight_tables(p: Weights, c: int, dtype, device,
                   log_z: tuple[float, float] = (0.0, 0.0)) -> _core.WeightTables:
    """The compiled sweep's view of p for chunks of c low bits (log_z: Ising's log Z as
    (largest energy, log of the shifted sum), see log_partition_parts)."""
    kind, n = _core.WeightKind, p.n
    if isinstance(p, Uniform):
        return _core.WeightTables(kind.uniform, n, c, 2.0 ** -n, 0.0, 0.0, None, None, None, None,
                                  None, None)
    if isinstance(p, Product):
        q = p.param(p.q, dtype, device)
        return _core.WeightTables(kind.product, n, c, 0.0, 0.0, 0.0,
                                  subset_products(q[:c]).contiguous(), None,
                                  subset_products(q[c:]).contiguous(), None, None, None)
    if isinstance(p, Ising):
        J, h = p.param(p.J, dtype, device), p.param(p.h, dtype, device)
        x = vertices(c, dtype, device)
        lo = (0.5 * ((x @ J[:c, :c]) * x).sum(1)).contiguous()
        return _core.WeightTables(kind.ising, n, c, 0.0, *log_z, lo, (x @ h[:c]).contiguous(),
                                  None, J, h, None)
    if isinstance(p, Table):
        return _core.WeightTables(kind.table, n, c, 0.0, 0.0, 0.0, None, None, None, None, None,
                                  p.param(p.p, dtype, device))
    raise TypeError(f"no compiled sweep for {type(p).__name__} weights")


def _half_tables(w: torch.Tensor, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    """H (B, 2^(n-1-c)) over bits c..n-2 with x_{n-1} = -1, L (B, 2^c) over bits 0..c-1."""
    n = w.shape[1]
    H = subset_sums(w[:, c:n - 1]) - w[:, n - 1:n]
    return H.contiguous(), subset_sums(w[:, :c]).contiguous()


_LOG_Z: "weakref.WeakKeyDictionary[Ising, dict]" = weakref.WeakKeyDictionary()


def log_partition_parts(p: Ising, dtype, device: torch.device) -> tuple[float, float]:
    """log Σ_x exp(E(x)), E = h·x + ½ xᵀJx, by the brute-force sweep, as (M, log S) with M the
    largest energy the sweep computes and S = Σ_x exp(E(x) - M): the f sweep then forms
    p(x) = exp((E(x) - M) - log S), which keeps its bits where log Z itself would absorb them
    (huge couplings). Cached per (p, dtype, device)."""
    cache = _LOG_Z.setdefault(p, {})
    key = (dtype, device)
    if key not in cache:
        plan = _brute_plan(p.n, 1, device, 2)
        out = torch.empty(plan.groups, 2, dtype=torch.float64, device=device)
        _core.hc_log_partition(_weight_tables(p, plan.chunk_bits, dtype, device), out,
                               stream=cuda_stream(out))
        m, s = out[:, 0], out[:, 1]
        M = m.max()
        cache[key] = (M.item(), torch.log((s * torch.exp(m - M)).sum()).item())
    return cache[key]


def brute_sums(w: torch.Tensor, p: Weights, tol: torch.Tensor, tie: float) -> torch.Tensor:
    """(B, n+1) float64 [f (n), mass] by visiting all 2^n vertices."""
    n, B = p.n, w.shape[0]
    plan = _brute_plan(n, B, w.device, n + 1)
    log_z = log_partition_parts(p, w.dtype, w.device) if isinstance(p, Ising) else (0.0, 0.0)
    W = _weight_tables(p, plan.chunk_bits, w.dtype, w.device, log_z)
    parts = []
    for b in range(0, B, plan.batch):
        H, L = _half_tables(w[b:b + plan.batch], plan.chunk_bits)
        out = torch.empty(plan.groups, H.shape[0], n + 1, dtype=torch.float64, device=w.device)
        _core.hc_brute_f(W, H, L, tol[b:b + plan.batch].contiguous(), tie, out,
                         stream=cuda_stream(w))
        parts.append(out.sum(0))
    return torch.cat(parts)


def brute_delta_index(w: torch.Tensor) -> torch.Tensor:
    """(B,) int64 index of a vertex minimising |<w,x>|, by visiting all 2^n vertices."""
    B, n = w.shape
    plan = _brute_plan(n, B, w.device, 2)
    parts = []
    for b in range(0, B, plan.batch):
        H, L = _half_tables(w[b:b + plan.batch], plan.chunk_bits)
        val = torch.empty(plan.groups, H.shape[0], dtype=w.dtype, device=w.device)
        idx = torch.empty(plan.groups, H.shape[0], dtype=torch.int64, device=w.device)
        _core.hc_brute_delta(n, plan.chunk_bits, H, L, val, idx, stream=cuda_stream(w))
        g = val.argmin(0)  # first group on ties: the smallest pair index
        parts.append(idx.gather(0, g[None])[0])
    return torch.cat(parts)


def _available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable on Linux), or 0 if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def _check_mitm_memory(n: int, B: int, f: bool) -> None:
    """MemoryError, before anything is allocated, when the compiled meet in the middle's threads
    (for f, else delta) would need more memory than is available."""
    threads = min(B, _core.max_threads())
    per_thread = _core.hc_mitm_thread_bytes(n, f)
    available = _available_memory()
    if available and threads * per_thread > available:
        raise MemoryError(f"meet in the middle at n={n} needs about "
                          f"{threads * per_thread / 2**30:.1f} GiB ({threads} thread(s) x "
                          f"{per_thread / 2**30:.2f} GiB) but {available / 2**30:.1f} GiB are "
                          "available; use a smaller n or fewer threads (RELUSCOPE_NUM_THREADS)")


def mitm_sums(w: torch.Tensor, p: Weights, tol: torch.Tensor, tie: float) -> torch.Tensor:
    """(B, n+1) float64 [f (n), mass] by meet in the middle (product-form p)."""
    n = p.n
    if w.is_cuda:
        pA, pB = p.half_probabilities(n // 2, w.dtype, w.device)
        return torch_mitm_sums(w, pA, pB, n // 2, tol, tie)
    _check_mitm_memory(n, w.shape[0], f=True)
    out = torch.empty(w.shape[0], n + 1, dtype=torch.float64)
    _core.hc_mitm_f(w, p.coordinate_q(w.dtype, w.device), n // 2, tol, tie, out)
    return out


def mitm_delta_index(w: torch.Tensor) -> torch.Tensor:
    """(B,) int64 index of a vertex minimising |<w,x>|, by meet in the middle."""
    n = w.shape[1]
    if w.is_cuda:
        return torch_mitm_delta_index(w, n // 2)
    _check_mitm_memory(n, w.shape[0], f=False)
    val = torch.empty(w.shape[0], dtype=w.dtype)
    idx = torch.empty(w.shape[0], dtype=torch.int64)
    _core.hc_mitm_delta(w, n // 2, val, idx)
    return idx


# ---- meet in the middle with torch ops: O(2^(n/2) n) per w -----------------------------------

def _torch_group(n: int) -> int:
    return max(1, _TORCH_MITM_GROUP_BYTES // (160 << (n - n // 2)))


def _fold(c: torch.Tensor) -> torch.Tensor:
    """(B, 2^h) -> (B, h): column i = Σ_k c[:, k] x_i(k)."""
    B, size = c.shape
    h = size.bit_length() - 1
    cols = []
    for i in range(h):
        s = c.view(B, size >> (i + 1), 2, 1 << i).sum((1, 3))
        cols.append(s[:, 1] - s[:, 0])
    return torch.stack(cols, 1) if cols else c.new_zeros(B, 0)


def _side_mass(sX, pX, sY, pY, tol, tie):
    """c[:, a] = pX[a] * Σ_{b : sX[a] + sY[b] >= 0 under the tie rule} pY[b]."""
    vY, iY = sY.sort(dim=1, stable=True)
    cum = pY.double()[iY].cumsum(1)
    total = cum[:, -1:]

    def below(pos):  # Σ pY over the first `pos` sorted entries
        return torch.where(pos > 0, cum.gather(1, (pos - 1).clamp(min=0)), 0.0)

    gi = total - below(torch.searchsorted(vY, (-sX - tol[:, None]).contiguous(), side="left"))
    ge = total - below(torch.searchsorted(vY, (-sX + tol[:, None]).contiguous(), side="right"))
    return pX.double() * (ge + tie * (gi - ge))


def torch_mitm_sums(w, pA, pB, hA: int, tol, tie: float) -> torch.Tensor:
    """(B, n+1) float64 [f (n), mass] for p(x) = pA(x_A) pB(x_B), A = bits [0, hA)."""
    step = _torch_group(w.shape[1])
    out = []
    for b in range(0, w.shape[0], step):
        wb, tb = w[b:b + step], tol[b:b + step]
        sA, sB = subset_sums(wb[:, :hA]), subset_sums(wb[:, hA:])
        cA = _side_mass(sA, pA, sB, pB, tb, tie)
        cB = _side_mass(sB, pB, sA, pA, tb, tie)
        out.append(torch.cat([_fold(cA), _fold(cB), cA.sum(1, keepdim=True)], 1))
    return torch.cat(out)


def torch_mitm_delta_index(w, hA: int) -> torch.Tensor:
    """(B,) int64 index of a vertex minimising |<w,x>|."""
    step = _torch_group(w.shape[1])
    out = []
    for b in range(0, w.shape[0], step):
        wb = w[b:b + step]
        sA, sB = subset_sums(wb[:, :hA]), subset_sums(wb[:, hA:])
        vB, iB = sB.sort(dim=1)
        pos = torch.searchsorted(vB, (-sA).contiguous())
        best_v, best_j = None, None
        for j in (pos - 1, pos):
            j = j.clamp(0, vB.shape[1] - 1)
            v = (sA + vB.gather(1, j)).abs()
            if best_v is None:
                best_v, best_j = v, j
            else:
                better = v < best_v
                best_v, best_j = torch.where(better, v, best_v), torch.where(better, j, best_j)
        a = best_v.argmin(1)
        kb = iB.gather(1, best_j.gather(1, a[:, None]))[:, 0]
        out.append(a | (kb << hA))
    return torch.cat(out)
