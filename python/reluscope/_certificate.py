"""The result types of reluscope.certify (re-exported there) and of reference.certify: verdicts,
reasons, enclosures and certificates.

An enclosure is a pair of float64 tensors (lo, hi) stacked in the last dimension (..., 2) that
contains the exact real value of the quantity it encloses (interval arithmetic with outward
rounding); lo <= hi, both finite, or the entry is flagged NONFINITE.
"""
from __future__ import annotations

import enum
from typing import NamedTuple

import torch


class Verdict(enum.IntEnum):
    """What is proved about the box around theta-hat (``Certificate.radius``)."""

    not_certified = 0       #: nothing proved (``Certificate.reason`` says why)
    minimum = 1             #: exactly one critical point in the box, a strict local minimum
    saddle = 2              #: a critical point in the box with >= index_lower negative curvatures
    critical_degenerate = 3  #: theta-hat is a critical point, its Hessian's sign not resolved
    no_critical_point = 4   #: the gradient does not vanish anywhere in the box


class Reason(enum.IntEnum):
    """Why a network is ``not_certified`` (``none`` for every other verdict)."""

    none = 0
    kink = 1                  #: a sample's pre-activation at a kinked unit can reach 0 in the box
    nonfinite = 2             #: an enclosure overflowed (huge weights or data)
    hessian_singular = 3      #: the Hessian at theta-hat is numerically singular
    existence_not_proved = 4  #: the Krawczyk test failed at every radius tried
    curvature_unresolved = 5  #: a critical point is proved but its curvature's sign is not


class Flag(enum.IntFlag):
    """Per-network bits of ``Enclosure.flags``."""

    KINK = 1       #: a kinked activation's pre-activation interval contains 0 for some sample
    NONFINITE = 2  #: some enclosure is not finite


class Enclosure(NamedTuple):
    """Enclosures over the box theta-hat + [-radius, radius]^P of B networks (float64):
    loss (B, 2), grad (B, P, 2), hess (B, P, P, 2) and flags (B,) int32 (``Flag`` bits). With
    radius 0 the box is the point theta-hat."""

    loss: torch.Tensor
    grad: torch.Tensor
    hess: torch.Tensor
    flags: torch.Tensor


class Certificate(NamedTuple):
    """What ``certify.critical_points`` proved, per network (B,).

    verdict: ``Verdict`` codes (int64). radius: half-width (infinity norm) of the box around
    theta-hat the verdict is about (0 for ``critical_degenerate``: theta-hat itself; nan when
    nothing is proved). loss: (B, 2) an enclosure of L over that box (so of L at the critical
    point). lambda_min: (B, 2) an enclosure of the smallest Hessian eigenvalue over the box.
    index_lower: the number of Hessian eigenvalues proved negative over the box (saddles).
    reason: ``Reason`` codes (int64).
    """

    verdict: torch.Tensor
    radius: torch.Tensor
    loss: torch.Tensor
    lambda_min: torch.Tensor
    index_lower: torch.Tensor
    reason: torch.Tensor
