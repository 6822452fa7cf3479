"""Full-batch gradient descent for B networks at once with exact curvature tracking (``gd``): the
workload of Edge-of-Stability and catapult studies, an eta-grid x seeds as one batch."""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Sequence, Union

import torch

from .._trajectory import TRACKABLE, GDTrace
from .._validate import check_count
from ..data import Data
from ..models.base import Model
from ..progress import Progress
from .. import _fused
from .operators import GaussNewton, Hessian
from .spectrum import DENSE_MAX_P, extreme_eigs

__all__ = ["GDTrace", "gd"]

def gd(model: Model, theta: torch.Tensor, data: Data, *, lr: Union[float, torch.Tensor],
       steps: int, every: int = 1, momentum: float = 0.0,
       track: Sequence[str] = ("sharpness",), max_loss: float = math.inf,
       method: str = "auto", progress: bool = False) -> GDTrace:
    """Full-batch gradient descent, v <- momentum v + grad L(theta), theta <- theta - lr v (heavy
    ball; plain GD at momentum 0), for B networks with a per-network step size.

    theta: (B, P) or (P,); lr: a number or (B,) tensor (an eta grid x seeds is one batch); steps:
    the number of updates; every: record every `every` steps (and at the last). track: any of
    "sharpness" (the largest algebraic eigenvalue of the Hessian) and "gn_sharpness" (the
    Gauss-Newton matrix's). method "auto": dense eigvalsh for P <= DENSE_MAX_P, batched
    Lanczos (``extreme_eigs``: residual below 1e-8 ||A||, which bounds the eigenvalue's error;
    seen at round-off) above, each record's first Lanczos run warm-started from the previous
    record's eigenvector (its checks start at random: the guarantee is unchanged); "dense" /
    "lanczos" force one. A network whose Lanczos did not converge is redone densely when
    P <= DENSE_MAX_P, else recorded as NaN with a RuntimeWarning — never an unconverged value.
    A network whose loss is non-finite or above max_loss is flagged diverged at that step and
    frozen; the others go on. Cost per step: one fused gradient pass;
    per record: one top eigenvalue per tracked operator (dense: O(N P^2 + P^3) per network).
    Every loss, both dtypes, CPU and CUDA. Not differentiable. Returns ``GDTrace``."""
    inp = _fused.check_inputs(model, theta, data)
    theta = inp.theta.detach().clone()
    B, P = theta.shape
    steps, every = check_count(steps, "steps", 0), check_count(every, "every", 1)
    track = tuple(track)
    bad = [t for t in track if t not in TRACKABLE]
    if bad:
        raise ValueError(f"track takes {TRACKABLE}, got {bad}")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or \
            not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if isinstance(max_loss, bool) or not isinstance(max_loss, numbers.Real) or \
            math.isnan(max_loss):
        raise ValueError(f"max_loss must be a number, got {max_loss!r}")
    eta = _rates(lr, theta)
    velocity = torch.zeros_like(theta)
    alive = torch.ones(B, dtype=torch.bool, device=theta.device)
    diverged_at = torch.full((B,), -1, dtype=torch.int64, device=theta.device)
    recorded = [s for s in range(0, steps + 1, every)]
    if recorded[-1] != steps:
        recorded.append(steps)
    T = len(recorded)
    nan = theta.new_full((B, T), math.nan)
    out = {name: nan.clone() for name in ("loss", "grad_norm", "param_norm", *track)}
    bar = Progress(steps, "gd", enabled=progress)
    lanczos = method == "lanczos" or (method == "auto" and P > DENSE_MAX_P)
    # each tracked operator's last top eigenvectors, the next record's Lanczos start
    start = {name: torch.zeros_like(theta) for name in track} if lanczos else {}
    col = 0
    for step in range(steps + 1):
        sums = _fused.run(inp._replace(theta=theta), _fused.Mode.grad)
        L, g = sums.loss, sums.grad
        blown = alive & (~torch.isfinite(L) | (L > max_loss) | ~torch.isfinite(g).all(1))
        diverged_at = torch.where(blown, step, diverged_at)
        alive &= ~blown
        if col < T and recorded[col] == step:
            rows = alive.nonzero()[:, 0]
            out["loss"][rows, col] = L[rows]
            out["grad_norm"][rows, col] = g[rows].norm(dim=1)
            out["param_norm"][rows, col] = theta[rows].norm(dim=1)
            if len(rows):
                sub = data if len(rows) == B else data.models(rows)
                for name, op in (("sharpness", Hessian), ("gn_sharpness", GaussNewton)):
                    if name in track:
                        v0 = start[name][rows] if lanczos else None
                        top, vec = _top(op(model, theta[rows], sub), lanczos, step, v0)
                        out[name][rows, col] = top
                        if lanczos:
                            start[name][rows] = vec
            col += 1
        if step == steps:
            break
        velocity = momentum * velocity + g if momentum else g
        theta = torch.where(alive[:, None], theta - eta[:, None] * velocity, theta)
        bar.update(1, f"{int(alive.sum())} of {B} running")
    diverged = diverged_at >= 0
    trace = GDTrace(theta, torch.tensor(recorded), out["loss"], out["grad_norm"],
                    out["param_norm"], out.get("sharpness"), out.get("gn_sharpness"), diverged,
                    diverged_at)
    if inp.single:
        trace = GDTrace(*(t[0] if isinstance(t, torch.Tensor) and name != "steps" else t
                          for name, t in zip(GDTrace._fields, trace)))
    return trace


def _top(op, lanczos: bool, step: int, v0):
    """The largest eigenvalue (B,) of op by the docstring's rule, and (Lanczos) its eigenvectors
    (B, P) (zero rows where not converged), the next record's start."""
    P = op.shape[1]
    if not lanczos:
        return extreme_eigs(op, k=1, which="largest", method="dense").values[:, 0], None
    r = extreme_eigs(op, k=1, which="largest", method="lanczos", return_vectors=True, v0=v0)
    top, vec = r.values[:, 0].clone(), r.vectors[:, 0] * r.converged[:, None]
    if bool(r.converged.all()):
        return top, vec
    bad = (~r.converged).nonzero()[:, 0]
    if P <= DENSE_MAX_P:
        top[bad] = torch.stack([extreme_eigs(op.network(b), k=1, which="largest",
                                             method="dense").values[0, 0] for b in bad.tolist()])
        return top, vec
    top[bad] = math.nan
    warnings.warn(f"gd: Lanczos did not converge for {len(bad)} network(s) at step {step} "
                  f"(P = {P} is too large for the dense fallback): their sharpness is NaN there",
                  RuntimeWarning, stacklevel=3)
    return top, vec


def _rates(lr, theta: torch.Tensor) -> torch.Tensor:
    """lr as a (B,) tensor of positive finite step sizes in theta's dtype and device."""
    B = theta.shape[0]
    if isinstance(lr, torch.Tensor):
        if lr.dim() > 1 or (lr.dim() == 1 and lr.shape[0] != B):
            raise ValueError(f"lr must be a number or a ({B},) tensor, got shape "
                             f"{tuple(lr.shape)}")
        eta = lr.to(dtype=theta.dtype, device=theta.device).expand(B).clone()
    elif isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        eta = theta.new_full((B,), float(lr))
    else:
        raise ValueError(f"lr must be a number or a ({B},) tensor, got {lr!r}")
    if not bool((torch.isfinite(eta) & (eta > 0)).all()):
        raise ValueError("lr must be positive and finite")
    return eta
