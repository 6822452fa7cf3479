"""The local learning coefficient (``reluscope.slt.llc``) against exact values, all models and
chains of a row sampled in one batched SGLD run.

Ground truths (``slt.theory``): full-rank linear regression at the least-squares fit and a small
sigmoid net at a non-degenerate minimum (regular, lambda = d/2); y = w2 w1 x at its true parameter 0 (lambda = 1/2 as n -> infinity, approached
like 1/2 - O(1/log n); checked against the exact value at the n beta used); deep linear networks
at true parameters of rank r on whitened inputs (Aoyagi's closed form). Seed 000's toy model of
superposition, 2 features in 1 dimension: its minimum (1/sqrt 2, 1/sqrt 2) is non-degenerate for
every s (Hessian eigenvalues (1-s)^2 and 2/3 (7-3s)(1-s)), so lambda = d/2 = 1. The regular
k-gons of c features in 2 hidden dimensions (with bias) have no closed form here: their
estimates are reported with the Hessian's index at the critical point.
"""
from __future__ import annotations

import math

import torch

from .. import MLP, TMS, Data, forward, hessian, slt, tms_quadrature


def _linear_regression(ctx, chains, draws):
    g = ctx.generator(1)
    d, N = 3, 1000
    X = torch.randn(N, d, generator=g, dtype=torch.float64)
    t = X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    t += 0.3 * torch.randn(N, generator=g, dtype=torch.float64)
    w_hat = torch.linalg.lstsq(X, t[:, None]).solution[:, 0]
    run = slt.llc(MLP([d, 1], "identity", bias=False), w_hat.expand(4, d).to(ctx.device),
                  Data(X, t, device=ctx.device), chains=chains, draws=draws, burn_in=300,
                  step_size=1e-4, gamma=1.0, generator=g)
    return float(run.llc.mean()), d / 2, run


def _sigmoid_net(ctx, chains, draws):
    """[2, 1, 1] sigmoid, no biases, at the least-squares minimum near its teacher: regular."""
    g = ctx.generator(6)
    N, n_beta = 2000, 1e4
    net = MLP([2, 1, 1], "sigmoid", bias=False)
    teacher = torch.tensor([[1.5, -1.0, 2.0]], dtype=torch.float64)
    X = 2 * torch.randn(N, 2, generator=g, dtype=torch.float64)
    T = forward(net, teacher, X)[0] + 0.1 * torch.randn(N, 1, generator=g, dtype=torch.float64)
    data = Data(X, T, device=ctx.device)
    theta, _ = hessian.levenberg_marquardt(net, teacher.expand(4, -1).to(ctx.device), data,
                                           steps=100)
    eigs = torch.linalg.eigvalsh(hessian.dense_hessian(net, theta, data))
    eps = 0.1 / (n_beta * float(eigs.max()))
    run = slt.llc(net, theta, data, chains=chains, draws=draws, burn_in=1000, step_size=eps,
                  n_beta=n_beta, gamma=1.0, generator=g)
    return float(run.llc.mean()), 1.5, float(eigs.min()), run


def _minimal_singular(ctx, chains, draws):
    g = ctx.generator(2)
    N = 1000
    X = torch.randn(N, 1, generator=g, dtype=torch.float64)
    run = slt.llc(MLP([1, 1, 1], "identity", bias=False),
                  torch.zeros(16, 2, dtype=torch.float64, device=ctx.device),
                  Data(X, torch.zeros_like(X[:, 0]), device=ctx.device), chains=chains,
                  draws=2 * draws, burn_in=500, step_size=1e-3, gamma=1.0, generator=g)
    exact = slt.minimal_singular_llc(N / math.log(N) * float((X ** 2).mean()), 1.0)
    return float(run.llc.mean()), exact, run


def _deep_linear(ctx, widths, rank, chains, draws):
    net, theta, data = slt.deep_linear_problem(widths, rank, device=ctx.device)
    run = slt.llc(net, theta.expand(8, -1), data, chains=chains, draws=2 * draws, burn_in=1000,
                  step_size=2e-5, n_beta=1e4, gamma=1.0, generator=ctx.generator(3))
    return float(run.llc.mean()), slt.deep_linear_llc(widths, rank), run


def _tms_two_in_one(ctx, s, chains, draws):
    model = TMS(2, 1, bias=False)
    theta = torch.full((8, 2), 2 ** -0.5, dtype=torch.float64, device=ctx.device)
    data = tms_quadrature(s, n_nodes=8, device=ctx.device)
    run = slt.llc(model, theta, data, chains=chains, draws=draws, burn_in=500, step_size=1e-4,
                  n_beta=1e3, gamma=1.0, generator=ctx.generator(4))
    return float(run.llc.mean()), 1.0, run


