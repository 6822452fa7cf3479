"""Reference SGLD and LLC: a loop over models, each model's chains advanced with torch.func
gradients of the reference loss (``reference.hessian.sample_losses`` over
``reference.forward``), drawing the same random numbers in the same order as
``reluscope.slt`` (``reluscope._langevin``), so the two agree step for step under one generator."""
from __future__ import annotations

import inspect
import math
from typing import Optional

import torch
from torch.func import grad_and_value, vmap

from .._langevin import (LLCResult, SGLDResult, estimate, minibatch, minibatch_loss_factor, noise,
                         past_stability_limit, ran_away, runaway_bounds)
from ..data import Data
from .forward import forward
from .hessian import sample_losses

__all__ = ["llc", "sgld"]


def sgld(model, theta_star, data: Data, *, chains: int = 4, draws: int = 200, burn_in: int = 0,
         step_size=1e-4, n_beta=None, gamma=100.0, batch_size: Optional[int] = None,
         preconditioner: Optional[str] = None, rmsprop_alpha: float = 0.99,
         rmsprop_eps: float = 1.0, theta_every: int = 0,
         generator: Optional[torch.Generator] = None, progress: bool = False) -> SGLDResult:
    """``reluscope.slt.sgld`` model by model (inputs assumed valid; progress ignored)."""
    single = theta_star.dim() == 1
    theta0 = theta_star[None] if single else theta_star
    B, P = theta0.shape
    C, X, w, imp = chains, data.X, data.w, data.importance_for(model.d_out)
    T = data.targets(model.d_out)
    N = X.shape[-2]
    if n_beta is None:
        n_beta = N / math.log(N)

    def per_model(v):
        return torch.as_tensor(v, dtype=theta0.dtype, device=theta0.device).expand(B)

    eps, nb, gam = per_model(step_size), per_model(n_beta), per_model(gamma)
    full = batch_size is None or batch_size >= N

    def loss(theta, x, t, weights):
        y = forward(model, theta[None], x)[0]
        return sample_losses(y, t, weights, imp, data.loss).sum()

    step_fn = vmap(grad_and_value(loss), in_dims=(0, 0, 0, None))
    init = torch.stack([loss(theta0[b], X[b] if X.dim() == 3 else X, T[b] if T.dim() == 3 else T,
                             w) for b in range(B)])
    bounds = runaway_bounds(*(v.repeat_interleave(C) for v in (init, nb, gam)), P,
                            minibatch_loss_factor(w, full))
    theta = theta0.repeat_interleave(C, 0).clone()
    V = torch.zeros_like(theta)
    drift_star = torch.empty_like(theta)  # the drift at theta* (step 0)
    losses, dists, kept = [], [], []
    diverged = torch.zeros(B * C, dtype=torch.bool, device=theta.device)
    for step in range(burn_in + draws):
        idx = None if full else minibatch(generator, w, B * C, batch_size)
        xi = noise(generator, B * C, P, theta)
        step_loss, step_dist = theta.new_empty(B * C), theta.new_empty(B * C)
        diverged |= ~torch.isfinite(theta).all(1)
        if step >= burn_in and theta_every and (step - burn_in + 1) % theta_every == 0:
            kept.append(theta.clone())  # the parameters of this draw
        for b in range(B):
            r = slice(b * C, (b + 1) * C)
            xb = X[b] if X.dim() == 3 else X
            tb = T[b] if T.dim() == 3 else T
            if full:
                xs, ts, wb = xb.expand(C, *xb.shape), tb.expand(C, *tb.shape), w
            else:
                xs, ts = xb[idx[r]], tb[idx[r]]
                wb = torch.full((batch_size,), float(w.sum()) / batch_size, dtype=w.dtype,
                                device=w.device)
            G, L = step_fn(theta[r], xs, ts, wb)
            step_loss[r] = L
            step_dist[r] = (theta[r] - theta0[b]).norm(dim=1)
            u = theta[r] - theta0[b]
            drift = nb[b] * G + gam[b] * u
            if step == 0:
                drift_star[r] = drift
            D = None
            if preconditioner == "rmsprop":
                V[r] = rmsprop_alpha * V[r] + (1 - rmsprop_alpha) * drift ** 2
                D = 1 / (rmsprop_eps + V[r].sqrt())
                theta[r] = theta[r] - eps[b] / 2 * D * drift + (eps[b] * D).sqrt() * xi[r]
            else:
                theta[r] = theta[r] - eps[b] / 2 * drift + eps[b].sqrt() * xi[r]
            if full and step >= burn_in:
                diverged[r] |= past_stability_limit(drift - drift_star[r], u, eps[b].expand(C, 1),
                                                    D)
        diverged |= ran_away(step_loss, step_dist, bounds)
        if step >= burn_in:
            losses.append(step_loss)
            dists.append(step_dist)
    diverged |= ~torch.isfinite(theta).all(1)

    def per_chain(trace):
        return torch.stack(trace, -1).unflatten(0, (B, C))

    out = SGLDResult(per_chain(losses), per_chain(dists),
                     torch.stack(kept, 1).unflatten(0, (B, C)) if kept else None, init, nb,
                     diverged.unflatten(0, (B, C)))
    return SGLDResult(*(None if o is None else o[0] for o in out)) if single else out


def llc(model, theta_star, data: Data, **options) -> LLCResult:
    """``reluscope.slt.llc`` from the reference chains."""
    return estimate(sgld(model, theta_star, data, **options))


llc.__signature__ = inspect.signature(sgld).replace(return_annotation=LLCResult)  # as slt.llc
