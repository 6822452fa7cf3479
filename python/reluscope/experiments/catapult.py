"""Seed 005 (the ORF 543 notes on training dynamics): the catapult phase of large-step gradient
descent (Lewkowycz et al. 2020), with ``hessian.gd``, ``hessian.ntk`` and ``theory.catapult``.

Setting: full-batch GD, loss (1/m) sum_i (f(x_i) - y_i)^2 / 2 (weights 1 / (2m) on reluscope's
mse), step eta = c / lambda_0 with lambda_0 the top eigenvalue of the NTK over the sample count
at initialisation, measured exactly per network; an eta grid x seeds is one batch.

1. The uv model (``theory.catapult``): f = v^T u / sqrt(n), one sample (x, y) = (1, 0), u, v ~
   N(0, 1). Its GD is exactly a 2-D map of (f, lambda): rows compare the networks' GD
   (2n parameters each) with that map, step by step, to a tolerance derived from a round-off
   model (below); and the phases — lazy (c < 2), catapult (2 < c < 4), divergent (c > 4) — with
   the final curvature below 2 / eta in the catapult phase.
2. MLPs [8, n, 1] and [8, n, n, 1] (relu with C_W = 2, tanh with C_W = 1, NTK parameterisation, no
   bias), m = 16 inputs on the sphere |x|^2 = 8 with targets sign(x_1): the lazy phase keeps the
   loss below its initial value, converged catapult runs end with eta lambda < 2 (a minimum GD
   converges to must be linearly stable), and the largest stable c is measured per width and
   activation (reported, not compared: the published ~12 for deep ReLU networks is not assumed).

A run's phase from its loss curve: "divergent" if the loss overflowed; "lazy" if it converged
(final loss <= 1e-8 L_0) without ever exceeding L_0; "catapult" if it converged after rising
above L_0; "unresolved" otherwise (still training at the last step: never counted as a phase).

Round-off model for the uv rows: the engine sums n products per step, whose float64 error is at
most gamma_n = n u / (1 - n u) (u = 2^-53) of the sum of |terms|: at most gamma_n lambda sqrt(n)
/ 2 absolute in f (|u||v| / sqrt(n) <= lambda sqrt(n) / 2) and gamma_n relative in lambda. The
exact map is iterated with such errors injected at every step (4 random draws); the tolerance is
10x the largest deviation that produces, so a bug shifting one step by more than round-off fails.
"""
from __future__ import annotations

import math

import torch

from .. import MLP, Data, hessian
from ..progress import track
from ..theory import catapult as uv

F64 = torch.float64
C_UV = (0.5, 1.0, 1.5, 1.8, 2.2, 2.5, 3.0, 3.5, 3.8, 4.2, 4.5, 5.0)
C_MLP = (0.5, 1.0, 1.5, 1.9, 2.2, 2.6, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 8.0, 10.0, 12.0, 14.0)
D, M = 8, 16
CONVERGED = 1e-8


def run(ctx) -> None:
    rep = ctx.report
    size = dict(uv_widths=(1024,), uv_seeds=2, uv_steps=300, mlp=(("relu", (256,)),),
                mlp_seeds=2, mlp_steps=600) if ctx.quick else \
        dict(uv_widths=(256, 4096), uv_seeds=8, uv_steps=300,
             mlp=(("relu", (256,)), ("relu", (1024,)), ("tanh", (256,)), ("tanh", (1024,)),
                  ("relu", (256, 256))), mlp_seeds=3, mlp_steps=1500)
    rep.settings.update({k: [f"{a} {list(h)}" for a, h in v] if k == "mlp" else
                         (list(v) if isinstance(v, tuple) else v) for k, v in size.items()})
    rep.settings.update({"c_uv": list(C_UV), "c_mlp": list(C_MLP), "d": D, "m": M})
    uv_runs = {n: _uv_runs(ctx, n, size["uv_seeds"], size["uv_steps"])
               for n in track(size["uv_widths"], "catapult: uv model")}
    _uv_rows(rep, uv_runs)
    mlp_runs = {key: _mlp_runs(ctx, *key, size["mlp_seeds"], size["mlp_steps"])
                for key in track(size["mlp"], "catapult: MLPs")}
    _mlp_rows(rep, mlp_runs)
    _figures(rep, uv_runs, mlp_runs)


