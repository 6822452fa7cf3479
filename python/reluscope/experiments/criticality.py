"""Seed 004 (the deep-learning-theory notes, networks at initialisation): signal propagation
through thousands of deep random MLPs against the exact infinite-width maps, with
``layer_moments`` and ``theory.criticality``.

Setting: MLPs [d, n x depth, 1], weights as applied ~ N(0, C_W / fan_in), biases ~ N(0, C_b), for
relu, tanh and linear networks at (C_W, C_b) below, on and above criticality; per network PAIRS
input pairs x, y with |x|^2 = |y|^2 = d and <x, y> / d = RHO0, each pair in its own random plane
(the weights' law is rotation invariant, so every pair has the same distribution; a network's
pairs are averaged and the networks are the independent samples). Per hidden layer l: the
empirical K^l(x, x) and K^l(x, y) (means over the layer's neurons, ``LayerMoments.xx``, ``.xy``).
Weights are drawn in float32 and widened (Gaussian to 1e-7 relative; the generator is the run's
bottleneck).

Rows (Bonferroni z-bounds at family-wise level 1e-3 over the layers compared):
- relu and linear: a network's K^l(x, x) is a product of independent one-layer factors
  K^{l+1} / K^l (fresh weights each layer; for relu the share of z^l's energy on positive units
  is independent of its size by sign symmetry), each with mean C_W / 2 (relu) or C_W (linear) at
  every width: the variance map's factor, compared layer by layer. (K^l itself is heavy-tailed at
  depth/width ~ 1 — its relative variance prod (1 + 5/n) - 1 grows with depth — so its mean over a
  few hundred networks is reported, not tested);
- tanh: the finite-width mean of K^l(x, x) is K^l + c_l / n + O(1/n^2); Richardson's
  2 mean_{2n} - mean_n removes the 1/n term and is compared (O(1/n^2) neglected: stated);
- every configuration: the correlation rho^l = K^l(x, y) / sqrt(K^l(x, x) K^l(y, y)) of each
  network (bounded, so its mean is well behaved), Richardson-extrapolated, against the maps';
- tanh: the fluctuations n Var K^l(x, x) = 2 (K^l)^2 + V^l + O(1/n) with the four-point vertex's
  recursion (``theory.four_point_vertex``), Richardson-extrapolated over the two widths (one pair
  per network: independent samples; SE of each variance from its fourth moment);
- relu at criticality: E[S^2] / E[S]^2 of the layer's sum of squares equals (1 + 2/n) prod (1 +
  5/n) exactly (``theory.relu_norm_ratio``): the finite-width four-point vertex, 5 (l - 1) / n to
  first order;
- the exact maps themselves: tanh at criticality 1/K^l - 2l + (5/6) ln l settles (the K* = 0
  class's 1/(2l) law with its log correction), and in tanh's ordered phase 1 - rho^l shrinks by
  chi_perp(K*) per layer (correlation length -1 / ln chi_perp).
"""
from __future__ import annotations

import math
from statistics import NormalDist

import torch

from .. import MLP, layer_moments, theory
from ..progress import track
from .criticality_plots import figures

D = 16
RHO0 = 0.2
F64 = torch.float64
#: (activation, C_W, C_b): below, on and above criticality.
CONFIGS = (("relu", 1.8, 0.0), ("relu", 2.0, 0.0), ("relu", 2.2, 0.0),
           ("tanh", 0.8, 0.1), ("tanh", 1.0, 0.0), ("tanh", 1.5, 0.0),
           ("identity", 0.9, 0.0), ("identity", 1.0, 0.0), ("identity", 1.1, 0.0))
#: theta values generated at a time (networks in chunks).
CHUNK_VALUES = 1 << 25
#: input pairs per network.
PAIRS = 8


