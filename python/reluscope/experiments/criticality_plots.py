"""The criticality experiment's figures: per-layer K^l(x, x) and the correlation of two inputs,
the networks' means with their standard errors against the exact maps, and ReLU's four-point
vertex ratio."""
from __future__ import annotations

import math

import numpy as np


def figures(rep, configs, measured, exact, n) -> None:
    """Per-layer variance and correlation (networks' means with ±2 SE against the exact maps)
    and the ReLU vertex ratio."""
    import matplotlib.pyplot as plt

    def variance(ax, k, c, C_W, C_b):
        K = exact[k][0].numpy()
        ax.semilogy(np.arange(1, len(K) + 1), K, "-", color=c,
                    label=f"C_W={C_W}, C_b={C_b}: exact map")
        per_net = measured[k][n][0].mean(1).double()           # (networks, layers)
        ax.errorbar(np.arange(1, len(K) + 1), per_net.mean(0).numpy(),
                    yerr=2 * _se(per_net).numpy(), fmt="o", color=c, ms=3, capsize=1.5,
                    label=f"mean over networks, n={n} (± 2 SE)")

    def correlation(ax, k, c, C_W, C_b):
        K, K12 = exact[k]
        layers = np.arange(1, len(K) + 1)
        ax.plot(layers, (K12 / K).numpy(), "-", color=c, label=f"C_W={C_W}, C_b={C_b}: exact")
        x, y = (measured[k][n][i].mean(1).double() for i in (0, 1))   # (networks, layers)
        ratio, se = _ratio_and_se(x, y)
        ax.errorbar(layers, ratio.numpy(), yerr=2 * se.numpy(), fmt="o", color=c, ms=3,
                    capsize=1.5, label=f"networks, n={n} (± 2 SE)")

    _by_activation(rep, configs, variance, "K^l(x, x)", "variance_by_layer.png",
                   "Per-layer K^l(x, x) of deep random networks below, on and above criticality: "
                   "the mean over networks (dots, ± 2 SE) against the exact variance map (lines).")
    _by_activation(rep, configs, correlation, "correlation K^l(x,y) / K^l(x,x)",
                   "correlation_by_layer.png", "Correlation of two inputs through depth: the "
                   "networks' mean kernels (± 2 SE) against the exact correlation map.")

    v = rep.data["vertex"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    layers = np.arange(1, len(v["exact"]) + 1)
    ax.plot(layers, v["exact"], "k-", label="(1 + 2/n) prod (1 + 5/n) (exact)")
    ax.errorbar(layers, v["measured"], yerr=v["se"], fmt="o", ms=3, capsize=2,
                label="networks")
    ax.plot(layers, 1 + (2 + 5 * (layers - 1)) / v["n"], "C1--",
            label="1 + (2 + 5(l-1))/n (first order)")
    ax.set_xlabel("layer l")
    ax.set_ylabel("E[S^2] / E[S]^2")
    ax.legend(fontsize=8)
    rep.figure(fig, "relu_norm_ratio.png", f"ReLU at criticality, n = {v['n']}: fluctuations of "
               "the layer's squared norm grow with depth/width (the four-point vertex).")


def _se(per_net):
    """The standard error of the mean over networks (dimension 0)."""
    return per_net.std(0) / math.sqrt(per_net.shape[0])


def _ratio_and_se(x, y):
    """mean(y) / mean(x) over networks (dimension 0) and its delta-method standard error:
    Var(r) ~ (Var(ȳ) - 2 r Cov(x̄, ȳ) + r^2 Var(x̄)) / x̄^2."""
    N = x.shape[0]
    mx, my = x.mean(0), y.mean(0)
    r = my / mx
    cov = ((x - mx) * (y - my)).sum(0) / (N - 1)
    var = (y.var(0) - 2 * r * cov + r ** 2 * x.var(0)) / N
    return r, var.clamp(min=0).sqrt() / mx.abs()


def _by_activation(rep, configs, draw, ylabel: str, name: str, caption: str) -> None:
    """One panel per activation (relu, tanh, identity), draw(ax, k, colour, C_W, C_b) for each of
    its configurations k."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for k, (act, C_W, C_b) in enumerate(configs):
        ax = axes[["relu", "tanh", "identity"].index(act)]
        draw(ax, k, f"C{k % 3}", C_W, C_b)
        ax.set_title(act)
        ax.set_xlabel("layer l")
    axes[0].set_ylabel(ylabel)
    for ax in axes:
        ax.legend(fontsize=7)
    rep.figure(fig, name, caption)