def _phase(loss: torch.Tensor, diverged: torch.Tensor) -> list[str]:
    """Each run's phase from its recorded loss (B, T) (the docstring's rule)."""
    out = []
    for L, div in zip(loss, diverged):
        if div:
            out.append("divergent")
        elif not L[-1] <= CONVERGED * L[0]:
            out.append("unresolved")
        else:
            out.append("lazy" if bool((L <= L[0]).all()) else "catapult")
    return out


def _uv_runs(ctx, n: int, seeds: int, steps: int) -> dict:
    """GD of len(C_UV) x seeds uv models of width n, every step recorded, beside the exact map."""
    net = MLP([1, n, 1], "identity", bias=False, parameterization="ntk")
    c = torch.tensor(C_UV, dtype=F64).repeat_interleave(seeds)
    theta = net.init(len(c), generator=ctx.generator(n), dtype=F64, C_W=1.0)
    X, Y = torch.ones(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64)
    data = Data(X, Y, weights=torch.tensor([0.5], dtype=F64), device=ctx.device)
    lam0 = _ntk_top(net, theta, X, ctx)
    eta = c / lam0
    tr = hessian.gd(net, theta.to(ctx.device), data, lr=eta, steps=steps, every=1, track=())
    u, v = theta[:, :n], theta[:, n:]
    f0 = (u * v).sum(1) / math.sqrt(n)
    f, lam = uv.uv_dynamics(f0, lam0, eta, n, steps)
    spread_f, spread_lam = _roundoff_spread(f0, lam0, eta, n, steps, f, lam, ctx.generator(n + 1))
    loss = tr.loss.cpu()
    return dict(n=n, c=c, eta=eta, lam0=lam0, loss=loss, diverged=tr.diverged.cpu(),
                lam_final=_ntk_top(net, tr.theta, X, ctx, ~tr.diverged.cpu()), f=f, lam=lam,
                spread_f=spread_f, spread_lam=spread_lam, phase=_phase(loss, tr.diverged))


def _ntk_top(net, theta: torch.Tensor, X: torch.Tensor, ctx, keep=None) -> torch.Tensor:
    """lambda = the top eigenvalue of the NTK over the sample count, per network (B,) on the CPU;
    NaN where ``keep`` (B,) bool is False (diverged networks)."""
    keep = torch.ones(len(theta), dtype=torch.bool) if keep is None else keep
    out = torch.full((len(theta),), math.nan, dtype=F64)
    K = hessian.ntk(net, theta[keep.to(theta.device)].to(ctx.device), X.to(ctx.device))[..., 0, 0]
    out[keep] = torch.linalg.eigvalsh(K)[:, -1].cpu() / X.shape[0]
    return out


def _f_error(f_a: torch.Tensor, f_b: torch.Tensor, lam: torch.Tensor, n: int) -> torch.Tensor:
    """|f_a - f_b| in units of the sum's scale lambda sqrt(n) / 2, max over the finite steps."""
    e = (f_a - f_b).abs() / (lam.abs() * math.sqrt(n) / 2)
    return torch.where(torch.isfinite(e), e, torch.zeros_like(e)).amax(1)


def _roundoff_spread(f0, lam0, eta, n, steps, f, lam, gen):
    """The largest deviation (in f's units of ``_f_error``, and relative in the last lambda) of the
    map with the docstring's per-step round-off injected, over 4 draws."""
    gamma = n * 2.0 ** -53 / (1 - n * 2.0 ** -53)
    spread_f = torch.zeros_like(f0)
    spread_lam = torch.zeros_like(f0)
    for _ in range(4):
        a, b, fs = f0, lam0, [f0]
        for _ in range(steps):
            a, b = uv.uv_step(a, b, eta, n)
            xi = 2 * torch.rand(2, len(a), generator=gen, dtype=F64) - 1
            a = a + gamma * b.abs() * math.sqrt(n) / 2 * xi[0]
            b = b * (1 + gamma * xi[1])
            fs.append(a)
        spread_f = torch.maximum(spread_f, _f_error(torch.stack(fs, 1), f, lam, n))
        dl = ((b - lam[:, -1]) / lam[:, -1]).abs()
        spread_lam = torch.maximum(spread_lam, torch.where(torch.isfinite(dl), dl, 0 * dl))
    return spread_f, spread_lam


