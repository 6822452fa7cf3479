"""The result type of ``hessian.gd`` and what it can track, shared with ``reference.hessian``
(which may not import the engine)."""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch

#: What ``gd`` can track besides loss, gradient norm and parameter norm.
TRACKABLE = ("sharpness", "gn_sharpness")


class GDTrace(NamedTuple):
    """What ``gd`` returns (one network: no B dimension).

    theta: (B, P) after the last step (a diverged network: where it stopped). steps: (T,) the
    recorded step numbers (0, every, 2 every, ..., and the last). loss, grad_norm, param_norm:
    (B, T) at those steps. sharpness: (B, T) the largest algebraic Hessian eigenvalue, or None
    when not tracked; gn_sharpness: (B, T) the largest Gauss-Newton eigenvalue, or None.
    diverged: (B,) bool; diverged_at: (B,) int64, the first step whose loss was non-finite or
    above max_loss (-1: never). A diverged network stops there: its later records are NaN."""
    theta: torch.Tensor
    steps: torch.Tensor
    loss: torch.Tensor
    grad_norm: torch.Tensor
    param_norm: torch.Tensor
    sharpness: Optional[torch.Tensor]
    gn_sharpness: Optional[torch.Tensor]
    diverged: torch.Tensor
    diverged_at: torch.Tensor
