"""The activations of ``reluscope.ACTIVATIONS`` as differentiable torch functions."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def activation_fn(name: str, slope: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """The torch function of an activation (``slope``: leaky_relu's negative slope)."""
    return {
        "identity": lambda z: z,
        "relu": torch.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, slope),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "softplus": F.softplus,
        "erf": torch.erf,
        "quadratic": lambda z: z * z,
    }[name]