def _uv_rows(rep, runs: dict) -> None:
    for n, r in runs.items():
        # the recorded loss is f^2 / 2: its sqrt(2 L) is |f|, compared with the map's |f|
        measured = torch.sqrt(2 * r["loss"])
        err = _f_error(measured, r["f"].abs(), r["lam"], n)
        alive = ~r["diverged"]
        rep.check(f"uv n={n}: GD = exact (f, lambda) map, max |f - f_map| / (lambda sqrt(n)/2)",
                  float(err.max()), 0.0, 10 * float(r["spread_f"].max()),
                  note=f"{len(err)} runs x {r['loss'].shape[1] - 1} steps; tolerance 10x the "
                       "injected round-off's deviation (docstring)")
        lam_map = r["lam"][:, -1]
        dl = ((r["lam_final"] - lam_map) / lam_map).abs()[alive]
        rep.check(f"uv n={n}: final lambda (NTK of the trained net) = map, max rel. deviation",
                  float(dl.max()), 0.0, 10 * float(r["spread_lam"][alive].max()),
                  note=f"{int(alive.sum())} runs that did not diverge")
        theory = [uv.uv_phase(float(c)) for c in r["c"]]
        off = sorted({float(c) for c, a, b in zip(r["c"], r["phase"], theory) if a != b})
        name = f"uv n={n}: phase = large-width theory (lazy < 2 < catapult < 4 < divergent)"
        note = ("c grid " + ", ".join(f"{c:g}" for c in C_UV) + "; " + _counts(r["phase"]) +
                (f"; differing at c = {off}" if off else ""))
        if n == max(runs):
            rep.check(name, sum(a == b for a, b in zip(r["phase"], theory)), len(theory),
                      kind="eq", note=note)
        else:  # the boundaries sharpen as phi_0 = f_0 / sqrt(n) -> 0: checked at the widest
            rep.info(name, f"{sum(a == b for a, b in zip(r['phase'], theory))} of {len(theory)}",
                     note=note + " (finite width: boundaries not yet sharp)")
        cat = [i for i, p in enumerate(r["phase"]) if p == "catapult"]
        if cat:
            final_c = (r["eta"] * r["lam_final"])[cat]
            rep.check(f"uv n={n}: catapult runs end flatter, max eta lambda_final",
                      float(final_c.max()), 2.0, kind="le",
                      note=f"{len(cat)} runs; min {float(final_c.min()):.3g}; theory: < 2")


def _counts(phases: list[str]) -> str:
    return ", ".join(f"{p} {phases.count(p)}" for p in
                     ("lazy", "catapult", "divergent", "unresolved") if p in phases)


def _mlp_runs(ctx, activation: str, hidden: tuple, seeds: int, steps: int) -> dict:
    """GD of len(C_MLP) x seeds MLPs [D, *hidden, 1] on the module's data, every step recorded
    (a catapult's spike lasts a few steps)."""
    gen = ctx.generator(7)
    X = torch.randn(M, D, generator=gen, dtype=F64)
    X = X / X.norm(dim=1, keepdim=True) * math.sqrt(D)
    Y = torch.sign(X[:, :1])
    net = MLP([D, *hidden, 1], activation, bias=False, parameterization="ntk")
    c = torch.tensor(C_MLP, dtype=F64).repeat_interleave(seeds)
    theta = net.init(len(c), generator=ctx.generator(sum(hidden) + len(activation)), dtype=F64,
                     C_W=2.0 if activation == "relu" else 1.0)
    data = Data(X, Y, weights=torch.full((M,), 0.5 / M, dtype=F64), device=ctx.device)
    lam0 = _ntk_top(net, theta, X, ctx)
    eta = c / lam0
    tr = hessian.gd(net, theta.to(ctx.device), data, lr=eta, steps=steps, every=1, track=())
    loss = tr.loss.cpu()
    return dict(c=c, eta=eta, loss=loss, diverged=tr.diverged.cpu(),
                lam_final=_ntk_top(net, tr.theta, X, ctx, ~tr.diverged.cpu()),
                phase=_phase(loss, tr.diverged))


