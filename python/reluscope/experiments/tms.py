"""Seed 000: exact phase transition in the toy model of superposition, 2 features in 1 dimension.

Model y = relu(WᵀW x), W = (w1, w2), no bias. Each feature is 0 with probability s, else U[0,1].
Population loss L(w) = E‖x − y‖², exact at each w as the per-model dataset ``rs.tms_population``
(the support cut along w's kinks). For a grid of s we find critical points from many random starts
(batched Adam, then Newton steps with the population Hessian ``rs.tms_population_hessian``, which
includes the term the kink puts on its line), classify them by their population Hessian
eigenvalues, and locate the first-order transition s* where the two families of minima exchange
the global minimum:
  A = ±(1/√2)(1, 1):            L_A = s(1−s)/3 + (1−s)²/12,  eig = (1−s)², (2/3)(7−3s)(1−s)
  B = ±a(−1, 1), a² = (3+5s)/(2(1+3s)):  L_B = (2/3)s(1−s)(a²−1)² + (1−s)²(a⁴−3a²+4)/6
  s* = (3 + 4√14)/43.
(Closed forms from the seed, L_B re-derived from its mixed-sign formula; both checked numerically.)
Then proofs on the population (``certify.tms_population_critical_points``): the minima found and
the closed forms are strict local minima, and the exchange at s* is bracketed by certified losses.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from .. import TMS, hessian, tms_population, tms_population_hessian, tms_quadrature
from ..progress import track

S_STAR = (3 + 4 * math.sqrt(14)) / 43


def closed_forms(s: float) -> dict:
    a2 = (3 + 5 * s) / (2 * (1 + 3 * s))
    return {
        "a": math.sqrt(a2),
        "L_A": s * (1 - s) / 3 + (1 - s) ** 2 / 12,
        "L_B": 2 * s * (1 - s) / 3 * (a2 - 1) ** 2 + (1 - s) ** 2 * (a2 * a2 - 3 * a2 + 4) / 6,
        "eig_A": sorted([(1 - s) ** 2, 2 / 3 * (7 - 3 * s) * (1 - s)]),
        "eig_B_seed": sorted([(3 - s + 57 * s**2 - 59 * s**3) / (6 + 18 * s), (3 + 2 * s - 5 * s**2) / 3]),
    }


def exact_grad(model, theta, s: float) -> torch.Tensor:
    """Population gradient at sparsity s, (B, 2), exact (``tms_population``)."""
    return hessian.value_and_grad(model, theta, tms_population(model, theta, s))[1]


#: Newton's converged points: population gradient norm below this (its quadratic convergence
#: reaches ~1e-16; a point within GNORM of critical is within GNORM / lambda_min of it).
GNORM = 1e-12


def newton(model, theta, s: float, steps: int = 30):
    """Newton iterations on the exact population gradient with the population Hessian (any
    critical point attracts, quadratically); returns theta and the final gradient norms. Models
    where the population Hessian does not exist or is singular stop moving."""
    for _ in range(steps):
        g = exact_grad(model, theta, s)
        with warnings.catch_warnings():  # where it has no Hessian: NaN, the model stops
            warnings.simplefilter("ignore", hessian.KinkWarning)
            H = tms_population_hessian(model, theta, s)
        ok = H.isfinite().all((1, 2)) & (g.norm(dim=1) > 0)
        ok[ok.clone()] &= torch.linalg.matrix_rank(H[ok]) == H.shape[-1]
        step = torch.zeros_like(theta)
        step[ok] = torch.linalg.solve(H[ok], g[ok])
        theta = theta - step
    return theta, exact_grad(model, theta, s).norm(dim=1)


def transition(model, lo: float, hi: float, halvings: int) -> float:
    """The first-order transition s* in [lo, hi]: the root of L_A(s) - L_B(s), each loss at that
    family's critical point found by Newton on the exact population, by bisection on s. The
    bracket shrinks to (hi - lo) 2^-halvings (40 halvings of [0.2, 0.7]: 5e-13); the gap's
    rounding (~1e-16) over its slope (~0.03) adds ~1e-14."""
    def gap(s: float) -> float:
        c = closed_forms(s)
        starts = torch.tensor([[0.7, 0.7], [-c["a"] * 1.01, c["a"] * 0.99]], dtype=torch.float64)
        theta, _ = newton(model, starts, s)
        L = hessian.loss(model, theta, tms_population(model, theta, s))
        return float(L[0] - L[1])

    g_lo = gap(lo)
    for _ in range(halvings):
        mid = (lo + hi) / 2
        g_mid = gap(mid)
        lo, hi, g_lo = (lo, mid, g_lo) if g_lo * g_mid <= 0 else (mid, hi, g_mid)
    return (lo + hi) / 2


def critical_points(model, s: float, starts: torch.Tensor, fit_steps: int):
    """Distinct critical points reached from `starts` (Adam on a fixed quadrature, then Newton on
    the exact population), with their loss, the engine's Hessian eigenvalues of the population
    dataset (no kink-line term) and the population Hessian's; runs that did not converge
    (gradient norm > GNORM) or stopped where the population has no Hessian are dropped."""
    theta, _ = hessian.fit(model, starts, tms_quadrature(s), lr=0.02, steps=fit_steps,
                           progress=False)
    theta, gnorm = newton(model, theta, s)
    theta = theta[gnorm < GNORM]
    _, first = np.unique(torch.round(theta * 1e6).numpy(), axis=0, return_index=True)
    theta = theta[torch.as_tensor(np.sort(first))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hessian.KinkWarning)
        H = tms_population_hessian(model, theta, s)
    keep = H.isfinite().all((1, 2))
    theta, H = theta[keep], H[keep]
    data = tms_population(model, theta, s)
    return (theta, hessian.loss(model, theta, data),
            hessian.eigvalsh(hessian.Hessian(model, theta, data)), torch.linalg.eigvalsh(H))


def classify(eig: torch.Tensor, tol: float = 1e-9) -> list[str]:
    return ["minimum" if e.min() > tol else "maximum" if e.max() < -tol else
            "saddle" if e.min() < -tol else "degenerate" for e in eig]


def family(theta: torch.Tensor, tol: float = 1e-9) -> list[str]:
    return ["A" if w1 * w2 > tol else "B" if w1 * w2 < -tol else "axis" for w1, w2 in theta.tolist()]


def run(ctx) -> None:
    rep = ctx.report
    model = TMS(2, 1, bias=False)
    s_grid = np.linspace(0.05, 0.95, 7 if ctx.quick else 19)
    n_starts = 48 if ctx.quick else 256
    g = ctx.generator()
    table = []
    for s in track(s_grid, "tms: critical points per s"):
        starts = (torch.rand(n_starts, 2, generator=g, dtype=torch.float64) * 3 - 1.5)
        theta, L, eig, pop = critical_points(model, float(s), starts, 100 if ctx.quick else 300)
        for th, l, e, p, kind, fam in zip(theta.tolist(), L.tolist(), eig.tolist(), pop.tolist(),
                                          classify(pop), family(theta)):
            table.append({"s": float(s), "w": th, "loss": l, "eig": e, "eig_population": p,
                          "type": kind, "family": fam})
    rep.data["critical_points"] = table

    # Each family of minima vs its closed form, at every s of the grid.
    err = {"A": [0.0, 0.0, 0.0], "B": [0.0, 0.0, 0.0]}
    for cp in table:
        c = closed_forms(cp["s"])
        w1, w2 = cp["w"]
        if cp["type"] == "minimum" and cp["family"] == "A":
            err["A"][0] = max(err["A"][0], abs(abs(w1) - 2 ** -0.5) + abs(abs(w2) - 2 ** -0.5))
            err["A"][1] = max(err["A"][1], abs(cp["loss"] - c["L_A"]))
            err["A"][2] = max(err["A"][2], max(abs(x - y) for x, y in zip(cp["eig"], c["eig_A"])))
        if cp["type"] == "minimum" and cp["family"] == "B":
            err["B"][0] = max(err["B"][0], abs(abs(w1) - c["a"]) + abs(abs(w2) - c["a"]))
            err["B"][1] = max(err["B"][1], abs(cp["loss"] - c["L_B"]))
            err["B"][2] = max(err["B"][2], max(abs(x - y) for x, y in
                                               zip(cp["eig_population"], c["eig_B_seed"])))
    found = {f: sorted({cp["s"] for cp in table if cp["type"] == "minimum" and cp["family"] == f})
             for f in "AB"}
    rep.check("s values where family A minima were found", len(found["A"]), len(s_grid), kind="eq")
    rep.check("s values where family B minima were found", len(found["B"]), len(s_grid), kind="eq")
    # Newton stops at |grad| < GNORM = 1e-12: |w - w*| <= GNORM / lambda_min, lambda_min >= 0.0025
    # (A, s <= 0.95) and >= 0.1 (B); |L - L*| <= lambda_max |w - w*|^2 / 2 + 85 eps; eigenvalues:
    # Lipschitz(H) ~ 20 times |w - w*| plus the population Hessian's rounding (1e-12).
    pos, loss_tol, eig_tol = "GNORM / lambda_min = 4e-10", "85 eps + lambda |dw|^2", "20 |dw|"
    rep.check("A: max |w - (1/√2)(1,1)| over s", err["A"][0], 0.0, 1e-9, note=pos)
    rep.check("A: max |L - L_A(s)| over s", err["A"][1], 0.0, 1e-12, note=loss_tol)
    rep.check("A: max |Hessian eig - closed form| over s", err["A"][2], 0.0, 1e-8, note=eig_tol)
    rep.check("B: max |w - a(s)(-1,1)| over s", err["B"][0], 0.0, 1e-9, note=pos)
    rep.check("B: max |L - L_B(s)| over s", err["B"][1], 0.0, 1e-12, note=loss_tol)
    rep.check("B: max |population Hessian eig - seed| over s", err["B"][2], 0.0, 1e-8,
              note=eig_tol)
    others = sorted({(cp["family"], cp["type"]) for cp in table} - {("A", "minimum"), ("B", "minimum")})
    rep.info("other critical points found", ", ".join(f"{f}:{t}" for f, t in others) or "none",
             "the kink at w = 0 (relu'(0) = 0) is excluded by construction")

    # At B the kink (the diagonal) crosses the data, so the population Hessian has a line term
    # from relu'' that no finite dataset carries: show the engine's dataset Hessian beside it,
    # and how many nodes of the fixed grid tms_quadrature puts on that kink (no Hessian there).
    s_mid = 0.5
    a = closed_forms(s_mid)["a"]
    w_B = torch.tensor([[-a, a]], dtype=torch.float64)
    eig_B = hessian.eigvalsh(hessian.Hessian(model, w_B, tms_population(model, w_B, s_mid)))[0]
    pop_B = torch.linalg.eigvalsh(tms_population_hessian(model, w_B, s_mid))[0]
    rep.info("B at s=0.5: Hessian eigenvalues, dataset", [round(x, 6) for x in eig_B.tolist()],
             f"population (with the kink's line term): {[round(x, 6) for x in pop_B.tolist()]}")
    rep.info("B at s=0.5: tms_quadrature nodes on the kink",
             int(hessian.kinks(model, w_B, tms_quadrature(s_mid))),
             "flagged by the Hessian engine (hessian.kinks): that dataset has no Hessian there")

    s_star = transition(model, 0.2, 0.7, 40)
    rep.check("first-order transition s*", s_star, S_STAR, 1e-10, note="bisection 5e-13")
    rep.data["s_star"] = s_star
    _proofs(rep, model, table, s_grid)
    _figures(rep, model, table, s_star)


def _proofs(rep, model, table, s_grid) -> None:
    """Proofs on the population (``certify.tms_population_critical_points``, closed forms in
    interval arithmetic): every minimum Newton found is a strict local minimum; so is each closed
    form, with the seed's smallest eigenvalue inside the certified enclosure; and the certified
    losses of the two families are ordered oppositely at s* -+ 1e-12, so the exchange of the lower
    minimum is proved to happen within 1e-12 of (3 + 4 sqrt 14) / 43."""
    from ..certify import Verdict, tms_population_critical_points

    mins = [cp for cp in table if cp["type"] == "minimum"]
    proved = 0
    for s in sorted({cp["s"] for cp in mins}):
        theta = torch.tensor([cp["w"] for cp in mins if cp["s"] == s], dtype=torch.float64)
        proved += int((tms_population_critical_points(model, theta, s).verdict
                       == Verdict.minimum).sum())
    rep.check("minima found, proved strict local minima", proved, len(mins), kind="eq",
              note="Krawczyk + curvature on the closed-form population, 113-bit intervals")
    inside, losses = 0, []
    for s in [float(x) for x in s_grid]:
        c = closed_forms(s)
        theta = torch.tensor([[2 ** -0.5, 2 ** -0.5], [-c["a"], c["a"]]], dtype=torch.float64)
        cert = tms_population_critical_points(model, theta, s)
        for k, lam in enumerate([c["eig_A"][0], c["eig_B_seed"][0]]):
            lo, hi = cert.lambda_min[k].tolist()
            inside += int(cert.verdict[k] == Verdict.minimum and lo <= lam <= hi)
    rep.check("closed-form minima proved, seed's lambda_min in the enclosure", inside,
              2 * len(s_grid), kind="eq", note="families A and B at every s of the grid")
    ordered = 0
    for s, a_lower in ((S_STAR - 1e-12, True), (S_STAR + 1e-12, False)):
        a = closed_forms(s)["a"]
        cert = tms_population_critical_points(
            model, torch.tensor([[2 ** -0.5, 2 ** -0.5], [-a, a]], dtype=torch.float64), s)
        (A, B), ok = cert.loss.tolist(), bool((cert.verdict == Verdict.minimum).all())
        ordered += int(ok and (A[1] < B[0] if a_lower else B[1] < A[0]))
        losses.append({"s": s, "loss_A": A, "loss_B": B})
    rep.data["transition_proof"] = losses
    rep.check("lower minimum's family proved to switch within s* -+ 1e-12", ordered, 2, kind="eq",
              note="certified loss enclosures of A and B disjoint, ordered oppositely")


def _figures(rep, model, table, s_star) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ss = np.linspace(0.0, 0.99, 200)
    ax.plot(ss, [closed_forms(s)["L_A"] for s in ss], "C0-", label="family A (closed form)")
    ax.plot(ss, [closed_forms(s)["L_B"] for s in ss], "C1-", label="family B (closed form)")
    for fam, c in (("A", "C0"), ("B", "C1")):
        pts = [(cp["s"], cp["loss"]) for cp in table if cp["type"] == "minimum" and cp["family"] == fam]
        if pts:
            ax.plot(*zip(*pts), "o", color=c, mfc="none", label=f"family {fam} (reluscope)")
    ax.axvline(s_star, color="k", ls="--", lw=1, label=f"s* = {s_star:.5f}")
    ax.set_xlabel("sparsity s")
    ax.set_ylabel("loss at the minimum")
    ax.legend()
    rep.figure(fig, "loss_vs_sparsity.png", "Loss of each family of minima vs sparsity; the "
               "global minimum switches from A to B at s*.")

    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    grid = torch.linspace(-1.5, 1.5, 121, dtype=torch.float64)
    W1, W2 = torch.meshgrid(grid, grid, indexing="ij")
    theta = torch.stack([W1.ravel(), W2.ravel()], 1)
    markers = {"minimum": "o", "saddle": "x", "maximum": "^", "degenerate": "s"}
    for ax, s in zip(axes, (0.2, s_star, 0.7)):
        L = hessian.loss(model, theta, tms_population(model, theta, float(s))).reshape(W1.shape)
        filled = ax.contourf(W1, W2, L.log10(), levels=30, cmap="viridis")
        fig.colorbar(filled, ax=ax, label="log10 loss")
        near = [cp for cp in table if abs(cp["s"] - s) < 0.08]
        for cp in near:
            ax.plot(cp["w"][0], cp["w"][1], markers[cp["type"]], color="w", mec="k")
        ax.set_title(f"s = {s:.3f}")
        ax.set_xlabel("w1")
        ax.set_ylabel("w2")
    shown = sorted({cp["type"] for cp in table}, key=list(markers).index)
    axes[0].legend([Line2D([], [], ls="", marker=markers[t], color="w", mec="k") for t in shown],
                   shown, loc="lower left", fontsize=8, title="critical points", framealpha=0.8)
    fig.tight_layout()
    rep.figure(fig, "loss_contours.png", "Exact population loss contours over (w1, w2) at three "
               "sparsities, with the critical points found at the nearest grid s (legend: their "
               "type by the population Hessian).")
