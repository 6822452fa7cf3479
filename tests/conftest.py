import pytest
import torch

DTYPES = [torch.float32, torch.float64]
#: Tolerances for comparing a kernel with its torch reference (max abs error relative to the scale).
RTOL = {torch.float32: 1e-5, torch.float64: 1e-12}

#: Values of RELUSCOPE_CPU_ISA: each caps the compiled vector variant the lane-tiled CPU launchers
#: run (common/cpu_isa.h), so one machine tests every variant it can execute.
CPU_ISAS = ["generic", "avx2", "avx512"]

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max(1, max |b|)."""
    scale = max(1.0, b.abs().max().item()) if b.numel() else 1.0
    return (a - b).abs().max().item() / scale if a.numel() else 0.0
