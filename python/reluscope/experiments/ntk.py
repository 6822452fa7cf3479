"""Seed 004 (the deep-learning-theory notes, networks at initialisation): the empirical neural
tangent kernel of many random ReLU networks against the infinite-width kernel, with
``hessian.ntk`` and ``theory.relu_kernels``.

Setting: MLPs [d, n, ..., n, 1], relu, NTK parameterisation (z = W a / sqrt(fan_in) + b), theta's
weights ~ N(0, C_W = 2) (ReLU's critical choice), biases ~ N(0, C_b = 0.1); the NTK in that theta
(``theory.ntk``'s docstring). Inputs on the sphere |x|^2 = d, at angles t in [0, pi] in a plane.

Rows: two weight layers — the mean of Theta(x, x') over B networks equals the infinite-width
Theta^2 at every width (exact, a test of the code), every pair of inputs and width within a
Bonferroni z-bound (family-wise level 1e-3); the variance of Theta(x, x) equals its exact
finite-width value Var(Y) / n, and its log-log slope in n is -1; three weight layers — the RMS
relative deviation of Theta from Theta^3 falls like n^(-1/2) (fluctuations of order sqrt(depth /
width)); the identity between the NTK's nonzero eigenvalues and the Gauss-Newton matrix's (mse,
unit weights: H0 = 2 J^T J, Theta = J J^T), to round-off.
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import torch

from .. import MLP, Data, hessian, theory
from ..progress import track

D = 8
C_W, C_B = 2.0, 0.1
F64 = torch.float64


def run(ctx) -> None:
    rep = ctx.report
    size = dict(angles=9, two=(16, 64, 256), B2=400, three=(64, 128, 256), B3=60) if ctx.quick \
        else dict(angles=16, two=(16, 64, 256, 1024), B2=2000, three=(64, 128, 256, 512), B3=500)
    rep.settings.update({"d": D, "C_W": C_W, "C_b": C_B, **{k: list(v) if isinstance(v, tuple)
                                                            else v for k, v in size.items()}})
    X = _sphere(size["angles"])
    two = {n: _kernels(ctx, n, 2, size["B2"], X) for n in track(size["two"], "ntk: two layers")}
    three = {n: _kernels(ctx, n, 3, size["B3"], X)
             for n in track(size["three"], "ntk: three layers")}
    exact2 = theory.relu_kernels(X, depth=2, C_W=C_W, C_b=C_B)[1]
    exact3 = theory.relu_kernels(X, depth=3, C_W=C_W, C_b=C_B)[1]
    _two_layer_rows(rep, two, exact2, X)
    fit3 = _three_layer_rows(rep, three, exact3, ctx.generator(7))
    _gauss_newton_row(rep, ctx)
    rep.data.update({"angles": _angles(size["angles"]).tolist(),
                     "exact2": exact2[:, 0].tolist(), "exact3": exact3[:, 0].tolist()})
    _figures(rep, X, two, three, exact2, exact3, fit3)


def _angles(k: int) -> torch.Tensor:
    return torch.linspace(0, math.pi, k, dtype=F64)


def _sphere(k: int) -> torch.Tensor:
    """k inputs x_t = sqrt(d) (cos t, sin t, 0, ..., 0), t in [0, pi]: |x|^2 / d = 1."""
    t = _angles(k)
    X = torch.zeros(k, D, dtype=F64)
    X[:, 0], X[:, 1] = torch.cos(t), torch.sin(t)
    return X * math.sqrt(D)


def _kernels(ctx, n: int, depth: int, B: int, X: torch.Tensor) -> torch.Tensor:
    """Theta (B, N, N) of B random networks of width n with `depth` weight layers."""
    net = MLP([D] + [n] * (depth - 1) + [1], "relu", parameterization="ntk")
    theta = net.init(B, generator=ctx.generator(1000 * depth + n), dtype=F64, C_W=C_W, C_b=C_B)
    return hessian.ntk(net, theta.to(ctx.device), X.to(ctx.device))[..., 0, 0].cpu()


def _z_bound(comparisons: int, level: float = 1e-3) -> float:
    """Two-sided Bonferroni bound: P(max |z| > bound) <= level over `comparisons` z-scores."""
    return NormalDist().inv_cdf(1 - level / (2 * comparisons))


def _var_se(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample variance over dim 0 and its standard error from the fourth central moment."""
    B = x.shape[0]
    var = x.var(0)
    m4 = ((x - x.mean(0)) ** 4).mean(0)
    return var, torch.sqrt((m4 - var ** 2 * (B - 3) / (B - 1)).clamp(min=0) / B)


