"""The result types of ``hessian.index`` and ``hessian.critical_points`` and the finder's
constants, shared with ``reference.hessian`` (which may not import the engine)."""
from __future__ import annotations

from typing import NamedTuple

import torch

#: A network stops when its damping exceeds this: no step lowers ||g|| any more (stalled).
MU_MAX = 1e12
#: with ``patience`` k, a network stops (stalled) when its ||g|| after a step is above this
#: fraction of its ||g|| k steps before.
STALL_FACTOR = 0.5
#: the dense solver's trial dampings per step, relative to the current mu.
TRIALS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


class IndexResult(NamedTuple):
    """What ``index`` returns, per operator (B,): ``negative`` eigenvalues certainly below 0,
    ``unresolved`` ones within ``tol`` of 0 (sign not resolved); the exact index lies in
    [negative, negative + unresolved]."""
    negative: torch.Tensor
    unresolved: torch.Tensor
    tol: torch.Tensor


class CriticalPointSearch(NamedTuple):
    """What ``critical_points`` found, per network (B,) (one network: no batch dimension).

    theta: (B, P) the last accepted point. loss: (B,) L(theta). energy: (B,) for mse the mean over
    samples (weights w) and outputs (importance I) of (1/2)(y - t)^2, L / (2 sum_n w_n sum_j I_j);
    for the other losses L / sum_n w_n. grad_norm: (B,) ||grad L(theta)||. converged: (B,) bool,
    grad_norm <= grad_tol: a critical point (to that tolerance). index: ``IndexResult`` of the
    Hessian at theta from ``classify`` (eigenvalues below -tol counted negative, those within
    tol unresolved; tol the change of the Hessian over the Newton step to the nearby critical
    point plus the rounding bands: an almost flat direction is unresolved, not negative).
    gradient_flat: (B,) bool, not converged and ||H g|| <= flat_tol ||H||_2 ||g||: a stationary
    point of ||g||^2 with g != 0, not a critical point. steps: (B,) int64, the iterations taken.
    """

    theta: torch.Tensor
    loss: torch.Tensor
    energy: torch.Tensor
    grad_norm: torch.Tensor
    converged: torch.Tensor
    index: IndexResult
    gradient_flat: torch.Tensor
    steps: torch.Tensor
