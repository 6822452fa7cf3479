"""Reference batched forward pass, written with plain torch ops (differentiable, any device)."""
from __future__ import annotations

import torch

from ..models import Model
from .activations import activation_fn


def layer_weights(model: Model, theta: torch.Tensor):
    """Yield (W (B, out, in), b (B, out) or None, activation fn) per layer of model."""
    for w_off, b_off, d_in, d_out, transposed, act in model.layers:
        flat = theta[:, w_off:w_off + d_in * d_out]
        W = flat.unflatten(1, (d_in, d_out)).transpose(1, 2) if transposed else flat.unflatten(1, (d_out, d_in))
        b = theta[:, b_off:b_off + d_out] if b_off >= 0 else None
        yield W, b, activation_fn(act, model.slope)


def forward(model: Model, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """theta (B, P), X (N, d0) or (B, N, d0) -> outputs (B, N, d_out)."""
    a = X.expand(theta.shape[0], *X.shape) if X.dim() == 2 else X
    for W, b, act in layer_weights(model, theta):
        z = torch.matmul(a, W.transpose(1, 2))
        if b is not None:
            z = z + b[:, None, :]
        a = act(z)
    return a
