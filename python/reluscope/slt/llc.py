"""``llc``: the local learning coefficient of B models at once, from ``sgld``'s chains."""
from __future__ import annotations

import inspect

from .._langevin import LLCResult, estimate
from ..data import Data
from ..models.base import Model
from .sgld import sgld


def llc(model: Model, theta_star, data: Data, **options) -> LLCResult:
    """The local learning coefficient at theta* of every model,

        llc = n_beta (E[L_m(theta)] - L_n(theta*)),

    E over the draws of the SGLD chains localised at theta* (``sgld``, whose keyword options
    ``options`` are: chains, draws, burn_in, step_size, n_beta, gamma, batch_size,
    preconditioner, rmsprop_alpha, rmsprop_eps, theta_every, generator, progress). Each chain
    gives its own estimate (chain_llc); llc is their mean, llc_std their standard deviation.
    A chain that diverged (its loss or parameters non-finite, its loss or distance to theta*
    beyond the runaway bound, or, on the full data, its step past SGLD's stability limit: see
    ``sgld``) gets chain_llc NaN, and its model llc NaN and diverged True: never averaged over.
    """
    return estimate(sgld(model, theta_star, data, **options))


# help(llc) and inspect show sgld's keywords and defaults (one definition of them: sgld's)
llc.__signature__ = inspect.signature(sgld).replace(return_annotation=LLCResult)
