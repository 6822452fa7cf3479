"""The driver of the interval kernel (csrc/certify): validates inputs, converts them exactly to
float64, allocates the outputs (and the CUDA workspace ``_core.certify_plan`` asks for) and calls
``_core.certify_enclose`` with the GIL released."""
from __future__ import annotations

import torch

from .._ext import _core, cuda_stream
from .._validate import (HESSIAN_MAX_BYTES, as_float_tensor, check_data, check_finite,
                         values_visible)
from ..data import Data
from ..models.base import Model, check_model
from .._certificate import Enclosure

__all__ = ["enclose"]


def enclose(model: Model, theta, data: Data, radius, *, grad_at_centre: bool = False) -> Enclosure:
    """Enclosures of the loss, gradient and Hessian of B networks over boxes of parameters.

    For network b the box is theta_b + [-r_b, r_b]^P (r_b = 0: the point theta_b); the outputs
    contain the exact real values of L(theta) = sum_n w_n l(y(x_n; theta), t_n) (``Data``'s loss
    convention), grad L and the Hessian of L at every theta of the box, computed in interval
    arithmetic with outward rounding (csrc/certify/interval.h: libm's error accounted for).

    Args:
        model: a reluscope MLP or TMS.
        theta: (B, P) float32 or float64, finite (float32 is converted exactly to float64).
        data: the dataset and loss (X (N, d) or (B, N, d), weights (N,) or (B, N)).
        radius: a float, or a (B,) tensor, finite and >= 0.
        grad_at_centre: if True, ``grad`` encloses grad L at theta_b only (the box's centre, a
            point: the same bits as a radius-0 call), while ``loss`` and ``hess`` still enclose
            L and its Hessian over the box; costs an extra O(P) point forward / backward per
            sample. One call then gives what a Newton / Krawczyk test needs at one radius.

    Returns:
        ``Enclosure``: loss (B, 2), grad (B, P, 2), hess (B, P, P, 2) float64 [lo, hi] in the last
        dimension, on theta's device (the Hessian symmetric: entry (i, j) and (j, i) are the
        same enclosure, from the R-pass of the later parameter), and flags (B,) int32: ``Flag.KINK`` where some sample with
        non-zero weight has a relu / leaky_relu pre-activation whose enclosure contains 0 (L is
        not C^2 there), ``Flag.NONFINITE`` where an enclosure is not finite.

    Cost: O(B N P^2) interval operations; memory O(B P^2).
    """
    check_model(model)
    if not isinstance(grad_at_centre, bool):
        raise TypeError(f"grad_at_centre must be a bool, got {type(grad_at_centre).__name__}")
    if not isinstance(data, Data):
        raise TypeError(f"data must be a reluscope.Data, got {type(data).__name__}")
    theta = as_float_tensor(theta, "theta", data.X)
    if theta.dim() != 2:
        raise ValueError(f"theta must be (B, {model.num_params}), got shape {tuple(theta.shape)}")
    model.check_theta(theta)
    if theta.device != data.X.device:
        raise ValueError(f"theta is on {theta.device} but data.X is on {data.X.device}")
    check_finite(theta, "theta")
    B, P = theta.shape
    T, imp = check_data(model, data, B)
    r = _radius(radius, theta)
    hess_bytes = B * P * P * 2 * 8
    if hess_bytes > HESSIAN_MAX_BYTES:
        raise ValueError(f"the Hessian enclosure (B, P, P, 2) = ({B}, {P}, {P}, 2) would take "
                         f"{hess_bytes / 2**30:.1f} GiB > HESSIAN_MAX_BYTES "
                         f"({HESSIAN_MAX_BYTES / 2**30:.0f} GiB); split the networks")
    f64 = dict(dtype=torch.float64)
    theta, X, T, w, imp = (t.to(**f64).contiguous() for t in (theta, data.X, T, data.w, imp))
    dev = theta.device
    loss = torch.empty(B, 2, device=dev, **f64)
    grad = torch.empty(B, P, 2, device=dev, **f64)
    hess = torch.empty(B, P, P, 2, device=dev, **f64)
    flags = torch.zeros(B, dtype=torch.int32, device=dev)
    plan = _core.certify_plan(model.spec, B, X.shape[-2], theta.is_cuda)
    workspace = torch.empty(plan.workspace, device=dev, **f64) if plan.workspace else None
    _core.certify_enclose(model.spec, theta, r, X, T, w, imp, int(data.loss_code), loss, grad,
                          hess, flags, workspace=workspace, stream=cuda_stream(theta),
                          grad_at_centre=grad_at_centre)
    return Enclosure(loss, grad, hess, flags)


def _radius(radius, theta: torch.Tensor) -> torch.Tensor:
    """radius as a contiguous (B,) float64 tensor on theta's device, finite and >= 0."""
    if isinstance(radius, bool):
        raise TypeError("radius must be a number or a (B,) tensor, got bool")
    B = theta.shape[0]
    if isinstance(radius, (int, float)):  # exactly as given (not through theta's dtype)
        return _radius(torch.tensor(float(radius), dtype=torch.float64, device=theta.device),
                       theta)
    r = as_float_tensor(radius, "radius", theta)
    if r.device != theta.device:
        raise ValueError(f"radius is on {r.device} but theta is on {theta.device}")
    if r.dim() == 0:
        r = r.expand(B)
    if r.shape != (B,):
        raise ValueError(f"radius must be a number or a ({B},) tensor, got shape {tuple(r.shape)}")
    r = r.to(torch.float64).contiguous()
    if values_visible(r) and not bool((torch.isfinite(r) & (r >= 0)).all()):
        raise ValueError("radius must be finite and >= 0")
    return r
