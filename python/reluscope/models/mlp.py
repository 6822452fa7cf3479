"""``MLP``: fully connected networks of one architecture, and their conversion from / to
``torch.nn.Sequential`` models.

Layout of a theta row for widths [d0, ..., dL]: for l = 1..L, W_l (d_l x d_{l-1}, row-major) then
b_l (d_l,) when ``bias``. Hidden layers apply the activation, the last layer is linear. In the NTK
parameterisation every layer applies W_l / sqrt(d_{l-1}).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from .._ext import _core
from .base import Layer, Model, activation_code, check_layer_widths, check_widths

#: The parameterisations of ``MLP``.
PARAMETERIZATIONS = ("standard", "ntk")


class MLP(Model):
    """Fully connected network: widths [d0, ..., dL], activation on hidden layers, linear output.

    Args:
        widths: layer widths, input first, at least two entries, each an integer >= 1.
        activation: one of ``reluscope.ACTIVATIONS``.
        bias: whether every layer has a bias.
        slope: negative slope of ``leaky_relu`` (ignored otherwise).
        parameterization: "standard" (z_l = W_l a_{l-1} + b_l) or "ntk" (z_l = W_l a_{l-1} /
            sqrt(d_{l-1}) + b_l, as neural-tangents' ``Dense(parameterization="ntk")``): the same
            functions, with gradients (and so NTKs, Hessians, training dynamics) in the
            parameters theta of that parameterisation. Every engine honours it, except
            ``reluscope.certify`` (standard only: a clear error).
    """

    def __init__(self, widths: Sequence[int], activation: str = "relu", bias: bool = True,
                 slope: float = 0.01, parameterization: str = "standard"):
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization must be one of {PARAMETERIZATIONS}, "
                             f"got {parameterization!r}")
        widths = check_widths(widths)
        check_layer_widths(widths)
        if len(widths) - 1 > _core.max_layers:  # the kernels' NetSpec holds a fixed table
            raise ValueError(f"at most {_core.max_layers} layers are supported, "
                             f"got {len(widths) - 1}")
        hidden, linear = activation_code(activation), activation_code("identity")
        self.widths = widths
        self.activation = activation
        self.bias = bool(bias)
        self.slope = float(slope)
        self.parameterization = parameterization
        ntk = parameterization == "ntk"
        layers, off = [], 0
        for l, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
            b_off = off + d_in * d_out if self.bias else -1
            last = l == len(widths) - 2
            layers.append(Layer(off, b_off, d_in, d_out, False, linear if last else hidden, ntk))
            off += d_in * d_out + (d_out if self.bias else 0)
        self.layers = tuple(layers)

    def __repr__(self) -> str:
        extra = (f", parameterization={self.parameterization!r}"
                 if self.parameterization != "standard" else "")
        return (f"MLP(widths={self.widths}, activation={self.activation!r}, "
                f"bias={self.bias}{extra})")

    def _key(self) -> tuple:
        return (tuple(self.widths), self.activation, self.bias, self.slope, self.parameterization)

    def __eq__(self, other) -> bool:
        return isinstance(other, MLP) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def num_params(self) -> int:
        return sum(i * o + (o if self.bias else 0) for i, o in zip(self.widths[:-1], self.widths[1:]))

    @property
    def num_hidden(self) -> int:
        """Number of hidden neurons (all layers but input and output)."""
        return sum(self.widths[1:-1])

    def weight_blocks(self):
        blocks = []
        for layer in self.layers:
            blocks.append(("weight", (layer.d_out, layer.d_in), layer.d_in))
            if self.bias:
                blocks.append(("bias", (layer.d_out,), layer.d_in))
        return blocks

    def unflatten(self, theta: torch.Tensor) -> list[tuple[torch.Tensor, Optional[torch.Tensor]]]:
        """theta (B, P) -> [(W_l (B, d_l, d_{l-1}), b_l (B, d_l) or None), ...] as views."""
        self.check_theta(theta)
        out = []
        for layer in self.layers:
            W = theta[:, layer.w_off:layer.w_off + layer.d_in * layer.d_out]
            b = theta[:, layer.b_off:layer.b_off + layer.d_out] if layer.b_off >= 0 else None
            out.append((W.unflatten(1, (layer.d_out, layer.d_in)), b))
        return out

    def flatten(self, params: Sequence[tuple[torch.Tensor, Optional[torch.Tensor]]]) -> torch.Tensor:
        """Inverse of :meth:`unflatten`: [(W_l (B, d_l, d_{l-1}), b_l (B, d_l) or None)] -> (B, P)."""
        if len(params) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} layers, got {len(params)}")
        parts = []
        for l, ((W, b), layer) in enumerate(zip(params, self.layers)):
            if W.dim() != 3 or tuple(W.shape[1:]) != (layer.d_out, layer.d_in):
                raise ValueError(f"layer {l}: W must be (B, {layer.d_out}, {layer.d_in}), "
                                 f"got {tuple(W.shape)}")
            parts.append(W.reshape(W.shape[0], layer.d_out * layer.d_in))
            if self.bias:
                if b is None or tuple(b.shape[1:]) != (layer.d_out,):
                    raise ValueError(f"layer {l}: b must be (B, {layer.d_out})")
                parts.append(b)
        return torch.cat(parts, dim=1)

    @classmethod
    def from_modules(cls, modules: Sequence[nn.Module]) -> tuple["MLP", torch.Tensor]:
        """Stack B torch models of one architecture into (MLP, theta (B, P)).

        ``modules`` is a list of B models (one model: ``[model]``). Each is an nn.Sequential of
        nn.Linear layers separated by one activation module (ReLU, LeakyReLU, Tanh, Sigmoid,
        Softplus with default beta/threshold, Identity), the same between every pair of Linear
        layers, with no activation after the last Linear; or one nn.Linear (a one-layer MLP).
        """
        if isinstance(modules, nn.Module):
            raise TypeError(f"modules must be a list of B torch models, got one "
                            f"{type(modules).__name__}; for one model pass [model]")
        try:
            modules = list(modules)
        except TypeError:
            raise TypeError(f"modules must be a list of torch models, got "
                            f"{type(modules).__name__}") from None
        if len(modules) == 0:
            raise ValueError("from_modules needs at least one model")
        archs = [_describe_sequential(m, b) for b, m in enumerate(modules)]
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
        """The B networks of theta as nn.Sequential models (inverse of from_modules); standard
        parameterisation only (an nn.Linear has no 1/sqrt(fan-in) factor)."""
        if self.parameterization != "standard":
            raise ValueError("to_modules takes the standard parameterisation: nn.Linear has no "
                             "1/sqrt(fan-in) factor (build MLP(..., parameterization='standard') "
                             "with W / sqrt(fan-in))")
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
                if l < len(self.layers) - 1:
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
    """(activation name, leaky slope) of a torch activation module."""
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


def _describe_sequential(seq: nn.Module, b: int):
    """(widths, activation, bias, slope, linear layers) of Sequential(Linear, act, ..., Linear)
    or of one Linear; b: the model's index, for messages."""
    if isinstance(seq, nn.Linear):
        seq = nn.Sequential(seq)
    if not isinstance(seq, nn.Sequential):
        raise TypeError(f"modules[{b}] must be an nn.Sequential of nn.Linear layers and "
                        f"activations, or one nn.Linear, got {type(seq).__name__}")
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