def _mlp_rows(rep, runs: dict) -> None:
    widest = {}
    for activation, hidden in runs:
        key = (activation, len(hidden))
        widest[key] = max(widest.get(key, 0), hidden[0])
    for (activation, hidden), r in runs.items():
        name = f"{activation} {[D, *hidden, 1]}"
        phases, c = r["phase"], r["c"]
        lazy_c = [i for i in range(len(c)) if c[i] < 2]
        rep.check(f"{name}: c < 2 runs are lazy (loss never above L_0, converged)",
                  sum(phases[i] == "lazy" for i in lazy_c), len(lazy_c), kind="eq",
                  note="infinite width: every residual mode contracts by |1 - eta lambda_i| < 1")
        above = [i for i in range(len(c)) if c[i] > 2 and phases[i] in ("lazy", "catapult")]
        spiked = sum(phases[i] == "catapult" for i in above)
        flat = sorted({float(c[i]) for i in above if phases[i] == "lazy"})
        row = f"{name}: converged runs at c > 2 went through a loss spike (catapult)"
        note = ("large width: the top residual mode grows by |1 - c| > 1 per step until the "
                "curvature falls below 2 / eta" + (f"; no spike at c = {flat}" if flat else ""))
        if len(runs) > 1 and hidden[0] == widest[(activation, len(hidden))] and \
                sum(k[0] == activation and len(k[1]) == len(hidden) for k in runs) > 1:
            rep.check(row, spiked, len(above), kind="eq", note=note + " (checked at the widest)")
        else:  # a large-width statement: at the narrower widths it is reported
            rep.info(row, f"{spiked} of {len(above)}", note=note + " (finite width)")
        cat = [i for i, p in enumerate(phases) if p == "catapult"]
        if cat:
            final_c = (r["eta"] * r["lam_final"])[cat]
            rep.check(f"{name}: converged catapult runs end with eta lambda < 2",
                      float(final_c.max()), 2.0, kind="le",
                      note=f"{len(cat)} runs at c in [{float(c[cat].min()):g}, "
                           f"{float(c[cat].max()):g}]; a minimum GD converges to is stable")
        stable = [float(x) for x in C_MLP if all(phases[i] in ("lazy", "catapult")
                                                 for i in range(len(c)) if c[i] == x)]
        lost = [float(x) for x in C_MLP if any(phases[i] == "divergent"
                                               for i in range(len(c)) if c[i] == x)]
        rep.info(f"{name}: largest c with every seed converged / smallest c with a divergence",
                 f"{max(stable) if stable else '-'} / {min(lost) if lost else '-'}",
                 note=_counts(phases) + " (published for deep ReLU nets: ~12; uv model: 4)")


def _figures(rep, uv_runs: dict, mlp_runs: dict) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for label, r in [(f"uv n={n}", r) for n, r in uv_runs.items()] + \
            [(f"{a} {list(h)}", r) for (a, h), r in mlp_runs.items()]:
        loss = r["loss"]
        peak = torch.where(torch.isfinite(loss), loss, torch.full_like(loss, math.inf)).amax(1)
        ratio = (peak / loss[:, 0]).clamp(max=1e12)
        final_c = r["eta"] * r["lam_final"]
        ok = ~r["diverged"]
        line, = ax[0].plot(r["c"], ratio, ".", alpha=0.6, label=label)
        ax[1].plot(r["c"][ok], final_c[ok], ".", alpha=0.6, color=line.get_color(), label=label)
    for a in ax:
        for x in (2, 4):
            a.axvline(x, color="k", ls="--", lw=0.8)
        a.set_xlabel("c = eta lambda_0")
    ax[0].set_xscale("log")
    ax[0].set_yscale("log")
    ax[0].set_ylabel("peak loss / initial loss (1e12: diverged)")
    ax[1].axhline(2, color="k", ls=":", lw=0.8)
    ax[1].set_ylabel("eta lambda at the end (runs that did not diverge)")
    ax[1].legend(fontsize=7)
    rep.figure(fig, "catapult.png", "Catapult: the loss spike and the final curvature vs "
               "c = eta lambda_0 (dashed: the uv model's boundaries 2 and 4).")
