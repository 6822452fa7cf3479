"""What the SGLD engine (``reluscope.slt``) and its reference (``reluscope.reference.slt``) share:
the result types, the LLC estimator of a run, the runaway bound that flags a chain, and the random
draws of a step in the order both make them (the minibatch indices of every chain, then the
Gaussian noise of every chain), so the two agree step for step under one generator. A leaf module:
it imports no engine."""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch
from torch import Tensor


class SGLDResult(NamedTuple):
    """Traces of B models x C chains. One model ((P,) theta*): the model dimension dropped."""
    loss_trace: Tensor             # (B, C, draws): the (minibatch) loss at each draw
    distance: Tensor               # (B, C, draws): ||theta - theta*|| at each draw
    theta_trace: Optional[Tensor]  # (B, C, draws // theta_every, P), or None
    init_loss: Tensor              # (B,): L_n(theta*) on the whole dataset
    n_beta: Tensor                 # (B,): the inverse temperature n beta used
    diverged: Tensor               # (B, C) bool: the chain ran away (``runaway_bounds``): its
                                   # loss or distance to theta* left the bound, or became non-finite


class LLCResult(NamedTuple):
    """Per model (one model: the model dimension dropped)."""
    llc: Tensor        # (B,): NaN where a chain diverged
    llc_std: Tensor    # (B,): standard deviation of the chains' estimates (NaN where one diverged)
    chain_llc: Tensor  # (B, C): each chain's estimate; NaN for a diverged chain
    init_loss: Tensor  # (B,): L_n(theta*)
    diverged: Tensor   # (B,) bool: some chain of the model diverged (see sgld.diverged)
    sgld: SGLDResult   # the chains' traces


def estimate(run: SGLDResult) -> LLCResult:
    """The LLC of sgld's traces (B, C, draws) or, for one model, (C, draws): per chain
    n_beta (mean of its loss trace - L_n(theta*)), NaN for a diverged chain; llc their mean (NaN
    if a chain diverged: never an average over the chains that stayed)."""
    chain = run.n_beta[..., None] * (run.loss_trace.mean(-1) - run.init_loss[..., None])
    chain = torch.where(run.diverged, torch.nan, chain)
    diverged = run.diverged.any(-1)
    mean = torch.where(diverged, torch.nan, chain.mean(-1))
    std = chain.std(-1) if chain.shape[-1] > 1 else torch.zeros_like(mean)
    return LLCResult(mean, torch.where(diverged, torch.nan, std), chain, run.init_loss, diverged,
                     run)


#: The runaway bound's largest temperature: a chain sampling exp(-U / T) with T up to this
#: (minibatch gradient noise, the step size's own inflation of the variance, a non-Gaussian
#: posterior heat a chain) is not flagged (``energy_budget``).
RUNAWAY_TEMPERATURE = 10.0
#: ... but with probability at most exp(-RUNAWAY_TAIL) per step, for a quadratic potential.
RUNAWAY_TAIL = 40.0


class RunawayBounds(NamedTuple):
    """Per chain row: the largest loss and distance to theta* a chain that samples its localised
    posterior reaches (``runaway_bounds``)."""
    loss: Tensor      # (rows,) on the loss the chain computes each step (minibatch or full)
    distance: Tensor  # (rows,) ||theta - theta*||; inf for gamma = 0 (no localisation)


def energy_budget(P: int) -> float:
    """K(P): how far above its minimum a chain's potential U goes, at most.

    For a quadratic potential in P dimensions the stationary law exp(-U / T) has
    U - min U = T chi2_P / 2, and chi2_P >= P + 2 sqrt(P t) + 2 t with probability at most e^-t
    (Laurent & Massart 2000, Lemma 1). With T = RUNAWAY_TEMPERATURE and t = RUNAWAY_TAIL:

        K = T (P + 2 sqrt(P t) + 2 t) / 2.
    """
    t = RUNAWAY_TAIL
    return RUNAWAY_TEMPERATURE * (P + 2 * math.sqrt(P * t) + 2 * t) / 2


