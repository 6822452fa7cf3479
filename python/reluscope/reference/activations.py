"""The activations of reluscope.models.ACTIVATIONS as differentiable torch functions."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..models import ACTIVATIONS


def activation_fn(code: int, slope: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """The torch function of activation `code` (see ACTIVATIONS)."""
    name = {v: k for k, v in ACTIVATIONS.items()}[code]
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
