"""The common part of the model descriptions: activations, the per-layer table the kernels read,
and the interface every engine takes (``Model``).

A batch of B networks of one architecture is one tensor theta of shape (B, P). A model is a stack
of dense layers z = W a + b, a' = activation(z); each ``Layer`` says where its W and b sit in a
row of theta. The table compiles to the kernels' NetSpec (csrc/model/net_spec.h) once per model.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence

import torch

from .._ext import _core

#: Activation names, in the order of the kernels' codes (``reluscope._core.Activation``).
ACTIVATIONS: tuple[str, ...] = tuple(a.name for a in _core.Activation)
#: Activations whose networks are piecewise linear (the region counter takes only these).
PIECEWISE_LINEAR: tuple[str, ...] = tuple(
    a.name for a in _core.Activation if _core.activation_is_piecewise_linear(a))
#: Activations with a kink at 0: one activation-pattern bit per neuron.
KINKED: tuple[str, ...] = tuple(a.name for a in _core.Activation if _core.activation_has_kink(a))

INIT_SCHEMES = ("he", "lecun", "normal")


def activation_code(name: str) -> _core.Activation:
    """The kernels' code of an activation name; ValueError for an unknown name."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return _core.Activation[name]


class Layer(NamedTuple):
    """One dense layer z = W a + b, a' = activation(z), as the kernels read it from a theta row."""

    w_off: int                     #: theta index of W[0, 0]
    b_off: int                     #: theta index of b[0]; -1 without bias
    d_in: int
    d_out: int
    transposed: bool               #: W is stored d_in x d_out and read transposed (tied weights)
    activation: _core.Activation


class Model:
    """Common interface of ``MLP`` and ``TMS``: P, the layer table, the compiled NetSpec, init."""

    activation: str
    slope: float
    bias: bool
    #: The layer table, set by the constructor.
    layers: tuple[Layer, ...]
    #: Default ``init`` scheme of the model.
    default_init = "he"
    _spec = None

    @property
    def num_params(self) -> int:
        """P, the length of one network's theta row."""
        raise NotImplementedError

    @property
    def d_in(self) -> int:
        return self.layers[0].d_in

    @property
    def d_out(self) -> int:
        return self.layers[-1].d_out

    @property
    def spec(self) -> _core.NetSpec:
        """The compiled description handed to the kernels (built once per model)."""
        if self._spec is None:
            self._spec = _core.NetSpec(list(self.layers), self.num_params, float(self.slope))
        return self._spec

    @property
    def flat_layers(self) -> list[int]:
        """The layer table flattened to ints (how a torch custom op receives it)."""
        return [int(v) for layer in self.layers for v in layer]

    def check_theta(self, theta: torch.Tensor) -> None:
        if theta.dim() != 2 or theta.shape[1] != self.num_params:
            raise ValueError(f"theta must have shape (B, {self.num_params}) for {self!r}, "
                             f"got {tuple(theta.shape)}")

    def weight_blocks(self) -> list[tuple[str, tuple[int, ...], int]]:
        """The parameter blocks of one theta row in order: ("weight", shape, fan_in) or
        ("bias", shape, 0)."""
        raise NotImplementedError

    def init(self, B: int, generator: Optional[torch.Generator] = None,
             scheme: Optional[str] = None, dtype: torch.dtype = torch.float32, device="cpu",
             bias_std: float = 0.0, std: float = 1.0) -> torch.Tensor:
        """Random theta (B, P). Every weight matrix ~ N(0, s^2) with s^2 = 2/fan_in ("he"),
        1/fan_in ("lecun") or std^2 ("normal"); biases ~ N(0, bias_std^2) (zero by default).
        The default scheme is the model's ``default_init``."""
        scheme = self.default_init if scheme is None else scheme
        if scheme not in INIT_SCHEMES:
            raise ValueError(f"scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
        parts = []
        for kind, shape, fan_in in self.weight_blocks():
            s = bias_std if kind == "bias" else {"he": math.sqrt(2.0 / fan_in),
                                                 "lecun": math.sqrt(1.0 / fan_in),
                                                 "normal": std}[scheme]
            draw = torch.randn(B, *shape, generator=generator, dtype=dtype) * s
            parts.append(draw.reshape(B, math.prod(shape)))
        return torch.cat(parts, dim=1).to(device)


def check_model(model, name: str = "model") -> Model:
    """TypeError unless model is a reluscope model (MLP or TMS)."""
    if not isinstance(model, Model):
        raise TypeError(f"{name} must be a reluscope.MLP or reluscope.TMS, "
                        f"got {type(model).__name__}")
    return model


def check_widths(widths: Sequence[int]) -> list[int]:
    """Layer widths as ints: at least two, each >= 1, integral (3.7 is an error, not 3; so is
    True)."""
    try:
        out = [int(w) for w in widths]
    except (TypeError, ValueError):
        raise ValueError(f"widths must be a sequence of integers, got {widths!r}") from None
    if any(o != w or isinstance(w, bool) for o, w in zip(out, widths)):
        raise ValueError(f"widths must be integers, got {list(widths)}")
    if len(out) < 2 or min(out) < 1:
        raise ValueError(f"widths must list at least two positive sizes, got {out}")
    return out


def check_layer_widths(widths: Sequence[int], name: str = "widths") -> None:
    """ValueError unless every width fits the kernels' layer table (``_core.max_width``)."""
    widest = max(widths)
    if widest > _core.max_width:
        raise ValueError(f"{name} must be at most {_core.max_width} (the kernels' layer widths "
                         f"are 32-bit integers), got {widest}")
