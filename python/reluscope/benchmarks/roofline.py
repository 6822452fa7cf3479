"""The roofline columns of ``reluscope bench`` (CPU cases of the Hessian-family kernels): the
achieved GFLOP/s of a case, from the operation count of the math headers
(``_core.hess_flops``: 2 x the multiply-adds of hessian_math.h's matrix products, counted once in
csrc/hessian/hessian_flops.h), and its fraction of the machine's peak, measured once per run by
a multiply-add microbenchmark in the vector ISA the kernels use (``_core.cpu_peak``,
csrc/common/peak_cpu.cpp) on every pool thread."""
from __future__ import annotations

import torch

from .._ext import _core
from .harness import Result

_PEAK: dict = {}


def peak_gflops(dtype: torch.dtype) -> float:
    """The best of 5 runs of the microbenchmark (about 0.1 s each here), cached per dtype."""
    size = torch.empty((), dtype=dtype).element_size()
    if size not in _PEAK:
        best = 0.0
        for _ in range(5):
            flops, seconds = _core.cpu_peak(size, 5 * 10 ** 7 // _core.max_threads())
            best = max(best, flops / seconds / 1e9)
        _PEAK[size] = best
    return _PEAK[size]


def hess_flops(model, mode: str, N: int, B: int, K: int = 0) -> float:
    """Operations of one fused pass of mode ("loss" = a forward pass, "grad", "hvp", "gnvp")
    over B networks, N samples and K directions."""
    return float(B) * N * _core.hess_flops(model.spec, getattr(_core.HessMode, mode), K)


def annotate(result: Result, flops: float, dtype: torch.dtype) -> Result:
    """Add GFLOP/s and % of peak to a CPU result (a CUDA one is returned unchanged)."""
    if result.device == "cpu":
        achieved = flops / result.ours_s / 1e9
        peak = peak_gflops(dtype)
        result.extra.update({"GFLOP/s": achieved, "peak GFLOP/s": peak,
                             "% of peak": 100 * achieved / peak})
    return result
