"""Model descriptions shared by every engine: a batch of B networks of one architecture is one
tensor theta of shape (B, P).

Layout of theta for ``MLP(widths=[d0, ..., dL])``: for l = 1..L, W_l (d_l x d_{l-1}, row-major)
then b_l (d_l,) when ``bias``. Hidden layers apply the activation, the last layer is linear.
Layout for ``TMS(n_features=n, n_hidden=m)``: W (m x n, row-major) then b (n,) when ``bias``;
y = relu(W^T W x + b).

Both compile to the same per-layer table (weight offset, bias offset, widths, transposed flag,
activation code) that the C++ kernels read (csrc/model/net_spec.h).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn

from ._ext import _core

#: Activation name -> code shared with csrc/model/activation.h.
ACTIVATIONS = {
    "identity": 0,
    "relu": 1,
    "leaky_relu": 2,
    "tanh": 3,
    "sigmoid": 4,
    "softplus": 5,
    "erf": 6,
    "quadratic": 7,
}
#: Activations whose networks are piecewise linear (the region counter accepts only these).
PIECEWISE_LINEAR = ("identity", "relu", "leaky_relu")

# (w_off, b_off, in, out, transposed, act) per layer, as csrc/model/model_bind.cpp expects.
LayerTuple = tuple


class Model:
    """Common interface of MLP and TMS: parameter count, per-layer table, compiled NetSpec."""

    activation: str
    slope: float

    #: Per-layer table (w_off, b_off, in, out, transposed, act), set by the constructor.
    layers: list[LayerTuple]
    _spec = None

    @property
    def num_params(self) -> int:
        raise NotImplementedError

    @property
    def d_in(self) -> int:
        return self.layers[0][2]

    @property
    def d_out(self) -> int:
        return self.layers[-1][3]

    @property
    def spec(self):
        """The compiled description handed to the kernels (built once per model)."""
        if self._spec is None:
            self._spec = _core.NetSpec(self.layers, self.num_params, float(self.slope))
        return self._spec

    @property
    def layer_ints(self) -> list[int]:
        """The layer table flattened to ints (how a torch custom op receives it)."""
        return [int(v) for row in self.layers for v in row]

    def check_theta(self, theta: torch.Tensor) -> None:
        if theta.dim() != 2 or theta.shape[1] != self.num_params:
            raise ValueError(
                f"theta must have shape (B, {self.num_params}) for {self!r}, "
                f"got {tuple(theta.shape)}"
            )


def _activation_code(activation: str) -> int:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[activation]


class MLP(Model):
    """Fully connected network: widths [d0, ..., dL], activation on hidden layers, linear output.

    Args:
        widths: layer widths, input first, at least two entries, each >= 1.
        activation: one of ``ACTIVATIONS``.
        bias: whether every layer has a bias.
        slope: negative slope of ``leaky_relu`` (ignored otherwise).
    """

    def __init__(self, widths: Sequence[int], activation: str = "relu", bias: bool = True,
                 slope: float = 0.01):
        widths = [int(w) for w in widths]
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths must list at least two positive sizes, got {widths}")
        if len(widths) - 1 > 64:
            raise ValueError(f"at most 64 layers are supported, got {len(widths) - 1}")
        _activation_code(activation)
        self.widths = widths
        self.activation = activation
        self.bias = bool(bias)
        self.slope = float(slope)
        self.layers = self._layer_table()

    def __repr__(self) -> str:
        return f"MLP(widths={self.widths}, activation={self.activation!r}, bias={self.bias})"

    def __eq__(self, other) -> bool:
        return isinstance(other, MLP) and (self.widths, self.activation, self.bias, self.slope) == (
            other.widths, other.activation, other.bias, other.slope)

    def __hash__(self) -> int:
        return hash((tuple(self.widths), self.activation, self.bias, self.slope))

    def _layer_table(self) -> list[LayerTuple]:
        rows, off = [], 0
        act = ACTIVATIONS[self.activation]
        for l, (d_in, d_out) in enumerate(zip(self.widths[:-1], self.widths[1:])):
            w_off = off
            off += d_in * d_out
            b_off = off if self.bias else -1
            off += d_out if self.bias else 0
            last = l == len(self.widths) - 2
            rows.append((w_off, b_off, d_in, d_out, False, ACTIVATIONS["identity"] if last else act))
        return rows

    @property
    def num_params(self) -> int:
        return sum(i * o + (o if self.bias else 0) for i, o in zip(self.widths[:-1], self.widths[1:]))

    @property
    def num_hidden(self) -> int:
        """Number of hidden neurons (all layers but input and output)."""
        return sum(self.widths[1:-1])

    def unflatten(self, theta: torch.Tensor) -> list[tuple[torch.Tensor, Optional[torch.Tensor]]]:
        """theta (B, P) -> [(W_l (B, d_l, d_{l-1}), b_l (B, d_l) or None), ...] as views."""
        self.check_theta(theta)
        out = []
        for w_off, b_off, d_in, d_out, _, _ in self.layers:
            W = theta[:, w_off:w_off + d_in * d_out].unflatten(1, (d_out, d_in))
            b = theta[:, b_off:b_off + d_out] if b_off >= 0 else None
            out.append((W, b))
        return out

    def flatten(self, params: Sequence[tuple[torch.Tensor, Optional[torch.Tensor]]]) -> torch.Tensor:
        """Inverse of :meth:`unflatten`: [(W_l (B, d_l, d_{l-1}), b_l (B, d_l) or None)] -> (B, P)."""
        if len(params) != len(self.widths) - 1:
            raise ValueError(f"expected {len(self.widths) - 1} layers, got {len(params)}")
        parts = []
        for l, ((W, b), (_, _, d_in, d_out, _, _)) in enumerate(zip(params, self.layers)):
            if W.dim() != 3 or tuple(W.shape[1:]) != (d_out, d_in):
                raise ValueError(f"layer {l}: W must be (B, {d_out}, {d_in}), got {tuple(W.shape)}")
            parts.append(W.reshape(W.shape[0], d_out * d_in))
            if self.bias:
                if b is None or tuple(b.shape[1:]) != (d_out,):
                    raise ValueError(f"layer {l}: b must be (B, {d_out})")
                parts.append(b)
        return torch.cat(parts, dim=1)

    def init(self, B: int, generator: Optional[torch.Generator] = None, scheme: str = "he",
             dtype: torch.dtype = torch.float32, device="cpu", bias_std: float = 0.0,
             std: float = 1.0) -> torch.Tensor:
        """Random theta (B, P). Weights ~ N(0, s^2) with s^2 = 2/fan_in ("he"), 1/fan_in
        ("lecun") or std^2 ("normal"); biases ~ N(0, bias_std^2) (zero by default)."""
        if scheme not in ("he", "lecun", "normal"):
            raise ValueError(f"scheme must be 'he', 'lecun' or 'normal', got {scheme!r}")
        params = []
        for _, _, d_in, d_out, _, _ in self.layers:
            s = {"he": math.sqrt(2.0 / d_in), "lecun": math.sqrt(1.0 / d_in), "normal": std}[scheme]
            W = torch.randn(B, d_out, d_in, generator=generator, dtype=dtype) * s
            b = torch.randn(B, d_out, generator=generator, dtype=dtype) * bias_std if self.bias else None
            params.append((W, b))
        return self.flatten(params).to(device)

    @classmethod
    def from_modules(cls, modules: Sequence[nn.Sequential]) -> tuple["MLP", torch.Tensor]:
        """Stack B torch models of one architecture into (MLP, theta (B, P)).

        Each model is an nn.Sequential of nn.Linear layers separated by one activation module
        (ReLU, LeakyReLU, Tanh, Sigmoid, Softplus with default beta/threshold, Identity), the same
        between every pair of Linear layers, with no activation after the last Linear.
        """
        if len(modules) == 0:
            raise ValueError("from_modules needs at least one model")
        archs = [_describe_sequential(m) for m in modules]
        if any(a[:4] != archs[0][:4] for a in archs):
            raise ValueError("all models must share one architecture (widths, activation, bias)")
        widths, activation, bias, slope, _ = archs[0]
        net = cls(widths, activation, bias, slope)
        with torch.no_grad():
            params = [[(l.weight.detach()[None], None if l.bias is None else l.bias.detach()[None])
                       for l in a[4]] for a in archs]
            theta = torch.cat([net.flatten(p) for p in params], dim=0)
        return net, theta

    def to_modules(self, theta: torch.Tensor) -> list[nn.Sequential]:
        """The B networks of theta as nn.Sequential models (inverse of from_modules)."""
        act = _ACT_MODULES.get(self.activation)
        if act is None:
            raise ValueError(f"activation {self.activation!r} has no torch.nn module")
        models = []
        for b in range(theta.shape[0]):
            layers: list[nn.Module] = []
            for l, (W, bias) in enumerate(self.unflatten(theta[b:b + 1])):
                lin = nn.Linear(W.shape[2], W.shape[1], bias=self.bias, dtype=theta.dtype,
                                device=theta.device)
                with torch.no_grad():
                    lin.weight.copy_(W[0])
                    if bias is not None:
                        lin.bias.copy_(bias[0])
                layers.append(lin)
                if l < len(self.widths) - 2:
                    layers.append(act(self.slope))
            models.append(nn.Sequential(*layers))
        return models


_ACT_MODULES = {
    "relu": lambda s: nn.ReLU(),
    "leaky_relu": lambda s: nn.LeakyReLU(s),
    "tanh": lambda s: nn.Tanh(),
    "sigmoid": lambda s: nn.Sigmoid(),
    "softplus": lambda s: nn.Softplus(),
    "identity": lambda s: nn.Identity(),
}


def _module_activation(m: nn.Module) -> tuple[str, float]:
    if isinstance(m, nn.ReLU):
        return "relu", 0.01
    if isinstance(m, nn.LeakyReLU):
        return "leaky_relu", float(m.negative_slope)
    if isinstance(m, nn.Softplus):
        if m.beta != 1 or m.threshold != 20:
            raise ValueError("only nn.Softplus(beta=1, threshold=20) is supported")
        return "softplus", 0.01
    for cls_, name in ((nn.Tanh, "tanh"), (nn.Sigmoid, "sigmoid"), (nn.Identity, "identity")):
        if isinstance(m, cls_):
            return name, 0.01
    raise ValueError(f"unsupported module {type(m).__name__} in from_modules")


def _describe_sequential(seq: nn.Sequential):
    mods = list(seq)
    linears = mods[0::2]
    acts = mods[1::2]
    if not linears or not all(isinstance(l, nn.Linear) for l in linears) or len(acts) != len(linears) - 1:
        raise ValueError("expected nn.Sequential(Linear, act, Linear, ..., Linear)")
    names = {_module_activation(a) for a in acts} or {("identity", 0.01)}
    if len(names) != 1:
        raise ValueError("all hidden layers must use the same activation")
    activation, slope = names.pop()
    biases = {l.bias is not None for l in linears}
    if len(biases) != 1:
        raise ValueError("either every Linear layer has a bias or none has")
    widths = [linears[0].in_features] + [l.out_features for l in linears]
    for a, b in zip(linears[:-1], linears[1:]):
        if a.out_features != b.in_features:
            raise ValueError("consecutive Linear layers do not chain")
    return widths, activation, biases.pop(), slope, linears


class TMS(Model):
    """Toy model of superposition with tied weights: y = relu(W^T W x + b), W (n_hidden x n_features).

    theta (B, P) holds W row-major (n_hidden * n_features entries) then b (n_features,) if bias.
    """

    activation = "relu"
    slope = 0.01

    def __init__(self, n_features: int, n_hidden: int, bias: bool = True):
        if n_features < 1 or n_hidden < 1:
            raise ValueError(f"n_features and n_hidden must be >= 1, got {n_features}, {n_hidden}")
        self.n_features = int(n_features)
        self.n_hidden = int(n_hidden)
        self.bias = bool(bias)
        n, m = self.n_features, self.n_hidden
        self.layers = [(0, -1, n, m, False, ACTIVATIONS["identity"]),
                       (0, n * m if self.bias else -1, m, n, True, ACTIVATIONS["relu"])]

    def __repr__(self) -> str:
        return f"TMS(n_features={self.n_features}, n_hidden={self.n_hidden}, bias={self.bias})"

    def __eq__(self, other) -> bool:
        return isinstance(other, TMS) and (self.n_features, self.n_hidden, self.bias) == (
            other.n_features, other.n_hidden, other.bias)

    def __hash__(self) -> int:
        return hash(("TMS", self.n_features, self.n_hidden, self.bias))

    @property
    def num_params(self) -> int:
        return self.n_features * self.n_hidden + (self.n_features if self.bias else 0)

    def unflatten(self, theta: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """theta (B, P) -> (W (B, n_hidden, n_features), b (B, n_features) or None), as views."""
        self.check_theta(theta)
        nm = self.n_features * self.n_hidden
        W = theta[:, :nm].unflatten(1, (self.n_hidden, self.n_features))
        return W, (theta[:, nm:] if self.bias else None)

    def flatten(self, W: torch.Tensor, b: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(W (B, n_hidden, n_features), b (B, n_features)) -> theta (B, P)."""
        if W.dim() != 3 or tuple(W.shape[1:]) != (self.n_hidden, self.n_features):
            raise ValueError(f"W must be (B, {self.n_hidden}, {self.n_features}), got {tuple(W.shape)}")
        parts = [W.reshape(W.shape[0], self.n_hidden * self.n_features)]
        if self.bias:
            if b is None or tuple(b.shape) != (W.shape[0], self.n_features):
                raise ValueError(f"b must be (B, {self.n_features})")
            parts.append(b)
        return torch.cat(parts, dim=1)

    def init(self, B: int, generator: Optional[torch.Generator] = None, scheme: str = "lecun",
             dtype: torch.dtype = torch.float32, device="cpu", bias_std: float = 0.0,
             std: float = 1.0) -> torch.Tensor:
        """Random theta (B, P): W ~ N(0, s^2), s^2 = 2/n ("he"), 1/n ("lecun") or std^2
        ("normal"), with n = n_features; b ~ N(0, bias_std^2)."""
        if scheme not in ("he", "lecun", "normal"):
            raise ValueError(f"scheme must be 'he', 'lecun' or 'normal', got {scheme!r}")
        s = {"he": math.sqrt(2.0 / self.n_features), "lecun": math.sqrt(1.0 / self.n_features),
             "normal": std}[scheme]
        W = torch.randn(B, self.n_hidden, self.n_features, generator=generator, dtype=dtype) * s
        b = torch.randn(B, self.n_features, generator=generator, dtype=dtype) * bias_std
        return self.flatten(W, b if self.bias else None).to(device)
