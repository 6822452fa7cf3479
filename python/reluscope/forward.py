"""Batched forward pass of B networks of one architecture (``reluscope.forward``), differentiable
in theta and X.

Custom ops (see ``reluscope._ops``): ``reluscope::forward`` runs the forward kernel; its backward,
``reluscope::forward_vjp``, is the fused Hessian kernel with the linear loss
l = sum_j g_j y_j (csrc/hessian/loss_math.h), whose gradient is the vector-Jacobian product in
theta and, per sample, in x. Forward mode (the tangent J d theta + J_x d x) and second derivatives
through the forward pass come from the torch reference (``reluscope.reference.forward``): exact,
not fused.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._ext import _core
from ._ops import (LayerModel, below_autograd, define, eager, forward_mode, layers_of,
                   model_args, saved_primals, spec_of, tangent_of)
from ._validate import as_float_tensor, check_ndim, same_dtype_device
from . import _fused
from .hessian._autograd import hess_products
from .models.base import Model, check_model
from .reference.forward import forward as reference_forward

__all__ = ["forward"]


def forward(model: Model, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Outputs of B networks on N inputs: out[b, n] = model(theta[b]; X[n] or X[b, n]).

    Args:
        model: an ``MLP`` or ``TMS``.
        theta: (B, P) parameters, P = ``model.num_params``; (P,) for one network.
        X: (N, d0) inputs shared by all networks, or (B, N, d0) inputs per network (numpy arrays
            and nested lists are converted).

    Returns:
        (B, N, d_out) — (N, d_out) for one network — same dtype and device as theta.
        Differentiable in theta and X (to any order). NaN/inf in the inputs propagate to the
        outputs they touch.
    """
    check_model(model)
    theta = as_float_tensor(theta, "theta", differentiable=True)
    X = as_float_tensor(X, "X", theta, differentiable=True)
    same_dtype_device(theta, "theta", X=X)
    single = theta.dim() == 1
    if single:
        theta = theta[None]
    model.check_theta(theta)
    check_ndim(X, "X", (2, 3), "(N, d0) or (B, N, d0)")
    if X.shape[-1] != model.d_in or (X.dim() == 3 and X.shape[0] != theta.shape[0]):
        raise ValueError(f"X must be (N, {model.d_in}) or ({theta.shape[0]}, N, {model.d_in}), "
                         f"got {tuple(X.shape)}")
    args = (theta, X, *model_args(model))
    out = _forward_impl(*args) if eager(theta, X) else forward_op(*args)
    return out[0] if single else out


# ---- implementations ---------------------------------------------------------------------------
def _forward_impl(theta: Tensor, X: Tensor, layers: list[int], n_params: int,
                  slope: float) -> Tensor:
    return _fused.outputs(spec_of(layers, n_params, slope), theta, X)


def _vjp_impl(theta: Tensor, X: Tensor, G: Tensor, layers: list[int], n_params: int,
              slope: float, need_x: bool) -> tuple[Tensor, Tensor]:
    """(sum_n J_theta(x_n)^T g_n (B, P), per-sample J_x^T g_n (B, N, d0), or (B, 0, 0) when not
    need_x)."""
    spec = spec_of(layers, n_params, slope)
    ones_w, ones_imp = theta.new_ones(X.shape[-2]), theta.new_ones(spec.d_out)
    inp = _fused.Inputs(spec, theta, X, G, ones_w, ones_imp, int(_core.Loss.linear))
    sums = _fused.run(inp, _fused.Mode.grad, dx=need_x)
    return sums.grad, (sums.dx if need_x else theta.new_empty(theta.shape[0], 0, 0))


def _forward_fake(theta, X, layers, n_params, slope):
    return theta.new_empty(theta.shape[0], X.shape[-2], layers_of(layers)[-1].d_out)


def _vjp_fake(theta, X, G, layers, n_params, slope, need_x):
    B = theta.shape[0]
    dx = theta.new_empty(B, X.shape[-2], X.shape[-1]) if need_x else theta.new_empty(B, 0, 0)
    return theta.new_empty(theta.shape), dx