def _k_gon(ctx, c, s, chains, draws):
    """The regular c-gon (columns of W at angles 2 pi j / c, one norm, one bias), refined to the
    critical point of the population loss by Levenberg-Marquardt; its LLC and Hessian index."""
    model = TMS(c, 2)
    angles = 2 * math.pi * torch.arange(c, dtype=torch.float64) / c
    theta = torch.cat([torch.cos(angles), torch.sin(angles), torch.zeros(c, dtype=torch.float64)])
    data = tms_quadrature(s, n_nodes=3, n_features=c, device=ctx.device)
    theta, _ = hessian.levenberg_marquardt(model, theta[None].to(ctx.device), data, steps=100)
    grad = float(hessian.value_and_grad(model, theta, data)[1].norm())
    idx = hessian.index(hessian.Hessian(model, theta, data))
    index = f"{int(idx.negative[0])}" + (f" (+{int(idx.unresolved[0])} eigenvalues of unresolved "
                                          "sign)" if int(idx.unresolved[0]) else "")
    run = slt.llc(model, theta.expand(4, -1), data, chains=chains, draws=draws, burn_in=500,
                  step_size=1e-4, n_beta=1e3, gamma=100.0, generator=ctx.generator(5 + c))
    return float(run.llc.mean()), grad, index, run


def run(ctx) -> None:
    rep = ctx.report
    chains, draws = (8, 2000) if ctx.quick else (16, 5000)
    rep.text(f"SGLD: {chains} chains per model, {draws} draws (the singular rows twice as many), "
             "every row's models and chains in one batched run; llc = mean over models.")
    points = []

    est, lam, run = _linear_regression(ctx, chains, draws)
    rep.check("linear regression, d = 3: llc vs d/2", est, lam, 0.05, kind="rel",
              note="regular; n beta = N/log N = 145, gamma = 1")
    points.append(("linear regression", lam, est, _se(run)))
    est, lam, smallest, run = _sigmoid_net(ctx, chains, draws)
    rep.check("sigmoid net [2, 1, 1]: llc vs d/2", est, lam, 0.08, kind="rel",
              note=f"non-degenerate minimum (smallest Hessian eigenvalue {smallest:.3f}); "
                   "n beta = 1e4")
    points.append(("sigmoid [2,1,1]", lam, est, _se(run)))
    est, exact, run = _minimal_singular(ctx, chains, draws)
    rep.check("y = w2 w1 x at 0: llc vs its exact value at n beta", est, exact, 0.03,
              note="lambda = 1/2 only as n -> inf (1/log n corrections)")
    points.append(("w2 w1 x", exact, est, _se(run)))
    for widths, rank in (([2, 2, 2], 0), ([2, 2, 2], 1), ([3, 2, 3], 1)):
        est, lam, run = _deep_linear(ctx, widths, rank, chains, draws)
        rep.check(f"deep linear {widths}, rank {rank}: llc vs Aoyagi", est, lam, 0.12, kind="rel",
                  note="n beta = 1e4; finite-n bias of singular models")
        points.append((f"DLN {widths} r={rank}", lam, est, _se(run)))
    tms_runs = []
    for s in ((0.5,) if ctx.quick else (0.2, 0.5, 0.8)):
        est, lam, run_s = _tms_two_in_one(ctx, s, chains, draws)
        rep.check(f"TMS 2 in 1, s = {s}: llc at the minimum (1/√2, 1/√2) vs d/2", est, lam, 0.1,
                  kind="rel", note="non-degenerate minimum: regular")
        points.append((f"TMS 2in1 s={s}", lam, est, _se(run_s)))
        tms_runs.append((s, run_s))
    for c in ((5,) if ctx.quick else (5, 6)):
        est, grad, index, _ = _k_gon(ctx, c, 0.9, chains, draws)
        rep.info(f"TMS {c}-gon in 2 dims, s = 0.9: llc", est,
                 note=f"gradient norm {grad:.1e}, Hessian index {index}; no closed form here")
    rep.data["points"] = [{"case": n, "theory": t, "estimate": e, "standard_error": se}
                          for n, t, e, se in points]
    _figure(rep, points, tms_runs)


def _se(run) -> float:
    """The standard error of a row's estimate: its models are copies of one problem, so every
    chain's llc is an independent draw of the same estimator (diverged chains, NaN, left out)."""
    c = run.chain_llc.flatten().double()
    c = c[~torch.isnan(c)]
    return float(c.std() / math.sqrt(len(c)))


def _figure(rep, points, tms_runs) -> None:
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    theory = [t for _, t, _, _ in points]
    a.plot([0, max(theory) * 1.1], [0, max(theory) * 1.1], "k:", lw=1, label="estimate = theory")
    markers = "osD^v<>ph*"
    for i, (name, t, e, se) in enumerate(points):   # a legend, not labels: several share a point
        a.errorbar(t, e, yerr=2 * se, fmt=markers[i % len(markers)], ms=5, capsize=3,
                   color=f"C{i % 10}", label=name)
    a.legend(fontsize=7, loc="upper left")
    a.set(xlabel="theory (exact at the n beta used where noted)",
          ylabel="llc estimate (± 2 standard errors)", title="estimates vs theory")
    for s, run_s in tms_runs:
        trace = run_s.sgld.loss_trace[0].cpu()
        b.plot((trace - run_s.init_loss[0].cpu()).mean(0) * float(run_s.sgld.n_beta[0]),
               label=f"s = {s}")
    b.set(xlabel="draw", ylabel="n beta (L - L*) (mean over chains)",
          title="TMS 2 in 1: loss traces (model 0)")
    b.legend()
    rep.figure(fig, "llc.png", "LLC estimates (± 2 standard errors over the chains) against "
               "exact values; TMS loss traces.")
    plt.close(fig)
