"""Exact linear-region counts of many piecewise-linear networks at once.

For an ``MLP`` with activation relu, leaky_relu or identity and a batch theta (B, P):

* :func:`count_1d` — pieces of each network along each segment [a_s, b_s] (exact);
* :func:`count_2d` — regions of each network on a rectangle of a 2-D slice (exact, polygon cutting);
* :func:`count_patterns` — distinct activation patterns among N samples (a lower bound);
* :mod:`reluscope.regions.bounds` — Zaslavsky, Serra et al. and 2^N / 3^N upper bounds;
* :func:`sawtooth` — Telgarsky's sawtooth network with exactly 2^L pieces on [0, 1].

Tolerance rule (both counters; eps = machine epsilon of the dtype): a pre-activation within
64 eps (|b_j| + sum_i |W_ji| max|a|) of zero counts as exactly zero, so a neuron that only touches
zero, whose zero falls on an existing breakpoint / vertex, or whose hyperplane coincides with an
earlier one adds no region; zeros closer than 64 eps in t merge (1-D); pieces of area
<= eps^2 * rectangle area are dropped as slivers (2-D). Activation patterns are evaluated at piece
midpoints / polygon vertex averages (bit set iff z > 0). ``merge="linear"`` merges neighbouring
pieces whose output slopes g1, g2 agree: |g1 - g2| <= sqrt(eps) (max|g| + y_max (1/len1 + 1/len2)).
"""
from __future__ import annotations

import warnings
from typing import NamedTuple, Optional, Sequence, Union

import torch

from .._ext import _core, cuda_stream
from .._validate import as_float_tensor, check_finite, check_ndim, same_dtype_device
from ..models import MLP, PIECEWISE_LINEAR
from . import bounds

__all__ = ["Breakpoints", "Polygons", "bounds", "count_1d", "count_2d", "count_patterns",
           "sawtooth"]

_MERGE = {"activation": 0, "linear": 1}
# CUDA count_1d: points per work item, and the workspace budget in bytes (at least this, or a
# quarter of the free GPU memory, so that large batches run with enough threads).
_CUDA_CAPACITY = 256
_CUDA_WORKSPACE_BYTES = 1 << 30
_CUDA_PATTERN_THREADS = 1 << 18


class Breakpoints(NamedTuple):
    """Ragged breakpoints of count_1d: ``values[offsets[i]:offsets[i+1]]`` are the interior
    breakpoints (t in (0, 1), t = 0 at a, t = 1 at b, sorted) of item i = b * S + s."""
    values: torch.Tensor   # (total,) same dtype as theta
    offsets: torch.Tensor  # (B*S + 1,) int64


class Polygons(NamedTuple):
    """The regions of count_2d as convex polygons in slice coordinates (s, t).

    Polygon r has vertices ``vertices[vertex_offsets[r]:vertex_offsets[r+1]]`` (counter-clockwise
    or clockwise, in order); network b owns polygons ``region_offsets[b]:region_offsets[b+1]``;
    ``patterns[r]`` is its activation pattern (hidden neurons in layer order, True = z > 0)."""
    vertices: torch.Tensor        # (V, 2)
    vertex_offsets: torch.Tensor  # (R + 1,) int64
    region_offsets: torch.Tensor  # (B + 1,) int64
    patterns: torch.Tensor        # (R, n_hidden) bool


def _check_net_theta(net: MLP, theta: torch.Tensor) -> torch.Tensor:
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a reluscope.MLP, got {type(net).__name__}")
    if net.activation not in PIECEWISE_LINEAR:
        raise ValueError(f"the region counter needs a piecewise-linear activation "
                         f"({', '.join(PIECEWISE_LINEAR)}), got {net.activation!r}")
    theta = as_float_tensor(theta, "theta")
    net.check_theta(theta)
    check_finite(theta, "theta")
    return theta.contiguous()


