"""Critical points of any index for B networks at once (``critical_points``): Levenberg-Marquardt
on the residual r = grad L, whose Jacobian is the Hessian H, i.e. damped Gauss-Newton on
(1/2) ||grad L||^2; and starting points along training trajectories (``training_starts``).

The step, per network: delta(mu) = -(H^2 + mu s I)^-1 H g, g = grad L(theta),
s = ||H g||^2 / ||g||^2 (the curvature of (1/2)||g||^2 along g: mu is scale-free). Near a critical
point with H nonsingular the step tends to Newton's, -H^-1 g, which converges quadratically to
critical points of every index (it is not repelled by saddles as descent methods are). Its fixed
points also include minima of ||g||^2 with g != 0: H g = 0, g in H's (near-)kernel — gradient-flat
points (Frye et al. 2021), which such methods are known to reach. They are flagged, never reported
as critical.

Solvers: "dense" — the fused full Hessian (B P^2 memory, ``HESSIAN_MAX_BYTES``) and its batched
eigendecomposition, delta(mu) = -V diag(lambda / (lambda^2 + mu s)) V^T g for the trial dampings
mu * TRIALS at once (one Hessian, len(TRIALS) gradients per step); the step with the smallest
||g|| is taken when it lowers ||g||, and mu becomes its damping; else mu grows 10^4-fold. "cg" —
conjugate gradients on (H^2 + mu s I) delta = -H g with two fused Hessian-vector products per
iteration (B P memory), for large P, one damping per step: mu / 3 after an accepted step, 4 mu
after a rejected one. Cost per step: dense O(N P^2 + P^3 + len(TRIALS) N P), cg O(iters N P) per
network.
"""
from __future__ import annotations

import math
import numbers
from typing import Optional

import torch

from .._critical_search import MU_MAX, STALL_FACTOR, TRIALS, CriticalPointSearch, IndexResult
from .._validate import check_count
from ..data import Data
from ..models.base import Model
from ..progress import Progress
from .. import _fused
from .operators import HESSIAN_MAX_BYTES
from .products import dense_hessian, hvp, value_and_grad
from .critical import classify
from .spectrum import dense_eigh
from .training import fit

__all__ = ["CriticalPointSearch", "critical_points", "training_starts"]

#: dense up to this many parameters in solver "auto", cg above.
DENSE_SOLVER_MAX_P = 1024


