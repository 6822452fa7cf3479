"""Loss, gradient and curvature products of B models at once, each one fused kernel pass.

Every call takes (model, theta (B, P), data) and, for products, directions V (B, P) or (B, K, P)
(the result has V's shape). Loss convention: ``reluscope.hessian``'s docstring.
"""
from __future__ import annotations

import torch

from ..data import Data
from ..models.base import Model
from . import _kernel
from .operators import GaussNewton, Hessian

__all__ = ["gauss_newton", "gnvp", "hessian", "hvp", "loss", "value_and_grad"]


def loss(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Losses L_b of B models: theta (B, P) -> (B,)."""
    theta = _kernel.check_inputs(model, theta, data)
    return _kernel.run(model, theta, data, _kernel.Mode.loss).loss.contiguous()


def value_and_grad(model: Model, theta: torch.Tensor,
                   data: Data) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss (B,) and gradient (B, P) in one fused pass."""
    theta = _kernel.check_inputs(model, theta, data)
    sums = _kernel.run(model, theta, data, _kernel.Mode.grad)
    return sums.loss.contiguous(), sums.grad.contiguous()


def _products(model: Model, theta: torch.Tensor, data: Data, V: torch.Tensor,
              mode: _kernel.Mode) -> torch.Tensor:
    theta = _kernel.check_inputs(model, theta, data)
    V = _kernel.check_directions(theta, V)
    out = _kernel.run(model, theta, data, mode, V if V.dim() == 3 else V[:, None]).products
    return out.contiguous() if V.dim() == 3 else out[:, 0].contiguous()


def hvp(model: Model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Exact Hessian-vector products H_b v (Pearlmutter: forward once, then one R-forward and
    R-backward per vector). V (B, P) or (B, K, P) -> same shape. For ReLU nets this is the Hessian
    of the piecewise-smooth loss (no pre-activation exactly 0)."""
    return _products(model, theta, data, V, _kernel.Mode.hvp)


def gnvp(model: Model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Gauss-Newton products H0 v = sum_n J_n^T diag(2 w_n u^2) J_n v (sigma'' and residual
    terms dropped). V (B, P) or (B, K, P) -> same shape. The residual part is hvp - gnvp."""
    return _products(model, theta, data, V, _kernel.Mode.gnvp)


def hessian(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Full Hessians (B, P, P), symmetric (HVPs with the P unit vectors, symmetrised).
    Raises ValueError when (B, P, P) would exceed HESSIAN_MAX_BYTES."""
    return Hessian(model, theta, data).to_dense()


def gauss_newton(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Gauss-Newton matrices H0 (B, P, P), positive semi-definite."""
    return GaussNewton(model, theta, data).to_dense()
