"""Training all B models together: first-order optimisers on the fused gradient (``fit``) and
batched Levenberg-Marquardt on the engine's Gauss-Newton matrices (``levenberg_marquardt``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..data import Data
from ..models.base import Model
from ..progress import Progress
from .. import _fused
from .operators import GaussNewton
from .products import value_and_grad

__all__ = ["FitHistory", "fit", "levenberg_marquardt"]

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
               "rmsprop": torch.optim.RMSprop}


@dataclass
class FitHistory:
    """Logged every log_every steps (and at the last step): loss (n_logged, B), grad_norm
    (n_logged, B), steps (n_logged,)."""
    loss: torch.Tensor
    grad_norm: torch.Tensor
    steps: torch.Tensor


def fit(model: Model, theta: torch.Tensor, data: Data, *, optimizer: str = "adam",
        lr: float = 1e-3, steps: int = 1000, log_every: Optional[int] = None,
        progress: bool = True, **opt_kwargs) -> tuple[torch.Tensor, FitHistory]:
    """Train all B models together by full-batch gradient steps on their losses (the gradients
    from value_and_grad; models are independent: per-model losses are summed for the optimizer,
    whose per-element updates keep them apart).

    Args:
        optimizer: "adam", "adamw", "sgd" or "rmsprop" (torch.optim, with **opt_kwargs).
        log_every: history interval (default steps // 100, at least 1); the last step is logged.
        progress: show a progress bar (``reluscope.progress``) on stderr.

    Returns:
        (theta after `steps` steps (B, P), or (P,) for one model, FitHistory). A model whose
        loss becomes NaN keeps NaN; the others are unaffected.
    """
    inp = _fused.check_inputs(model, theta, data)
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    log_every = max(1, steps // 100) if log_every is None else int(log_every)
    if log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}")
    param = inp.theta.detach().clone()
    opt = _OPTIMIZERS[optimizer]([param], lr=lr, **opt_kwargs)
    bar = Progress(steps, "fit", enabled=progress)
    losses, norms, logged = [], [], []
    with torch.no_grad():
        for step in range(steps + 1):
            sums = _fused.run(inp._replace(theta=param), _fused.Mode.grad)
            if step % log_every == 0 or step == steps:
                losses.append(sums.loss)
                norms.append(torch.linalg.vector_norm(sums.grad, dim=1))
                logged.append(step)
            if step == steps:
                break
            param.grad = sums.grad.contiguous()
            opt.step()
            bar.update(1, f"median loss {losses[-1].median().item():.4g}")
    history = FitHistory(torch.stack(losses), torch.stack(norms), torch.tensor(logged))
    return (param[0] if inp.single else param), history


def levenberg_marquardt(model: Model, theta: torch.Tensor, data: Data, *, steps: int = 200,
                        damping: float = 1e-3, progress: bool = False
                        ) -> tuple[torch.Tensor, FitHistory]:
    """Refine all B models by batched Levenberg-Marquardt: each step solves
    (H0 + mu_b * mean diag(H0) * I) delta = grad with the engine's dense Gauss-Newton matrix H0
    and takes it only if the model's loss does not increase; mu_b shrinks 3x after an accepted
    step and grows 4x after a rejected one (starting from `damping`). A descent method for the
    least-squares losses here: converges quadratically at zero-residual minima and, unlike
    Newton, is not attracted to saddles. Cost per step: P products with the Gauss-Newton matrix
    and one (P, P) Cholesky solve per model; memory B P^2 (subject to HESSIAN_MAX_BYTES).

    Models are independent: where H0 = 0 (a model whose outputs do not move with theta, e.g. all
    units dead) the damping scale is 1 instead of mean diag(H0) = 0, so the step is grad / mu,
    which is 0 at a stationary point; a step whose solve fails (the damped matrix not positive
    definite in floating point) or is not finite counts as rejected (mu grows), never as an
    error of the whole batch. A stationary model (zero gradient) stays where it is; its
    FitHistory.grad_norm says so.

    Returns:
        (theta (B, P), FitHistory logged at every step).
    """
    inp = _fused.check_inputs(model, theta, data)
    theta = inp.theta.detach().clone()
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if not damping > 0:
        raise ValueError(f"damping must be > 0, got {damping}")
    B, P = theta.shape
    mu = theta.new_full((B,), damping)
    eye = torch.eye(P, dtype=theta.dtype, device=theta.device)
    L, g = value_and_grad(model, theta, data)
    losses, norms = [L], [g.norm(dim=1)]
    bar = Progress(steps, "levenberg_marquardt", enabled=progress)
    for _ in range(steps):
        G = GaussNewton(model, theta, data).to_dense()
        scale = G.diagonal(dim1=1, dim2=2).mean(1)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        chol, info = torch.linalg.cholesky_ex(G + (mu * scale)[:, None, None] * eye)
        delta = torch.cholesky_solve(g[..., None], chol)[..., 0]
        solved = (info == 0) & torch.isfinite(delta).all(1)
        cand = torch.where(solved[:, None], theta - delta, theta)
        solved &= torch.isfinite(cand).all(1)
        cand = torch.where(solved[:, None], cand, theta)
        Lc, gc = value_and_grad(model, cand, data)
        ok = solved & (Lc <= L)
        theta = torch.where(ok[:, None], cand, theta)
        L, g = torch.where(ok, Lc, L), torch.where(ok[:, None], gc, g)
        mu = torch.where(ok, mu / 3, mu * 4).clamp(1e-15, 1e15)
        losses.append(L)
        norms.append(g.norm(dim=1))
        bar.update(1, f"median loss {L.median().item():.4g}")
    history = FitHistory(torch.stack(losses), torch.stack(norms), torch.arange(steps + 1))
    return (theta[0] if inp.single else theta), history