def run(ctx) -> None:
    rep = ctx.report
    size = dict(depth=20, widths=(32, 64), B=200, vertex_width=128, vertex_B=200) if ctx.quick \
        else dict(depth=50, widths=(64, 128), B=500, vertex_width=256, vertex_B=500)
    rep.settings.update({"d": D, "rho0": RHO0, "pairs": PAIRS,
                         "configs": [list(c) for c in CONFIGS],
                         **{k: list(v) if isinstance(v, tuple) else v for k, v in size.items()}})
    X, Y = _inputs(ctx.generator(5))
    depth, (n1, n2) = size["depth"], size["widths"]
    measured, exact = {}, {}
    for k, (act, C_W, C_b) in enumerate(track(CONFIGS, "criticality: configurations")):
        measured[k] = {n: _moments(ctx, act, C_W, C_b, n, depth, size["B"], X, Y, seed=k)
                       for n in (n1, n2)}
        exact[k] = _exact(act, C_W, C_b, depth)
    comparisons = len(CONFIGS) * depth
    bound = NormalDist().inv_cdf(1 - 1e-3 / (2 * comparisons))
    _mean_rows(rep, measured, exact, n1, n2, bound)
    _tanh_vertex_row(rep, measured, n1, n2, depth)
    _vertex_row(rep, ctx, size, X, Y)
    _map_rows(rep)
    rep.data["layers"] = {f"{a} C_W={w} C_b={b}": {
        "exact_K": exact[k][0].tolist(), "exact_K12": exact[k][1].tolist(),
        "mean_K": measured[k][n2][0].mean((0, 1)).tolist(),
        "mean_K12": measured[k][n2][1].mean((0, 1)).tolist()} for k, (a, w, b) in enumerate(CONFIGS)}
    figures(rep, CONFIGS, measured, exact, n2)


