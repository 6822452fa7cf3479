"""``tms_population_hessian``: the Hessian of the TMS population loss (two features), including the
term its kinks put on the kink lines, which the Hessian of no dataset carries."""
from __future__ import annotations

import warnings

import torch

from ..models.tms import TMS
from ..models.tms_population import hessian_exists, kink_line_term, tms_population
from .._fused import KinkWarning
from .operators import Hessian

__all__ = ["tms_population_hessian"]


class _PopulationPart(Hessian):
    """The engine's Hessian of ``tms_population``'s dataset; the population's own existence check
    (``hessian_exists``) replaces the dataset's kink warning."""

    _warned = True


def tms_population_hessian(model: TMS, theta, s: float, *, importance=None) -> torch.Tensor:
    """Population Hessians (B, P, P) of TMS(2, m, bias) at sparsity s (one model: (P, P)).

    H = (the engine's Hessian of ``tms_population(model, theta, s)``, exact away from the kinks)
      + ``kink_line_term`` (sum_i 2 I_i E[-x_i delta(z_i) grad z_i grad z_i^T], from the jump of
        relu' across each kink line z_i(x) = 0 crossing the support; loss E sum_i I_i (y_i - x_i)^2
        without a factor 1/2, as ``Data``'s mse).
    Exact to rounding: every integral is a Gauss rule exact for its piecewise polynomial. Where the
    population loss is not twice differentiable (``hessian_exists``: e.g. a bias b_i = 0 puts the
    x = 0 atom on a kink) the model's rows are NaN, with a ``KinkWarning``.

    Args:
        model: ``reluscope.TMS`` with n_features = 2 (any n_hidden, with or without bias).
        theta: (B, P) or (P,). s: sparsity in [0, 1]. importance: (2,) >= 0 (default ones).
    """
    data = tms_population(model, theta, s, importance=importance)
    op = _PopulationPart(model, theta, data)
    H = op.to_dense() + kink_line_term(model, op.theta, s, importance=data.importance)
    exists = hessian_exists(model, op.theta, s)
    if not bool(exists.all()):
        bad = (~exists).nonzero()[:, 0].tolist()
        warnings.warn(KinkWarning(
            f"the TMS population Hessian does not exist at {len(bad)} of {len(exists)} models "
            f"(models {', '.join(map(str, bad[:8]))}{', ...' if len(bad) > 8 else ''}): a piece "
            "of the support sits on a kink that moves with theta; their rows are NaN"),
            stacklevel=2)
        H[~exists] = torch.nan
    return H[0] if op.single else H