def runaway_bounds(init_loss: Tensor, n_beta: Tensor, gamma: Tensor, P: int,
                   loss_factor: float) -> RunawayBounds:
    """The bounds a chain is flagged diverged beyond, stated relative to its start theta*.

    The chains sample exp(-U) with U(theta) = n_beta L_n(theta) + gamma ||theta - theta*||^2 / 2.
    A chain that samples it keeps U(theta) <= min U + K <= U(theta*) + K, K = ``energy_budget(P)``
    (quadratic U at temperatures up to RUNAWAY_TEMPERATURE; with probability 1 - e^-40 per step).
    Losses are >= 0 (for valid targets and weights >= 0: mse; cross-entropy with targets >= 0;
    bce with targets in [0, 1]), so U >= n_beta L_n and U >= gamma ||theta - theta*||^2 / 2 give,
    with E = n_beta max(L_n(theta*), 0) + K,

        ||theta - theta*|| <= sqrt(2 E / gamma)    (no bound for gamma = 0),
        L_n(theta) <= E / n_beta,  and the chain's loss L_m <= loss_factor E / n_beta,

    with loss_factor = 1 on the full data and sum w / min_{w_n > 0} w_n on a minibatch (drawn
    with probability proportional to w: L_m = (sum w / m) sum_k l_(i_k) <= sum w max_n l_n and
    max_n l_n <= L_n / min w_n for l >= 0). All rows: (rows,) tensors; P the parameter count."""
    budget = n_beta * init_loss.clamp(min=0) + energy_budget(P)
    return RunawayBounds(loss_factor * budget / n_beta, torch.sqrt(2 * budget / gamma))


def ran_away(loss: Tensor, distance: Tensor, bounds: RunawayBounds) -> Tensor:
    """(rows,) bool: the chain's loss or distance to theta* is beyond its bound, or not finite."""
    return (~(loss <= bounds.loss) | ~(distance <= bounds.distance) | ~torch.isfinite(loss)
            | ~torch.isfinite(distance))


def past_stability_limit(drift_change: Tensor, u: Tensor, step_size: Tensor,
                         D: Optional[Tensor] = None) -> Tensor:
    """(rows,) bool: the step size is past SGLD's stability limit between theta* and the chain.

    With drift_change = g(theta) - g(theta*) (the full-data drift, g = grad U), u = theta - theta*
    and step_size eps (rows, 1): flagged when

        (eps / 2) |g(theta) - g(theta*)| > 2 |u|,
        or with a preconditioner D: (eps / 2) |D^(1/2) (g - g*)| > 2 |D^(-1/2) u|.

    For a twice-differentiable U, g - g* = A u with A the Hessian of U averaged along the segment
    from theta* to theta, and |D^(1/2) A D^(1/2) w| <= |lambda|_max |w| (w = D^(-1/2) u, the
    matrix symmetric): the test implies eps |lambda|_max / 2 > 2, an eigenvalue of the
    (preconditioned) averaged Hessian past 4 / eps, where the Euler step u <- (1 - eps a / 2) u
    grows (|1 - eps a / 2| > 1 for eps a > 4). A chain below the limit everywhere between theta*
    and where it goes is never flagged. With kinks (relu), a gradient jump J between theta* and
    theta counts as curvature J / |u|: it trips the test only within eps J / 4 of theta*."""
    if D is None:
        lhs, rhs = torch.linalg.vector_norm(drift_change, dim=1), torch.linalg.vector_norm(u, dim=1)
    else:
        root = D.sqrt()
        lhs = torch.linalg.vector_norm(root * drift_change, dim=1)
        rhs = torch.linalg.vector_norm(u / root, dim=1)
    return step_size[:, 0] / 2 * lhs > 2 * rhs


def minibatch_loss_factor(w: Tensor, full: bool) -> float:
    """``runaway_bounds``' loss_factor: 1 on the full data, sum w / min_{w_n > 0} w_n on a
    minibatch."""
    return 1.0 if full else float(w.sum() / w[w > 0].min())


def minibatch(generator: Optional[torch.Generator], w: torch.Tensor, rows: int,
              m: int) -> torch.Tensor:
    """(rows, m) sample indices drawn with replacement, sample n with probability w_n / sum w
    (uniform for uniform weights), so that sum w / m times the minibatch's sum of losses is an
    unbiased estimate of the weighted loss. One draw of rows m indices: O(rows m + N)."""
    device = generator.device if generator is not None else w.device
    if bool((w == w[0]).all()):
        idx = torch.randint(w.shape[0], (rows, m), generator=generator, device=device)
    else:
        idx = torch.multinomial(w.to(device), rows * m, replacement=True, generator=generator)
    return idx.view(rows, m).to(w.device)


def noise(generator: Optional[torch.Generator], rows: int, P: int, like: torch.Tensor
          ) -> torch.Tensor:
    """(rows, P) standard Gaussian noise, drawn on the generator's device (so a CPU generator
    gives the same chains on every device)."""
    device = generator.device if generator is not None else like.device
    return torch.randn(rows, P, generator=generator, dtype=like.dtype,
                       device=device).to(like.device)
