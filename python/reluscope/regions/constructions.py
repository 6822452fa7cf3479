"""Networks with known region counts, built exactly."""
from __future__ import annotations

import torch

from ..models import MLP

__all__ = ["sawtooth"]


def sawtooth(L: int, dtype: torch.dtype = torch.float64) -> tuple[MLP, torch.Tensor]:
    """Telgarsky's sawtooth: the tent map t(x) = 2 relu(x) - 4 relu(x - 1/2) composed L times, as
    MLP([1, 2, ..., 2, 1]) (L hidden layers of width 2, the linear maps between tents merged).
    On [0, 1] it has exactly 2^L linear pieces, breakpoints k / 2^L. Returns (model, theta (1, P))."""
    if L < 1:
        raise ValueError(f"L must be >= 1, got {L}")
    net = MLP([1] + [2] * L + [1], "relu")
    tent = torch.tensor([[2.0, -4.0]], dtype=dtype)
    shift = torch.tensor([0.0, -0.5], dtype=dtype)
    layers = [(torch.ones(1, 2, 1, dtype=dtype), shift[None])]
    layers += [(tent.expand(2, 2)[None].clone(), shift[None]) for _ in range(L - 1)]
    layers.append((tent[None].clone(), torch.zeros(1, 1, dtype=dtype)))
    return net, net.flatten(layers)
