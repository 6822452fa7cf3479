"""Batched forward pass of B networks of one architecture (``reluscope.forward``)."""
from __future__ import annotations

import torch

from ._ext import _core, cuda_stream
from ._validate import as_float_tensor, check_ndim, same_dtype_device
from .models.base import Layer, Model, check_model

__all__ = ["forward"]


def forward(model: Model, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Outputs of B networks on N inputs: out[b, n] = model(theta[b]; X[n] or X[b, n]).

    Args:
        model: an ``MLP`` or ``TMS``.
        theta: (B, P) parameters, P = ``model.num_params``.
        X: (N, d0) inputs shared by all networks, or (B, N, d0) inputs per network.

    Returns:
        (B, N, d_out), same dtype and device as theta. Not differentiable (no autograd graph).
        NaN/inf in the inputs propagate to the outputs they touch.
    """
    check_model(model)
    theta = as_float_tensor(theta, "theta")
    X = as_float_tensor(X, "X")
    same_dtype_device(theta, "theta", X=X)
    model.check_theta(theta)
    check_ndim(X, "X", (2, 3), "(N, d0) or (B, N, d0)")
    if X.shape[-1] != model.d_in or (X.dim() == 3 and X.shape[0] != theta.shape[0]):
        raise ValueError(f"X must be (N, {model.d_in}) or ({theta.shape[0]}, N, {model.d_in}), "
                         f"got {tuple(X.shape)}")
    if torch.compiler.is_compiling():
        return torch.ops.reluscope.forward(theta, X, model.flat_layers, model.num_params,
                                           model.slope)
    return _forward_kernel(model.spec, theta.contiguous(), X.contiguous())


def _forward_kernel(spec: _core.NetSpec, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    B, N = theta.shape[0], X.shape[-2]
    out = torch.empty(B, N, spec.d_out, dtype=theta.dtype, device=theta.device)
    size = _core.lane_workspace(spec, B * N, theta.is_cuda, theta.element_size())
    workspace = torch.empty(size, dtype=theta.dtype, device=theta.device) if size else None
    _core.forward(spec, theta, X, out, workspace, cuda_stream(theta))
    return out


# ---- torch.library registration: what torch.compile traces -------------------------------------
def _layers_of(flat_layers: list[int]) -> list[Layer]:
    """Inverse of Model.flat_layers."""
    width = len(Layer._fields)
    return [Layer(*flat_layers[i:i + width]) for i in range(0, len(flat_layers), width)]


_SPECS: dict = {}


def _spec_of(flat_layers: list[int], n_params: int, slope: float) -> _core.NetSpec:
    key = (tuple(flat_layers), n_params, slope)
    if key not in _SPECS:
        rows = [layer._replace(transposed=bool(layer.transposed)) for layer in _layers_of(flat_layers)]
        _SPECS[key] = _core.NetSpec(rows, n_params, slope)
    return _SPECS[key]


@torch.library.custom_op("reluscope::forward", mutates_args=())
def _forward_op(theta: torch.Tensor, X: torch.Tensor, flat_layers: list[int], n_params: int,
                slope: float) -> torch.Tensor:
    return _forward_kernel(_spec_of(flat_layers, n_params, slope), theta.contiguous(),
                           X.contiguous())


@_forward_op.register_fake
def _(theta, X, flat_layers, n_params, slope):
    return theta.new_empty(theta.shape[0], X.shape[-2], _layers_of(flat_layers)[-1].d_out)
