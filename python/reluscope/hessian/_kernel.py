"""The one driver of the fused Hessian kernel (csrc/hessian): validates inputs, reads the launch
plan from C++ (``_core.hess_plan``), allocates exactly what it says, calls ``_core.hess`` and
returns the loss, gradient and products summed over the partial sums (data chunks; on CUDA one
per warp, so results are the same bits every call). Every other module of ``reluscope.hessian``
reaches the kernel through here."""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch

from .._ext import _core, cuda_stream
from .._validate import as_float_tensor, check_finite, same_dtype_device
from ..data import Data
from ..models.base import Model, check_model

Mode = _core.HessMode


class Sums(NamedTuple):
    """What one kernel call returns, per model."""
    loss: torch.Tensor                # (B,)
    grad: Optional[torch.Tensor]      # (B, P), mode grad
    products: Optional[torch.Tensor]  # (B, K, P), modes hvp and gnvp


def check_inputs(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Validate theta against model and data; returns theta contiguous."""
    check_model(model)
    if not isinstance(data, Data):
        raise TypeError(f"data must be a reluscope.Data, got {type(data).__name__}")
    theta = as_float_tensor(theta, "theta")
    model.check_theta(theta)
    same_dtype_device(theta, "theta", X=data.X)
    B = theta.shape[0]
    if data.X.shape[-1] != model.d_in:
        raise ValueError(f"X has {data.X.shape[-1]} features but {model!r} takes {model.d_in}")
    if data.T.shape[-1] != model.d_out:
        raise ValueError(f"T has {data.T.shape[-1]} outputs but {model!r} gives {model.d_out}")
    for name, t in (("X", data.X), ("T", data.T)):
        if t.dim() == 3 and t.shape[0] != B:
            raise ValueError(f"{name} is per model with {t.shape[0]} models but theta has B={B}")
    check_finite(theta, "theta")
    return theta.contiguous()


def check_directions(theta: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """Validate directions V (B, P) or (B, K, P) against theta; returns V contiguous."""
    V = as_float_tensor(V, "V")
    same_dtype_device(theta, "theta", V=V)
    B, P = theta.shape
    if not (V.dim() in (2, 3) and V.shape[0] == B and V.shape[-1] == P):
        raise ValueError(f"V must be ({B}, {P}) or ({B}, K, {P}), got {tuple(V.shape)}")
    return V.contiguous()


def plan(model: Model, theta: torch.Tensor, data: Data, mode: Mode, K: int = 0) -> _core.HessPlan:
    """The C++ launch plan of a call (chunks and partial sums, output layout, workspace)."""
    B = theta.shape[0]
    return _core.hess_plan(model.spec, B, data.N, K, mode, theta.is_cuda, theta.element_size())


def run(model: Model, theta: torch.Tensor, data: Data, mode: Mode,
        V: Optional[torch.Tensor] = None) -> Sums:
    """One kernel call on validated inputs; in modes hvp and gnvp V is (B, K, P), or (K, P)
    shared by all models, contiguous."""
    B, P = theta.shape
    K = 0 if V is None else V.shape[-2]
    p = plan(model, theta, data, mode, K)
    part = torch.zeros(B, p.partials, p.length, dtype=theta.dtype, device=theta.device)
    workspace = (torch.empty(p.workspace, dtype=theta.dtype, device=theta.device)
                 if p.workspace else None)
    _core.hess(model.spec, theta, data.X, data.T, data.w, data.u2, V, part, mode, workspace,
               cuda_stream(theta))
    out = part[:, 0] if p.partials == 1 else part.sum(1)  # torch's sum: a fixed order
    grad = out[:, p.grad_offset:p.grad_offset + P] if mode == Mode.grad else None
    products = out[:, p.products_offset:].view(B, K, P) if K else None
    return Sums(out[:, 0], grad, products)
