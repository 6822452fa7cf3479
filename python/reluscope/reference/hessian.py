"""Reference Hessian engine with torch.func (grad, jvp of grad, hessian, under vmap) over
reluscope.reference.forward. Same loss convention as reluscope.hessian:
L_b = sum_n w_n || u * (y(x_n; theta_b) - t_n) ||^2, w default 1/N, u default 1.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch.func import grad, hessian as func_hessian, jvp, vjp, vmap

from ..models import Model
from .forward import forward


def _weights(X: torch.Tensor, weights: Optional[torch.Tensor]) -> torch.Tensor:
    N = X.shape[-2]
    return weights if weights is not None else X.new_full((N,), 1.0 / N)


def _u2(T: torch.Tensor, importance: Optional[torch.Tensor]) -> torch.Tensor:
    return importance ** 2 if importance is not None else T.new_ones(T.shape[-1])


def _single_loss(model: Model, w: torch.Tensor, u2: torch.Tensor):
    def f(theta: torch.Tensor, X: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        y = forward(model, theta[None], X)[0]
        return (w[:, None] * u2 * (y - T) ** 2).sum()
    return f


def _per_model(model, theta, X, T, weights, importance):
    """(single-model loss f(theta, X, T), in_dims for vmap over models)."""
    f = _single_loss(model, _weights(X, weights), _u2(T, importance))
    return f, (0, 0 if X.dim() == 3 else None, 0 if T.dim() == 3 else None)


def loss(model: Model, theta, X, T, weights=None, importance=None) -> torch.Tensor:
    """(B,) losses."""
    f, dims = _per_model(model, theta, X, T, weights, importance)
    return vmap(f, in_dims=dims)(theta, X, T)


def value_and_grad(model: Model, theta, X, T, weights=None, importance=None):
    """(B,), (B, P)."""
    f, dims = _per_model(model, theta, X, T, weights, importance)
    return vmap(torch.func.grad_and_value(f), in_dims=dims)(theta, X, T)[::-1]


def hvp(model: Model, theta, X, T, V, weights=None, importance=None) -> torch.Tensor:
    """Hessian-vector products, V (B, P) or (B, K, P) -> same shape (jvp of grad)."""
    f, dims = _per_model(model, theta, X, T, weights, importance)

    def one(th, x, t, v):
        return jvp(lambda p: grad(f)(p, x, t), (th,), (v,))[1]

    if V.dim() == 2:
        return vmap(one, in_dims=(*dims, 0))(theta, X, T, V)
    return vmap(vmap(one, in_dims=(None, None, None, 0)), in_dims=(*dims, 0))(theta, X, T, V)


def gnvp(model: Model, theta, X, T, V, weights=None, importance=None) -> torch.Tensor:
    """Gauss-Newton products J^T diag(2 w u^2) J V, V (B, P) or (B, K, P)."""
    w, u2 = _weights(X, weights), _u2(T, importance)

    def one(th, x, v):
        fwd = lambda p: forward(model, p[None], x)[0]  # noqa: E731
        _, jv = jvp(fwd, (th,), (v,))
        _, pull = vjp(fwd, th)
        return pull(2 * w[:, None] * u2 * jv)[0]

    dx = 0 if X.dim() == 3 else None
    if V.dim() == 2:
        return vmap(one, in_dims=(0, dx, 0))(theta, X, V)
    return vmap(vmap(one, in_dims=(None, None, 0)), in_dims=(0, dx, 0))(theta, X, V)


def hessian(model: Model, theta, X, T, weights=None, importance=None) -> torch.Tensor:
    """(B, P, P) with torch.func.hessian under vmap."""
    f, dims = _per_model(model, theta, X, T, weights, importance)
    return vmap(func_hessian(f), in_dims=dims)(theta, X, T)


def gauss_newton(model: Model, theta, X, T, weights=None, importance=None) -> torch.Tensor:
    """(B, P, P) Gauss-Newton matrices, from gnvp on the P unit vectors."""
    P = theta.shape[1]
    E = torch.eye(P, dtype=theta.dtype, device=theta.device).expand(theta.shape[0], P, P)
    return gnvp(model, theta, X, T, E, weights, importance)


def eigvalsh(model: Model, theta, X, T, weights=None, importance=None) -> torch.Tensor:
    """(B, P) ascending eigenvalues of the reference Hessian."""
    return torch.linalg.eigvalsh(hessian(model, theta, X, T, weights, importance))
