"""The input check every region counter starts with, and the dtype it decides geometry in."""
from __future__ import annotations

import torch

from .._validate import as_float_tensor, check_finite
from ..models import MLP, PIECEWISE_LINEAR


def check_model_theta(model: MLP, theta: torch.Tensor) -> torch.Tensor:
    """TypeError / ValueError unless model is a piecewise-linear MLP and theta (B, P), or (P,) for
    one model, finite; returns theta (B, P) contiguous (the callers drop the model dimension of
    their results again where ``is_one_model`` says so)."""
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a reluscope.MLP, got {type(model).__name__}")
    if model.activation not in PIECEWISE_LINEAR:
        raise ValueError(f"the region counter needs a piecewise-linear activation "
                         f"({', '.join(PIECEWISE_LINEAR)}), got {model.activation!r}")
    theta = as_float_tensor(theta, "theta")
    if theta.dim() == 1:
        theta = theta[None]
    model.check_theta(theta)
    check_finite(theta, "theta")
    return theta.contiguous()


def in_float64(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The tensors in float64 (no copy when they are): the counters decide every sign and
    crossing in float64 whatever the input dtype, so a count does not depend on it."""
    return tuple(t.to(torch.float64).contiguous() for t in tensors)
