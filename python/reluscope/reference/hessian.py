"""Reference Hessian engine with torch.func (grad, jvp of grad, hessian, under vmap) over
``reluscope.reference.forward``: the same calls and arguments as ``reluscope.hessian``'s products,
and the same loss convention, L_b = sum_n w_n || u * (y(x_n; theta_b) - t_n) ||^2 (w default 1/N,
u default 1), read from the raw fields of ``reluscope.Data``.
"""
from __future__ import annotations

import torch
from torch.func import grad, hessian as func_hessian, jvp, vjp, vmap

from ..data import Data
from ..models import Model
from .forward import forward

__all__ = ["gauss_newton", "gnvp", "hessian", "hvp", "loss", "value_and_grad"]


def _weights(data: Data) -> tuple[torch.Tensor, torch.Tensor]:
    """(sample weights (N,), squared importance (d_out,))."""
    X, T = data.X, data.T
    w = data.weights if data.weights is not None else X.new_full((X.shape[-2],), 1.0 / X.shape[-2])
    u2 = data.importance ** 2 if data.importance is not None else T.new_ones(T.shape[-1])
    return w, u2


def _per_model(model: Model, data: Data):
    """(single-model loss f(theta, X, T), in_dims for vmap over models)."""
    w, u2 = _weights(data)

    def f(theta: torch.Tensor, X: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        y = forward(model, theta[None], X)[0]
        return (w[:, None] * u2 * (y - T) ** 2).sum()

    return f, (0, 0 if data.X.dim() == 3 else None, 0 if data.T.dim() == 3 else None)


def loss(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """(B,) losses."""
    f, dims = _per_model(model, data)
    return vmap(f, in_dims=dims)(theta, data.X, data.T)


def value_and_grad(model: Model, theta: torch.Tensor, data: Data):
    """(B,), (B, P)."""
    f, dims = _per_model(model, data)
    return vmap(torch.func.grad_and_value(f), in_dims=dims)(theta, data.X, data.T)[::-1]


def hvp(model: Model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Hessian-vector products, V (B, P) or (B, K, P) -> same shape (jvp of grad)."""
    f, dims = _per_model(model, data)

    def one(th, x, t, v):
        return jvp(lambda p: grad(f)(p, x, t), (th,), (v,))[1]

    if V.dim() == 2:
        return vmap(one, in_dims=(*dims, 0))(theta, data.X, data.T, V)
    return vmap(vmap(one, in_dims=(None, None, None, 0)), in_dims=(*dims, 0))(theta, data.X,
                                                                             data.T, V)


def gnvp(model: Model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Gauss-Newton products J^T diag(2 w u^2) J V, V (B, P) or (B, K, P)."""
    w, u2 = _weights(data)

    def one(th, x, v):
        fwd = lambda p: forward(model, p[None], x)[0]  # noqa: E731
        _, jv = jvp(fwd, (th,), (v,))
        _, pull = vjp(fwd, th)
        return pull(2 * w[:, None] * u2 * jv)[0]

    dx = 0 if data.X.dim() == 3 else None
    if V.dim() == 2:
        return vmap(one, in_dims=(0, dx, 0))(theta, data.X, V)
    return vmap(vmap(one, in_dims=(None, None, 0)), in_dims=(0, dx, 0))(theta, data.X, V)


def hessian(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """(B, P, P) with torch.func.hessian under vmap."""
    f, dims = _per_model(model, data)
    return vmap(func_hessian(f), in_dims=dims)(theta, data.X, data.T)


def gauss_newton(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """(B, P, P) Gauss-Newton matrices, from gnvp on the P unit vectors."""
    P = theta.shape[1]
    E = torch.eye(P, dtype=theta.dtype, device=theta.device).expand(theta.shape[0], P, P)
    return gnvp(model, theta, data, E)
