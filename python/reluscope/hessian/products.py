"""Loss, gradient and curvature products of B models at once, each one fused kernel pass.

Every call takes (model, theta, data): theta (B, P), or (P,) for one model (the result then has no
model dimension); products also take directions V (B, P) or (B, K, P) — (P,) or (K, P) for one
model — and return V's shape. The loss is the one ``data`` carries (``reluscope.Data``).

Derivatives: ``loss`` and ``value_and_grad`` are differentiable in theta to any order in reverse
mode (gradient and Hessian-vector products from the fused kernel, higher orders from the torch
reference); ``hvp`` and ``gnvp`` in V (the same kernel) and in theta (the torch reference).
Forward mode (torch.func.jvp, jacfwd, torch.func.hessian = jacfwd(jacrev), forward_ad): ``loss``
and ``value_and_grad`` in theta (dL = <grad L, d theta>, d grad = H d theta: the fused kernels),
``hvp`` and ``gnvp`` in V; their tangent in theta (a third derivative) is a NotImplementedError.
Inputs that require grad or carry a tangent elsewhere (X, T, weights, importance) are an error,
not a silently dropped derivative. vmap works over every tensor argument (theta, X, T, weights,
importance, V).
"""
from __future__ import annotations

import torch

from .. import _fused
from .._ops import model_args
from ..data import Data
from ..models.base import Model
from . import _autograd
from .operators import GaussNewton, Hessian

__all__ = ["dense_hessian", "gauss_newton", "gnvp", "hessian", "hvp", "kinks", "loss",
           "value_and_grad"]


def _call_args(inp: _fused.Inputs) -> tuple:
    return (inp.theta, inp.X, inp.T, inp.w, inp.imp, *model_args(inp.model), inp.loss)


def loss(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Losses L_b of B models: theta (B, P) -> (B,) (one model: (P,) -> ()).

    Differentiable in theta: where theta requires grad, the call runs the gradient pass (the
    cost of ``value_and_grad``) and its backward costs no kernel call; the gradient's own
    backward (double backward) is one Hessian-vector pass."""
    inp = _fused.check_inputs(model, theta, data, differentiable=True)
    out = _autograd.loss_values(*_call_args(inp))
    return out[0] if inp.single else out


def value_and_grad(model: Model, theta: torch.Tensor,
                   data: Data) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss (B,) and gradient (B, P) in one fused pass (one model: () and (P,))."""
    inp = _fused.check_inputs(model, theta, data, differentiable=True)
    L, G = _autograd.loss_and_grad(*_call_args(inp))
    return (L[0], G[0]) if inp.single else (L, G)


def kinks(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Per model, the number of samples with non-zero weight that sit on a kink of a relu or
    leaky_relu moving with theta, (B,) int64 (one model: ()). Where it is > 0 the loss is not
    twice differentiable and the Hessian does not exist (``hvp``, ``hessian`` and the ``Hessian``
    operator then warn, ``KinkWarning``).

    On a kink: a pre-activation z with |z| <= e(z), its forward rounding-error bound (2 (gamma_n
    sum_k |W_jk a_k| + |b_j|) plus the inputs' own bounds through |W|, gamma_n = n u / (1 - n u),
    n = fan-in + 1: the side of the kink the computed z lands on is then not determined). A
    pre-activation that is 0 for every theta nearby is none: no bias and all its inputs 0 for
    every theta nearby (e.g. TMS's x = 0 without bias, or W h with h = 0 from relus certainly
    below their kink). Decided in float64 whatever theta's dtype (the bound is then ~1e-13 of the
    pre-activation's scale). One forward pass of the fused kernel plus one pass of |W| (its
    flags: csrc/model/kink_math.h)."""
    inp = _fused.check_inputs(model, theta, data)
    out = _fused.kink_counts(inp)
    return out[0] if inp.single else out


def _products(model: Model, theta: torch.Tensor, data: Data, V,
              mode: _fused.Mode) -> torch.Tensor:
    inp = _fused.check_inputs(model, theta, data, differentiable=True)
    V3 = _fused.check_directions(inp.theta, V, inp.single)
    one = V3.dim() == 2  # (B, P): one direction per model
    args = _call_args(inp)
    out = _autograd.products(*args[:5], V3[:, None] if one else V3, *args[5:], int(mode))
    out = out[:, 0] if one else out
    return out[0] if inp.single else out


def hvp(model: Model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Exact Hessian-vector products H_b v (Pearlmutter: forward once, then one R-forward and
    R-backward per vector). V (B, P) or (B, K, P) -> same shape. For ReLU nets this is the Hessian
    of the piecewise-smooth loss; where a sample sits on a kink that moves with theta it does not
    exist: the products use relu'(0) = 0 and a ``KinkWarning`` says so (``kinks``)."""
    return _products(model, theta, data, V, _fused.Mode.hvp)


def gnvp(model: Model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Gauss-Newton products H0 v = sum_n J_n^T (d2l/dy2) J_n v (sigma'' and residual terms
    dropped; d2l/dy2 = diag(2 w_n I) for mse, w_n (diag p - p p^T) for the cross-entropy).
    V (B, P) or (B, K, P) -> same shape. The residual part is hvp - gnvp."""
    return _products(model, theta, data, V, _fused.Mode.gnvp)


def dense_hessian(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Full Hessians (B, P, P), symmetric; one model: (P, P). An MLP's from the kernel's unit
    columns (one R-pass per neuron; each entry computed once, in H's upper triangle by (layer,
    index), and mirrored), TMS's (tied weights) from HVPs with the P unit vectors, symmetrised.
    Raises ValueError when (B, P, P) would exceed HESSIAN_MAX_BYTES. Not differentiable.
    At a kink (``kinks``) a ``KinkWarning``, as for ``hvp``. Also ``hessian.hessian`` (the
    earlier name, kept)."""
    return _dense(Hessian(model, theta, data))


#: the earlier name of ``dense_hessian``.
hessian = dense_hessian


def gauss_newton(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Gauss-Newton matrices H0 (B, P, P), positive semi-definite; one model: (P, P)."""
    return _dense(GaussNewton(model, theta, data))


def _dense(op) -> torch.Tensor:
    out = op.to_dense()
    return out[0] if op.single else out
