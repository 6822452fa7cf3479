"""The Hessian kernel as torch custom ops, so that autograd, torch.func and torch.compile see
through it: ``reluscope::hess_loss`` (losses), ``reluscope::hess_grad`` (losses and gradients)
and ``reluscope::hess_products`` (Hessian or Gauss-Newton products), each with its fake
implementation (shapes for torch.compile), vmap rule (a vmapped dimension becomes more models, or
more directions) and derivative rules (``reluscope._ops.define``), in theta and V only:

- loss -> gradient: ``hess_grad``, the same kernel pass as ``value_and_grad``; forward mode
  dL = <grad L, d theta>;
- gradient -> Hessian-vector product: ``hess_products`` in mode hvp (double backward through the
  fused kernels; forward mode d grad = H d theta, so torch.func.hessian = jacfwd(jacrev) is one
  fused pass with P directions per model);
- products -> in V: the same operator again (it is symmetric, and linear in V); in theta (a third
  derivative): the torch reference (``reluscope.reference.hessian.product_sum``), exact but not
  fused, in reverse mode only (a jvp rule runs inside torch's dispatcher, where torch.func
  transforms cannot start): forward mode there is a NotImplementedError.

Tangents in the data (X, T, weights, importance) are an error, like gradients there.
The public functions (``reluscope.hessian.products``) call ``loss_values``, ``loss_and_grad`` and
``products``, which skip torch's dispatcher in plain eager mode.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .._ext import _core
from .._ops import (LayerModel, below_autograd, define, eager, forward_mode, layers_of,
                    refuse_tangents, saved_primals, spec_of)
from ..reference.hessian import product_sum
from .. import _fused
from .._fused import Mode

_LOSS_NAMES = {int(v): v.name for v in _core.Loss}
_ROLES = ("net", ("net_or_shared", 2), ("net_or_shared", 2), ("net_or_shared", 1), "shared")
_NO_MODEL_GRADS = (None,) * 4  # layers, n_params, slope, loss


# ---- implementations ---------------------------------------------------------------------------
def _loss_impl(theta: Tensor, X: Tensor, T: Tensor, w: Tensor, imp: Tensor, layers: list[int],
               n_params: int, slope: float, loss: int) -> Tensor:
    inp = _fused.Inputs(spec_of(layers, n_params, slope), theta, X, T, w, imp, loss)
    return _fused.run(inp, Mode.loss).loss


def _grad_impl(theta: Tensor, X: Tensor, T: Tensor, w: Tensor, imp: Tensor, layers: list[int],
               n_params: int, slope: float, loss: int) -> tuple[Tensor, Tensor]:
    inp = _fused.Inputs(spec_of(layers, n_params, slope), theta, X, T, w, imp, loss)
    sums = _fused.run(inp, Mode.grad)
    return sums.loss, sums.grad


def _products_impl(theta: Tensor, X: Tensor, T: Tensor, w: Tensor, imp: Tensor, V: Tensor,
                   layers: list[int], n_params: int, slope: float, loss: int,
                   mode: int) -> Tensor:
    inp = _fused.Inputs(spec_of(layers, n_params, slope), theta, X, T, w, imp, loss)
    return _fused.run(inp, Mode(mode), V).products


# ---- fake implementations (torch.compile) ------------------------------------------------------
def _loss_fake(theta, X, T, w, imp, layers, n_params, slope, loss):
    return theta.new_empty(theta.shape[0])


def _grad_fake(theta, X, T, w, imp, layers, n_params, slope, loss):
    return theta.new_empty(theta.shape[0]), theta.new_empty(theta.shape)


def _products_fake(theta, X, T, w, imp, V, layers, n_params, slope, loss, mode):
    return theta.new_empty(theta.shape[0], V.shape[-2], theta.shape[1])


# ---- derivatives: the ops' autograd.Functions (reluscope._ops.define) ----------------------------
def _no_data_tangents(function: str, dX, dT, dw, dimp) -> None:
    refuse_tangents(function, **{"data.X": dX, "data.T": dT, "data.weights": dw,
                                 "data.importance": dimp})


class _Loss(torch.autograd.Function):
    @staticmethod
    def forward(*args):
        return below_autograd(hess_loss, args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)  # absent gradients and tangents are None, not zeros
        ctx.save_for_backward(*inputs[:5])
        ctx.save_for_forward(*inputs[:5])
        ctx.rest = inputs[5:]

    @staticmethod
    def backward(ctx, g_loss):
        if g_loss is None:
            return (None,) * 9
        theta, X, T, w, imp = ctx.saved_tensors
        _, G = hess_grad(theta, X, T, w, imp, *ctx.rest)
        return (g_loss[:, None] * G, None, None, None, None, *_NO_MODEL_GRADS)

    @staticmethod
    @forward_mode()
    def jvp(ctx, d_theta, dX, dT, dw, dimp, *_):
        _no_data_tangents("reluscope.hessian.loss", dX, dT, dw, dimp)
        theta, X, T, w, imp = saved_primals(ctx)
        _, G = hess_grad(theta, X, T, w, imp, *ctx.rest)
        return (G * d_theta).sum(-1)  # dL = <grad L, d theta>


class _Grad(torch.autograd.Function):
    @staticmethod
    def forward(*args):
        return below_autograd(hess_grad, args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)  # absent gradients and tangents are None, not zeros
        ctx.save_for_backward(*inputs[:5], output[1])
        ctx.save_for_forward(*inputs[:5], output[1])
        ctx.rest = inputs[5:]

    @staticmethod
    def backward(ctx, g_loss, g_grad):
        theta, X, T, w, imp, G = ctx.saved_tensors
        d = None if g_loss is None else g_loss[:, None] * G
        if g_grad is not None:
            hv = hess_products(theta, X, T, w, imp, g_grad[:, None], *ctx.rest, int(Mode.hvp))
            d = hv[:, 0] if d is None else d + hv[:, 0]
        return (d, None, None, None, None, *_NO_MODEL_GRADS)

    @staticmethod
    @forward_mode()
    def jvp(ctx, d_theta, dX, dT, dw, dimp, *_):
        _no_data_tangents("reluscope.hessian.value_and_grad", dX, dT, dw, dimp)
        theta, X, T, w, imp, G = saved_primals(ctx)
        # dL = <grad L, d theta>; d grad = H d theta (the fused HVP)
        hv = hess_products(theta, X, T, w, imp, d_theta[:, None], *ctx.rest, int(Mode.hvp))
        return (G * d_theta).sum(-1), hv[:, 0]


class _Products(torch.autograd.Function):
    @staticmethod
    def forward(*args):
        return below_autograd(hess_products, args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)  # absent gradients and tangents are None, not zeros
        ctx.save_for_backward(*inputs[:6])
        ctx.save_for_forward(*inputs[:6])
        ctx.rest, ctx.mode = inputs[6:10], inputs[10]

    @staticmethod
    def backward(ctx, g_out):
        if g_out is None:
            return (None,) * 11
        theta, X, T, w, imp, V = ctx.saved_tensors
        d_theta = d_V = None
        if ctx.needs_input_grad[5]:  # the operator is symmetric: A^T g = A g
            d_V = hess_products(theta, X, T, w, imp, g_out, *ctx.rest, ctx.mode)
            if V.dim() == 2:
                d_V = d_V.sum(0)
        if ctx.needs_input_grad[0]:  # a third derivative: the torch reference
            model, loss, gauss = _reference_args(ctx)
            d_theta = torch.func.grad(lambda th: product_sum(
                model, th, X, T, w, imp, loss, V, g_out, gauss))(theta)
        return (d_theta, None, None, None, None, d_V, *_NO_MODEL_GRADS, None)

    @staticmethod
    @forward_mode()
    def jvp(ctx, d_theta, dX, dT, dw, dimp, dV, *_):
        function = "reluscope.hessian's hvp and gnvp"
        _no_data_tangents(function, dX, dT, dw, dimp)
        if d_theta is not None:
            raise NotImplementedError(
                f"theta carries a forward-mode tangent (torch.func.jvp, jacfwd, forward_ad), but "
                f"the derivative of {function} in theta is a third derivative of the loss, which "
                "reluscope computes in reverse mode only: use backward, torch.func.grad, vjp or "
                "jacrev (in V, forward mode works: the products are linear in V)")
        theta, X, T, w, imp, _ = saved_primals(ctx)
        return hess_products(theta, X, T, w, imp, dV, *ctx.rest, ctx.mode)  # linear in V


def _reference_args(ctx):
    """(model, loss name, Gauss-Newton?) of a products op for the torch reference."""
    layers, _, slope, loss = ctx.rest
    return LayerModel(layers_of(layers), slope), _LOSS_NAMES[loss], ctx.mode == int(Mode.gnvp)


hess_loss = define("hess_loss", _loss_impl, _loss_fake, _Loss, (*_ROLES, None, None, None, None))
hess_grad = define("hess_grad", _grad_impl, _grad_fake, _Grad, (*_ROLES, None, None, None, None))
hess_products = define("hess_products", _products_impl, _products_fake, _Products,
                       (*_ROLES, ("directions", 2), None, None, None, None, None))


# ---- what the public functions call ------------------------------------------------------------
def loss_values(*args) -> Tensor:
    """(B,) losses; args as ``hess_loss``'s. Where theta requires grad its backward will need
    the gradient: one gradient pass gives both (the backward then costs no kernel call)."""
    if eager(*args[:5]):
        return _loss_impl(*args)
    if torch.is_grad_enabled() and args[0].requires_grad:
        return hess_grad(*args)[0]
    return hess_loss(*args)


def loss_and_grad(*args) -> tuple[Tensor, Tensor]:
    """(B,) losses and (B, P) gradients; args as ``hess_grad``'s."""
    return _grad_impl(*args) if eager(*args[:5]) else hess_grad(*args)


def products(*args) -> Tensor:
    """(B, K, P) products; args as ``hess_products``'s."""
    return _products_impl(*args) if eager(*args[:6]) else hess_products(*args)