# ---- derivatives: the ops' autograd.Functions (reluscope._ops.define) ----------------------------
class _Forward(torch.autograd.Function):
    @staticmethod
    def forward(*args):
        return below_autograd(forward_op, args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)  # absent gradients and tangents are None, not zeros
        ctx.save_for_backward(inputs[0], inputs[1])
        ctx.save_for_forward(inputs[0], inputs[1])
        ctx.model = inputs[2:]

    @staticmethod
    def backward(ctx, g):
        if g is None:
            return (None,) * 5
        theta, X = ctx.saved_tensors
        need_x = ctx.needs_input_grad[1]
        d_theta, d_x = forward_vjp(theta, X, g, *ctx.model, need_x)
        if need_x and X.dim() == 2:
            d_x = d_x.sum(0)
        return (d_theta if ctx.needs_input_grad[0] else None), (d_x if need_x else None), None, \
            None, None

    @staticmethod
    @forward_mode()
    def jvp(ctx, d_theta, d_x, *_):
        """The tangent J_theta d_theta + J_x d_x by forward mode through the torch reference (the
        kernels have no tangent pass)."""
        theta, X = saved_primals(ctx)
        model = _reference_model(ctx.model)
        return tangent_of(lambda t, x: reference_forward(model, t, x), (theta, X), (d_theta, d_x))


class _ForwardVJP(torch.autograd.Function):
    """Its derivatives (second derivatives of the forward pass): in reverse mode by torch.func over
    the reference forward pass; in forward mode see jvp."""

    @staticmethod
    def forward(*args):
        return below_autograd(forward_vjp, args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)  # absent gradients and tangents are None, not zeros
        ctx.save_for_backward(*inputs[:3])
        ctx.save_for_forward(*inputs[:3])
        ctx.model = inputs[3:6]
        ctx.need_x = inputs[6]

    @staticmethod
    def backward(ctx, g_theta, g_x):
        if g_theta is None and (g_x is None or g_x.numel() == 0):
            return (None,) * 7
        theta, X, G = ctx.saved_tensors
        vjp_of, Xe = _reference_vjp(ctx, theta, X)
        _, pull = torch.func.vjp(vjp_of, theta, Xe, G)
        g_theta = torch.zeros_like(theta) if g_theta is None else g_theta
        g_x = torch.zeros_like(Xe) if g_x is None or g_x.numel() == 0 else g_x
        d_theta, d_xe, d_g = pull((g_theta, g_x))
        d_x = d_xe if X.dim() == 3 else d_xe.sum(0)
        return d_theta, d_x, d_g, None, None, None, None

    @staticmethod
    @forward_mode()
    def jvp(ctx, d_theta, d_x, d_g, *_):
        """Linear in G (the same op); in theta, for the theta part, the Hessian of the linear loss
        s = sum_n G_n . y(x_n) times d theta (the fused HVP). The mixed and X parts would need the
        reference in reverse mode, which a jvp rule cannot run (torch.func inside the
        dispatcher): NotImplementedError."""
        if d_x is not None or (d_theta is not None and ctx.need_x):
            raise NotImplementedError(
                f"{'X' if d_x is not None else 'theta'} carries a forward-mode tangent "
                "(torch.func.jvp, jacfwd, forward_ad) into the backward of reluscope.forward, "
                "whose derivative there involves second derivatives of the forward pass in X, "
                "which reluscope computes in reverse mode only: use torch.func.jacrev(jacrev(...))"
                " or double backward (in theta alone, torch.func.hessian and jacfwd(jacrev) work)")
        theta, X, G = saved_primals(ctx)
        dt = dx = None
        if d_g is not None:
            dt, dx = forward_vjp(theta, X, d_g, *ctx.model, ctx.need_x)
        if d_theta is not None:
            ones_w, ones_imp = theta.new_ones(X.shape[-2]), theta.new_ones(G.shape[-1])
            hv = hess_products(theta, X, G, ones_w, ones_imp, d_theta[:, None], *ctx.model,
                               int(_core.Loss.linear), int(_fused.Mode.hvp))[:, 0]
            dt = hv if dt is None else dt + hv
        return dt, (dx if dx is not None else theta.new_zeros(theta.shape[0], 0, 0))


def _reference_model(model_args) -> LayerModel:
    layers, _, slope = model_args
    return LayerModel(layers_of(layers), slope)


def _reference_vjp(ctx, theta, X):
    """(vjp_of(theta, Xe, G) = (J_theta^T G, per-sample J_x^T G) by the torch reference, Xe: X
    per model)."""
    model = _reference_model(ctx.model)
    Xe = X if X.dim() == 3 else X.expand(theta.shape[0], *X.shape)

    def vjp_of(th, xe, g):
        return torch.func.vjp(lambda a, b: reference_forward(model, a, b), th, xe)[1](g)

    return vjp_of, Xe


forward_op = define("forward", _forward_impl, _forward_fake, _Forward,
                    ("net", ("net_or_shared", 2), None, None, None))
forward_vjp = define("forward_vjp", _vjp_impl, _vjp_fake, _ForwardVJP,
                     ("net", ("net_or_shared", 2), "net", None, None, None, None))
