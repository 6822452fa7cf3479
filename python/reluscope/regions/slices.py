"""Exact linear regions of B piecewise-linear networks on a rectangle of a 2-D slice
{origin + s u + t v}: ``count_2d`` and, with the regions as polygons, ``polygons_2d``.

The polygon cutting runs on the CPU (csrc/regions/polygon_math.h); CUDA inputs are copied there
and the results come back on their device. Tolerance rule: ``reluscope.regions``' docstring.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch

from .._ext import _core
from .._validate import as_float_tensor, check_finite, check_ndim, is_one_model, same_dtype_device
from ..models import MLP
from ._checks import check_model_theta, in_float64
from .patterns import unpack_patterns

__all__ = ["Polygons", "count_2d", "polygons_2d"]

Bounds = Sequence[float]
_UNIT = (-1.0, 1.0, -1.0, 1.0)  # the kernel's rectangle, in units of the caller's (see _check)


class Polygons(NamedTuple):
    """The regions of ``polygons_2d`` as convex polygons in slice coordinates (s, t).

    Network b owns polygons ``region_offsets[b]:region_offsets[b+1]`` (``counts[b]`` of them);
    polygon r has vertices ``vertices[vertex_offsets[r]:vertex_offsets[r+1]]`` in order around
    it; ``patterns[r]`` is its activation pattern (the neurons of the hidden layers with a kink,
    in layer order, True where z > 0)."""
    counts: torch.Tensor          # (B,) int64
    vertices: torch.Tensor        # (V, 2)
    vertex_offsets: torch.Tensor  # (R + 1,) int64
    region_offsets: torch.Tensor  # (B + 1,) int64
    patterns: torch.Tensor        # (R, pattern bits) bool


def _check_bounds(bounds: Bounds) -> tuple[float, float, float, float]:
    try:
        lo1, hi1, lo2, hi2 = (float(x) for x in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be (lo1, hi1, lo2, hi2), got {bounds!r}") from None
    if not all(math.isfinite(x) for x in (lo1, hi1, lo2, hi2)):
        raise ValueError(f"bounds must be finite, got {bounds!r}")
    if not (lo1 < hi1 and lo2 < hi2):
        raise ValueError(f"bounds must satisfy lo1 < hi1 and lo2 < hi2 (non-empty), got {bounds!r}")
    return lo1, hi1, lo2, hi2


def _check(model, theta, origin, u, v, bounds):
    """Validated (theta, origin, u, v) on the CPU in float64, and the bounds; then the same
    rectangle as the unit square [-1, 1]^2 of the slice origin' + s' u' + t' v' (origin' the
    rectangle's centre, u' and v' its half-sides), so the kernel's geometry (its area and zero
    thresholds) is in units of the rectangle whatever its scale. Returns (theta, origin', u', v'),
    and the affine map back, (centre (2,), half-sides (2,)) with s = centre + half * s'."""
    theta = check_model_theta(model, theta)
    origin, u, v = (as_float_tensor(x, n, theta)
                    for x, n in ((origin, "origin"), (u, "u"), (v, "v")))
    same_dtype_device(theta, "theta", origin=origin, u=u, v=v)
    check_ndim(origin, "origin", (1, 2), "(d0,) or (B, d0)")
    B = theta.shape[0]
    for x, n in ((origin, "origin"), (u, "u"), (v, "v")):
        if x.shape != origin.shape or x.shape[-1] != model.d_in or (x.dim() == 2 and x.shape[0] != B):
            raise ValueError(f"{n} must be ({model.d_in},) or ({B}, {model.d_in}) like origin, "
                             f"got {tuple(x.shape)}")
        check_finite(x, n)
    lo_hi = _check_bounds(bounds)
    theta, origin, u, v = in_float64(*(x.cpu() for x in (theta, origin, u, v)))
    # scale-free: u and v divided by their largest entry, so tiny or huge ones are judged alike
    mu, mv = u.abs().amax(-1, keepdim=True), v.abs().amax(-1, keepdim=True)
    if bool(((mu == 0) | (mv == 0)).any()):
        raise ValueError("degenerate slice: u and v must be non-zero")
    un, vn = u / mu, v / mv
    uu, vv, uv = (un * un).sum(-1), (vn * vn).sum(-1), (un * vn).sum(-1)
    if bool((uu * vv - uv * uv <= 1e-12 * uu * vv).any()):
        raise ValueError("degenerate slice: u and v must not be parallel")
    lo1, hi1, lo2, hi2 = lo_hi
    corners = torch.stack([origin + s * u + t * v for s in (lo1, hi1) for t in (lo2, hi2)])
    if not bool(torch.isfinite(corners).all()):
        raise ValueError("the rectangle origin + s u + t v over the bounds leaves the finite "
                         "float64 range")
    centre = torch.tensor([lo1 / 2 + hi1 / 2, lo2 / 2 + hi2 / 2], dtype=torch.float64)
    half = torch.tensor([hi1 / 2 - lo1 / 2, hi2 / 2 - lo2 / 2], dtype=torch.float64)
    unit = (origin + centre[0] * u + centre[1] * v, half[0] * u, half[1] * v)
    return (theta, *(x.contiguous() for x in unit)), (centre, half)


def count_2d(model: MLP, theta: torch.Tensor, origin: torch.Tensor, u: torch.Tensor,
             v: torch.Tensor, *, bounds: Bounds = (-1.0, 1.0, -1.0, 1.0)) -> torch.Tensor:
    """Exact number of linear regions of each network on the rectangle
    {origin + s u + t v : lo1 <= s <= hi1, lo2 <= t <= hi2}.

    Args:
        model: piecewise-linear ``MLP``; theta (B, P), or (P,) for one network.
        origin, u, v: (d0,) shared or (B, d0) per network; u and v must not be parallel.
        bounds: (lo1, hi1, lo2, hi2), finite, lo < hi.

    Returns:
        counts (B,) int64 on theta's device (0-d for one network).
    """
    single = is_one_model(theta)
    theta = check_model_theta(model, theta)
    (theta_c, origin, u, v), _ = _check(model, theta, origin, u, v, bounds)
    counts = torch.empty(theta_c.shape[0], dtype=torch.int64)
    _core.region_polygon_counts(model.spec, theta_c, origin, u, v, _UNIT, counts)
    counts = counts.to(theta.device)
    return counts[0] if single else counts


def polygons_2d(model: MLP, theta: torch.Tensor, origin: torch.Tensor, u: torch.Tensor,
                v: torch.Tensor, *, bounds: Bounds = (-1.0, 1.0, -1.0, 1.0)) -> Polygons:
    """``count_2d`` and the regions themselves as polygons with their activation patterns
    (count, then a second pass that fills); vertices in theta's dtype."""
    single = is_one_model(theta)
    theta = check_model_theta(model, theta)
    (theta_c, origin, u, v), (centre, half) = _check(model, theta, origin, u, v, bounds)
    B, spec = theta_c.shape[0], model.spec
    counts = torch.empty(B, dtype=torch.int64)
    n_vertices = torch.empty(B, dtype=torch.int64)
    _core.region_polygon_counts(spec, theta_c, origin, u, v, _UNIT, counts,
                                n_vertices=n_vertices)
    region_offsets = torch.zeros(B + 1, dtype=torch.int64)
    torch.cumsum(counts, 0, out=region_offsets[1:])
    vertex_base = torch.zeros(B + 1, dtype=torch.int64)
    torch.cumsum(n_vertices, 0, out=vertex_base[1:])
    R, V = int(region_offsets[-1]), int(vertex_base[-1])
    vertices = torch.empty(V, 2, dtype=theta_c.dtype)
    vertex_offsets = torch.empty(R + 1, dtype=torch.int64)
    vertex_offsets[R] = V
    words = torch.empty(R, spec.pattern_words, dtype=torch.int64)
    _core.region_polygon_fill(spec, theta_c, origin, u, v, _UNIT, counts, region_offsets,
                              vertex_base, vertices, vertex_offsets, words)
    vertices = centre + half * vertices  # back to the caller's (s, t)
    dev = theta.device
    out = Polygons(counts.to(dev), vertices.to(dev, theta.dtype), vertex_offsets.to(dev),
                   region_offsets.to(dev), unpack_patterns(words, spec.pattern_bits).to(dev))
    return out._replace(counts=out.counts[0]) if single else out