def _two_layer_rows(rep, two: dict, exact: torch.Tensor, X: torch.Tensor) -> None:
    N = exact.shape[0]
    pairs = torch.triu_indices(N, N)
    bound = _z_bound(len(two) * pairs.shape[1])
    worst = 0.0
    for n, K in two.items():
        mean, se = K.mean(0), K.std(0) / math.sqrt(K.shape[0])
        z = ((mean - exact) / se)[pairs[0], pairs[1]]
        worst = max(worst, float(z.abs().max()))
    rep.check("two layers: mean of Theta(x, x') vs infinite width, max |z| over pairs and widths",
              worst, bound, kind="le",
              note=f"exact at every width (first-layer pre-activations are Gaussian); "
                   f"{pairs.shape[1]} pairs x {len(two)} widths, Bonferroni bound at level 1e-3")
    want = float(theory.relu_ntk_variance(X[:1], 1, C_W=C_W, C_b=C_B)[0])   # n Var
    vz, logs = [], []
    for n, K in two.items():
        var, se = _var_se(K[:, 0, 0])
        vz.append(float((var - want / n) / se))
        logs.append((math.log(n), math.log(float(var)), float(se / var)))
    rep.check("two layers: Var Theta(x, x) vs exact Var(Y)/n, max |z| over widths",
              max(abs(z) for z in vz), _z_bound(len(two)), kind="le",
              note=f"n Var = {want:.4g}; SE of each sample variance from its fourth moment; "
                   f"z = {', '.join(f'{z:+.2f}' for z in vz)}")
    slope, slope_se = _weighted_slope(logs)
    rep.check("two layers: slope of log Var Theta(x, x) vs log n", slope, -1.0, 4 * slope_se,
              note=f"exactly -1 (i.i.d. terms over the hidden units); 4 SE ({slope_se:.3f}, "
                   "weighted least squares, SE(log var) = SE(var)/var)")
    rep.data["two_layers"] = {str(n): {"mean_row0": K.mean(0)[:, 0].tolist(),
                                       "sd_row0": K.std(0)[:, 0].tolist(),
                                       "var_diag0": float(K[:, 0, 0].var())}
                              for n, K in two.items()}


def _weighted_slope(points) -> tuple[float, float]:
    """Least-squares slope of y on x with weights 1/se^2, and its standard error."""
    x, y, s = (np.array(v) for v in zip(*points))
    w = 1 / s ** 2
    xm, ym = (w * x).sum() / w.sum(), (w * y).sum() / w.sum()
    sxx = (w * (x - xm) ** 2).sum()
    return float((w * (x - xm) * (y - ym)).sum() / sxx), float(1 / math.sqrt(sxx))


def _three_layer_rows(rep, three: dict, exact: torch.Tensor, gen: torch.Generator) -> dict:
    rel = {n: ((K - exact).flatten(1).norm(dim=1) / exact.norm()) for n, K in three.items()}
    ns = np.log(np.array(list(rel)))

    def fit(samples) -> float:
        rms = np.log([math.sqrt(float((r ** 2).mean())) for r in samples])
        return float(np.polyfit(ns, rms, 1)[0])

    slope = fit(rel.values())
    boot = [fit([r[torch.randint(len(r), (len(r),), generator=gen)] for r in rel.values()])
            for _ in range(200)]
    sd = float(np.std(boot))
    rep.check("three layers: slope of log RMS ||Theta - Theta^3|| / ||Theta^3|| vs log n", slope,
              -0.5, 3 * sd + 0.05,
              note=f"fluctuations of order sqrt(depth / width); 3 bootstrap SD ({sd:.3f}) + 0.05 "
                   "for the O(depth/width) mean shift and the exp(5 depth / width) growth of the "
                   "variance at the smallest widths (each shifts the slope by < 0.03 here)")
    largest = max(three)
    K = three[largest]
    shift = float((K.mean(0) - exact).norm() / exact.norm())
    rep.info(f"three layers, n={largest}: ||mean Theta - Theta^3|| / ||Theta^3||", shift,
             f"SE of the mean's entries ~ {float(K.std(0).mean() / math.sqrt(K.shape[0])):.2g}: "
             "the O(depth/width) finite-width shift of the mean")
    rep.data["three_layers"] = {str(n): {"rms_rel": math.sqrt(float((r ** 2).mean())),
                                         "mean_row0": three[n].mean(0)[:, 0].tolist(),
                                         "sd_row0": three[n].std(0)[:, 0].tolist()}
                                for n, r in rel.items()}
    return {"slope": slope, "rms": {n: math.sqrt(float((r ** 2).mean())) for n, r in rel.items()},
            "ms_se": {n: float((r ** 2).std() / math.sqrt(len(r))) for n, r in rel.items()}}


