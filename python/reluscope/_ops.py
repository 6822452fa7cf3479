"""What reluscope's torch custom ops share (``reluscope::forward``, ``reluscope::hess_*``): models
passed as plain values (the flattened layer table, P, the leaky slope) and compiled to a NetSpec
once, the eager shortcut that skips torch's dispatcher when nothing needs it, and the vmap rule
that folds a vmapped dimension into the batch of models.

Every public call runs one implementation: directly in plain eager mode (no input needs a
gradient, no torch.func transform, not compiling), else through its custom op, whose autograd,
fake (torch.compile) and vmap rules are registered beside it."""
from __future__ import annotations

import atexit
from typing import NamedTuple, Optional, Sequence

import torch

from ._ext import _core
from .models.base import Layer, Model

_SPECS: dict = {}
# The cache holds nanobind objects: emptied before the interpreter tears the extension down, so
# nanobind finds no live instance at exit.
atexit.register(_SPECS.clear)


class ModelArgs(NamedTuple):
    """A model as a custom op receives it."""
    layers: list[int]
    n_params: int
    slope: float


def model_args(model: Model) -> ModelArgs:
    return ModelArgs(model.flat_layers, model.num_params, float(model.slope))


def spec_of(layers: Sequence[int], n_params: int, slope: float) -> _core.NetSpec:
    """The NetSpec of a flattened layer table (built once per table)."""
    key = (tuple(layers), n_params, slope)
    spec = _SPECS.get(key)
    if spec is None:
        rows = [layer._replace(transposed=bool(layer.transposed)) for layer in layers_of(layers)]
        spec = _SPECS[key] = _core.NetSpec(rows, n_params, slope)
    return spec


def layers_of(flat_layers: Sequence[int]) -> list[Layer]:
    """Inverse of Model.flat_layers."""
    width = len(Layer._fields)
    return [Layer(*flat_layers[i:i + width])._replace(
        activation=_core.Activation(flat_layers[i + width - 1]))
        for i in range(0, len(flat_layers), width)]


class LayerModel(NamedTuple):
    """The part of a Model the torch references read (``layers``, ``slope``), from op arguments."""
    layers: list[Layer]
    slope: float


def eager(*tensors: Optional[torch.Tensor]) -> bool:
    """Whether a call may run its implementation directly: plain tensors (no subclass, no
    torch.func wrapper), none needing a gradient, and not inside torch.compile."""
    if torch.compiler.is_compiling():
        return False
    grad = torch.is_grad_enabled()
    for t in tensors:
        if t is None:
            continue
        if type(t) is not torch.Tensor or (grad and t.requires_grad):
            return False
        if torch._C._functorch.is_functorch_wrapped_tensor(t):
            return False
    return True


#: How a custom op's argument relates to the batch of models, for the vmap rule: "net" has the
#: model batch first; ("net_or_shared", k) is per model or, with k dimensions, shared by all
#: models; "shared" is shared (a vmapped one makes the rule loop); None is not a tensor.
Role = Optional[object]


def register_batched_vmap(op, roles: Sequence[Role]) -> None:
    """vmap rule for op: the vmapped dimension (size V) is folded into the model batch (V B models),
    outputs (V B, ...) unfolded to (V, B, ...); if a "shared" argument is vmapped, op runs once per
    slice instead."""

    def rule(info, in_dims, *args):
        V = info.batch_size
        if any(r == "shared" and d is not None for r, d in zip(roles, in_dims)):
            return _loop(op, V, in_dims, args)
        B = _models_in(args, in_dims, roles)
        folded = [_fold(a, d, r, V, B) for a, d, r in zip(args, in_dims, roles)]
        out = op(*folded)
        if isinstance(out, torch.Tensor):
            return out.unflatten(0, (V, B)), 0
        return tuple(o.unflatten(0, (V, B)) for o in out), tuple(0 for _ in out)

    torch.library.register_vmap(op, rule)


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


def _loop(op, V: int, in_dims, args):
    outs = [op(*[a.select(d, i) if d is not None else a for a, d in zip(args, in_dims)])
            for i in range(V)]
    if isinstance(outs[0], torch.Tensor):
        return torch.stack(outs), 0
    return tuple(torch.stack(o) for o in zip(*outs)), tuple(0 for _ in outs[0])


def reverse_mode_only(name: str):
    """Class decorator for an autograd.Function without forward-mode derivatives: gives it
    ``call(*args)``, which applies it and, outside torch.compile, through a subclass whose ``jvp``
    raises an error naming ``name``. (Dynamo cannot trace a Function that defines ``jvp``; compiled
    code gets torch's own forward-mode error.)"""

    def jvp(ctx, *tangents):
        raise NotImplementedError(
            f"{name} has no forward-mode derivative (torch.func.jvp, jacfwd, forward_ad); use "
            "reverse mode (backward, torch.func.grad, vjp, jacrev)")

    def wrap(cls):
        with_jvp = type(cls.__name__, (cls,), {"jvp": staticmethod(jvp)})
        cls.call = staticmethod(
            lambda *args: (cls if torch.compiler.is_compiling() else with_jvp).apply(*args))
        return cls

    return wrap