def _n_words(net: MLP) -> int:
    return max(1, (net.num_hidden + 63) // 64)


def _unpack(words: torch.Tensor, n_bits: int) -> torch.Tensor:
    """(R, n_words) int64 -> (R, n_bits) bool."""
    shifts = torch.arange(64, device=words.device)
    bits = (words[:, :, None] >> shifts) & 1
    return bits.reshape(words.shape[0], -1)[:, :n_bits].bool()


def count_1d(net: MLP, theta: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
             merge: str = "activation", return_breakpoints: bool = False
             ) -> Union[torch.Tensor, tuple[torch.Tensor, Breakpoints]]:
    """Exact number of linear pieces of each network on each segment.

    Args:
        net: piecewise-linear ``MLP`` (relu, leaky_relu, identity).
        theta: (B, P) parameters.
        a, b: segment ends, (S, d0) shared by all networks or (B, S, d0) per network.
        merge: "activation" counts maximal intervals of constant activation pattern; "linear"
            also merges neighbours on which the network has the same affine map.
        return_breakpoints: also return the breakpoints (count-then-fill: a second pass).

    Returns:
        counts (B, S) int64 [, Breakpoints]. On CUDA each work item holds at most a fixed number of
        points; items that need more are recounted on the CPU with a warning (never truncated).
    """
    theta = _check_net_theta(net, theta)
    a, b = as_float_tensor(a, "a"), as_float_tensor(b, "b")
    same_dtype_device(theta, "theta", a=a, b=b)
    check_ndim(a, "a", (2, 3), "(S, d0) or (B, S, d0)")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    B = theta.shape[0]
    if a.shape[-1] != net.d_in or (a.dim() == 3 and a.shape[0] != B):
        raise ValueError(f"a and b must be (S, {net.d_in}) or ({B}, S, {net.d_in}), "
                         f"got {tuple(a.shape)}")
    if merge not in _MERGE:
        raise ValueError(f"merge must be 'activation' or 'linear', got {merge!r}")
    check_finite(a, "a")
    check_finite(b, "b")
    a, b = a.contiguous(), b.contiguous()
    if theta.is_cuda:
        return _count_1d_cuda(net, theta, a, b, merge, return_breakpoints)
    return _count_1d_cpu(net, theta, a, b, merge, return_breakpoints)


def _count_1d_cpu(net, theta, a, b, merge, return_breakpoints):
    S = a.shape[-2]
    counts = torch.empty(theta.shape[0], S, dtype=torch.int64)
    _core.region_segments(net.spec, theta, a, b, counts, _MERGE[merge], None, None, None, None, 0, 0)
    if not return_breakpoints:
        return counts
    offsets = torch.zeros(counts.numel() + 1, dtype=torch.int64)
    torch.cumsum(counts.reshape(-1) - 1, 0, out=offsets[1:])
    values = torch.empty(int(offsets[-1]), dtype=theta.dtype)
    _core.region_segments(net.spec, theta, a, b, counts, _MERGE[merge], offsets, values, None,
                          None, 0, 0)
    return counts, Breakpoints(values, offsets)


def _count_1d_cuda(net, theta, a, b, merge, return_breakpoints):
    B, S = theta.shape[0], a.shape[-2]
    dev = theta.device
    counts = torch.empty(B, S, dtype=torch.int64, device=dev)
    overflow = torch.empty(B, S, dtype=torch.uint8, device=dev)
    item = _core.region_segment_workspace_bytes(net.spec, _CUDA_CAPACITY, theta.element_size())
    budget = max(_CUDA_WORKSPACE_BYTES, torch.cuda.mem_get_info(dev)[0] // 4)
    items = max(1, min(B * S, budget // item))
    ws = torch.empty(items * item, dtype=torch.uint8, device=dev)
    stream = cuda_stream(theta)
    _core.region_segments(net.spec, theta, a, b, counts, _MERGE[merge], None, None, ws, overflow,
                          _CUDA_CAPACITY, stream)
    over = overflow.bool()
    if bool(over.any()):
        warnings.warn(f"count_1d: {int(over.sum())} segment(s) have more than {_CUDA_CAPACITY} "
                      "points; counting those on the CPU", RuntimeWarning, stacklevel=3)
        if return_breakpoints:
            counts, bp = _count_1d_cpu(net, theta.cpu(), a.cpu(), b.cpu(), merge, True)
            return counts.to(dev), Breakpoints(bp.values.to(dev), bp.offsets.to(dev))
        bi, si = over.nonzero(as_tuple=True)
        xa = (a[bi, si] if a.dim() == 3 else a[si])[:, None, :]
        xb = (b[bi, si] if b.dim() == 3 else b[si])[:, None, :]
        counts[bi, si] = _count_1d_cpu(net, theta[bi].cpu(), xa.cpu(), xb.cpu(), merge,
                                       False)[:, 0].to(dev)
    if not return_breakpoints:
        return counts
    offsets = torch.zeros(B * S + 1, dtype=torch.int64, device=dev)
    torch.cumsum(counts.reshape(-1) - 1, 0, out=offsets[1:])
    values = torch.empty(int(offsets[-1]), dtype=theta.dtype, device=dev)
    _core.region_segments(net.spec, theta, a, b, counts, _MERGE[merge], offsets, values, ws,
                          overflow, _CUDA_CAPACITY, stream)
    return counts, Breakpoints(values, offsets)


def _check_bounds(bounds_: Sequence[float]) -> tuple[float, float, float, float]:
    try:
        lo1, hi1, lo2, hi2 = (float(x) for x in bounds_)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be (lo1, hi1, lo2, hi2), got {bounds_!r}") from None
    if not all(torch.isfinite(torch.tensor([lo1, hi1, lo2, hi2]))):
        raise ValueError(f"bounds must be finite, got {bounds_!r}")
    if not (lo1 < hi1 and lo2 < hi2):
        raise ValueError(f"bounds must satisfy lo1 < hi1 and lo2 < hi2 (non-empty), got {bounds_!r}")
    return lo1, hi1, lo2, hi2


def count_2d(net: MLP, theta: torch.Tensor, origin: torch.Tensor, u: torch.Tensor,
             v: torch.Tensor, bounds: Sequence[float] = (-1.0, 1.0, -1.0, 1.0),
             return_polygons: bool = False
             ) -> Union[torch.Tensor, tuple[torch.Tensor, Polygons]]:
    """Exact number of linear regions of each network on the rectangle
    {origin + s u + t v : lo1 <= s <= hi1, lo2 <= t <= hi2}.

    Args:
        origin, u, v: (d0,) shared or (B, d0) per network; u and v must not be parallel.
        bounds: (lo1, hi1, lo2, hi2), finite, lo < hi.
        return_polygons: also return the regions as polygons (count-then-fill: a second pass).

    Returns:
        counts (B,) int64 [, Polygons]. The polygon cutting runs on the CPU; CUDA inputs are
        copied there and the results come back on their device.
    """
    theta = _check_net_theta(net, theta)
    origin, u, v = (as_float_tensor(x, n) for x, n in ((origin, "origin"), (u, "u"), (v, "v")))
    same_dtype_device(theta, "theta", origin=origin, u=u, v=v)
    check_ndim(origin, "origin", (1, 2), "(d0,) or (B, d0)")
    B = theta.shape[0]
    for x, n in ((origin, "origin"), (u, "u"), (v, "v")):
        if x.shape != origin.shape or x.shape[-1] != net.d_in or (x.dim() == 2 and x.shape[0] != B):
            raise ValueError(f"{n} must be ({net.d_in},) or ({B}, {net.d_in}) like origin, "
                             f"got {tuple(x.shape)}")
        check_finite(x, n)
    lo_hi = _check_bounds(bounds)
    uu, vv, uv = (u * u).sum(-1), (v * v).sum(-1), (u * v).sum(-1)
    if bool((uu * vv - uv * uv <= 1e-12 * uu * vv).any()) or bool(((uu == 0) | (vv == 0)).any()):
        raise ValueError("degenerate slice: u and v must be non-zero and not parallel")
    dev = theta.device
    theta, origin, u, v = (x.cpu().contiguous() for x in (theta, origin, u, v))
    counts = torch.empty(B, dtype=torch.int64)
    n_vertices = torch.empty(B, dtype=torch.int64)
    n_words = _n_words(net)
    _core.region_polygons(net.spec, theta, origin, u, v, lo_hi, counts, n_vertices, n_words,
                          None, None, None, None, None)
    if not return_polygons:
        return counts.to(dev)
    region_offsets = torch.zeros(B + 1, dtype=torch.int64)
    torch.cumsum(counts, 0, out=region_offsets[1:])
    vertex_base = torch.zeros(B + 1, dtype=torch.int64)
    torch.cumsum(n_vertices, 0, out=vertex_base[1:])
    R, V = int(region_offsets[-1]), int(vertex_base[-1])
    vertices = torch.empty(V, 2, dtype=theta.dtype)
    vertex_offsets = torch.empty(R + 1, dtype=torch.int64)
    vertex_offsets[R] = V
    words = torch.empty(R, n_words, dtype=torch.int64)
    _core.region_polygons(net.spec, theta, origin, u, v, lo_hi, counts, None, n_words,
                          region_offsets, vertex_base, vertices, vertex_offsets, words)
    polys = Polygons(vertices.to(dev), vertex_offsets.to(dev), region_offsets.to(dev),
                     _unpack(words, net.num_hidden).to(dev))
    return counts.to(dev), polys


def activation_words(net: MLP, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Packed activation patterns (B, N, n_words) int64: bit k of the hidden neurons (layer
    order) set iff its pre-activation is > 0 (no bits are set for identity layers)."""
    theta = _check_net_theta(net, theta)
    X = as_float_tensor(X, "X")
    same_dtype_device(theta, "theta", X=X)
    check_ndim(X, "X", (2, 3), "(N, d0) or (B, N, d0)")
    B = theta.shape[0]
    if X.shape[-1] != net.d_in or (X.dim() == 3 and X.shape[0] != B):
        raise ValueError(f"X must be (N, {net.d_in}) or ({B}, N, {net.d_in}), got {tuple(X.shape)}")
    check_finite(X, "X")
    X = X.contiguous()
    N = X.shape[-2]
    words = torch.empty(B, N, _n_words(net), dtype=torch.int64, device=theta.device)
    ws = None
    if theta.is_cuda:
        threads = max(1, min(B * N, _CUDA_PATTERN_THREADS))
        ws = torch.empty(threads * 2 * net.spec.max_width, dtype=theta.dtype, device=theta.device)
    _core.region_patterns(net.spec, theta, X, words, ws, cuda_stream(theta))
    return words


def count_patterns(net: MLP, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Number of distinct activation patterns among the N samples, per network -> (B,) int64.

    A lower bound on the number of regions the samples' domain meets. X is (N, d0) shared or
    (B, N, d0). CPU: sort + unique per network in C++; CUDA: the pattern kernel, then
    torch.unique over (network, pattern) rows on the device.
    """
    words = activation_words(net, theta, X)
    B, N, W = words.shape
    if not words.is_cuda:
        counts = torch.empty(B, dtype=torch.int64)
        _core.region_unique_rows(words, counts)
        return counts
    ids = torch.arange(B, device=words.device).repeat_interleave(N)[:, None]
    rows = torch.unique(torch.cat([ids, words.reshape(B * N, W)], 1), dim=0)
    return torch.bincount(rows[:, 0], minlength=B)


def sawtooth(L: int, dtype: torch.dtype = torch.float64) -> tuple[MLP, torch.Tensor]:
    """Telgarsky's sawtooth: the tent map t(x) = 2 relu(x) - 4 relu(x - 1/2) composed L times, as
    MLP([1, 2, ..., 2, 1]) (L hidden layers of width 2, the linear maps between tents merged).
    On [0, 1] it has exactly 2^L linear pieces, breakpoints k / 2^L. Returns (net, theta (1, P))."""
    if L < 1:
        raise ValueError(f"L must be >= 1, got {L}")
    net = MLP([1] + [2] * L + [1], "relu")
    tent = torch.tensor([[2.0, -4.0]], dtype=dtype)
    shift = torch.tensor([0.0, -0.5], dtype=dtype)
    layers = [(torch.ones(1, 2, 1, dtype=dtype), shift[None])]
    layers += [(tent.expand(2, 2)[None].clone(), shift[None]) for _ in range(L - 1)]
    layers.append((tent[None].clone(), torch.zeros(1, 1, dtype=dtype)))
    return net, net.flatten(layers)
