"""Reference batched forward pass, written with plain torch ops (differentiable, any device)."""
from __future__ import annotations

import math
from typing import Optional

import torch

from ..models import Model
from .activations import activation_fn


def layer_weights(model: Model, theta: torch.Tensor):
    """Yield (W (B, out, in), b (B, out) or None, activation name) per layer of model: W as the
    layer applies it (NTK parameterisation: theta's block / sqrt(in))."""
    for layer in model.layers:
        flat = theta[:, layer.w_off:layer.w_off + layer.d_in * layer.d_out]
        W = (flat.unflatten(1, (layer.d_in, layer.d_out)).transpose(1, 2) if layer.transposed
             else flat.unflatten(1, (layer.d_out, layer.d_in)))
        if layer.ntk:
            W = W / math.sqrt(layer.d_in)
        b = theta[:, layer.b_off:layer.b_off + layer.d_out] if layer.b_off >= 0 else None
        yield W, b, layer.activation.name


def forward(model: Model, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """theta (B, P), X (N, d0) or (B, N, d0) -> outputs (B, N, d_out)."""
    a = X.expand(theta.shape[0], *X.shape) if X.dim() == 2 else X
    for W, b, act in layer_weights(model, theta):
        z = torch.matmul(a, W.transpose(1, 2))
        if b is not None:
            z = z + b[:, None, :]
        a = activation_fn(act, model.slope)(z)
    return a


def layer_moments(model: Model, theta: torch.Tensor, X: torch.Tensor,
                  Y: Optional[torch.Tensor] = None):
    """``reluscope.layer_moments`` with plain torch ops: every layer's pre-activations at X and Y
    (materialised), their products averaged over the neurons."""
    from ..layer_stats import LayerMoments

    single = theta.dim() == 1
    th = theta[None] if single else theta
    Y = X if Y is None else Y
    a, b = (t.expand(th.shape[0], *t.shape) if t.dim() == 2 else t for t in (X, Y))
    rows = []
    for W, bias, act in layer_weights(model, th):
        za, zb = torch.matmul(a, W.mT), torch.matmul(b, W.mT)
        if bias is not None:
            za, zb = za + bias[:, None], zb + bias[:, None]
        rows.append(torch.stack([(za ** 2).mean(-1), (zb ** 2).mean(-1), (za * zb).mean(-1),
                                 (za ** 4).mean(-1), (zb ** 4).mean(-1),
                                 (za ** 2 * zb ** 2).mean(-1)], -1))
        a, b = activation_fn(act, model.slope)(za), activation_fn(act, model.slope)(zb)
    out = torch.stack(rows, 2)                       # (B, N, L, 6)
    return LayerMoments(*(out[0] if single else out).unbind(-1))
