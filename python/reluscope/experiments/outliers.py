"""Seed 005 (the ORF 543 notes, "bulk + outliers"): the Hessian spectra of classifiers trained
with cross-entropy (Sagun et al. 2017; Papyan 2019, 2020), with ``hessian.gd``,
``hessian.hessian`` and ``hessian.class_decomposition``.

Setting: C Gaussian classes in d = 20 (means of norm 3 in random directions, unit noise, 50
points per class), MLP [20, 24, C] tanh (lecun init), cross-entropy, full-batch GD (step 0.5) for
STEPS steps — early in training, where the classes are not yet separated — on B seeds per C;
the full Hessian H, the Gauss-Newton matrix G and its four parts (``class_decomposition``:
G = G_true + G_class + G_cross + G_within) densely, per network.

Outliers: the eigenvalues of H above lambda_max(G_within), the within-class part's top — the
bulk edge the class structure does not explain. How many to expect:
  - Weyl: at most rank(G - G_within) <= C^2 eigenvalues of G exceed lambda_max(G_within) (a
    theorem: checked);
  - when the logit gradients cluster by logit (Fort & Ganguli 2019: J_i ~ Jbar, the same for
    every sample), G ~ Jbar^T (sum_i w_i (diag p_i - p_i p_i^T)) Jbar, and every
    diag p - p p^T annihilates the all-ones vector: rank <= C - 1 — so C - 1 outliers (derived
    here; reported beside the measured count, not enforced: the clustering is an assumption);
  - "about as many outliers as classes" (Sagun et al.): C (reported).
The share of the top-k eigenvalue mass of G (k = the measured outlier count) carried by each
part, tr(U_k^T G_part U_k) / sum_{j <= k} lambda_j, the four summing to 1 exactly, says which
part makes the outliers (Papyan: the class means); the same share of the mean-Jacobian term
Jbar^T (sum_i w_i (diag p_i - p_i p_i^T)) Jbar measures how far the clustering assumption behind
C - 1 carries the outliers. H - G (the residual term) is what makes H
indefinite: H's lowest eigenvalue is negative while G is positive semi-definite.
"""
from __future__ import annotations

import statistics

import torch

from .. import MLP, Data, forward, hessian
from ..progress import track

F64 = torch.float64
D, HIDDEN, PER_CLASS, STEPS, LR = 20, 24, 50, 30, 0.5
PARTS = ("true_class", "class_means", "cross_class", "within_class")


def run(ctx) -> None:
    rep = ctx.report
    classes, seeds = ((2, 4, 8), 2) if ctx.quick else ((2, 3, 4, 5, 6, 7, 8), 5)
    rep.settings.update({"classes": list(classes), "seeds": seeds, "d": D, "hidden": HIDDEN,
                         "per_class": PER_CLASS, "steps": STEPS, "lr": LR})
    spectra = {C: _spectra(ctx, C, seeds) for C in track(classes, "outliers: classes")}
    _exact_rows(rep, spectra)
    for C, s in spectra.items():
        _count_rows(rep, C, s)
    rep.data.update({str(C): {"counts": s["count"].tolist(), "shares": s["shares"].tolist()}
                     for C, s in spectra.items()})
    _figure(rep, spectra)


def _spectra(ctx, C: int, seeds: int) -> dict:
    """Train `seeds` networks on a C-class mixture; their spectra, parts and outlier counts."""
    g = ctx.generator(100 + C)
    mu = torch.randn(C, D, generator=g, dtype=F64)
    mu = 3 * mu / mu.norm(dim=1, keepdim=True)
    y = torch.arange(C).repeat_interleave(PER_CLASS)
    X = mu[y] + torch.randn(len(y), D, generator=g, dtype=F64)
    data = Data(X, y, loss="cross_entropy", device=ctx.device)
    net = MLP([D, HIDDEN, C], "tanh")
    theta = net.init(seeds, generator=g, dtype=F64, scheme="lecun").to(ctx.device)
    theta = hessian.gd(net, theta, data, lr=LR, steps=STEPS, every=STEPS, track=()).theta
    H = hessian.dense_hessian(net, theta, data).cpu()
    parts = [op.to_dense().cpu() for op in hessian.class_decomposition(net, theta, data)]
    G_engine = hessian.GaussNewton(net, theta, data).to_dense().cpu()
    G = sum(parts)
    eg, U = torch.linalg.eigh(G)
    eh = torch.linalg.eigvalsh(H)
    edge = torch.linalg.eigvalsh(parts[3])[:, -1]
    count = (eh > edge[:, None]).sum(1)
    ranks = torch.linalg.matrix_rank(G - parts[3], hermitian=True)
    mean_part = _mean_jacobian_part(net, theta, data).cpu()
    shares = torch.stack([torch.stack([
        torch.einsum("pk,pq,qk->", U[b, :, -k:], Gp[b], U[b, :, -k:]) / eg[b, -k:].sum()
        for Gp in parts + [mean_part]]) for b, k in enumerate(count.clamp(min=1).tolist())])
    mean_rank = torch.linalg.matrix_rank(mean_part, hermitian=True)
    gap = float(((G - G_engine).abs().amax((1, 2)) / G_engine.abs().amax((1, 2))).max())
    return dict(eh=eh, eg=eg, edge=edge, count=count, ranks=ranks, shares=shares, gap=gap,
                mean_rank=mean_rank,
                G_min=eg[:, 0], H_min=eh[:, 0], P=net.num_params)


