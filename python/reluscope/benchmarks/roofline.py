"""The roofline columns of ``reluscope bench`` (CPU cases of the Hessian-family kernels): the
achieved GFLOP/s of a case, from the operation count of the math headers
(``_core.hess_flops``: 2 x the multiply-adds of hessian_math.h's matrix products, counted once in
csrc/hessian/hessian_flops.h), and its fraction of the machine's peak, measured once per run by
a multiply-add microbenchmark in the vector ISA the kernels use (``_core.cpu_peak``,
csrc/common/peak_cpu.cpp) on every pool thread; and a bound: those operations at peak plus the
forward pass's activations at the rate of the kernels' own activation code (with derivatives the
faster of the general tile's lane loop and the small-net path's vectors), measured the same way
(``_core.cpu_activation_rate``, csrc/hessian/act_rate_cpu.cpp). The two compete for the same
vector units, so no kernel doing this work runs much faster than the bound: "% of bound" says how
close a case is, "ratio at bound" the torch ratio it would have there (for sigmoid networks the
activations alone can cap it below a target)."""
from __future__ import annotations

import torch

from .._ext import _core
from .harness import Result

_PEAK: dict = {}
_ACT_RATE: dict = {}


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


def activation_rate(act: int, dtype: torch.dtype, derivatives: bool) -> float:
    """Evaluations per second of activation ``act`` (a ``_core.Activation`` value) on all pool
    threads, with sigma' and sigma'' when ``derivatives``: the best of 5 runs of 0.01-0.05 s here,
    cached."""
    size = torch.empty((), dtype=dtype).element_size()
    key = (int(act), size, derivatives)
    if key not in _ACT_RATE:
        _ACT_RATE[key] = max(evals / seconds for evals, seconds in (
            _core.cpu_activation_rate(int(act), size, 2 * 10 ** 7, derivatives)
            for _ in range(5)))
    return _ACT_RATE[key]


def activation_seconds(model, samples: int, dtype: torch.dtype, derivatives: bool) -> float:
    """The time a forward pass over ``samples`` (network, sample) pairs spends in activations at
    the measured rate: sum over the layers of samples x width / rate (the identity costs none)."""
    return sum(samples * width / activation_rate(act, dtype, derivatives)
               for act, width in model.spec.layer_activations
               if act != int(_core.Activation.identity))


def hess_flops(model, mode: str, N: int, B: int, K: int = 0, *, units: bool = False,
               loss: str = "mse") -> float:
    """Operations of one fused pass of mode ("loss" = a forward pass, "grad", "hvp", "gnvp")
    over B networks, N samples and K directions; ``units``: the P unit directions of a full
    Hessian instead, as the CPU computes them with this loss (``_core.hess_unit_flops``: each
    pass from its parameter's layer up, or for the students' shape J's outer products)."""
    code = getattr(_core.HessMode, mode)
    per_sample = (_core.hess_unit_flops(model.spec, code, getattr(_core.Loss, loss)) if units
                  else _core.hess_flops(model.spec, code, K))
    return float(B) * N * per_sample


def annotate(result: Result, flops: float, dtype: torch.dtype, model=None, samples: int = 0,
             derivatives: bool = True) -> Result:
    """Add GFLOP/s, % of peak and the bound (flops at peak, plus with ``model`` the activations
    of its forward pass over ``samples`` (network, sample) pairs: ``activation_seconds``) to a CPU
    result (a CUDA one is returned unchanged)."""
    if result.device == "cpu":
        achieved = flops / result.ours_s / 1e9
        peak = peak_gflops(dtype)
        bound = flops / (peak * 1e9)
        if model is not None:
            bound += activation_seconds(model, samples, dtype, derivatives)
        result.extra.update({"GFLOP/s": achieved, "peak GFLOP/s": peak,
                             "% of peak": 100 * achieved / peak, "bound s": bound,
                             "% of bound": 100 * bound / result.ours_s,
                             "ratio at bound": result.reference_s / bound})
    return result
