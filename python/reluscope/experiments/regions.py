"""Seed 003: linear regions of ReLU networks.

1. Telgarsky's sawtooth: the tent map composed L times has exactly 2^L pieces on [0, 1].
2. One hidden layer in the plane, in general position: Zaslavsky's count Σ_{i≤2} C(n1, i) regions
   in a window holding every intersection of the neurons' lines.
3. Hanin–Rolnick: at He initialisation, regions per unit length along a line grow in proportion
   to the number of neurons, roughly independent of depth. For one hidden layer the expectation
   is exact: neuron i breaks the segment [a, b] iff its pre-activation changes sign, which for
   jointly Gaussian (z(a), z(b)) with correlation ρ has probability arccos(ρ)/π, so
   E[pieces] = 1 + n arccos(ρ)/π,  ρ = (2a·b/d + σ_b²) / √((2|a|²/d + σ_b²)(2|b|²/d + σ_b²))
   for W ~ N(0, 2/d), b ~ N(0, σ_b²).
4. A 2-D slice of a random deep network, coloured by region.
"""
from __future__ import annotations

import math

import torch

from .. import MLP, regions
from ..progress import track

BIAS_STD = 0.5  # σ_b of the He-initialised networks (biases keep the lines off the origin)


def run(ctx) -> None:
    rep = ctx.report
    dev, dt = ctx.device, torch.float64
    _telgarsky(rep, dev)
    _zaslavsky(rep, ctx, dev, dt)
    _hanin_rolnick(rep, ctx, dev, dt)
    _slice(rep, ctx, dev, dt)


def _telgarsky(rep, dev) -> None:
    Ls = list(range(1, 21))
    counts = []
    for L in track(Ls, "regions: sawtooth"):
        net, theta = regions.sawtooth(L, dtype=torch.float64)
        a = torch.zeros(1, 1, dtype=torch.float64)
        b = torch.ones(1, 1, dtype=torch.float64)
        counts.append(int(regions.count_1d(net, theta.to(dev), a.to(dev), b.to(dev))[0, 0]))
    wrong = [L for L, c in zip(Ls, counts) if c != 2**L]
    rep.check("sawtooth: L in 1..20 with pieces != 2^L", len(wrong), 0, kind="eq",
              note=f"L=20: {counts[-1]} pieces")
    rep.data["sawtooth"] = dict(zip(Ls, counts))
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.semilogy(Ls, [2**L for L in Ls], "k-", label="2^L")
    ax.semilogy(Ls, counts, "o", mfc="none", label="count_1d")
    ax.set_xlabel("depth L (compositions of the tent map)")
    ax.set_ylabel("pieces on [0, 1]")
    ax.legend()
    rep.figure(fig, "sawtooth.png", "Telgarsky's sawtooth: counted pieces vs 2^L.")


def _zaslavsky(rep, ctx, dev, dt) -> None:
    widths = [3, 5, 8, 12] if ctx.quick else [3, 5, 8, 12, 16, 24, 32]
    B = 8 if ctx.quick else 32
    g = ctx.generator(1)
    mism, rows = 0, []
    for n1 in widths:
        net = MLP([2, n1, 1])
        theta = net.init(B, generator=g, scheme="normal", dtype=dt, bias_std=1.0)
        (W, b), _ = net.unflatten(theta)
        # Every pairwise intersection of the lines W_i·x + b_i = 0 must lie inside the window.
        i, j = torch.triu_indices(n1, n1, 1)
        A = torch.stack([W[:, i], W[:, j]], 2)                      # (B, pairs, 2, 2)
        pts = torch.linalg.solve(A, -torch.stack([b[:, i], b[:, j]], 2))
        half = 1.5 * pts.abs().max().item() + 1.0
        o = torch.zeros(2, dtype=dt)
        e1, e2 = torch.tensor([1.0, 0.0], dtype=dt), torch.tensor([0.0, 1.0], dtype=dt)
        got = regions.count_2d(net, theta.to(dev), o.to(dev), e1.to(dev), e2.to(dev),
                               bounds=(-half, half, -half, half)).cpu()
        expected = regions.bounds.zaslavsky(2, n1)
        mism += int((got != expected).sum())
        rows.append((n1, expected, got.float().mean().item()))
    rep.check(f"one hidden layer: networks whose 2-D count != Zaslavsky ({B} per width)", mism, 0, kind="eq",
              note="widths " + ", ".join(str(w) for w in widths))
    rep.data["zaslavsky"] = rows
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot([r[0] for r in rows], [r[1] for r in rows], "k-", label="Σ_{i≤2} C(n, i)")
    ax.plot([r[0] for r in rows], [r[2] for r in rows], "o", mfc="none", label="count_2d (mean)")
    ax.set_xlabel("hidden neurons n")
    ax.set_ylabel("regions in the plane")
    ax.legend()
    rep.figure(fig, "zaslavsky.png", "One hidden layer in the plane: counted regions vs Zaslavsky.")