def _gauss_newton_row(rep, ctx) -> None:
    """The nonzero eigenvalues of Theta (as an (N d_out) x (N d_out) matrix) and of H0 / 2."""
    net = MLP([D, 32, 2], "relu", parameterization="ntk")
    g = ctx.generator(5)
    B, N = 8, 16
    theta = net.init(B, generator=g, dtype=F64, C_W=C_W, C_b=C_B)
    X = torch.randn(N, D, generator=g, dtype=F64)
    K = hessian.ntk(net, theta, X).permute(0, 1, 3, 2, 4).reshape(B, 2 * N, 2 * N)
    H0 = hessian.gauss_newton(net, theta, Data(X, torch.zeros(N, 2, dtype=F64),
                                               weights=torch.ones(N, dtype=F64)))
    ek = torch.linalg.eigvalsh(K)
    eg = torch.linalg.eigvalsh(H0)[:, -2 * N:] / 2
    top = float(ek.abs().max())
    P = net.num_params
    tol = 10 * P * torch.finfo(F64).eps * top
    rep.check("NTK nonzero eigenvalues = Gauss-Newton's (mse, H0 = 2 J^T J), max |diff|",
              float((ek - eg).abs().max()), 0.0, tol,
              note=f"{B} networks [8, 32, 2], {N} samples; backward-stable eigensolvers: "
                   f"10 P eps lambda_max (P = {P})")


def _figures(rep, X, two, three, exact2, exact3, fit3) -> None:
    import matplotlib.pyplot as plt

    t = _angles(X.shape[0]).numpy()
    fine = torch.linspace(0, math.pi, 200, dtype=F64)
    Xf = torch.zeros(200, D, dtype=F64)
    Xf[:, 0], Xf[:, 1] = torch.cos(fine), torch.sin(fine)
    Xf = Xf * math.sqrt(D)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for k, (depth, runs) in enumerate(((2, two), (3, three))):
        curve = theory.relu_kernels(Xf, X[:1], depth=depth, C_W=C_W, C_b=C_B)[1][:, 0]
        ax.plot(fine.numpy(), curve.numpy(), "-", color=f"C{k}",
                label=f"{depth} layers, infinite width")
        n = max(runs)
        m, s = runs[n].mean(0)[:, 0].numpy(), runs[n].std(0)[:, 0].numpy()
        ax.errorbar(t, m, yerr=s, fmt="o", color=f"C{k}", ms=4, capsize=2,
                    label=f"{depth} layers, n = {n}: mean ± sd over networks")
    ax.set_xlabel("angle between x and x'")
    ax.set_ylabel("Theta(x, x')")
    ax.legend(fontsize=8)
    rep.figure(fig, "kernel_vs_angle.png", "Empirical NTK of random ReLU networks (NTK "
               "parameterisation, C_W = 2, C_b = 0.1) vs the arc-cosine infinite-width kernel.")

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ns = np.array(list(two))
    nvar = float(theory.relu_ntk_variance(X[:1], 1, C_W=C_W, C_b=C_B)[0])
    ax.loglog(ns, nvar / ns, "C0-", label="two layers: exact Var(Y)/n")
    var, var_se = zip(*(_variance_and_se(two[n][:, 0, 0]) for n in ns))
    ax.errorbar(ns, var, yerr=2 * np.array(var_se), fmt="C0o", capsize=2,
                label="two layers: Var Theta(x, x) (± 2 SE)")
    n3 = np.array(list(three))
    rms = np.array([fit3["rms"][n] for n in n3])
    ax.errorbar(n3, rms ** 2, yerr=2 * np.array([fit3["ms_se"][n] for n in n3]), fmt="C1s",
                capsize=2,
                label="three layers: mean ||Theta - Theta^3||^2 / ||Theta^3||^2 (± 2 SE)")
    ax.loglog(n3, rms[0] ** 2 * n3[0] / n3, "C1--", label="slope -1")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width n")
    ax.set_ylabel("variance / mean squared relative deviation")
    ax.legend(fontsize=8)
    rep.figure(fig, "variance_vs_width.png", "Fluctuations of the empirical NTK vs width: the "
               "two-layer variance against its exact value, the three-layer relative deviation "
               "against the 1/n law.")


def _variance_and_se(x) -> tuple[float, float]:
    """The sample variance of x (N,) and its standard error, sqrt((m4 - v^2 (N - 3) / (N - 1)) / N)
    (m4 the fourth central moment; no normality assumed)."""
    x = x.double()
    N, v = len(x), float(x.var())
    m4 = float(((x - x.mean()) ** 4).mean())
    return v, math.sqrt(max(m4 - v * v * (N - 3) / (N - 1), 0.0) / N)