def _mean_jacobian_part(net, theta, data) -> torch.Tensor:
    """Jbar^T (sum_i w_i (diag p_i - p_i p_i^T)) Jbar (B, P, P), Jbar = sum_i w_i J_i: the
    Gauss-Newton matrix if every sample's logit gradients were their mean (rank <= C - 1)."""
    J = hessian.jacobian(net, theta, data.X)                    # (B, N, C, P)
    p = torch.softmax(forward(net, theta, data.X), -1)         # (B, N, C)
    w = data.w
    Jbar = torch.einsum("n,bncp->bcp", w, J)
    A = torch.einsum("n,bnc->bc", w, p).diag_embed() - torch.einsum("n,bnc,bnd->bcd", w, p, p)
    return Jbar.transpose(1, 2) @ A @ Jbar


def _exact_rows(rep, spectra: dict) -> None:
    rep.check("G_true + G_class + G_cross + G_within = the engine's Gauss-Newton, max rel. dev.",
              max(s["gap"] for s in spectra.values()), 0.0, 1e-10,
              note="all networks; float64 round-off of O(N C) rank-one terms")
    over = sum(int((s["count"] > s["ranks"]).sum()) for s in spectra.values())
    rep.check("Weyl: outlier count <= rank(G - G_within) <= C^2, networks violating it", over, 0,
              kind="eq", note="a theorem: a code check")
    shares = torch.cat([s["shares"][:, :4].sum(1) for s in spectra.values()])
    rep.check("shares of the four parts sum to 1, max deviation",
              float((shares - 1).abs().max()), 0.0, 1e-10)
    lo = min(float(s["G_min"].min() / s["eg"][:, -1].max()) for s in spectra.values())
    rep.check("G positive semi-definite: lowest eigenvalue / top, over all networks", lo,
              -1e-12, kind="ge", note="round-off only")
    over = sum(int((s["mean_rank"] > C - 1).sum()) for C, s in spectra.items())
    rep.check("mean-Jacobian term has rank <= C - 1, networks violating it", over, 0, kind="eq",
              note="diag p - p p^T annihilates the all-ones vector: a code check")
    neg = sum(int((s["H_min"] < 0).sum()) for s in spectra.values())
    total = sum(len(s["H_min"]) for s in spectra.values())
    rep.check("H indefinite (a negative eigenvalue: the residual term H - G)", neg, total,
              kind="eq", note="lowest H eigenvalue / top: " + ", ".join(
                  f"C={C}: {float((s['H_min'] / s['eh'][:, -1]).median()):.2g}"
                  for C, s in spectra.items()))


def _count_rows(rep, C: int, s: dict) -> None:
    counts = s["count"].tolist()
    rep.info(f"C={C}: outliers of H above the within-class edge (per seed)", counts,
             note=f"median {statistics.median(counts):g}; predictions: C - 1 = {C - 1} "
                  f"(logit-gradient clustering), C = {C} (Sagun et al.), <= C^2 = {C * C}")
    med = s["shares"].median(0).values.tolist()
    rep.info(f"C={C}: share of the outliers' eigenvalue mass per part (median)",
             ", ".join(f"{p} {m:.2f}" for p, m in zip(PARTS, med)),
             note=f"the mean-Jacobian term (not a part; the C - 1 mechanism): {med[4]:.2f}")


def _figure(rep, spectra: dict) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for C, s in spectra.items():
        top = s["eh"][0].flip(0)[:40]
        line, = ax[0].semilogy(range(1, len(top) + 1), top.clamp(min=1e-8), ".-", ms=3, lw=0.7,
                               label=f"C = {C}")
        ax[0].axhline(float(s["edge"][0]), ls="--", lw=0.7, color=line.get_color())
        ax[1].plot([C] * len(s["count"]), s["count"], "o", color="C0", alpha=0.5)
    Cs = sorted(spectra)
    ax[1].plot(Cs, [c - 1 for c in Cs], "k--", lw=0.8, label="C - 1")
    ax[1].plot(Cs, Cs, "k:", lw=0.8, label="C")
    ax[0].set_xlabel("rank")
    ax[0].set_ylabel("Hessian eigenvalue (dashed: within-class edge)")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("classes C")
    ax[1].set_ylabel("outliers above the within-class edge")
    ax[1].legend(fontsize=7)
    rep.figure(fig, "outliers.png", "Bulk + outliers: the top Hessian eigenvalues per number of "
               "classes (first seed; log scale) and the outlier count per seed vs C.")