def _segments(S: int, g, dt):
    """S random segments of length 2 through random offsets in the plane."""
    ang = torch.rand(S, generator=g, dtype=dt) * 2 * math.pi
    mid = torch.randn(S, 2, generator=g, dtype=dt) * 0.5
    d = torch.stack([ang.cos(), ang.sin()], 1)
    return mid - d, mid + d


def _expected_one_layer(n: int, a: torch.Tensor, b: torch.Tensor, d: int) -> torch.Tensor:
    sb2 = BIAS_STD**2
    va = 2 * (a * a).sum(1) / d + sb2
    vb = 2 * (b * b).sum(1) / d + sb2
    rho = (2 * (a * b).sum(1) / d + sb2) / (va * vb).sqrt()
    return 1 + n * torch.arccos(rho.clamp(-1, 1)) / math.pi


def _hanin_rolnick(rep, ctx, dev, dt) -> None:
    B = 200 if ctx.quick else 2000
    S = 8 if ctx.quick else 32
    g = ctx.generator(2)
    a, b = _segments(S, g, dt)
    length = (b - a).norm(dim=1)
    curves = {}
    for depth in track([1, 2, 3, 4], "regions: Hanin-Rolnick"):
        pts = []
        for width in (8, 16, 32):
            net = MLP([2] + [width] * depth + [1])
            theta = net.init(B, generator=g, scheme="he", dtype=dt, bias_std=BIAS_STD)
            c = regions.count_1d(net, theta.to(dev), a.to(dev), b.to(dev)).cpu().to(dt)
            # networks are the independent samples (segments are shared): the standard error
            # comes from the per-network means
            per_net = (c / length).mean(1)
            pts.append((depth * width, per_net.mean().item(), per_net.std().item() / math.sqrt(B)))
            if depth == 1:
                exp = (_expected_one_layer(width, a, b, 2) / length).mean().item()
                se = pts[-1][2]
                rep.check(f"depth 1, n={width}: mean pieces per unit length", pts[-1][1], exp,
                          4 * se + 1e-12, note="reference 1 + n arccos(ρ)/π; tol = 4 standard errors")
        curves[depth] = pts
    for depth, pts in curves.items():
        rep.info(f"depth {depth}: pieces per unit length at n = {[p[0] for p in pts]}",
                 [round(p[1], 3) for p in pts])
    rep.data["hanin_rolnick"] = curves
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    ns = torch.arange(1, 130, dtype=dt)
    ax.plot(ns, [(_expected_one_layer(int(n), a, b, 2) / length).mean().item() for n in ns], "k-",
            lw=1, label="1 hidden layer, exact expectation")
    for depth, pts in curves.items():
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[2 * p[2] for p in pts], fmt="o-",
                    ms=4, label=f"depth {depth}")
    ax.set_xlabel("total hidden neurons")
    ax.set_ylabel("pieces per unit length")
    ax.legend(fontsize=8)
    rep.figure(fig, "hanin_rolnick.png", "Regions per unit length along random lines at He "
               "initialisation: proportional to the number of neurons, roughly independent of depth.")


def _slice(rep, ctx, dev, dt) -> None:
    net = MLP([2, 16, 16, 16, 1])
    theta = net.init(1, generator=ctx.generator(3), scheme="he", dtype=dt, bias_std=BIAS_STD)
    o = torch.zeros(2, dtype=dt)
    e1, e2 = torch.tensor([1.0, 0.0], dtype=dt), torch.tensor([0.0, 1.0], dtype=dt)
    box = (-2.0, 2.0, -2.0, 2.0)
    poly = regions.polygons_2d(net, theta.to(dev), o.to(dev), e1.to(dev), e2.to(dev), bounds=box)
    count = poly.counts
    X = (torch.rand(20000, 2, generator=ctx.generator(4), dtype=dt) * 4 - 2)
    sampled = regions.count_patterns(net, theta.to(dev), X.to(dev))
    rep.check("deep net slice: sampled patterns <= exact regions", int(sampled[0]), int(count[0]), kind="le")
    rep.info("deep net [2,16,16,16,1] regions in [-2,2]²", int(count[0]))
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    verts = poly.vertices.cpu()
    vo = poly.vertex_offsets.cpu().tolist()
    polys = [verts[vo[r]:vo[r + 1]].numpy() for r in range(len(vo) - 1)]
    g = torch.Generator().manual_seed(0)
    colors = torch.rand(len(polys), 3, generator=g).numpy() * 0.7 + 0.3
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="k", linewidths=0.2))
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(f"{int(count[0])} linear regions of a random [2,16,16,16,1] ReLU net")
    rep.figure(fig, "slice.png", "A 2-D slice of a random deep ReLU network coloured by region.")
