"""Reference region counters: exact, slow, float64, plain torch/python loops over networks.

Formulated differently from the kernels (each piece / polygon carries the affine map of the current
layer in its coordinates instead of values at points), so the tests compare two derivations.
Tolerances, all relative (so a network's scale does not matter): a zero closer than 1e-12 (in t)
to a piece end or another zero adds no breakpoint; a pattern bit is on iff z > 1e-9 |z| scale at
the piece midpoint / polygon vertex average; "linear" merges neighbours whose output slopes differ
by <= 1e-7 max slope; polygons of area <= 1e-12 * rectangle area are dropped.
"""
from __future__ import annotations

import torch

from ..models import KINKED, MLP
from .activations import activation_fn
from .forward import layer_weights

_F64 = torch.float64


def _layers(model: MLP, theta_b: torch.Tensor):
    """[(W (out, in), b (out,), has a kink, is leaky)] for one network, float64."""
    out = []
    for W, b, act in layer_weights(model, theta_b[None].to(_F64)):
        bias = b[0] if b is not None else torch.zeros(W.shape[1], dtype=_F64)
        out.append((W[0], bias, act in KINKED, act == "leaky_relu"))
    return out


def _segment(layers, slope, xa, xb, merge):
    brk = torch.tensor([0.0, 1.0], dtype=_F64)
    alpha, beta = xa[None], (xb - xa)[None]
    pats = []
    for W, bias, split, leaky in layers[:-1]:
        c, d = alpha @ W.T + bias, beta @ W.T
        if split:
            lo, hi = brk[:-1, None], brk[1:, None]
            r = -c / torch.where(d == 0, torch.ones_like(d), d)
            ok = (d != 0) & (r > lo + 1e-12) & (r < hi - 1e-12)
            new = torch.cat([brk, r[ok]]).sort().values
            new = new[torch.cat([torch.tensor([True]), new[1:] - new[:-1] > 1e-12])]
            new[-1] = 1.0
            mid = (new[:-1] + new[1:]) / 2
            parent = torch.searchsorted(brk, mid) - 1
            c, d = c[parent], d[parent]
            on = c + d * mid[:, None] > 1e-9 * (c.abs() + d.abs())
            pats = [p[parent] for p in pats] + [on]
            g = torch.where(on, 1.0, slope if leaky else 0.0).to(_F64)
            c, d, brk = c * g, d * g, new
        alpha, beta = c, d
    W, bias, _, _ = layers[-1]
    d_out = beta @ W.T
    if not pats:
        return 1
    change = (torch.cat(pats, 1)[1:] != torch.cat(pats, 1)[:-1]).any(1)
    if merge == "activation":
        return 1 + int(change.sum())
    starts = torch.cat([torch.tensor([0]), change.nonzero()[:, 0] + 1])
    slopes = d_out[starts]
    diff = (slopes[1:] - slopes[:-1]).abs().amax(1)
    scale = torch.maximum(slopes[1:].abs().amax(1), slopes[:-1].abs().amax(1))
    return 1 + int((diff > 1e-7 * scale).sum())


def count_1d(model: MLP, theta: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *,
             merge: str = "activation") -> torch.Tensor:
    """Pieces of each network on each segment: theta (B, P), a/b (S, d0) or (B, S, d0) -> (B, S)."""
    B, S = theta.shape[0], a.shape[-2]
    out = torch.empty(B, S, dtype=torch.int64)
    for i in range(B):
        layers = _layers(model, theta[i].cpu())
        for s in range(S):
            xa = (a[i, s] if a.dim() == 3 else a[s]).cpu().to(_F64)
            xb = (b[i, s] if b.dim() == 3 else b[s]).cpu().to(_F64)
            out[i, s] = _segment(layers, model.slope, xa, xb, merge)
    return out


def _area(p: torch.Tensor) -> float:
    return 0.5 * abs(float((p[:, 0] * p[:, 1].roll(-1) - p[:, 1] * p[:, 0].roll(-1)).sum()))


