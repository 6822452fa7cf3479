"""Input checks shared by every public call. They run once, in Python, before any kernel, and
raise TypeError/ValueError naming the offending argument and its shape, dtype or device."""
from __future__ import annotations

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def as_float_tensor(x, name: str) -> torch.Tensor:
    """x, checked: a float32/float64 torch.Tensor on the CPU or a CUDA device, and not one that
    requires grad while grad mode is on: the kernels compute no derivative with respect to their
    inputs (yet), so a result would be silently detached from the graph; that is an error."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
    if x.device.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} is on {x.device}; reluscope takes CPU or CUDA tensors")
    if x.requires_grad and torch.is_grad_enabled():
        raise NotImplementedError(
            f"{name} requires grad, but this reluscope call has no derivative with respect to it "
            f"(its result would be silently detached); pass {name}.detach(), or call it under "
            "torch.no_grad()")
    return x


def same_dtype_device(ref: torch.Tensor, ref_name: str, **others: torch.Tensor | None) -> None:
    for name, t in others.items():
        if t is None:
            continue
        if t.dtype != ref.dtype:
            raise TypeError(f"{name} is {t.dtype} but {ref_name} is {ref.dtype}; pass one dtype")
        if t.device != ref.device:
            raise ValueError(f"{name} is on {t.device} but {ref_name} is on {ref.device}")


def check_ndim(x: torch.Tensor, name: str, allowed: tuple[int, ...], what: str) -> None:
    if x.dim() not in allowed:
        raise ValueError(f"{name} must be {what}, got shape {tuple(x.shape)}")


def check_finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf")
