"""Loads the compiled extension and hands it torch's CUDA stream.

``_core`` is the extension (reluscope._core) as every module calls it: its functions take torch
tensors as DLPack capsules made by ``torch.utils.dlpack.to_dlpack`` (0.2 us a tensor) instead of
through ``Tensor.__dlpack__``, which nanobind calls for a tensor and which costs 2.3 us in torch
2.13 (its Python-level checks): a Hessian-kernel call on one network and 16 samples took 15-17 us
with it, 6-8 us with capsules. The capsule is the same zero-copy view (no stream
synchronisation either way: the kernels run on torch's current stream), keeps the tensor alive
while the extension holds it, and is consumed by the call. Everything else of the extension
(classes, enums, constants) is passed through unchanged."""
import functools

import torch
from torch.utils.dlpack import to_dlpack

from . import _core as _extension

__all__ = ["_core", "cuda_stream"]


def _taking_capsules(fn):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        for k, v in kwargs.items():
            if isinstance(v, torch.Tensor):
                kwargs[k] = to_dlpack(v)
        return fn(*[to_dlpack(x) if isinstance(x, torch.Tensor) else x for x in args], **kwargs)
    return call


class _Core:
    """reluscope._core with its functions taking tensors as DLPack capsules (module docstring);
    each wrapper made once, on first use."""

    def __getattr__(self, name: str):
        value = getattr(_extension, name)
        if type(value).__name__ == "nb_func":
            value = _taking_capsules(value)
        setattr(self, name, value)
        return value

    def __dir__(self):
        return dir(_extension)


_core = _Core()


def cuda_stream(t: torch.Tensor) -> int:
    """Handle of torch's current CUDA stream on t's device (0 for CPU tensors)."""
    if t.device.type != "cuda":
        return 0
    return torch.cuda.current_stream(t.device).cuda_stream