def critical_points(model: Model, theta0: torch.Tensor, data: Data, *, steps: int = 100,
                    grad_tol: Optional[float] = None, damping: float = 1e-3,
                    flat_tol: float = 1e-4, solver: str = "auto", cg_iters: Optional[int] = None,
                    patience: Optional[int] = None,
                    progress: bool = False) -> CriticalPointSearch:
    """Drive B networks from theta0 (B, P) (or (P,)) to critical points of any index.

    steps: at most this many iterations (each: one Hessian or cg_iters Hessian-vector product
    pairs, and the gradients at the candidates). grad_tol: a network converges when
    ||grad L|| <= grad_tol (default sqrt(eps) of the dtype: 1.5e-8 float64, 3.5e-4 float32) and
    then stops. damping: the initial mu (module docstring). flat_tol: the gradient-flat test
    (``CriticalPointSearch``). solver: "dense", "cg" or "auto" (dense for P <=
    DENSE_SOLVER_MAX_P). cg_iters: CG iterations per step (default min(P, 50)). A network also
    stops when its damping exceeds MU_MAX (stalled), and, with ``patience`` k, when after a step
    its ||g|| is above STALL_FACTOR (1/2) times its ||g|| k steps before: searches that creep
    towards a gradient-flat region or a degenerate point stop early, so a fixed budget of steps
    serves more starts (default None: no such stop). The final index takes two dense Hessians and
    eigendecompositions per network and the gradient-flat test one more per unconverged network,
    for every solver (so B P^2 must fit HESSIAN_MAX_BYTES: checked before the search). Ctrl-C
    stops within the kernels' ~1 s.

    Returns ``CriticalPointSearch``.
    """
    inp = _fused.check_inputs(model, theta0, data)
    theta = inp.theta.detach().clone()
    B, P = theta.shape
    steps = check_count(steps, "steps")
    grad_tol = math.sqrt(torch.finfo(theta.dtype).eps) if grad_tol is None else \
        _positive(grad_tol, "grad_tol")
    damping, flat_tol = _positive(damping, "damping"), _positive(flat_tol, "flat_tol")
    if solver not in ("auto", "dense", "cg"):
        raise ValueError(f"solver must be 'auto', 'dense' or 'cg', got {solver!r}")
    dense = solver == "dense" or (solver == "auto" and P <= DENSE_SOLVER_MAX_P)
    cg_iters = min(P, 50) if cg_iters is None else check_count(cg_iters, "cg_iters", low=1)
    patience = None if patience is None else check_count(patience, "patience", low=1)
    if B * P * P * theta.element_size() > HESSIAN_MAX_BYTES:
        raise MemoryError(f"the final index needs {B} dense Hessians of {P} x {P} "
                          f"({B * P * P * theta.element_size() / 2**30:.1f} GiB), above "
                          f"HESSIAN_MAX_BYTES: search fewer networks per call")

    L, g = value_and_grad(model, theta, data)
    mu = theta.new_full((B,), damping)
    taken = torch.zeros(B, dtype=torch.int64, device=theta.device)
    active = g.norm(dim=1) > grad_tol
    history = [g.norm(dim=1)]      # ||g|| after each step, for patience
    bar = Progress(steps, "critical_points", enabled=progress)
    for k in range(1, steps + 1):
        rows = active.nonzero()[:, 0]
        if not len(rows):
            break
        sub = data if len(rows) == B else data.models(rows)
        th, gr, m = theta[rows], g[rows], mu[rows]
        if dense:
            cand, Lc, gc, m_new, ok = _dense_step(model, th, sub, gr, m)
        else:
            cand, Lc, gc, m_new, ok = _cg_step(model, th, sub, gr, m, cg_iters)
        theta[rows] = torch.where(ok[:, None], cand, th)
        L[rows] = torch.where(ok, Lc, L[rows])
        g[rows] = torch.where(ok[:, None], gc, gr)
        mu[rows] = m_new.clamp(min=1e-15)
        taken[rows] += 1
        history.append(g.norm(dim=1))
        active[rows] = (history[k][rows] > grad_tol) & (mu[rows] <= MU_MAX)
        if patience is not None and k >= patience:
            active &= history[k] <= STALL_FACTOR * history[k - patience]
        bar.update(1, f"{int(active.sum())} of {B} searching")

    gnorm = g.norm(dim=1)
    found = classify(model, theta, data, grad_tol=math.inf)
    converged = gnorm <= grad_tol
    flat = torch.zeros_like(converged)
    rows = (~converged).nonzero()[:, 0]      # the gradient-flat test, for the others only
    if len(rows):
        sub = data if len(rows) == B else data.models(rows)
        th, gr = theta[rows], g[rows]
        norm2 = dense_eigh(dense_hessian(model, th, sub), vectors=False).abs().amax(1)  # ||H||_2
        flat[rows] = hvp(model, th, sub, gr).norm(dim=1) <= flat_tol * norm2 * gnorm[rows]
    out = CriticalPointSearch(theta, L, _energy(L, data, model), gnorm, converged, found.index,
                              flat, taken)
    if inp.single:
        out = CriticalPointSearch(*(t[0] if isinstance(t, torch.Tensor) else
                                    IndexResult(*(u[0] for u in t)) for t in out))
    return out


