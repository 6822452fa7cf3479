"""``sgld``: stochastic-gradient Langevin dynamics localised at theta*, for B models x C chains at
once — the sampler behind the local learning coefficient (``reluscope.slt.llc``).

Every step is one call of the fused gradient kernel on all B C chains (the chain axis folded into
the kernel's batch of networks); the update is elementwise torch."""
from __future__ import annotations

import math
import numbers
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

from .._langevin import (SGLDResult, minibatch, minibatch_loss_factor, noise,
                         past_stability_limit, ran_away, runaway_bounds)
from ..data import Data
from .. import _fused
from ..models.base import Model
from ..progress import Progress

Scalar = Union[float, Tensor]
PRECONDITIONERS = (None, "rmsprop")


def sgld(model: Model, theta_star, data: Data, *, chains: int = 4, draws: int = 200,
         burn_in: int = 0, step_size: Scalar = 1e-4, n_beta: Optional[Scalar] = None,
         gamma: Scalar = 100.0, batch_size: Optional[int] = None,
         preconditioner: Optional[str] = None, rmsprop_alpha: float = 0.99,
         rmsprop_eps: float = 1.0, theta_every: int = 0,
         generator: Optional[torch.Generator] = None, progress: bool = False) -> SGLDResult:
    """SGLD chains started at theta*, localised there, for every model at once.

    Each of burn_in + draws steps, for each model b and chain c (theta* = theta_star[b]):

        g     = n_beta * grad L_m(theta) + gamma * (theta - theta*)
        theta <- theta - (eps / 2) g + sqrt(eps) xi,     xi ~ N(0, I)

    with L_m the loss of ``data`` (its loss, weights and importance; ``Data``'s docstring) on a
    minibatch of batch_size samples drawn for each chain and step with replacement, with
    probability proportional to the sample weight (so L_m is unbiased also for a weighted
    quadrature dataset), or on all of ``data`` when batch_size is None. The chains sample
    exp(-n_beta L_n(theta) - gamma ||theta - theta*||^2 / 2); gamma = 0 is unlocalised SGLD
    (devinterp's default), which needs a posterior that is normalisable on its own.
    The draws record L_m(theta) before each step past burn-in.

    Preconditioner "rmsprop" (pSGLD, Li et al. 2016): V <- alpha V + (1 - alpha) g^2 (V = 0 at
    the start), D = 1 / (rmsprop_eps + sqrt(V)), theta <- theta - (eps / 2) D g + sqrt(eps D) xi.
    D <= 1 / rmsprop_eps: with the default rmsprop_eps = 1 a preconditioned step is never longer
    than plain SGLD's (eps D <= eps), also from a critical point, where g = 0 leaves V = 0 (with
    rmsprop_eps = 1e-5 the first steps were 1e5 times plain SGLD's). Once V has warmed up,
    V ~ E[g_i^2] = E[d^2 U / d theta_i^2] >= gamma for a locally convex loss (integration by
    parts under the stationary law), so sqrt(V) >= 10 >> 1 = rmsprop_eps at the default gamma.
    V warms up over ~1 / (1 - alpha) steps, with D larger than it settles to: give it a burn-in.

    Flagged chains (``diverged``; ``llc`` gives NaN for their model):
    - runaways, at any step (burn-in included): the loss or parameters non-finite, or the loss
      or distance to theta* beyond the bound a chain sampling its localised posterior keeps to
      (``reluscope._langevin.runaway_bounds``: with E = n_beta L_n(theta*) + K(P),
      K(P) = 5 (P + 2 sqrt(40 P) + 80), the distance at most sqrt(2 E / gamma) and the loss at
      most E / n_beta, times sum w / min w on a minibatch);
    - on the full data (batch_size None), a draw taken with the step past SGLD's stability
      limit between theta* and the chain (``reluscope._langevin.past_stability_limit``):
      (eps / 2) |g(theta) - g(theta*)| > 2 |theta - theta*| (D-weighted with the
      preconditioner), which for a twice-differentiable loss means an eigenvalue of the Hessian
      of n_beta L + gamma |.|^2 / 2, averaged along the segment, past 4 / eps, where the Euler step
      grows instead of shrinking. Such a chain can oscillate in a bounded cycle, inside the
      runaway bound (a deep linear network at eps a_max = 5 gave llc ~20 where lambda = 2).
      Minibatch chains are not checked (the minibatch gradient's noise is no curvature): keep
      eps (n_beta lambda_max(H) + gamma) well below 2 there (``theory.gaussian_llc`` gives the
      step size's bias for a quadratic loss).

    Args:
        model, theta_star: the models and their centres, (B, P) or (P,) for one model.
        data: the dataset, N samples; X shared (N, d0) or per model (B, N, d0).
        chains, draws, burn_in: chains per model, recorded steps, unrecorded steps first.
        step_size (eps), n_beta: > 0, gamma >= 0, each a number or a (B,) tensor (one per model).
            n_beta defaults to N / log N (beta = 1 / log n) for uniform weights; weighted data
            (e.g. ``tms_quadrature``) has no sample size and needs it.
        batch_size: samples per minibatch (an integer >= 1), or None for all of the data.
        rmsprop_alpha in [0, 1), rmsprop_eps > 0 finite: the "rmsprop" preconditioner's.
        theta_every: keep theta every theta_every draws (0: none).
        generator: makes the chains reproducible; a CPU generator gives the same chains on
            every device.

    Cost per step: one gradient pass over B C chains x (batch_size or N) samples.
    """
    inp = _fused.check_inputs(model, theta_star, data)
    if inp.w.dim() == 2:
        raise ValueError(f"sgld takes sample weights shared by the models, (N,); this data has "
                         f"per-model weights {tuple(inp.w.shape)}")
    B, P = inp.theta.shape
    N = inp.X.shape[-2]
    for name, v, low in (("chains", chains, 1), ("draws", draws, 1), ("burn_in", burn_in, 0),
                         ("theta_every", theta_every, 0)):
        check_count(v, name, low)
    if batch_size is not None:
        check_count(batch_size, "batch_size", 1, "or None")
    if preconditioner not in PRECONDITIONERS:
        raise ValueError(f"preconditioner must be one of {PRECONDITIONERS}, got "
                         f"{preconditioner!r}")
    for name, v in (("rmsprop_alpha", rmsprop_alpha), ("rmsprop_eps", rmsprop_eps)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a number, got {type(v).__name__} {v!r}")
    if not 0 <= rmsprop_alpha < 1:
        raise ValueError(f"rmsprop_alpha must be in [0, 1), got {rmsprop_alpha!r}")
    if not (math.isfinite(rmsprop_eps) and rmsprop_eps > 0):
        raise ValueError(f"rmsprop_eps must be finite and > 0, got {rmsprop_eps!r}")
    if n_beta is None:
        n_beta = default_n_beta(inp.w)
    theta0 = inp.theta
    eps, nb, gam = (per_model(v, name, B, theta0, zero) for v, name, zero in
                    ((step_size, "step_size", False), (n_beta, "n_beta", False),
                     (gamma, "gamma", True)))
    C, rows = chains, B * chains
    star = theta0.repeat_interleave(C, 0)
    theta = star.clone()
    eps_r, nb_r, gam_r = (v.repeat_interleave(C)[:, None] for v in (eps, nb, gam))
    X, T = (t.repeat_interleave(C, 0) if t.dim() == 3 else t for t in (inp.X, inp.T))
    full = batch_size is None or batch_size >= N
    w_mb = None if full else inp.w.new_full((batch_size,), float(inp.w.sum()) / batch_size)
    square_avg = torch.zeros_like(theta) if preconditioner else None
    losses, dists, kept = [], [], []
    diverged = torch.zeros(rows, dtype=torch.bool, device=theta.device)
    bar = Progress(burn_in + draws, "sgld", enabled=progress)
    init_loss = _fused.run(inp, _fused.Mode.loss).loss
    bounds = runaway_bounds(*(v.repeat_interleave(C) for v in (init_loss, nb, gam)), P,
                            minibatch_loss_factor(inp.w, full))
    with torch.no_grad():
        for step in range(burn_in + draws):
            # a minibatch: the kernel reads the drawn rows of X and T in place (no gathered copy)
            idx = None if full else minibatch(generator, inp.w, rows, batch_size)
            step_inp = inp._replace(theta=theta, X=X, T=T, w=inp.w if full else w_mb)
            sums = _fused.run(step_inp, _fused.Mode.grad, rows=idx)
            dist = torch.linalg.vector_norm(theta - star, dim=1)
            diverged |= ran_away(sums.loss, dist, bounds) | ~torch.isfinite(theta).all(1)
            if step >= burn_in:
                losses.append(sums.loss)
                dists.append(dist)
                if theta_every and (step - burn_in + 1) % theta_every == 0:
                    kept.append(theta.clone())
            g = nb_r * sums.grad + gam_r * (theta - star)
            if step == 0:
                g_star = g.clone()  # the drift at theta* (full data: g(theta*))
            xi = noise(generator, rows, P, theta)
            D = None
            if square_avg is None:
                theta_next = theta - 0.5 * eps_r * g + eps_r.sqrt() * xi
            else:
                square_avg.mul_(rmsprop_alpha).addcmul_(g, g, value=1 - rmsprop_alpha)
                D = 1 / (rmsprop_eps + square_avg.sqrt())
                theta_next = theta - 0.5 * eps_r * D * g + (eps_r * D).sqrt() * xi
            if full and step >= burn_in:
                diverged |= past_stability_limit(g - g_star, theta - star, eps_r, D)
            theta = theta_next
            bar.update(1)
        diverged |= ~torch.isfinite(theta).all(1)

    def per_chain(trace: list) -> Tensor:
        return torch.stack(trace, -1).unflatten(0, (B, C))

    result = SGLDResult(per_chain(losses), per_chain(dists),
                        torch.stack(kept, 1).unflatten(0, (B, C)) if kept else None,
                        init_loss, nb, diverged.unflatten(0, (B, C)))
    return SGLDResult(*(None if r is None else r[0] for r in result)) if inp.single else result


def default_n_beta(w: Tensor) -> float:
    """n beta = n / log n with n = N for uniform weights (beta = 1 / log n, WBIC's)."""
    N = w.shape[0]
    if not bool((w == w[0]).all()):
        raise ValueError("data with non-uniform weights (e.g. a quadrature dataset) has no sample "
                         "size n: pass n_beta")
    if N < 2:
        raise ValueError("n_beta = n / log n needs n >= 2 samples; pass n_beta")
    return N / math.log(N)


def check_count(v, name: str, low: int, alternative: str = "") -> None:
    """TypeError unless v is an integer (not a bool), ValueError unless v >= low."""
    what = f"an integer >= {low}" + (f" {alternative}" if alternative else "")
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {type(v).__name__} {v!r}")
    if v < low:
        raise ValueError(f"{name} must be {what}, got {v!r}")


def per_model(v: Scalar, name: str, B: int, like: Tensor, zero: bool = False) -> Tensor:
    """A finite number > 0 (>= 0 where ``zero``) or (B,) tensor of them, as a (B,) tensor like
    ``like``."""
    low = ">= 0" if zero else "> 0"
    if (isinstance(v, bool) or not isinstance(v, (numbers.Real, Tensor, np.ndarray))
            or (isinstance(v, (Tensor, np.ndarray)) and not _real_dtype(v))):
        kind = type(v).__name__ + (f" of {v.dtype}" if hasattr(v, "dtype") else "")
        raise TypeError(f"{name} must be a number {low} or a ({B},) tensor, got {kind} {v!r}")
    t = torch.as_tensor(v, dtype=like.dtype).to(like.device)
    if t.dim() == 0:
        t = t.expand(B)
    if t.shape != (B,):
        raise ValueError(f"{name} must be a number or a ({B},) tensor, got shape {tuple(t.shape)}")
    if not bool((torch.isfinite(t) & ((t >= 0) if zero else (t > 0))).all()):
        raise ValueError(f"{name} must be finite and {low}, got {v}")
    return t.contiguous()


def _real_dtype(v) -> bool:
    """Whether a tensor or array holds real numbers (integers or floats, not bools or complex)."""
    if isinstance(v, Tensor):
        return not (v.dtype == torch.bool or v.is_complex())
    return v.dtype.kind in "iuf"