def _clip(poly: torch.Tensor, z: torch.Tensor, sign: float) -> torch.Tensor:
    """Part of the convex polygon (k, 2) where sign * z >= 0 (z: values at its vertices)."""
    out, k = [], poly.shape[0]
    for i in range(k):
        j = (i + 1) % k
        if sign * z[i] >= 0:
            out.append(poly[i])
        if (z[i] > 0 > z[j]) or (z[i] < 0 < z[j]):
            lam = z[i] / (z[i] - z[j])
            out.append(poly[i] + lam * (poly[j] - poly[i]))
    return torch.stack(out) if out else poly[:0]


def _slice(layers, slope, origin, u, v, bounds):
    lo1, hi1, lo2, hi2 = bounds
    rect = torch.tensor([[lo1, lo2], [hi1, lo2], [hi1, hi2], [lo1, hi2]], dtype=_F64)
    # the kernel's rule (csrc/regions/polygon_math.h): values within 64 eps of their scale are 0, a
    # piece of area <= eps^2 x the rectangle's is a sliver. (It was 1e-9 and 1e-12 here: that
    # dropped genuine regions of area ~1e-12, triangles with 1e-6 sides, which the kernel keeps.)
    eps = torch.finfo(_F64).eps
    min_area = eps * eps * (hi1 - lo1) * (hi2 - lo2)
    # polygon: (vertices (k, 2), alpha (w,), G (w, 2), pattern list): a(s, t) = alpha + G (s, t)
    polys = [(rect, origin, torch.stack([u, v], 1), [])]
    for W, bias, split, leaky in layers[:-1]:
        new = []
        for verts, alpha, G, pat in polys:
            c, M = W @ alpha + bias, W @ G
            pieces = [verts]
            if split:
                for j in range(W.shape[0]):
                    nxt = []
                    for p in pieces:
                        z = c[j] + p @ M[j]
                        tol = 64 * eps * (c[j].abs() + M[j].abs().sum() * p.abs().max())
                        z = torch.where(z.abs() <= tol, torch.zeros_like(z), z)
                        if z.max() > 0 and z.min() < 0:
                            nxt += [q for q in (_clip(p, z, 1.0), _clip(p, z, -1.0))
                                    if q.shape[0] >= 3 and _area(q) > min_area]
                        else:
                            nxt.append(p)
                    pieces = nxt
            for p in pieces:
                if split:
                    on = c + M @ p.mean(0) > 0
                    g = torch.where(on, 1.0, slope if leaky else 0.0).to(_F64)
                    new.append((p, c * g, M * g[:, None], pat + on.tolist()))
                else:
                    new.append((p, c, M, pat))
        polys = new
    return polys


def count_2d(model: MLP, theta: torch.Tensor, origin: torch.Tensor, u: torch.Tensor,
             v: torch.Tensor, *, bounds=(-1.0, 1.0, -1.0, 1.0)) -> torch.Tensor:
    """Regions (distinct activation patterns of the cut polygons) of each network on the
    rectangle of the slice origin + s u + t v -> (B,) int64."""
    B = theta.shape[0]
    out = torch.empty(B, dtype=torch.int64)
    for i in range(B):
        pick = (lambda x: x[i] if x.dim() == 2 else x)
        polys = _slice(_layers(model, theta[i].cpu()), model.slope,
                       *(pick(x).cpu().to(_F64) for x in (origin, u, v)), bounds)
        out[i] = len({tuple(p[3]) for p in polys})
    return out


def count_patterns(model: MLP, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Brute force: distinct activation patterns (z > 0 per neuron with a kink, in float64) among
    the samples."""
    theta, X = theta.to(_F64), X.to(_F64)
    a = X.expand(theta.shape[0], *X.shape) if X.dim() == 2 else X
    bits = []
    for W, b, act in list(layer_weights(model, theta))[:-1]:
        z = torch.matmul(a, W.transpose(1, 2)) + (b[:, None, :] if b is not None else 0)
        if act in KINKED:
            bits.append(z > 0)
        a = activation_fn(act, model.slope)(z)
    if not bits:
        return torch.ones(theta.shape[0], dtype=torch.int64, device=theta.device)
    P = torch.cat(bits, 2)
    return torch.tensor([torch.unique(P[i], dim=0).shape[0] for i in range(P.shape[0])],
                        dtype=torch.int64, device=theta.device)
