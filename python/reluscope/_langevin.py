"""What the SGLD engine (``reluscope.slt``) and its reference (``reluscope.reference.slt``) share:
the result types, the LLC estimator of a run, and the random draws of a step in the order both
make them (the minibatch indices of every chain, then the Gaussian noise of every chain), so the
two agree step for step under one generator. A leaf module: it imports no engine."""
from __future__ import annotations

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
    diverged: Tensor               # (B, C) bool: the chain's loss or parameters became non-finite


class LLCResult(NamedTuple):
    """Per model (one model: the model dimension dropped)."""
    llc: Tensor        # (B,): NaN where a chain diverged
    llc_std: Tensor    # (B,): standard deviation of the chains' estimates
    chain_llc: Tensor  # (B, C): each chain's estimate
    init_loss: Tensor  # (B,): L_n(theta*)
    diverged: Tensor   # (B,) bool: some chain of the model diverged (see sgld.diverged)
    sgld: SGLDResult   # the chains' traces


def estimate(run: SGLDResult) -> LLCResult:
    """The LLC of sgld's traces (B, C, draws) or, for one model, (C, draws): per chain
    n_beta (mean of its loss trace - L_n(theta*)); llc their mean (NaN if a chain diverged)."""
    chain = run.n_beta[..., None] * (run.loss_trace.mean(-1) - run.init_loss[..., None])
    diverged = run.diverged.any(-1)
    mean = torch.where(diverged, torch.nan, chain.mean(-1))
    std = chain.std(-1) if chain.shape[-1] > 1 else torch.zeros_like(mean)
    return LLCResult(mean, torch.where(diverged, torch.nan, std), chain, run.init_loss, diverged,
                     run)


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
