"""Loads the compiled extension (reluscope._core) and hands it torch's CUDA stream."""
import torch

from . import _core

__all__ = ["_core", "cuda_stream"]


def cuda_stream(t: torch.Tensor) -> int:
    """Handle of torch's current CUDA stream on t's device (0 for CPU tensors)."""
    if t.device.type != "cuda":
        return 0
    return torch.cuda.current_stream(t.device).cuda_stream
