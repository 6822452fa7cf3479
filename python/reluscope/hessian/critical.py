"""Classifying approximate critical points by their Hessian, with the numerical resolution of
the claim: a point found by an optimiser has a small gradient, not a zero one, and its Hessian is
computed in floating point, so the sign of a small eigenvalue can be noise (``classify``)."""
from __future__ import annotations

import numbers
from typing import NamedTuple, Union

import torch

from ..data import Data
from ..models.base import Model
from .. import _fused
from .operators import Hessian
from .products import value_and_grad
from .spectrum import IndexResult, dense_eigh, resolution

__all__ = ["LABELS", "CriticalPoints", "classify"]

#: The labels of ``classify``.
LABELS = ("minimum", "saddle", "unresolved", "not critical")


class CriticalPoints(NamedTuple):
    """What ``classify`` returns, per model (B,) (one model: no model dimension).

    label: one of LABELS per model (a list; one model: a str); lambda_min: the smallest Hessian
    eigenvalue at theta; band: its resolution (the sign of lambda_min is known where
    |lambda_min| > band); index: the eigenvalues below -band (``negative``) and within the band
    (``unresolved``), band as ``tol``; distance: ‖s‖, the Newton step s = H^+ g to the estimated
    nearby critical point; grad_norm: ‖g‖."""
    label: Union[list, str]
    lambda_min: torch.Tensor
    band: torch.Tensor
    index: IndexResult
    distance: torch.Tensor
    grad_norm: torch.Tensor


def classify(model: Model, theta: torch.Tensor, data: Data, *, grad_tol: float) -> CriticalPoints:
    """Label B approximate critical points theta (B, P) (or (P,)) "minimum", "saddle",
    "unresolved" or "not critical" by the smallest eigenvalue of the loss Hessian, claiming a
    sign only where the computation resolves it.

    The rule. ‖g‖ > grad_tol: "not critical". Otherwise the point is taken as an approximation of
    a critical point theta* and lambda_min(H(theta*)) is what is classified. Its distance from
    theta is estimated by the Newton step s = H^+ g (H = V diag(lambda) V^T, the pseudo-inverse
    over the eigenvalues outside the rounding band: directions the computation cannot tell from
    flat are left out). Weyl's inequality |lambda_i(A) - lambda_i(B)| <= ‖A - B‖_2 with
    A = H(theta - s), a first-order estimate of H(theta*), gives the band

        band = ‖Ĥ(theta - s) - Ĥ(theta)‖_2 + resolution(theta) + resolution(theta - s),

    the change of the Hessian over the step plus the rounding band of each computed Hessian
    (``spectrum.resolution``: 2 P eps ‖H‖_2). Then "saddle" if lambda_min < -band (a strict
    saddle: an eigenvalue certainly negative at the critical point), "minimum" if lambda_min >
    band (positive definite there: a strict local minimum), "unresolved" otherwise — which
    includes every point with an (almost) flat direction, where a second-order test proves
    nothing. A step that leaves the finite numbers gives band = inf. Cost: two dense Hessians
    and one eigendecomposition per model (memory B P^2, subject to HESSIAN_MAX_BYTES).

    What this is not: a proof. The band is an estimate (first order in the step, the Hessian's
    change measured at one point); a verdict that is a proof needs rigorous enclosures over a
    region around theta, which this function does not compute.
    """
    inp = _fused.check_inputs(model, theta, data)
    if isinstance(grad_tol, bool) or not isinstance(grad_tol, numbers.Real):
        raise TypeError(f"grad_tol must be a number, got {type(grad_tol).__name__}")
    if not grad_tol >= 0:
        raise ValueError(f"grad_tol must be >= 0, got {grad_tol}")
    theta = inp.theta
    _, g = value_and_grad(model, theta, data)
    H = Hessian(model, theta, data).to_dense()
    lam, V = dense_eigh(H)
    res = resolution(lam)
    resolved = lam.abs() > res[:, None]
    coef = torch.einsum("bpi,bp->bi", V, g) / torch.where(resolved, lam, torch.ones_like(lam))
    s = torch.einsum("bpi,bi->bp", V, torch.where(resolved, coef, torch.zeros_like(coef)))
    moved = torch.isfinite(theta - s).all(1)
    H1 = Hessian(model, torch.where(moved[:, None], theta - s, theta), data).to_dense()
    band = (dense_eigh(H1 - H, vectors=False).abs().amax(1) + res
            + resolution(dense_eigh(H1, vectors=False)))
    band = torch.where(moved & ~band.isnan(), band, torch.full_like(band, torch.inf))
    lam_min, gnorm = lam[:, 0], torch.linalg.vector_norm(g, dim=1)
    negative = (lam < -band[:, None]).sum(1)
    positive = (lam > band[:, None]).sum(1)  # NaN (an overflowed Hessian): unresolved
    index = IndexResult(negative, lam.shape[1] - negative - positive, band)
    label = ["not critical" if gn > grad_tol else "saddle" if lm < -b else
             "minimum" if lm > b else "unresolved"
             for gn, lm, b in zip(gnorm.tolist(), lam_min.tolist(), band.tolist())]
    distance = torch.linalg.vector_norm(s, dim=1)
    if inp.single:
        return CriticalPoints(label[0], lam_min[0], band[0], IndexResult(*(t[0] for t in index)),
                              distance[0], gnorm[0])
    return CriticalPoints(label, lam_min, band, index, distance, gnorm)

