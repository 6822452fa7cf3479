"""Seed 004: localisation of a single ReLU neuron's receptive field on hypercube data.

One neuron y = relu(<w, x>), two classes on {±1}^n drawn from translation-invariant Ising chains:
the class with label 1 has a long correlation length (coupling K1), the other a short one (K0).
The exact gradient flow τ dw/dt = ½ f_1(w) − ½ (Σ0 + Σ1) w, with f_1(w) = E_1[1(<w,X> ≥ 0) X]
summed exactly over all 2^n vertices, localises w (high inverse participation ratio), while the
same flow for Gaussian classes with the same covariances — where f has the closed form
Σ1 w / √(2π wᵀΣ1w) — converges to a delocalised mode (IPR ≈ 1/n).
"""
from __future__ import annotations

import math

import torch

from .. import hypercube as hc

K1, K0 = 0.8, 0.2  # couplings: correlation lengths -1/log tanh K ≈ 2.44 and 0.62 sites


def run(ctx) -> None:
    rep = ctx.report
    n = 16 if ctx.quick else 20
    B = 8 if ctx.quick else 32
    steps, dt, tau = (400, 0.1, 1.0) if ctx.quick else (1000, 0.1, 1.0)
    dev, dt_ = ctx.device, torch.float64
    p1 = hc.Ising.chain(n, coupling=K1, circular=True, dtype=dt_)
    p0 = hc.Ising.chain(n, coupling=K0, circular=True, dtype=dt_)
    _, S1 = hc.moments(p1)
    _, S0 = hc.moments(p0)
    rep.text(f"n = {n}, couplings K1 = {K1} (label 1), K0 = {K0}; {B} initialisations "
             f"w0 ~ N(0, I/n); RK4 with dt = {dt}, {steps} steps, τ = {tau}.")

    # Exact anchors of f on the hypercube (derived for p symmetric under x -> -x, tie included):
    # single bump w = e_i: 1(x_i >= 0) = (1 + x_i)/2, so f = ½ Σ e_i; imbalanced bump
    # w = α e_i − e_j (α > 1): sign <w,x> = x_i, so again f = ½ Σ e_i.
    i, j = 3, 5
    e = torch.zeros(2, n, dtype=dt_)
    e[0, i] = 1.0
    e[1, i], e[1, j] = 1.7, -1.0
    f_e = hc.f(e.to(dev), p1).cpu()
    rep.check("f(e_i) = ½ Σ1 e_i (max abs error)", (f_e[0] - 0.5 * S1[:, i].cpu()).abs().max().item(), 0.0, 1e-12)
    rep.check("f(1.7 e_i − e_j) = ½ Σ1 e_i (max abs error)", (f_e[1] - 0.5 * S1[:, i].cpu()).abs().max().item(), 0.0, 1e-12)

    w0 = torch.randn(B, n, generator=ctx.generator(), dtype=dt_) / math.sqrt(n)
    cube = hc.flow(w0.to(dev), p1, p0, tau=tau, dt=dt, steps=steps, method="rk4", save_every=10)
    gauss = hc.flow(w0.to(dev), hc.Gaussian(S1), hc.Gaussian(S0), tau=tau, dt=dt, steps=steps,
                    method="rk4", save_every=10)
    ipr_cube, ipr_gauss = cube.ipr[-1].cpu(), gauss.ipr[-1].cpu()
    rep.check("hypercube: mean final IPR (localised: >= 3/n)", ipr_cube.mean().item(), 3 / n, kind="ge")
    rep.check("Gaussian: mean final IPR (delocalised: <= 1.5/n)", ipr_gauss.mean().item(), 1.5 / n, kind="le")

    # The flow ends at a fixed point: ½ f_1(w) = ½ (Σ0 + Σ1) w.
    w_end = cube.w[-1]
    resid = (hc.f(w_end, p1) - w_end @ (S0 + S1).to(dev)).norm(dim=1) / hc.f(w_end, p1).norm(dim=1)
    rep.check("hypercube flow: relative fixed-point residual", resid.max().item(), 0.0, 1e-3)

    # The engine against the brute-force torch reference at the final receptive fields (n <= 16).
    if n <= 16:
        from ..reference import hypercube as ref

        err = (hc.f(w_end, p1).cpu() - ref.f(w_end.cpu(), p1)).abs().max().item()
        rep.check("f: engine vs torch reference at the final w", err, 0.0, 1e-12)
    rep.data.update({"n": n, "t": cube.t.tolist(), "ipr_cube": cube.ipr.cpu().tolist(),
                     "ipr_gauss": gauss.ipr.cpu().tolist(), "w_final_cube": w_end.cpu().tolist(),
                     "w_final_gauss": gauss.w[-1].cpu().tolist()})
    _figures(rep, cube, gauss, n)


def _figures(rep, cube, gauss, n) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, res, title in ((axes[0], cube, "hypercube (Ising chains)"), (axes[1], gauss, "Gaussian")):
        w = res.w[:, 0].cpu()
        w = w / w.abs().max(dim=1, keepdim=True).values
        im = ax.imshow(w.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                       extent=(float(res.t[0]), float(res.t[-1]), n - 0.5, -0.5))
        ax.set_title(f"receptive field over time, {title}")
        ax.set_xlabel("time")
        ax.set_ylabel("input site i")
    fig.colorbar(im, ax=axes, label="w_i / max |w|")
    rep.figure(fig, "receptive_fields.png", "One initialisation's receptive field w(t) (normalised per "
               "time): it localises on hypercube data and spreads out on Gaussian data.")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(cube.t.cpu(), cube.ipr.cpu(), color="C3", alpha=0.5, lw=1)
    ax.plot(gauss.t.cpu(), gauss.ipr.cpu(), color="C0", alpha=0.5, lw=1)
    ax.plot([], [], color="C3", label="hypercube (exact f)")
    ax.plot([], [], color="C0", label="Gaussian (closed-form f)")
    ax.axhline(1 / n, color="k", ls=":", lw=1, label="1/n (fully spread)")
    ax.set_xlabel("time")
    ax.set_ylabel("IPR = Σw⁴ / (Σw²)²")
    ax.legend()
    rep.figure(fig, "ipr.png", "Inverse participation ratio over time for every initialisation.")
