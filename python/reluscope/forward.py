"""Batched forward pass of B networks of one architecture."""
from __future__ import annotations

import torch

from ._ext import _core, cuda_stream
from ._validate import as_float_tensor, check_ndim, same_dtype_device
from .models import Model

__all__ = ["forward"]

# Scratch threads of the CUDA forward (csrc/model/forward_cuda.cu): bounded so the workspace is.
_CUDA_THREADS = 1 << 18
_CUDA_WORKSPACE_BYTES = 1 << 30  # scratch per call (fewer threads for very wide nets)


def forward(model: Model, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Outputs of B networks on N inputs.

    Args:
        model: an ``MLP`` or ``TMS``.
        theta: (B, P) parameters, P = ``model.num_params``.
        X: (N, d0) inputs shared by all networks, or (B, N, d0) inputs per network.

    Returns:
        (B, N, d_out), same dtype and device as theta. Not differentiable (no autograd graph).
        NaN/inf in the inputs propagate to the outputs they touch.
    """
    theta = as_float_tensor(theta, "theta")
    X = as_float_tensor(X, "X")
    same_dtype_device(theta, "theta", X=X)
    model.check_theta(theta)
    check_ndim(X, "X", (2, 3), "(N, d0) or (B, N, d0)")
    if X.shape[-1] != model.d_in or (X.dim() == 3 and X.shape[0] != theta.shape[0]):
        raise ValueError(f"X must be (N, {model.d_in}) or ({theta.shape[0]}, N, {model.d_in}), "
                         f"got {tuple(X.shape)}")
    if torch.compiler.is_compiling():
        return torch.ops.reluscope.forward(theta, X, model.layer_ints, model.num_params, model.slope)
    return _forward_kernel(model.spec, theta.contiguous(), X.contiguous())


def _forward_kernel(spec, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    B, N = theta.shape[0], X.shape[-2]
    out = torch.empty(B, N, spec.d_out, dtype=theta.dtype, device=theta.device)
    workspace = None
    if theta.is_cuda:
        per_thread = 2 * spec.max_width * theta.element_size()
        threads = max(1, min(B * N, _CUDA_THREADS, _CUDA_WORKSPACE_BYTES // per_thread))
        workspace = torch.empty(threads * 2 * spec.max_width, dtype=theta.dtype, device=theta.device)
    _core.forward(spec, theta, X, out, workspace, cuda_stream(theta))
    return out


# ---- torch.library registration: what torch.compile traces -------------------------------------
_SPECS: dict = {}


def _spec_from_ints(layer_ints: list[int], n_params: int, slope: float):
    key = (tuple(layer_ints), n_params, slope)
    spec = _SPECS.get(key)
    if spec is None:
        rows = [tuple(layer_ints[i:i + 6]) for i in range(0, len(layer_ints), 6)]
        rows = [(w, b, i, o, bool(t), a) for w, b, i, o, t, a in rows]
        spec = _SPECS[key] = _core.NetSpec(rows, n_params, slope)
    return spec


@torch.library.custom_op("reluscope::forward", mutates_args=())
def _forward_op(theta: torch.Tensor, X: torch.Tensor, layer_ints: list[int], n_params: int,
                slope: float) -> torch.Tensor:
    return _forward_kernel(_spec_from_ints(layer_ints, n_params, slope), theta.contiguous(),
                           X.contiguous())


@_forward_op.register_fake
def _(theta, X, layer_ints, n_params, slope):
    return theta.new_empty(theta.shape[0], X.shape[-2], layer_ints[-3])
