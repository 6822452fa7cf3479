"""Input checks and conversions shared by every public call. They run once, in Python, before any
kernel, and raise TypeError/ValueError naming the offending argument and its shape, dtype or
device."""
from __future__ import annotations

import math
import numbers
import sys
from typing import Optional

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD

#: Largest dense (B, P, P) result the engines build (``hessian`` to_dense, ``certify``'s
#: Hessian enclosures), in bytes; re-exported as ``reluscope.hessian.HESSIAN_MAX_BYTES``.
HESSIAN_MAX_BYTES = 4 << 30

FLOAT_DTYPES = (torch.float32, torch.float64)


def as_tensor(x, name: str, like: Optional[torch.Tensor] = None,
              dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """x as a torch.Tensor: tensors as they are; numpy arrays with their own dtype; nested lists and
    Python numbers like ``torch.as_tensor``, with ``dtype`` or else the dtype of a floating
    ``like`` (else inferred: int64 for integers); non-tensors land on ``like``'s device. Anything
    else is a TypeError naming x, and so is a tensor that is not dense (sparse, mkldnn)."""
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided:
            raise TypeError(f"{name} must be a dense tensor, got layout {x.layout}; pass "
                            f"{name}.to_dense()")
        return x
    device = None if like is None else like.device
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a tensor or array of numbers, got a numpy array of "
                            f"{x.dtype}")
        return torch.as_tensor(x, device=device)
    if isinstance(x, (list, tuple, int, float)) and not isinstance(x, bool):
        if dtype is None and like is not None and like.is_floating_point():
            dtype = like.dtype
        try:
            return torch.as_tensor(x, dtype=dtype, device=device)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"{name}: cannot convert {type(x).__name__} to a tensor ({e})") from None
    raise TypeError(f"{name} must be a torch.Tensor (or a numpy array or nested list), "
                    f"got {type(x).__name__}")


def as_float_tensor(x, name: str, like: Optional[torch.Tensor] = None, *,
                    differentiable: bool = False) -> torch.Tensor:
    """x as a float32/float64 tensor on the CPU or a CUDA device (converted by ``as_tensor``; a
    list of integers becomes torch's default float dtype, or like's). Unless the call is
    ``differentiable`` in x, x may not require grad while grad mode is on: the result would be
    silently detached from the graph; that is an error naming x."""
    t = as_tensor(x, name, like)
    if not isinstance(x, (torch.Tensor, np.ndarray)) and not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if t.device.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} is on {t.device}; reluscope takes CPU or CUDA tensors")
    if not differentiable:
        forbid_grad(t, name)
    return t


def is_one_model(theta) -> bool:
    """Whether theta, as the caller passed it, is one model's (P,) parameters (not (B, P))."""
    if isinstance(theta, torch.Tensor):
        return theta.dim() == 1
    return isinstance(theta, (list, tuple, np.ndarray)) and np.ndim(theta) == 1


def forbid_grad(x: torch.Tensor, name: str) -> None:
    """NotImplementedError when x requires grad under grad mode, or carries a forward-mode tangent
    (no derivative in x here), naming x and the reluscope function called."""
    if x.requires_grad and torch.is_grad_enabled():
        raise NotImplementedError(
            f"{name} requires grad, but {_called_function()} has no derivative with respect to it "
            f"(its result would be silently detached); pass {name}.detach(), or call it under "
            "torch.no_grad()")
    if has_tangent(x):
        raise tangent_error(name, _called_function())


def has_tangent(x: torch.Tensor) -> bool:
    """Whether x carries a forward-mode tangent: a forward_ad dual tensor, or torch.func.jvp's
    (jvp, jacfwd) where its transform is the innermost (under an inner vmap it is hidden; the
    custom ops' jvp rules refuse it there). False while torch.compile traces."""
    if torch.compiler.is_compiling():
        return False
    if fwAD._current_level < 0 and not torch._C._are_functorch_transforms_active():
        return False
    if (torch._C._functorch.is_functorch_wrapped_tensor(x)
            and not torch._C._functorch.is_gradtrackingtensor(x)):
        return False  # vmap's batched or functionalize's wrapper: no tangent at this level
    return fwAD.unpack_dual(x, level=0).tangent is not None


