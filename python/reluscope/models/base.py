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
from .spec import spec_of

#: Activation names, in the order of the kernels' codes (``reluscope._core.Activation``).
ACTIVATIONS: tuple[str, ...] = tuple(a.name for a in _core.Activation)
#: Activations whose networks are piecewise linear (the region counter takes only these).
PIECEWISE_LINEAR: tuple[str, ...] = tuple(
    a.name for a in _core.Activation if _core.activation_is_piecewise_linear(a))
#: Activations with a kink at 0: one activation-pattern bit per neuron.
KINKED: tuple[str, ...] = tuple(a.name for a in _core.Activation if _core.activation_has_kink(a))

INIT_SCHEMES = ("he", "lecun", "normal", "torch")


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
    #: NTK parameterisation: the layer applies W / sqrt(d_in) (z = W a / sqrt(d_in) + b)
    ntk: bool = False


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
        """The compiled description handed to the kernels (``models.spec``: one encoding, one
        cache; looked up once per model)."""
        if self._spec is None:
            self._spec = spec_of(self.flat_layers, self.num_params, float(self.slope))
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
        """The parameter blocks of one theta row in order: (kind, shape, fan_in), kind "weight"
        or "bias", fan_in that of the layer the block belongs to."""
        raise NotImplementedError

    def init(self, B: int, generator: Optional[torch.Generator] = None,
             scheme: Optional[str] = None, dtype: torch.dtype = torch.float32, device="cpu",
             bias_std: float = 0.0, std: float = 1.0, *, C_W: Optional[float] = None,
             C_b: Optional[float] = None) -> torch.Tensor:
        """Random theta (B, P): weights and biases independent centred Gaussians (uniform for
        ``scheme="torch"``).

        The weight matrices W_l as the layers apply them (in the NTK parameterisation W_l /
        sqrt(fan_in) — ``MLP``) have variance C_W / fan_in: C_W = 2 ("he"), 1 ("lecun") or the
        given ``C_W`` (the variance choices of the deep-learning-theory notes: ReLU is critical
        at C_W = 2, tanh at C_W = 1); "normal" draws every theta weight entry ~ N(0, std^2)
        instead (std = 1 in the NTK parameterisation is neural-tangents' unit-variance init);
        "torch" is ``nn.Linear``'s default: applied weights and biases ~ U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) (weight variance 1 / (3 fan_in)), bias_std and C_b not used.
        Biases ~ N(0, C_b) (``C_b``) or N(0, bias_std^2) (zero by default). The default scheme is
        the model's ``default_init``; giving C_W with a scheme, or C_b with a bias_std, is an
        error.
        """
        if C_W is not None:
            if scheme is not None:
                raise ValueError("give either scheme or C_W, not both")
            C_W = _nonnegative(C_W, "C_W")
        else:
            scheme = self.default_init if scheme is None else scheme
            if scheme not in INIT_SCHEMES:
                raise ValueError(f"scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
        if C_b is not None:
            if bias_std != 0.0:
                raise ValueError("give either bias_std or C_b, not both")
            bias_std = math.sqrt(_nonnegative(C_b, "C_b"))
        if scheme == "torch" and (bias_std != 0.0 or C_b is not None):
            raise ValueError("scheme='torch' draws the biases itself: give no bias_std or C_b")
        ntk = any(layer.ntk for layer in self.layers)
        parts = []
        for kind, shape, fan_in in self.weight_blocks():
            if scheme == "torch":  # U(-k, k) as applied; theta holds W sqrt(fan_in) under NTK
                k = 1.0 if ntk and kind == "weight" else 1 / math.sqrt(fan_in)
                draw = (2 * torch.rand(B, *shape, generator=generator, dtype=dtype) - 1) * k
                parts.append(draw.reshape(B, math.prod(shape)))
                continue
            if kind == "bias":
                s = bias_std
            elif scheme == "normal":
                s = std
            else:  # the applied weight's variance C_W / fan_in
                c = C_W if C_W is not None else {"he": 2.0, "lecun": 1.0}[scheme]
                s = math.sqrt(c if ntk else c / fan_in)
            draw = torch.randn(B, *shape, generator=generator, dtype=dtype) * s
            parts.append(draw.reshape(B, math.prod(shape)))
        return torch.cat(parts, dim=1).to(device)


def _nonnegative(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x < math.inf:
        raise ValueError(f"{name} must be a finite number >= 0, got {x!r}")
    return float(x)


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
