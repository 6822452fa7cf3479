"""What reluscope's torch custom ops share (``reluscope::forward``, ``forward_vjp``,
``hess_loss``, ``hess_grad``, ``hess_products``): their definition (``define``: schema, kernel,
fake implementation for torch.compile, vmap rule, derivative rules), models passed as plain values
(the flattened layer table, P, the leaky slope) and compiled to a NetSpec once, and the eager
shortcut that skips torch's dispatcher when nothing needs it.

Every public call runs one implementation: directly in plain eager mode (no input needs a
gradient or carries a forward-mode tangent, no torch.func transform, not compiling), else through
its custom op. An op's derivatives are an autograd.Function (``backward``: reverse mode; ``jvp``:
forward mode) that the op's own Autograd kernel applies whenever an input requires grad or carries
a tangent, at every torch.func level. Not a Function around the op: torch.compile inlines such a
Function's forward and drops its ``jvp`` when no input requires grad (pytorch issue 192985), and an
op's registered autograd (``register_autograd``) drops forward-mode tangents and fails under
torch.func.grad, so either way a tangent would be silently lost. At the kernel, dynamo sees only the
op, and eager mode, torch.func and AOTAutograd all run the same rules."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, NamedTuple, Optional, Sequence

import torch
import torch.autograd.forward_ad as fwAD
from torch._functorch.utils import enable_single_level_autograd_function

from ._ext import _core
from ._validate import tangent_error
from .models.base import Layer, Model
from .models.spec import spec_of  # noqa: F401  (the custom ops' route to a NetSpec, re-exported)


class ModelArgs(NamedTuple):
    """A model as a custom op receives it."""
    layers: list[int]
    n_params: int
    slope: float


def model_args(model: Model) -> ModelArgs:
    return ModelArgs(model.flat_layers, model.num_params, float(model.slope))


def layers_of(flat_layers: Sequence[int]) -> list[Layer]:
    """Inverse of Model.flat_layers."""
    width = len(Layer._fields)
    rows = [Layer(*flat_layers[i:i + width]) for i in range(0, len(flat_layers), width)]
    return [r._replace(activation=_core.Activation(r.activation), transposed=bool(r.transposed),
                       ntk=bool(r.ntk)) for r in rows]


class LayerModel(NamedTuple):
    """The part of a Model the torch references read (``layers``, ``slope``), from op arguments."""
    layers: list[Layer]
    slope: float


def eager(*tensors: Optional[torch.Tensor]) -> bool:
    """Whether a call may run its implementation directly: plain tensors (no subclass, no
    torch.func wrapper, no forward-mode tangent), none needing a gradient, and not inside
    torch.compile."""
    if torch.compiler.is_compiling():
        return False
    grad = torch.is_grad_enabled()
    dual = fwAD._current_level >= 0  # inside forward_ad.dual_level
    for t in tensors:
        if t is None:
            continue
        if type(t) is not torch.Tensor or (grad and t.requires_grad):
            return False
        if torch._C._functorch.is_functorch_wrapped_tensor(t):
            return False
        if dual and _tangent(t) is not None:
            return False
    return True


# ---- definition ----------------------------------------------------------------------------------
_LIB = torch.library.Library("reluscope", "FRAGMENT")

#: How a custom op's argument relates to the batch of models, for the vmap rule: "net" has the
#: model batch first; ("net_or_shared", k) is per model or, with k dimensions, shared by all
#: models; ("directions", k) is like ("net_or_shared", k) with directions in dimension -2 (a
#: vmapped one alone folds into the directions); "shared" is shared (a vmapped one makes the rule
#: loop); None is not a tensor.
Role = Optional[object]


def define(name: str, impl: Callable, fake: Callable, rules: type[torch.autograd.Function],
           roles: Sequence[Role]):
    """Define the custom op ``reluscope::<name>`` (schema from impl's annotations; impl on every
    device, fake for torch.compile) with its derivative rules (an autograd.Function whose forward
    is ``below_autograd(op, args)``) and its vmap rule; returns the op (an OpOverload)."""
    schema = torch.library.infer_schema(impl, mutates_args=())
    _LIB.define(name + schema, tags=(torch.Tag.pt2_compliant_tag,))
    _LIB.impl(name, impl, "CompositeExplicitAutograd")
    op = getattr(torch.ops.reluscope, name).default
    torch.library.register_fake(op, fake, lib=_LIB)
    _LIB.impl(name, _autograd_kernel(op, rules), "Autograd", with_keyset=True)
    torch.library.register_vmap(op, _vmap_rule(op, roles), lib=_LIB)
    return op


# ---- derivatives ---------------------------------------------------------------------------------
def _autograd_kernel(op, rules: type[torch.autograd.Function]):
    """op's Autograd kernel: where an input requires grad (grad mode on) or carries a tangent at
    this level, rules applied here, as torch's own kernels are, on this level's tensors (hence
    the single-level apply, which torch.func permits for its own rules); else op below autograd."""

    def kernel(keyset, *args):
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if (torch.is_grad_enabled() and any(t.requires_grad for t in tensors)) or (
                torch._C._is_fwd_grad_enabled() and any(_tangent(t) is not None for t in tensors)):
            with enable_single_level_autograd_function():
                return super(torch.autograd.Function, rules).apply(*args)
        with torch._C._AutoDispatchBelowAutograd():
            return op.redispatch(keyset & torch._C._after_autograd_keyset, *args)

    return kernel


def _tangent(t: torch.Tensor) -> Optional[torch.Tensor]:
    """t's forward-mode tangent at this level (forward_ad and torch.func.jvp both use level 0)."""
    return fwAD.unpack_dual(t, level=0).tangent


