"""Per-layer statistics of many deep networks at initialisation (``layer_moments``): the moments
over each layer's neurons of the pre-activations at pairs of inputs, from one fused kernel pass
(csrc/model/moment_math.h) that never holds more than one layer of one sample."""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch

from ._ext import _core, cuda_stream
from ._validate import as_float_tensor, check_finite, check_ndim, same_dtype_device
from .models.base import Model, check_model

__all__ = ["LayerMoments", "layer_moments"]


class LayerMoments(NamedTuple):
    """Means over the n_l neurons of layer l of the pre-activations z^l at inputs x and y, each
    (B, N, L) (L layers, the output layer last; one network: (N, L)): ``xx`` = mean z_x^2 (the
    empirical K^l(x, x)), ``yy``, ``xy`` = mean z_x z_y (K^l(x, y)), ``x4`` = mean z_x^4, ``y4``,
    ``xxyy`` = mean z_x^2 z_y^2."""
    xx: torch.Tensor
    yy: torch.Tensor
    xy: torch.Tensor
    x4: torch.Tensor
    y4: torch.Tensor
    xxyy: torch.Tensor


def layer_moments(model: Model, theta: torch.Tensor, X: torch.Tensor,
                  Y: Optional[torch.Tensor] = None) -> LayerMoments:
    """Per-layer moments of B networks' pre-activations at the input pairs (X[n], Y[n]).

    theta (B, P) or (P,); X, Y: (N, d_in) shared or (B, N, d_in) per network (Y = None: X, the
    single-input moments). z^l = W^l a^{l-1} (/ sqrt(fan_in) in the NTK parameterisation) + b^l,
    a^l = activation(z^l). Returns ``LayerMoments``. One kernel pass, two forward passes per pair:
    O(B N P) time, O(B N L) memory (the pre-activations, (B, N, L, width), are never stored).
    Sums over neurons accumulate in theta's dtype. Not differentiable."""
    check_model(model)
    theta = as_float_tensor(theta, "theta")
    single = theta.dim() == 1
    if single:
        theta = theta[None]
    model.check_theta(theta)
    B = theta.shape[0]
    pair = []
    for name, t in (("X", X), ("Y", X if Y is None else Y)):
        t = as_float_tensor(t, name, theta)
        same_dtype_device(theta, "theta", **{name: t})
        check_ndim(t, name, (2, 3), "(N, d_in) or (B, N, d_in)")
        if t.shape[-1] != model.d_in or (t.dim() == 3 and t.shape[0] != B):
            raise ValueError(f"{name} must be (N, {model.d_in}) or ({B}, N, {model.d_in}), "
                             f"got {tuple(t.shape)}")
        check_finite(t, name)
        pair.append(t)
    X, Y = pair
    if X.shape[-2] != Y.shape[-2]:
        raise ValueError(f"X and Y must hold the same number of inputs, got {X.shape[-2]} and "
                         f"{Y.shape[-2]}")
    check_finite(theta, "theta")
    if X.dim() != Y.dim():
        X, Y = (t if t.dim() == 3 else t.expand(B, *t.shape) for t in (X, Y))
    xy = torch.cat([X, Y], dim=-1).contiguous()
    N, nl = X.shape[-2], len(model.layers)
    out = torch.empty(B, N, nl, _core.moment_count, dtype=theta.dtype, device=theta.device)
    words = _core.moment_workspace(model.spec, B, N, theta.is_cuda, theta.element_size())
    workspace = torch.empty(words, dtype=theta.dtype, device=theta.device) if words else None
    _core.layer_moments(model.spec, theta.contiguous(), xy, out, workspace=workspace,
                        stream=cuda_stream(theta))
    widths = torch.tensor([layer.d_out for layer in model.layers], dtype=theta.dtype,
                          device=theta.device)
    means = out / widths[:, None]
    if single:
        means = means[0]
    return LayerMoments(*means.unbind(-1))
