"""Exact linear pieces of B piecewise-linear networks along S segments [a_s, b_s]: ``count_1d``
and, with the breakpoints themselves, ``breakpoints_1d``.

Tolerance rule: ``reluscope.regions``' docstring (the kernel is csrc/regions/segment_math.h).
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import torch

from .._ext import _core, cuda_stream
from .._validate import as_float_tensor, check_finite, check_ndim, is_one_model, same_dtype_device
from ..models import MLP
from ._checks import check_model_theta, in_float64

__all__ = ["Breakpoints", "MERGES", "breakpoints_1d", "count_1d"]

#: The merge rules: "activation" counts maximal intervals of constant activation pattern;
#: "linear" also merges neighbours on which the network has the same affine map.
MERGES = tuple(m.name for m in _core.RegionMerge)


class Breakpoints(NamedTuple):
    """Pieces and ragged breakpoints of ``breakpoints_1d``: ``values[offsets[i]:offsets[i+1]]``
    are the interior breakpoints (t in (0, 1), t = 0 at a, t = 1 at b, ascending) of item
    i = b * S + s, and ``counts`` (B, S) = 1 + their number."""
    counts: torch.Tensor   # (B, S) int64
    values: torch.Tensor   # (total,) theta's dtype
    offsets: torch.Tensor  # (B*S + 1,) int64


def _check(model, theta, a, b, merge) -> tuple[torch.dtype, torch.Tensor, torch.Tensor,
                                                torch.Tensor]:
    """(theta's dtype, theta, a, b in float64 and contiguous) after validation."""
    theta = check_model_theta(model, theta)
    a, b = as_float_tensor(a, "a", theta), as_float_tensor(b, "b", theta)
    same_dtype_device(theta, "theta", a=a, b=b)
    check_ndim(a, "a", (2, 3), "(S, d0) or (B, S, d0)")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    B = theta.shape[0]
    if a.shape[-1] != model.d_in or (a.dim() == 3 and a.shape[0] != B):
        raise ValueError(f"a and b must be (S, {model.d_in}) or ({B}, S, {model.d_in}), "
                         f"got {tuple(a.shape)}")
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {MERGES}, got {merge!r}")
    check_finite(a, "a")
    check_finite(b, "b")
    return (theta.dtype, *in_float64(theta, a, b))


def count_1d(model: MLP, theta: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *,
             merge: str = "activation") -> torch.Tensor:
    """Exact number of linear pieces of each network on each segment.

    Args:
        model: piecewise-linear ``MLP`` (relu, leaky_relu, identity).
        theta: (B, P) parameters, or (P,) for one network.
        a, b: segment ends, (S, d0) shared by all networks or (B, S, d0) per network.
        merge: one of ``MERGES``.

    Returns:
        counts (B, S) int64 ((S,) for one network). On CUDA each work item holds at most the plan's capacity of points;
        items that need more are recounted on the CPU with a warning (never truncated).
    """
    single = is_one_model(theta)
    _, theta, a, b = _check(model, theta, a, b, merge)
    counts, over = _kernel_pass(model, theta, a, b, merge)
    if over is not None:
        bi, si = over.nonzero(as_tuple=True)
        xa = (a[bi, si] if a.dim() == 3 else a[si])[:, None, :]
        xb = (b[bi, si] if b.dim() == 3 else b[si])[:, None, :]
        counts[bi, si] = count_1d(model, theta[bi].cpu(), xa.cpu(), xb.cpu(),
                                  merge=merge)[:, 0].to(counts.device)
    return counts[0] if single else counts


def breakpoints_1d(model: MLP, theta: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *,
                   merge: str = "activation") -> Breakpoints:
    """``count_1d`` and the breakpoints of every piece (count, then a second pass that fills);
    the breakpoint values come back in theta's dtype."""
    single = is_one_model(theta)
    dtype, theta, a, b = _check(model, theta, a, b, merge)
    counts, over = _kernel_pass(model, theta, a, b, merge)
    if over is not None:
        bp = breakpoints_1d(model, theta.cpu(), a.cpu(), b.cpu(), merge=merge)
        out = Breakpoints(bp.counts.to(theta.device), bp.values.to(theta.device, dtype),
                          bp.offsets.to(theta.device))
    else:
        offsets = torch.zeros(counts.numel() + 1, dtype=torch.int64, device=counts.device)
        torch.cumsum(counts.reshape(-1) - 1, 0, out=offsets[1:])
        values = torch.empty(int(offsets[-1]), dtype=theta.dtype, device=theta.device)
        _kernel_pass(model, theta, a, b, merge, counts, offsets, values)
        out = Breakpoints(counts, values.to(dtype), offsets)
    return out._replace(counts=out.counts[0]) if single else out


def _kernel_pass(model, theta, a, b, merge, counts=None, offsets=None, values=None):
    """One _core.region_segments call on validated inputs: the count pass (counts None) or the
    fill pass. Returns (counts, overflow): overflow (B, S) bool marks CUDA items that exceeded the
    plan's capacity (their counts are invalid; a warning says so), None when there are none."""
    B, S, dev = theta.shape[0], a.shape[-2], theta.device
    free = torch.cuda.mem_get_info(dev)[0] if theta.is_cuda else 0
    plan = _core.segment_plan(model.spec, B, S, theta.is_cuda, theta.element_size(), free)
    ws = overflow = None
    if theta.is_cuda:
        ws = torch.empty(plan.workspace_bytes, dtype=torch.uint8, device=dev)
        overflow = torch.empty(B, S, dtype=torch.uint8, device=dev)
    if counts is None:
        counts = torch.empty(B, S, dtype=torch.int64, device=dev)
    _core.region_segments(model.spec, theta, a, b, counts, _core.RegionMerge[merge],
                          offsets=offsets, values=values, workspace=ws, overflow=overflow,
                          capacity=plan.capacity, stream=cuda_stream(theta))
    if overflow is None or not bool(overflow.any()):
        return counts, None
    if bool((overflow == int(_core.SegmentStatus.offsets_mismatch)).any()):
        raise RuntimeError("count_1d: the fill pass found offsets that do not match its counts")
    over = overflow == int(_core.SegmentStatus.over_capacity)
    warnings.warn(f"count_1d: {int(over.sum())} segment(s) have more than {plan.capacity} "
                  "points; counting those on the CPU", RuntimeWarning, stacklevel=3)
    return counts, over
