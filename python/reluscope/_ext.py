"""Loads the compiled extension. torch is imported first: the torch CPU wheel ships its own
libgomp, which must be loaded before the extension's OpenMP runtime."""
import torch  # noqa: F401  (import order matters, see above)

from . import _core

__all__ = ["_core", "cuda_stream"]


def cuda_stream(t: torch.Tensor) -> int:
    """Handle of torch's current CUDA stream on t's device (0 for CPU tensors)."""
    if t.device.type != "cuda":
        return 0
    return torch.cuda.current_stream(t.device).cuda_stream
