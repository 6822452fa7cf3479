"""Seed 001 (the loss-landscape lecture): Pennington & Bahri's index-vs-energy law, reproduced with
``hessian.critical_points`` on single-hidden-layer tanh networks.

Setting (the paper's, smaller): y = W2 tanh(W1 x), W1, W2 (n x n), no bias, inputs and targets
i.i.d. N(0, 1) (memorisation), m samples. phi = parameters per constraint = 2 n^2 / (m n) = 2n / m.
Energy eps = mean over samples and outputs of (1/2)(y - t)^2 (``CriticalPointSearch.energy``).
Index alpha = negative Hessian eigenvalues / P (points whose index the computation does not resolve
are dropped). Critical points (``critical_points_search``): the finder from random
initialisations, points along SGD trajectories and Levenberg-Marquardt descents (minima), then
hops from the points found; each critical point counted once up to the network's symmetries
(``canonical``: hidden-unit permutations and sign flips), so the statistics are over distinct
points, not over how often a point was reached. n = 4 (P = 32) here against the paper's n = 16
(P = 512): on 2 CPU cores the finder's dense steps at P = 512 would take hours; the random-matrix
statements are large-P limits, so at P = 32 they are compared, not forced.

Rows: the free model's critical energy, closed form vs the numerical spectral edge (exact); the
finite random-matrix model H0 + H1 sampled at P = 1000 vs the free density's alpha (statistical);
the fitted exponent of alpha vs (eps - eps_c) per phi (statistical, bootstrap); the minimisers'
energy vs (1/2)(1 - phi)^2 for tanh (the paper's empirical fit at n = 16); linear networks' minima
vs the exact least-squares energy (exact) and its expectation (1/2)(1 - n/m) = (1/2)(1 - phi/2)
(statistical).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import MLP, Data, hessian, theory
from ..progress import track
from .critical_points_search import F64, HOP, SNAPSHOTS, search

PHIS = (0.1, 0.2, 0.4, 0.5, 0.8)          # m = 2n / phi is an integer for n = 4
P_GRID = tuple(round(0.5 + 0.01 * k, 2) for k in range(351))   # exponents fitted: 0.5 .. 4.0


def run(ctx) -> None:
    rep = ctx.report
    n = 4
    size = dict(target=1, batches=1, starts=12, rounds=1, copies=2, steps=100, minima=8) \
        if ctx.quick else dict(target=1000, batches=12, starts=640, rounds=4, copies=6,
                               steps=400, minima=128)
    rep.settings.update({"n": n, "P": 2 * n * n, "phis": list(PHIS), "snapshots": SNAPSHOTS,
                         "hop": HOP, **size})
    _theory_rows(rep, ctx)
    found = {}
    for phi in track(PHIS, "critical-points: phi"):
        data = _memorisation(n, phi, ctx.generator(int(phi * 1000)))
        found[phi] = search(MLP([n, n, n], "tanh", bias=False), data, ctx.generator(1), **size)
    rep.data["critical_points"] = {str(phi): {k: v.tolist() for k, v in f.items() if k != "theta"}
                                   for phi, f in found.items()}
    fits = {phi: _fit_exponent(f["energy"], f["alpha"], f["root"], ctx.generator(2))
            for phi, f in found.items()}
    _law_rows(rep, found, fits, n, statistical=not ctx.quick)
    linear = _linear_rows(rep, n, ctx)
    _figures(rep, n, found, fits, linear, ctx)


def _memorisation(n: int, phi: float, gen: torch.Generator) -> Data:
    m = round(2 * n / phi)
    return Data(torch.randn(m, n, dtype=F64, generator=gen), torch.randn(m, n, dtype=F64,
                                                                         generator=gen))


def _theory_rows(rep, ctx) -> None:
    """eps_c closed form vs the numerical edge; the finite random-matrix model vs the free alpha."""
    worst = max(abs(theory.critical_energy(p) - theory.critical_energy_from_edge(p))
                / theory.critical_energy(p) for p in PHIS)
    rep.check("free model eps_c(phi): closed form vs numerical edge, max rel. diff", worst, 0.0,
              1e-12, note="bisection on the edge to round-off; rel. 1e-12 = a few thousand ulps")
    P, draws = (400, 4) if ctx.quick else (1000, 8)
    gen = ctx.generator(3)
    for phi, ratio in ((0.5, 1.5), (0.2, 2.0)):
        eps = ratio * theory.critical_energy(phi)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)     # LAPACK's threaded eigensolver stalls on a busy 2-core box
        try:
            fr = [float((torch.linalg.eigvalsh(theory.sample_hessian(P, phi, eps, generator=gen))
                         < 0).double().mean()) for _ in range(draws)]
        finally:
            torch.set_num_threads(threads)
        mean, se = float(np.mean(fr)), float(np.std(fr, ddof=1) / math.sqrt(draws))
        rep.check(f"alpha of H0 + H1 (P={P}, {draws} draws) vs free density, phi={phi}, "
                  f"eps={ratio}eps_c", mean, theory.negative_fraction(eps, phi), 4 * se + 2 / P,
                  note=f"4 SE ({se:.1e}) + 2/P finite size")


def _fit_exponent(energy: torch.Tensor, alpha: torch.Tensor, root: torch.Tensor,
                  gen: torch.Generator, max_alpha: float = 0.25, boot: int = 200) -> dict:
    """alpha ~ alpha0 ((eps - eps_c) / eps_c)^p on low-index points, the paper's way: the mean
    energy eps_k of the points of each index k >= 1 with alpha <= max_alpha, then
    eps_k = eps_c + c alpha_k^(1/p) by least squares (p on a grid, eps_c and c linear), weighted by
    the group sizes; p's uncertainty: the SD over bootstrap resamples of the lineages (``root``:
    the points found from one start, its trajectory and hops are correlated; a bootstrap of the
    points understates the SD). None where fewer than 3 index groups."""
    e, a = energy.numpy(), alpha.numpy()
    best = _fit(e, a, max_alpha)
    if best is None:
        return {"p": None}
    lineages, member = np.unique(root.numpy(), return_inverse=True)
    ps = []
    for _ in range(boot):
        pick = torch.randint(len(lineages), (len(lineages),), generator=gen).numpy()
        idx = np.repeat(np.arange(len(e)), np.bincount(pick, minlength=len(lineages))[member])
        f = _fit(e[idx], a[idx], max_alpha)
        if f is not None:
            ps.append(f["p"])
    best["p_sd"] = float(np.std(ps)) if len(ps) > 1 else math.inf
    return best


def _fit(e: np.ndarray, a: np.ndarray, max_alpha: float):
    groups = sorted(set(a[(a > 0) & (a <= max_alpha)].tolist()))
    if len(groups) < 3:
        return None
    ak = np.array(groups)
    ek = np.array([e[a == k].mean() for k in groups])
    wk = np.sqrt(np.array([(a == k).sum() for k in groups], dtype=float))
    best = None
    for p in P_GRID:
        A = np.stack([np.ones_like(ak), ak ** (1 / p)], 1) * wk[:, None]
        coef, *_ = np.linalg.lstsq(A, ek * wk, rcond=None)
        res = float(((A @ coef - ek * wk) ** 2).sum())
        if best is None or res < best["res"]:
            best = {"p": float(p), "eps_c": float(coef[0]), "c": float(coef[1]), "res": res}
    return best


def _determined(fit: dict) -> bool:
    """Whether a fitted exponent says something: inside the fitted range, 3 SD <= 1."""
    return fit["p"] not in (P_GRID[0], P_GRID[-1]) and 3 * fit["p_sd"] <= 1


def _law_rows(rep, found, fits, n: int, statistical: bool) -> None:
    """The exponent and the minimisers' energy per phi: checks on the full run; ``--quick`` has
    too few critical points for these statistical statements and reports them as info."""
    check = rep.check if statistical else (lambda name, ours, ref, tol, note="": rep.info(
        name + " (quick: info)", ours, f"reference {ref:.3g}, tolerance {tol:.2g}; {note}"))
    total = sum(len(f["energy"]) for f in found.values())
    rep.info("distinct critical points found (converged, index resolved, up to symmetry)", total,
             "; ".join(f"phi={phi}: {len(f['energy'])} in {len(f['root'].unique())} lineages, "
                       f"{int(f['tried'])} searches, {int(f['batches'])} batches "
                       f"({int(f['duplicates'])} more reached twice, {int(f['gradient_flat'])} "
                       f"gradient-flat, {int(f['unresolved'])} converged with an unresolved "
                       f"index)" for phi, f in found.items())
             + ". Batches of searches run per phi until the target count is reached or the "
               "batches run out (settings). A lineage: a start, its trajectory's snapshots and "
               "the hops from them — correlated points; hops sample near earlier finds: the "
               "energies found are not a sample of all critical points'")
    for phi, fit in fits.items():
        if fit["p"] is None:
            rep.info(f"phi={phi}: exponent of alpha vs eps - eps_c", "too few index groups")
            continue
        edge = fit["p"] in (P_GRID[0], P_GRID[-1])
        name = f"phi={phi}: exponent of alpha vs eps - eps_c (low index)"
        note = (f"3 SD (lineage bootstrap, SD {fit['p_sd']:.2f}); fitted eps_c "
                f"{fit['eps_c']:.3f}, free model {theory.critical_energy(phi):.3f}, (1-phi)^2/2 = "
                f"{0.5 * (1 - phi) ** 2:.3f} (these differ: reported)")
        if not _determined(fit):
            rep.info(name, fit["p"], "undetermined: " + ("at the edge of the fitted range; "
                                                         if edge else "3 SD > 1; ") + note)
            continue
        check(name, fit["p"], 1.5, max(3 * fit["p_sd"], 0.05), note=note)
    for phi, f in found.items():
        minima, flat = f["minima_energy"], int((f["minima_unresolved"] > 0).sum())
        if len(minima) < 2:
            rep.info(f"phi={phi}: tanh minimisers' energy", "fewer than 2 minima")
            continue
        mean = float(minima.mean())
        se = float(minima.std() / math.sqrt(len(minima)))
        mn = round(2 * n / phi) * n                       # constraints: samples x outputs
        sd_data = math.sqrt(2 * mn * (1 - phi)) / (2 * mn)
        check(f"phi={phi}: tanh minimisers' mean energy vs (1-phi)^2/2", mean,
              0.5 * (1 - phi) ** 2, 0.02 + 3 * math.hypot(se, sd_data),
              note=f"{len(minima)} distinct points of one dataset with no eigenvalue certainly "
                   f"negative ({flat} of them with eigenvalues within the band: flat directions "
                   f"or unresolved); the paper's empirical fit at n=16 "
                   f"(Fig. 6b scatters ~0.02 about it) + 3 x (SE {se:.1e} over the minima (+) "
                   f"{sd_data:.1e}, the spread between datasets of an energy that is chi^2 with "
                   f"mn - P dof over 2mn)")


def _linear_rows(rep, n: int, ctx) -> dict:
    """Linear networks y = W2 W1 x: every minimum has the least-squares energy
    ||Y - X B||^2 / (2 m n), B = argmin (W2 W1 has full rank n: the product is unconstrained);
    E[that] = (1/2)(1 - n/m) = (1/2)(1 - phi/2) (each output's residual is chi^2 with m - n degrees
    of freedom), standard deviation sqrt(2 n (m - n)) / (2 m n)."""
    net = MLP([n, n, n], "identity", bias=False)
    out = {}
    worst, zs = 0.0, []
    for phi in PHIS:
        data = _memorisation(n, phi, ctx.generator(int(phi * 1000)))
        r = hessian.critical_points(net, net.init(16, generator=ctx.generator(4), dtype=F64),
                                    data, steps=100)
        mins = r.energy[r.converged & (r.index.negative == 0)]
        X, Y = data.X, data.T
        m = X.shape[0]
        exact = float(((Y - X @ torch.linalg.lstsq(X, Y).solution) ** 2).sum() / (2 * m * n))
        if len(mins):
            worst = max(worst, float((mins - exact).abs().max()))
        expect, sd = 0.5 * (1 - n / m), math.sqrt(2 * n * (m - n)) / (2 * m * n)
        zs.append(abs(exact - expect) / sd)
        out[phi] = {"minima": mins.tolist(), "exact": exact, "expected": expect}
    rep.check("linear nets: minimisers' energy vs exact least squares (max |diff|)", worst, 0.0,
              1e-9, note="at ||grad|| <= 1.5e-8: L - L* <= ||g||^2 / (2 lambda+) << 1e-9")
    rep.check("linear nets: least-squares energy vs (1 - phi/2)/2, max |z| over phi", max(zs),
              4.0, kind="le", note="chi^2 with n(m - n) dof; the paper's (1 - phi)/2 counts the "
                                   "product's n^2 parameters (phi = n/m)")
    return out


def _figures(rep, n, found, fits, linear, ctx) -> None:
    import matplotlib.pyplot as plt

    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    for k, (phi, f) in enumerate(found.items()):
        c = f"C{k}"
        small = f["alpha"] <= 0.12
        ax.plot(f["energy"], f["alpha"], ".", color=c, alpha=0.4, label=f"phi = {phi}")
        zoom.plot(f["energy"][small], f["alpha"][small], ".", color=c, alpha=0.4)
        fit = fits[phi]
        if fit["p"] is not None:
            style = "-" if _determined(fit) else ":"
            for axis, top in ((ax, 0.3), (zoom, 0.12)):
                a = np.linspace(0, top, 100)
                axis.plot(fit["eps_c"] + fit["c"] * a ** (1 / fit["p"]), a, style, color=c)
    for axis in (ax, zoom):
        axis.set_xlabel("energy eps")
        axis.set_ylabel("index alpha")
    ax.set_title("all distinct critical points", fontsize=10)
    zoom.set_title("alpha <= 0.12", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    rep.figure(fig, "index_vs_energy.png", "Index vs energy of the distinct critical points "
               "found, per phi, with the fitted alpha0 (eps - eps_c)^p (solid; dotted where the "
               "exponent is undetermined: 3 bootstrap SD > 1 or at the edge of the fitted "
               "range); right: small alpha.")

    fig, ax = plt.subplots(figsize=(6, 4))
    ph = np.linspace(0.02, 0.98, 100)
    ax.plot(ph, 0.5 * (1 - ph) ** 2, "C0-", label="(1-phi)^2/2 (paper, tanh fit)")
    ax.plot(ph, 0.5 * (1 - ph), "C1--", label="(1-phi)/2 (paper, linear)")
    ax.plot(ph, 0.5 * (1 - ph / 2), "C1-", label="(1-phi/2)/2 (least squares, phi = 2n/m)")
    for phi, f in found.items():
        mins = f["minima_energy"]
        if len(mins):
            ax.errorbar(phi, float(mins.mean()), yerr=float(mins.std()) if len(mins) > 1 else 0.0,
                        fmt="o", color="C0")
        ax.plot(phi, linear[phi]["exact"], "s", color="C1", mfc="none")
    ax.set_xlabel("phi")
    ax.set_ylabel("energy of minimisers")
    ax.legend(fontsize=8)
    rep.figure(fig, "minimiser_energy.png", "Minimisers' energy vs phi: tanh (circles, mean and "
               "spread) and linear networks (squares, exact least squares).")

    phi = 0.5
    f = found[phi]
    if len(f["energy"]):
        data = _memorisation(n, phi, ctx.generator(int(phi * 1000)))
        net = MLP([n, n, n], "tanh", bias=False)
        order = torch.argsort(f["energy"])
        windows = [w[:40] for w in torch.tensor_split(order, 3) if len(w)]   # low, middle, high
        fig, axes = plt.subplots(2, len(windows), figsize=(4 * len(windows), 6.5), squeeze=False,
                                 layout="constrained")
        for j, idx in enumerate(windows):
            th, e = f["theta"][idx], f["energy"][idx]
            for row, op in enumerate((hessian.GaussNewton, hessian.Residual)):
                ev = torch.linalg.eigvalsh(op(net, th, data).to_dense()).flatten().numpy()
                ax = axes[row, j]
                lo, hi = ev.min(), ev.max()
                if row == 0:   # a few large outliers would squeeze the bulk into one bin
                    hi = 3 * np.quantile(ev, 0.95)
                width = (hi - lo) / 30      # density of all eigenvalues; beyond hi: not drawn
                ax.hist(ev, bins=np.linspace(lo, hi, 31), weights=np.full(len(ev), 1 / (
                    len(ev) * width)), color="0.7")
                _overlay(ax, ev, "mp" if row == 0 else "sc", phi)
                ax.set_title(f"{'H0' if row == 0 else 'H1'}: {len(idx)} points, "
                             f"eps {float(e.min()):.3f}-{float(e.max()):.3f}", fontsize=9)
                ax.set_xlabel("eigenvalue")
        for row in range(2):
            axes[row, 0].set_ylabel("density")
        rep.figure(fig, "h0_h1_spectra.png", "Spectra of the Gauss-Newton part H0 (top) and the "
                   "residual part H1 (bottom), pooled over the critical points of the lowest, "
                   "middle and highest third of the energies found (up to 40 each, phi = 0.5), "
                   "against Marchenko-Pastur(phi) and the semicircle with the same first two "
                   "moments (H0's axis ends at 3x its 95th percentile: the few outliers "
                   "beyond are not drawn).")


def _overlay(ax, ev: np.ndarray, kind: str, phi: float) -> None:
    """Marchenko-Pastur(phi) scaled to ev's mean, or the semicircle of ev's mean and variance."""
    if kind == "mp":
        s = ev.mean()
        lo, hi = s * (1 - math.sqrt(phi)) ** 2, s * (1 + math.sqrt(phi)) ** 2
        x = np.linspace(lo, hi, 200)
        ax.plot(x, np.sqrt(np.maximum((x - lo) * (hi - x), 0)) / (2 * math.pi * phi * s * x), "k-")
    else:
        mu, r = ev.mean(), 2 * ev.std()
        x = np.linspace(mu - r, mu + r, 200)
        ax.plot(x, 2 / (math.pi * r ** 2) * np.sqrt(np.maximum(r ** 2 - (x - mu) ** 2, 0)), "k-")