def below_autograd(op, args: tuple):
    """An op's Function.forward: op at the levels below this one. Function.apply turns gradients
    and tangents off for its forward; the levels below (outer torch.func transforms) need them."""
    with torch.enable_grad(), fwAD._set_fwd_grad_enabled(True), \
            torch._C._AutoDispatchBelowAutograd():
        return op(*args)


@contextmanager
def forward_mode():
    """Around a jvp rule's body: autograd calls jvp with forward mode off, which would drop the
    tangents of outer transforms (jvp of jvp, jacfwd of jacfwd) in what the rule computes."""
    with fwAD._set_fwd_grad_enabled(True):
        yield


def saved_primals(ctx) -> tuple:
    """A jvp rule's saved tensors (``ctx.save_for_forward``) without this level's tangent: the
    rule computes with them, and a tangent there would make it differentiate itself."""
    return tuple(None if t is None else fwAD.unpack_dual(t, level=0).primal
                 for t in ctx.saved_tensors)


def tangent_of(fn: Callable, primals: Sequence[torch.Tensor],
               tangents: Sequence[Optional[torch.Tensor]]) -> torch.Tensor:
    """Inside a jvp rule: the tangent of the tensor fn(*primals) along tangents (None: none for
    that primal) by forward-mode AD on level 0; fn made of plain torch ops (no torch.func
    transform can start inside the dispatcher)."""
    duals = [p if t is None else fwAD.make_dual(p, t, level=0) for p, t in zip(primals, tangents)]
    out = fn(*duals)
    tangent = _tangent(out)
    return torch.zeros_like(out) if tangent is None else tangent


def refuse_tangents(function: str, **tangents: Optional[torch.Tensor]) -> None:
    """In a jvp rule: NotImplementedError when an argument without a derivative got a tangent."""
    for name, t in tangents.items():
        if t is not None:
            raise tangent_error(name, function)


# ---- vmap ----------------------------------------------------------------------------------------
def _vmap_rule(op, roles: Sequence[Role]):
    """vmap rule for op: the vmapped dimension (size V) is folded into the model batch (V B models),
    outputs (V B, ...) unfolded to (V, B, ...); where only directions are vmapped, into the
    directions (K -> V K, one pass per model); where a "shared" argument is vmapped, op runs once
    per slice."""

    def rule(info, in_dims, *args):
        V = info.batch_size
        dims = [d if isinstance(a, torch.Tensor) else None for a, d in zip(args, in_dims)]
        if any(r == "shared" and d is not None for r, d in zip(roles, dims)):
            return _loop(op, V, dims, args)
        batched = [r for r, d in zip(roles, dims) if d is not None]
        if len(batched) == 1 and isinstance(batched[0], tuple) and batched[0][0] == "directions":
            return _fold_directions(op, V, dims, args)
        B = _models_in(args, dims, roles)
        out = op(*[_fold(a, d, r, V, B) for a, d, r in zip(args, dims, roles)])
        if isinstance(out, torch.Tensor):
            return out.unflatten(0, (V, B)), 0
        return tuple(o.unflatten(0, (V, B)) for o in out), tuple(0 for _ in out)

    return rule


def _models_in(args, in_dims, roles) -> int:
    """B, the number of models, read from the first "net" argument."""
    for a, d, r in zip(args, in_dims, roles):
        if r == "net":
            return a.shape[0] if d is None else a.movedim(d, 0).shape[1]
    raise AssertionError("an op with a vmap rule has a 'net' argument")


def _fold(a, d, role, V: int, B: int):
    if role is None or a is None or role == "shared":
        return a
    shared_ndim = role[1] if isinstance(role, tuple) else None
    if d is None:
        if a.dim() == shared_ndim:
            return a
        return a.expand(V, *a.shape).flatten(0, 1)
    a = a.movedim(d, 0)
    if a.dim() == (shared_ndim or -1) + 1:  # vmapped but shared by the models of a slice
        a = a[:, None].expand(V, B, *a.shape[1:])
    return a.flatten(0, 1)


def _fold_directions(op, V: int, in_dims, args):
    """Only the directions (.., K, P) vmapped: V K directions per model, out (B, V K, P) ->
    (V, B, K, P)."""
    i = next(i for i, d in enumerate(in_dims) if d is not None)
    D = args[i].movedim(in_dims[i], 0)  # (V, B, K, P) or (V, K, P)
    K = D.shape[-2]
    D = D.movedim(0, -3).flatten(-3, -2)  # (B, V K, P) or (V K, P)
    out = op(*args[:i], D, *args[i + 1:])
    return out.unflatten(1, (V, K)).movedim(1, 0), 0


def _loop(op, V: int, in_dims, args):
    outs = [op(*[a.select(d, i) if d is not None else a for a, d in zip(args, in_dims)])
            for i in range(V)]
    if isinstance(outs[0], torch.Tensor):
        return torch.stack(outs), 0
    return tuple(torch.stack(o) for o in zip(*outs)), tuple(0 for _ in outs[0])