def tangent_error(name: str, function: str) -> NotImplementedError:
    """The error for a forward-mode tangent in an argument without a derivative."""
    return NotImplementedError(
        f"{name} carries a forward-mode tangent (torch.func.jvp, jacfwd, forward_ad), but "
        f"{function} has no derivative with respect to it (the tangent would be silently "
        f"dropped); pass {name} without one (torch.autograd.forward_ad.unpack_dual({name})"
        ".primal)")


def _called_function() -> str:
    """The reluscope function the user called: the outermost reluscope frame on the stack."""
    frame, called = sys._getframe(1), "this reluscope call"
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.split(".")[0] == "reluscope":
            if frame.f_code.co_name == "__init__" and "self" in frame.f_locals:
                cls = type(frame.f_locals["self"])  # the class constructed, not a base
                called = f"{cls.__module__}.{cls.__qualname__}"
            else:
                called = f"{module}.{getattr(frame.f_code, 'co_qualname', frame.f_code.co_name)}"
        frame = frame.f_back
    return called


def same_dtype_device(ref: torch.Tensor, ref_name: str, **others: torch.Tensor | None) -> None:
    for name, t in others.items():
        if t is None:
            continue
        if t.dtype != ref.dtype:
            raise TypeError(f"{name} is {t.dtype} but {ref_name} is {ref.dtype}; pass one dtype")
        if t.device != ref.device:
            raise ValueError(f"{name} is on {t.device} but {ref_name} is on {ref.device}")


def check_count(x, name: str, low: int = 0) -> int:
    """x as an int >= low (ValueError otherwise, naming x; bools and 2.0 are not ints)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < low:
        raise ValueError(f"{name} must be an int >= {low}, got {x!r}")
    return int(x)


def check_ndim(x: torch.Tensor, name: str, allowed: tuple[int, ...], what: str) -> None:
    if x.dim() not in allowed:
        raise ValueError(f"{name} must be {what}, got shape {tuple(x.shape)}")


def values_visible(*tensors: torch.Tensor) -> bool:
    """Whether checks that read tensor values can run: not while torch.compile traces, and not on
    tensors inside a torch.func transform (vmap's batched values)."""
    if torch.compiler.is_compiling():
        return False
    return not any(torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors)


def check_finite(x: torch.Tensor, name: str) -> None:
    """ValueError when x holds NaN or inf (skipped where values are not visible)."""
    if values_visible(x) and not all_finite(x):
        raise ValueError(f"{name} contains NaN or inf")


def all_finite(x: torch.Tensor) -> bool:
    """Whether x holds no NaN and no inf: its smallest and largest values are finite (amin and
    amax propagate NaN), one reduction pass without a temporary — ~10x faster than
    torch.isfinite(x).all(), which writes a bool tensor of x's size (measured: 33 vs 342 ms for
    6.6e7 float64 values, 2 threads). On the CPU the two values are read as Python floats: the
    check of a small tensor then takes 6 us instead of 15 (two torch calls fewer); on a GPU they
    stay one device-side test and one transfer."""
    if not (x.is_floating_point() or x.is_complex()) or x.numel() == 0:
        return True
    if x.is_complex():
        x = torch.view_as_real(x)
    lo, hi = torch.aminmax(x)
    if x.device.type == "cpu":
        return math.isfinite(lo.item()) and math.isfinite(hi.item())
    return bool(torch.isfinite(lo) & torch.isfinite(hi))


def check_data(model, data, B: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The checks of ``data`` (a ``reluscope.Data``) against ``model`` and B networks that every
    engine driver makes: input width, the cross-entropy's outputs, per-model fields of B models,
    no grad on any field. Returns the float targets T and the importance I the kernels read."""
    if data.X.shape[-1] != model.d_in:
        raise ValueError(f"X has {data.X.shape[-1]} features but {model!r} takes {model.d_in}")
    if data.loss == "cross_entropy" and model.d_out < 2:
        raise ValueError(f"the cross-entropy needs at least two outputs; {model!r} has one "
                         "(use loss='bce_with_logits')")
    T = data.targets(model.d_out)
    for name, t in (("X", data.X), ("T", T), ("weights", data.w)):
        if t.dim() == (2 if name == "weights" else 3) and t.shape[0] != B:
            raise ValueError(f"{name} is per model with {t.shape[0]} models but theta has B={B}")
    imp = data.importance_for(model.d_out)
    for name, t in (("X", data.X), ("T", T), ("weights", data.w), ("importance", imp)):
        forbid_grad(t, f"data.{name}")
    return T, imp
