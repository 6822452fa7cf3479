"""Seed 000: exact phase transition in the toy model of superposition, 2 features in 1 dimension.

Model y = relu(WᵀW x), W = (w1, w2), no bias. Each feature is 0 with probability s, else U[0,1].
Population loss L(w) = E‖x − y‖², represented exactly as a weighted quadrature dataset. For a grid
of s we find critical points from many random starts (batched Adam, then Newton steps with the
exact Hessian), classify them by their Hessian eigenvalues, and locate the first-order transition
s* where the two families of minima exchange the global minimum:
  A = ±(1/√2)(1, 1):            L_A = s(1−s)/3 + (1−s)²/12,  eig = (1−s)², (2/3)(7−3s)(1−s)
  B = ±a(−1, 1), a² = (3+5s)/(2(1+3s)):  L_B = (2/3)s(1−s)(a²−1)² + (1−s)²(a⁴−3a²+4)/6
  s* = (3 + 4√14)/43.
(Closed forms from the seed, L_B re-derived from its mixed-sign formula; both checked numerically.)
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import TMS, hessian
from ..progress import track

S_STAR = (3 + 4 * math.sqrt(14)) / 43


def population_data(s: float, n_u: int = 4, n_v: int = 48, dtype=torch.float64) -> "hessian.Data":
    """Weighted dataset whose loss is the population loss at sparsity s, exactly for w in the
    families A and B. The unit square is split along its diagonal into two triangles, each mapped
    from [0,1]² by a Duffy transform (x1, x2) = (u, u v): lines through the origin — where relu's
    kinks lie — become lines v = const, and the diagonal (B's kink) is a triangle edge.
    Gauss–Legendre in u and v. The single-feature lines carry weight s(1−s) each, the square
    (1−s)², and x = 0 (weight s²) contributes nothing."""
    gu, wu = np.polynomial.legendre.leggauss(n_u)
    gv, wv = np.polynomial.legendre.leggauss(n_v)
    u, wu = (gu + 1) / 2, wu / 2
    v, wv = (gv + 1) / 2, wv / 2
    U, V = np.meshgrid(u, v, indexing="ij")
    W2 = (wu[:, None] * wv[None, :] * u[:, None]).ravel()
    lower = np.stack([U.ravel(), (U * V).ravel()], 1)  # x2 <= x1
    pts = [lower, lower[:, ::-1], np.stack([u, 0 * u], 1), np.stack([0 * u, u], 1)]
    wts = [(1 - s) ** 2 * W2, (1 - s) ** 2 * W2, s * (1 - s) * wu, s * (1 - s) * wu]
    X = torch.tensor(np.concatenate(pts), dtype=dtype)
    return hessian.Data(X, X.clone(), weights=torch.tensor(np.concatenate(wts), dtype=dtype))


def closed_forms(s: float) -> dict:
    a2 = (3 + 5 * s) / (2 * (1 + 3 * s))
    return {
        "a": math.sqrt(a2),
        "L_A": s * (1 - s) / 3 + (1 - s) ** 2 / 12,
        "L_B": 2 * s * (1 - s) / 3 * (a2 - 1) ** 2 + (1 - s) ** 2 * (a2 * a2 - 3 * a2 + 4) / 6,
        "eig_A": sorted([(1 - s) ** 2, 2 / 3 * (7 - 3 * s) * (1 - s)]),
        "eig_B_seed": sorted([(3 - s + 57 * s**2 - 59 * s**3) / (6 + 18 * s), (3 + 2 * s - 5 * s**2) / 3]),
    }


def newton(model, theta, data, steps: int = 30):
    """Newton iterations with the exact Hessian (any critical point attracts); returns theta and
    the final gradient norms."""
    for _ in range(steps):
        _, g = hessian.value_and_grad(model, theta, data)
        H = hessian.hessian(model, theta, data)
        ok = torch.linalg.matrix_rank(H) == H.shape[-1]
        step = torch.zeros_like(theta)
        step[ok] = torch.linalg.solve(H[ok], g[ok])
        theta = theta - step
    _, g = hessian.value_and_grad(model, theta, data)
    return theta, g.norm(dim=1)


def critical_points(model, data, starts: torch.Tensor, fit_steps: int):
    """Distinct critical points reached from `starts` (Adam, then Newton), with their loss and
    Hessian eigenvalues; non-converged runs (gradient norm > 1e-9) are dropped."""
    theta, _ = hessian.fit(model, starts, data, lr=0.02, steps=fit_steps, progress=False)
    theta, gnorm = newton(model, theta, data)
    keep = gnorm < 1e-9
    theta = theta[keep]
    key = torch.round(theta * 1e6)
    _, first = np.unique(key.numpy(), axis=0, return_index=True)
    theta = theta[torch.as_tensor(np.sort(first))]
    return theta, hessian.loss(model, theta, data), hessian.eigvalsh(model, theta, data)


def classify(eig: torch.Tensor, tol: float = 1e-9) -> list[str]:
    return ["minimum" if e.min() > tol else "maximum" if e.max() < -tol else
            "saddle" if e.min() < -tol else "degenerate" for e in eig]


def family(theta: torch.Tensor) -> list[str]:
    return ["A" if w1 * w2 > 0 else "B" if w1 * w2 < 0 else "axis" for w1, w2 in theta.tolist()]


def run(ctx) -> None:
    rep = ctx.report
    model = TMS(2, 1, bias=False)
    s_grid = np.linspace(0.05, 0.95, 7 if ctx.quick else 19)
    n_starts = 48 if ctx.quick else 256
    g = ctx.generator()
    table = []
    for s in track(s_grid, "tms: critical points per s"):
        data = population_data(float(s))
        starts = (torch.rand(n_starts, 2, generator=g, dtype=torch.float64) * 3 - 1.5)
        theta, L, eig = critical_points(model, data, starts, 100 if ctx.quick else 300)
        for th, l, e, kind, fam in zip(theta.tolist(), L.tolist(), eig.tolist(), classify(eig),
                                       family(theta)):
            table.append({"s": float(s), "w": th, "loss": l, "eig": e, "type": kind, "family": fam})
    rep.data["critical_points"] = table

    # Each family of minima vs its closed form, at every s of the grid.
    err = {"A": [0.0, 0.0, 0.0], "B": [0.0, 0.0]}
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
    found = {f: sorted({cp["s"] for cp in table if cp["type"] == "minimum" and cp["family"] == f})
             for f in "AB"}
    rep.check("s values where family A minima were found", len(found["A"]), len(s_grid), kind="eq")
    rep.check("s values where family B minima were found", len(found["B"]), len(s_grid), kind="eq")
    rep.check("A: max |w - (1/√2)(1,1)| over s", err["A"][0], 0.0, 1e-9)
    rep.check("A: max |L - L_A(s)| over s", err["A"][1], 0.0, 1e-12)
    rep.check("A: max |Hessian eig - closed form| over s", err["A"][2], 0.0, 1e-9)
    rep.check("B: max |w - a(s)(-1,1)| over s", err["B"][0], 0.0, 1e-6)
    rep.check("B: max |L - L_B(s)| over s", err["B"][1], 0.0, 1e-10)
    others = sorted({(cp["family"], cp["type"]) for cp in table} - {("A", "minimum"), ("B", "minimum")})
    rep.info("other critical points found", ", ".join(f"{f}:{t}" for f, t in others) or "none",
             "the kink at w = 0 (relu'(0) = 0) is excluded by construction")

    # B's Hessian: the population Hessian has a line term from relu'' on its kink (the diagonal),
    # which no finite dataset carries; report the quadrature Hessian beside the seed's values.
    s_mid = 0.5
    data = population_data(s_mid)
    a = closed_forms(s_mid)["a"]
    eig_B = hessian.eigvalsh(model, torch.tensor([[-a, a]], dtype=torch.float64), data)[0]
    rep.info("B at s=0.5: Hessian eigenvalues (dataset)", [round(x, 6) for x in eig_B.tolist()],
             f"seed (population, incl. kink term): {[round(x, 6) for x in closed_forms(s_mid)['eig_B_seed']]}")

    # The transition: root of L_A(s) - L_B(s), each loss at that family's critical point found
    # by Newton from the previous s (bisection on s).
    def gap(s: float) -> float:
        data = population_data(s)
        c = closed_forms(s)
        starts = torch.tensor([[0.7, 0.7], [-c["a"] * 1.01, c["a"] * 0.99]], dtype=torch.float64)
        theta, gnorm = newton(model, starts, data)
        L = hessian.loss(model, theta, data)
        return float(L[0] - L[1])

    lo, hi = 0.2, 0.7
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if gap(lo) * gap(mid) <= 0 else (mid, hi)
    s_star = (lo + hi) / 2
    rep.check("first-order transition s*", s_star, S_STAR, 1e-8)
    rep.data["s_star"] = s_star
    _figures(rep, model, table, s_star)


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

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    grid = torch.linspace(-1.5, 1.5, 121, dtype=torch.float64)
    W1, W2 = torch.meshgrid(grid, grid, indexing="ij")
    theta = torch.stack([W1.ravel(), W2.ravel()], 1)
    for ax, s in zip(axes, (0.2, s_star, 0.7)):
        L = hessian.loss(model, theta, population_data(float(s), n_v=16)).reshape(W1.shape)
        ax.contourf(W1, W2, L.log10(), levels=30, cmap="viridis")
        near = [cp for cp in table if abs(cp["s"] - s) < 0.08]
        for cp in near:
            m = {"minimum": "o", "saddle": "x", "maximum": "^"}.get(cp["type"], "s")
            ax.plot(cp["w"][0], cp["w"][1], m, color="w", mec="k")
        ax.set_title(f"log10 loss, s = {s:.3f}")
        ax.set_xlabel("w1")
        ax.set_ylabel("w2")
    rep.figure(fig, "loss_contours.png", "Loss contours over (w1, w2) at three sparsities, with the "
               "critical points found at the nearest grid s (o minimum, x saddle).")