def _dense_step(model, theta, data, g, mu):
    """The dense solver's step (module docstring): (candidate (b, P), its loss, its gradient, the
    new mu, whether the candidate is taken)."""
    lam, V = dense_eigh(dense_hessian(model, theta, data))
    q = (V.mT @ g[..., None])[..., 0]
    s = _scale((lam * q).norm(dim=1), g)
    trials = mu[None, :] * torch.tensor(TRIALS, dtype=mu.dtype, device=mu.device)[:, None]
    coef = lam * q / (lam ** 2 + (trials * s)[..., None])                # (K, b, P)
    cand = theta - (coef.transpose(0, 1) @ V.mT).transpose(0, 1)        # V coef, one bmm
    K, b, P = cand.shape
    finite = torch.isfinite(cand).all(-1)
    cand = torch.where(finite[..., None], cand, theta)     # a non-finite step stays put (rejected)
    tiled = data.models(torch.arange(b, device=theta.device).repeat(K))  # K copies of the batch
    Lc, gc = value_and_grad(model, cand.reshape(K * b, P), tiled)
    Lc, gc = Lc.reshape(K, b), gc.reshape(K, b, P)
    norm = torch.nan_to_num(gc.norm(dim=2), nan=math.inf)
    best = norm.argmin(0)
    pick = torch.arange(b, device=theta.device)
    ok = norm[best, pick] < g.norm(dim=1)
    return (cand[best, pick], Lc[best, pick], gc[best, pick],
            torch.where(ok, trials[best, pick], mu * 1e4), ok)


def _cg_step(model, theta, data, g, mu, iters: int):
    """The cg solver's step (module docstring), as ``_dense_step``: delta solves
    (H^2 + mu s I) delta = -H g by conjugate gradients, A v = H (H v) + mu s v (two fused
    Hessian-vector products per iteration), from delta = 0, stopped after iters iterations or at a
    relative residual of 1e-10 per network."""
    Hg = hvp(model, theta, data, g)
    shift = (mu * _scale(Hg.norm(dim=1), g))[:, None]
    x = torch.zeros_like(g)
    r = -Hg
    p = r.clone()
    rr = (r * r).sum(1)
    stop = rr.sqrt() * 1e-10
    for _ in range(iters):
        Ap = hvp(model, theta, data, hvp(model, theta, data, p)) + shift * p
        pAp = (p * Ap).sum(1)
        alpha = torch.where(pAp > 0, rr / pAp, torch.zeros_like(rr))
        x = x + alpha[:, None] * p
        r = r - alpha[:, None] * Ap
        rr_new = (r * r).sum(1)
        if bool((rr_new.sqrt() <= stop).all()):
            break
        p = r + torch.where(rr > 0, rr_new / rr, torch.zeros_like(rr))[:, None] * p
        rr = rr_new
    cand = theta + x
    finite = torch.isfinite(cand).all(1)
    cand = torch.where(finite[:, None], cand, theta)
    Lc, gc = value_and_grad(model, cand, data)
    ok = finite & (gc.norm(dim=1) < g.norm(dim=1))
    return cand, Lc, gc, torch.where(ok, mu / 3, mu * 4), ok


def _scale(Hg_norm: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """s = ||H g||^2 / ||g||^2, or 1 where that is 0 or not finite."""
    s = (Hg_norm / g.norm(dim=1)) ** 2
    return torch.where(torch.isfinite(s) & (s > 0), s, torch.ones_like(s))


def _energy(L: torch.Tensor, data: Data, model: Model) -> torch.Tensor:
    """The class docstring's energy."""
    w = data.w.sum(-1)
    if data.loss == "mse":
        w = 2 * w * data.importance_for(model.layers[-1].d_out).sum()
    return L / w


def training_starts(model: Model, theta0: torch.Tensor, data: Data, *, snapshots: int,
                    every: int, lr: float, optimizer: str = "sgd") -> torch.Tensor:
    """Points along training trajectories, the way Pennington & Bahri seed the search at many
    energies: train all B networks from theta0 (B, P) with ``fit`` and keep theta after every
    ``every`` steps, ``snapshots`` times. Returns (snapshots, B, P) (index [k, b]: network b after
    (k + 1) every steps; one network: (snapshots, P)). The optimizer restarts at each snapshot
    (no state carried: exact for plain SGD)."""
    snapshots = check_count(snapshots, "snapshots", low=1)
    every = check_count(every, "every", low=1)
    theta, out = theta0, []
    for _ in range(snapshots):
        theta, _ = fit(model, theta, data, optimizer=optimizer, lr=lr, steps=every,
                       progress=False)
        out.append(theta)
    return torch.stack(out)


def _positive(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not (0 < x < math.inf):
        raise ValueError(f"{name} must be a positive finite number, got {x!r}")
    return float(x)
