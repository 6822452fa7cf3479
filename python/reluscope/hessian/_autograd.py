"""The Hessian kernel as torch custom ops, so that autograd, torch.func and torch.compile see
through it: ``reluscope::hess_loss`` (losses), ``reluscope::hess_grad`` (losses and gradients)
and ``reluscope::hess_products`` (Hessian or Gauss-Newton products), each with its fake
implementation (shapes for torch.compile) and vmap rule (a vmapped dimension becomes more models),
wrapped in autograd.Functions (torch.func's grad needs their setup_context) that give the
derivatives:

- loss -> gradient: ``hess_grad``, the same kernel pass as ``value_and_grad``;
- gradient -> Hessian-vector product: ``hess_products`` in mode hvp (double backward through the
  fused kernels);
- products -> in V: the same operator again (it is symmetric); in theta (a third derivative):
  the torch reference (``reluscope.reference.hessian.product_sum``), exact but not fused.

The public functions (``reluscope.hessian.products``) call ``loss_values``, ``loss_and_grad`` and
``products``, which skip torch's dispatcher in plain eager mode.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .._ext import _core
from .._ops import (LayerModel, eager, layers_of, register_batched_vmap, reverse_mode_only,
                    spec_of)
from ..reference.hessian import product_sum
from . import _kernel
from ._kernel import Mode

_LOSS_NAMES = {int(v): v.name for v in _core.Loss}
_ROLES = ("net", ("net_or_shared", 2), ("net_or_shared", 2), ("net_or_shared", 1), "shared")
_NO_MODEL_GRADS = (None,) * 4  # layers, n_params, slope, loss


# ---- implementations ---------------------------------------------------------------------------
def _loss_impl(theta: Tensor, X: Tensor, T: Tensor, w: Tensor, imp: Tensor, layers: list[int],
               n_params: int, slope: float, loss: int) -> Tensor:
    spec = spec_of(layers, n_params, slope)
    return _kernel.run(spec, theta, X, T, w, imp, loss, Mode.loss).loss.clone()


def _grad_impl(theta: Tensor, X: Tensor, T: Tensor, w: Tensor, imp: Tensor, layers: list[int],
               n_params: int, slope: float, loss: int) -> tuple[Tensor, Tensor]:
    spec = spec_of(layers, n_params, slope)
    sums = _kernel.run(spec, theta, X, T, w, imp, loss, Mode.grad)
    return sums.loss.clone(), sums.grad.clone()


def _products_impl(theta: Tensor, X: Tensor, T: Tensor, w: Tensor, imp: Tensor, V: Tensor,
                   layers: list[int], n_params: int, slope: float, loss: int,
                   mode: int) -> Tensor:
    spec = spec_of(layers, n_params, slope)
    return _kernel.run(spec, theta, X, T, w, imp, loss, Mode(mode), V).products.clone()


hess_loss = torch.library.custom_op("reluscope::hess_loss", _loss_impl, mutates_args=())
hess_grad = torch.library.custom_op("reluscope::hess_grad", _grad_impl, mutates_args=())
hess_products = torch.library.custom_op("reluscope::hess_products", _products_impl,
                                        mutates_args=())


# ---- fake implementations (torch.compile) ------------------------------------------------------
@hess_loss.register_fake
def _(theta, X, T, w, imp, layers, n_params, slope, loss):
    return theta.new_empty(theta.shape[0])


@hess_grad.register_fake
def _(theta, X, T, w, imp, layers, n_params, slope, loss):
    return theta.new_empty(theta.shape[0]), theta.new_empty(theta.shape)


@hess_products.register_fake
def _(theta, X, T, w, imp, V, layers, n_params, slope, loss, mode):
    return theta.new_empty(theta.shape[0], V.shape[-2], theta.shape[1])


# ---- derivatives: autograd.Functions around the ops (torch.func needs setup_context) ----------
@reverse_mode_only("reluscope.hessian.loss")
class _Loss(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(theta, X, T, w, imp, layers, n_params, slope, loss):
        return hess_loss(theta, X, T, w, imp, layers, n_params, slope, loss)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs[:5])
        ctx.rest = inputs[5:]

    @staticmethod
    def backward(ctx, g_loss):
        theta, X, T, w, imp = ctx.saved_tensors
        _, G = _Grad.call(theta, X, T, w, imp, *ctx.rest)
        return (g_loss[:, None] * G, None, None, None, None, *_NO_MODEL_GRADS)


@reverse_mode_only("reluscope.hessian.value_and_grad")
class _Grad(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(theta, X, T, w, imp, layers, n_params, slope, loss):
        return hess_grad(theta, X, T, w, imp, layers, n_params, slope, loss)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs[:5], output[1])
        ctx.rest = inputs[5:]
        ctx.set_materialize_grads(False)  # an unused output's gradient is None, not zeros

    @staticmethod
    def backward(ctx, g_loss, g_grad):
        theta, X, T, w, imp, G = ctx.saved_tensors
        d = None if g_loss is None else g_loss[:, None] * G
        if g_grad is not None:
            hv = _Products.call(theta, X, T, w, imp, g_grad[:, None], *ctx.rest,
                                 int(Mode.hvp))[:, 0]
            d = hv if d is None else d + hv
        return (d, None, None, None, None, *_NO_MODEL_GRADS)


@reverse_mode_only("reluscope.hessian's products")
class _Products(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(theta, X, T, w, imp, V, layers, n_params, slope, loss, mode):
        return hess_products(theta, X, T, w, imp, V, layers, n_params, slope, loss, mode)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs[:6])
        ctx.rest, ctx.mode = inputs[6:10], inputs[10]

    @staticmethod
    def backward(ctx, g_out):
        theta, X, T, w, imp, V = ctx.saved_tensors
        d_theta = d_V = None
        if ctx.needs_input_grad[5]:  # the operator is symmetric: A^T g = A g
            d_V = _Products.call(theta, X, T, w, imp, g_out, *ctx.rest, ctx.mode)
            if V.dim() == 2:
                d_V = d_V.sum(0)
        if ctx.needs_input_grad[0]:  # a third derivative: the torch reference
            layers, _, slope, loss = ctx.rest
            model = LayerModel(layers_of(layers), slope)
            gauss = ctx.mode == int(Mode.gnvp)
            d_theta = torch.func.grad(lambda th: product_sum(
                model, th, X, T, w, imp, _LOSS_NAMES[loss], V, g_out, gauss))(theta)
        return (d_theta, None, None, None, None, d_V, *_NO_MODEL_GRADS, None)


register_batched_vmap(hess_loss, (*_ROLES, None, None, None, None))
register_batched_vmap(hess_grad, (*_ROLES, None, None, None, None))
register_batched_vmap(hess_products, (*_ROLES, ("net_or_shared", 2), None, None, None, None, None))


# ---- what the public functions call ------------------------------------------------------------
def loss_values(*args) -> Tensor:
    """(B,) losses; args as ``hess_loss``'s. Where theta requires grad its backward will need
    the gradient: one gradient pass gives both (the backward then costs no kernel call)."""
    if eager(*args[:5]):
        return _loss_impl(*args)
    if torch.is_grad_enabled() and args[0].requires_grad:
        return _Grad.call(*args)[0]
    return _Loss.call(*args)


def loss_and_grad(*args) -> tuple[Tensor, Tensor]:
    """(B,) losses and (B, P) gradients; args as ``hess_grad``'s."""
    return _grad_impl(*args) if eager(*args[:5]) else _Grad.call(*args)


def products(*args) -> Tensor:
    """(B, K, P) products; args as ``hess_products``'s."""
    return _products_impl(*args) if eager(*args[:6]) else _Products.call(*args)
