"""The one driver of the fused Hessian kernel (csrc/hessian): validates inputs, reads the launch
plan from C++ (``_core.hess_plan``), allocates exactly what it says, calls ``_core.hess`` and
returns the loss, gradient, products (and input gradients) summed over the partial sums (data
chunks; on CUDA one per warp, so results are the same bits every call). Every other module of
``reluscope.hessian`` (and ``reluscope.forward``'s backward) reaches the kernel through here."""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch

from .._ext import _core, cuda_stream
from .._validate import as_float_tensor, check_finite, forbid_grad, same_dtype_device
from ..data import Data
from ..models.base import Model, check_model

Mode = _core.HessMode


class Inputs(NamedTuple):
    """Validated inputs of a call: theta (B, P) contiguous (``single``: the caller passed one model
    as (P,)), the data as the kernel reads it (float targets, weights, importance) and the loss."""
    model: Model
    theta: torch.Tensor
    X: torch.Tensor
    T: torch.Tensor
    w: torch.Tensor
    imp: torch.Tensor
    loss: int
    single: bool


class Sums(NamedTuple):
    """What one kernel call returns, per model."""
    loss: torch.Tensor                # (B,)
    grad: Optional[torch.Tensor]      # (B, P), mode grad
    products: Optional[torch.Tensor]  # (B, K, P), modes hvp and gnvp
    dx: Optional[torch.Tensor]        # (B, N, d_in) input gradients, mode grad when asked for


def check_inputs(model: Model, theta, data: Data, *, differentiable: bool = False) -> Inputs:
    """Validate theta ((B, P), or (P,) for one model) against model and data. Only where the call
    is ``differentiable`` in theta may theta require grad; the data never may."""
    check_model(model)
    if not isinstance(data, Data):
        raise TypeError(f"data must be a reluscope.Data, got {type(data).__name__}")
    theta = as_float_tensor(theta, "theta", data.X, differentiable=differentiable)
    single = theta.dim() == 1
    if single:
        theta = theta[None]
    model.check_theta(theta)
    same_dtype_device(theta, "theta", X=data.X)
    B = theta.shape[0]
    if data.X.shape[-1] != model.d_in:
        raise ValueError(f"X has {data.X.shape[-1]} features but {model!r} takes {model.d_in}")
    T = data.targets(model.d_out)
    if data.loss == "cross_entropy" and model.d_out < 2:
        raise ValueError(f"the cross-entropy needs at least two outputs; {model!r} has one "
                         "(use loss='bce_with_logits')")
    for name, t in (("X", data.X), ("T", T), ("weights", data.w)):
        if t.dim() == (2 if name == "weights" else 3) and t.shape[0] != B:
            raise ValueError(f"{name} is per model with {t.shape[0]} models but theta has B={B}")
    imp = data.importance_for(model.d_out)
    for name, t in (("X", data.X), ("T", T), ("weights", data.w), ("importance", imp)):
        forbid_grad(t, f"data.{name}")
    check_finite(theta, "theta")
    return Inputs(model, theta.contiguous(), data.X, T, data.w, imp, int(data.loss_code), single)


def check_directions(theta: torch.Tensor, V, single: bool = False) -> torch.Tensor:
    """Validate directions V against theta (B, P): (B, P) or (B, K, P); for one model
    (``single``) (P,) or (K, P). Returns V (B, P) or (B, K, P)."""
    V = as_float_tensor(V, "V", theta, differentiable=True)
    same_dtype_device(theta, "theta", V=V)
    B, P = theta.shape
    if single:
        if V.dim() not in (1, 2) or V.shape[-1] != P:
            raise ValueError(f"V must be ({P},) or (K, {P}) for one model, got {tuple(V.shape)}")
        return V[None]
    if not (V.dim() in (2, 3) and V.shape[0] == B and V.shape[-1] == P):
        raise ValueError(f"V must be ({B}, {P}) or ({B}, K, {P}), got {tuple(V.shape)}")
    return V


def plan(spec: _core.NetSpec, theta: torch.Tensor, N: int, mode: Mode, K: int = 0
         ) -> _core.HessPlan:
    """The C++ launch plan of a call (chunks and partial sums, output layout, workspace)."""
    return _core.hess_plan(spec, theta.shape[0], N, K, mode, theta.is_cuda, theta.element_size())


def run(spec: _core.NetSpec, theta: torch.Tensor, X: torch.Tensor, T: torch.Tensor,
        w: torch.Tensor, imp: torch.Tensor, loss: int, mode: Mode,
        V: Optional[torch.Tensor] = None, dx: bool = False) -> Sums:
    """One kernel call on validated inputs. In modes hvp and gnvp V is (B, K, P), or (K, P)
    shared by all models; dx (mode grad) also returns each sample's input gradient."""
    theta, X, T = theta.contiguous(), X.contiguous(), T.contiguous()
    V = None if V is None else V.contiguous()
    B, P = theta.shape
    N = X.shape[-2]
    K = 0 if V is None else V.shape[-2]
    p = plan(spec, theta, N, mode, K)
    part = torch.zeros(B, p.partials, p.length, dtype=theta.dtype, device=theta.device)
    workspace = (torch.empty(p.workspace, dtype=theta.dtype, device=theta.device)
                 if p.workspace else None)
    dxs = (torch.empty(B, N, spec.d_in, dtype=theta.dtype, device=theta.device) if dx else None)
    _core.hess(spec, theta, X, T, w, imp, V, part, mode, loss, dxs, workspace,
               cuda_stream(theta))
    out = part[:, 0] if p.partials == 1 else part.sum(1)  # torch's sum: a fixed order
    grad = out[:, p.grad_offset:p.grad_offset + P] if mode == Mode.grad else None
    products = out[:, p.products_offset:].view(B, K, P) if K else None
    return Sums(out[:, 0], grad, products, dxs)