def _inputs(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """PAIRS pairs (x, y), |x|^2 = |y|^2 = d, <x, y> / d = RHO0, each in a random plane."""
    Q, _ = torch.linalg.qr(torch.randn(PAIRS, D, 2, generator=gen, dtype=F64))
    u, v = Q[..., 0], Q[..., 1]
    return math.sqrt(D) * u, math.sqrt(D) * (RHO0 * u + math.sqrt(1 - RHO0 ** 2) * v)


def _moments(ctx, act, C_W, C_b, n, depth, B, X, Y, seed) -> tuple[torch.Tensor, ...]:
    """(K(x,x), K(x,y), sum of squares S) per network, pair and hidden layer, (B, PAIRS, depth)."""
    net = MLP([D] + [n] * depth + [1], act, bias=C_b > 0)
    gen = ctx.generator(10_000 * seed + n)
    chunk = max(1, CHUNK_VALUES // net.num_params)
    parts = []
    for b0 in range(0, B, chunk):
        theta = net.init(min(chunk, B - b0), generator=gen, dtype=torch.float32, C_W=C_W,
                         **({"C_b": C_b} if C_b > 0 else {})).double()
        m = layer_moments(net, theta.to(ctx.device), X.to(ctx.device), Y.to(ctx.device))
        parts.append(torch.stack([m.xx[..., :depth], m.xy[..., :depth]]).cpu())
    xx, xy = torch.cat(parts, 1)
    return xx, xy, xx * n


def _exact(act, C_W, C_b, depth) -> tuple[torch.Tensor, torch.Tensor]:
    """The maps' K^l(x, x), K^l(x, y) for l = 1..depth (K^1 from the inputs)."""
    K, K12 = torch.tensor(C_W + C_b, dtype=F64), torch.tensor(C_W * RHO0 + C_b, dtype=F64)
    out = []
    for _ in range(depth):
        out.append((K, K12))
        K, K12 = (theory.variance_map(K, act, C_W, C_b),
                  theory.correlation_map(K, K, K12, act, C_W, C_b))
    return torch.stack([o[0] for o in out]), torch.stack([o[1] for o in out])


def _z(mean, se, want) -> torch.Tensor:
    return (mean - want) / se


def _stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over networks of each network's mean over its pairs, and its standard error."""
    per_net = x.mean(1)
    return per_net.mean(0), per_net.std(0) / math.sqrt(x.shape[0])


def _mean_rows(rep, measured, exact, n1, n2, bound) -> None:
    worst_factor, worst_rich, worst_corr, worst_direct = 0.0, 0.0, 0.0, 0.0
    notes = []
    for k, (act, C_W, C_b) in enumerate(CONFIGS):
        K, K12 = exact[k]
        if act in ("relu", "identity"):
            xx = measured[k][n2][0]
            m, s = _stats(xx[..., 1:] / xx[..., :-1])
            z = float(_z(m, s, K[1:] / K[:-1]).abs().max())
            worst_factor = max(worst_factor, z)
            m, s = _stats(xx)
            worst_direct = max(worst_direct, float(_z(m, s, K).abs().max()))
        else:
            m1, s1 = _stats(measured[k][n1][0])
            m2, s2 = _stats(measured[k][n2][0])
            z = float(_z(2 * m2 - m1, torch.sqrt(4 * s2 ** 2 + s1 ** 2), K).abs().max())
            worst_rich = max(worst_rich, z)
        c1, e1 = _stats(_rho(measured[k][n1]))
        c2, e2 = _stats(_rho(measured[k][n2]))
        zc = float(_z(2 * c2 - c1, torch.sqrt(4 * e2 ** 2 + e1 ** 2), K12 / K).abs().max())
        worst_corr = max(worst_corr, zc)
        notes.append(f"{act} {C_W}/{C_b}: {z:.1f}, {zc:.1f}")
    rep.check(f"relu, linear: one-layer factor K^(l+1)/K^l at n={n2} vs the map's, max |z|",
              worst_factor, bound, kind="le",
              note="exact at every width (module docstring); 6 configurations below, on and above "
                   "criticality: vanishing, preserved, exploding")
    rep.info(f"relu, linear: mean K^l(x,x) at n={n2} vs the variance map, max |z|", worst_direct,
             "heavy-tailed at depth: the z-scores of a few hundred networks' mean are not "
             "reliable (module docstring); reported")
    rep.check(f"tanh: Richardson 2 K_{n2} - K_{n1} of mean K^l(x,x) vs the variance map, max |z|",
              worst_rich, bound, kind="le",
              note="1/n term removed, O(1/n^2) neglected; ordered (0.8, 0.1), critical (1, 0), "
                   "chaotic (1.5, 0)")
    rep.check("every configuration: correlation rho^l(x,y) (Richardson) vs the correlation map, "
              "max |z|", worst_corr, bound, kind="le",
              note=f"rho0 = {RHO0}; per configuration max |z| (K or factor, rho): " +
                   "; ".join(notes))


def _rho(m) -> torch.Tensor:
    """Per network, pair and layer: K(x, y) / K(x, x) (|x| = |y|: K(y, y) has K(x, x)'s law;
    the map's rho is K12 / K)."""
    xx, xy, _ = m
    return xy / xx


def _tanh_vertex_row(rep, measured, n1, n2, depth) -> None:
    rows = [k for k, c in enumerate(CONFIGS) if c[0] == "tanh"]
    bound = NormalDist().inv_cdf(1 - 1e-3 / (2 * len(rows) * (depth - 1)))
    worst, notes = 0.0, []
    for k in rows:
        act, C_W, C_b = CONFIGS[k]
        K, V = theory.four_point_vertex(act, C_W, C_b, C_W + C_b, depth)
        est = []
        for n in (n1, n2):
            x = measured[k][n][0][:, 0]                       # one pair per network: (B, depth)
            B = x.shape[0]
            var = x.var(0)
            m4 = ((x - x.mean(0)) ** 4).mean(0)
            se = torch.sqrt((m4 - var ** 2 * (B - 3) / (B - 1)).clamp(min=0) / B)
            est.append((n * var, n * se))
        (v1, s1), (v2, s2) = est
        z = ((2 * v2 - v1 - (2 * K ** 2 + V)) / torch.sqrt(4 * s2 ** 2 + s1 ** 2))[1:]
        worst = max(worst, float(z.abs().max()))
        notes.append(f"({C_W}, {C_b}): layer {depth} n Var = {float(2 * v2[-1] - v1[-1]):.3g} vs "
                     f"{float(2 * K[-1] ** 2 + V[-1]):.3g}")
    rep.check("tanh: Richardson n Var K^l(x,x) vs 2 K^2 + V (four-point vertex), max |z|", worst,
              bound, kind="le",
              note="layers 2..depth (layer 1 is Gaussian: 2K^2 exactly); " + "; ".join(notes))


def _vertex_row(rep, ctx, size, X, Y) -> None:
    n, B, depth = size["vertex_width"], size["vertex_B"], size["depth"]
    _, _, S = _moments(ctx, "relu", 2.0, 0.0, n, depth, B, X, Y, seed=99)
    want = theory.relu_norm_ratio([n] * depth)
    ratio = (S ** 2).mean((0, 1)) / S.mean((0, 1)) ** 2
    gen = ctx.generator(98)
    boot = []
    for _ in range(300):   # skewed sampling distribution, pairs clustered in networks:
        idx = torch.randint(B, (B,), generator=gen)          # bootstrap over networks
        Sb = S[idx]
        boot.append((Sb ** 2).mean((0, 1)) / Sb.mean((0, 1)) ** 2)
    se = torch.stack(boot).std(0)
    z = (ratio - want) / se
    bound = NormalDist().inv_cdf(1 - 1e-3 / (2 * depth))
    rep.check(f"relu critical, n={n}: E[S^2]/E[S]^2 per layer vs (1+2/n) prod(1+5/n), max |z|",
              float(z.abs().max()), bound, kind="le",
              note=f"{B} networks x {PAIRS} inputs, SE by bootstrap over networks (300 "
                   f"resamples); exact at any width "
                   f"(theory.criticality); at layer {depth}: "
                   f"{float(ratio[-1]):.4f} vs {float(want[-1]):.4f}; first order 1 + (2 + 5(l-1))/n: "
                   "the four-point vertex V/K^2 = 5(l - 1)")
    rep.data["vertex"] = {"n": n, "measured": ratio.tolist(), "exact": want.tolist(),
                          "se": se.tolist()}


def _map_rows(rep) -> None:
    K = torch.tensor(1.0, dtype=F64)
    resid = {}
    for layer in range(1, 20001):
        if layer in (10000, 20000):
            resid[layer] = 1 / float(K) - 2 * layer + 5 / 6 * math.log(layer)
        K = theory.variance_map(K, "tanh", 1.0)
    rep.check("tanh critical, exact map: change of 1/K^l - 2l + (5/6) ln l from l = 1e4 to 2e4",
              abs(resid[20000] - resid[10000]), 0.0, 1e-3,
              note=f"settles to c = {resid[20000]:.4f} (K^1 = 1): K^l = 1/(2l - (5/6) ln l + c); "
                   "next order O(ln l / l) ~ 5e-4")
    Ks = theory.fixed_point("tanh", 0.8, 0.1)
    xi = theory.correlation_length("tanh", 0.8, 0.1)
    k12, gaps = 0.3 * Ks, [0.7]
    while gaps[-1] > 1e-7:
        k12 = float(theory.correlation_map(Ks, Ks, k12, "tanh", 0.8, 0.1))
        gaps.append(1 - k12 / Ks)
    rep.check("tanh ordered (0.8, 0.1), exact map: decay rate of 1 - rho^l vs exp(-1/xi)",
              gaps[-1] / gaps[-2], math.exp(-1 / xi), 1e-5,
              note=f"xi = -1/ln chi_perp(K*) = {xi:.4f} layers, K* = {Ks:.6f}; the rate's "
                   "correction is O(1 - rho) < 1e-7 where it is read")
