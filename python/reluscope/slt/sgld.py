"""``sgld``: stochastic-gradient Langevin dynamics localised at theta*, for B models x C chains at
once — the sampler behind the local learning coefficient (``reluscope.slt.llc``).

Every step is one call of the fused gradient kernel on all B C chains (the chain axis folded into
the kernel's batch of networks); the update is elementwise torch."""
from __future__ import annotations

import math
from typing import Optional, Union

import torch
from torch import Tensor

from .._langevin import SGLDResult, minibatch, noise
from ..data import Data
from ..hessian import _kernel
from ..models.base import Model
from ..progress import Progress

Scalar = Union[float, Tensor]
PRECONDITIONERS = (None, "rmsprop")


def sgld(model: Model, theta_star, data: Data, *, chains: int = 4, draws: int = 200,
         burn_in: int = 0, step_size: Scalar = 1e-4, n_beta: Optional[Scalar] = None,
         gamma: Scalar = 100.0, batch_size: Optional[int] = None,
         preconditioner: Optional[str] = None, rmsprop_alpha: float = 0.99,
         rmsprop_eps: float = 1e-5, theta_every: int = 0,
         generator: Optional[torch.Generator] = None, progress: bool = False) -> SGLDResult:
    """SGLD chains started at theta*, localised there, for every model at once.

    Each of burn_in + draws steps, for each model b and chain c (theta* = theta_star[b]):

        g     = n_beta * grad L_m(theta) + gamma * (theta - theta*)
        theta <- theta - (eps / 2) g + sqrt(eps) xi,     xi ~ N(0, I)

    with L_m the loss of ``data`` (its loss, weights and importance; ``Data``'s docstring) on a
    minibatch of batch_size samples drawn for each chain and step with replacement, with
    probability proportional to the sample weight (so L_m is unbiased also for a weighted
    quadrature dataset), or on all of ``data`` when batch_size is None. With
    preconditioner="rmsprop" (pSGLD, Li et al. 2016): V <- alpha V + (1 - alpha) g^2,
    D = 1 / (rmsprop_eps + sqrt(V)), theta <- theta - (eps / 2) D g + sqrt(eps D) xi.
    The draws record L_m(theta) before each step past burn-in.

    Args:
        model, theta_star: the models and their centres, (B, P) or (P,) for one model.
        data: the dataset, N samples; X shared (N, d0) or per model (B, N, d0).
        chains, draws, burn_in: chains per model, recorded steps, unrecorded steps first.
        step_size (eps), n_beta, gamma: > 0, each a number or a (B,) tensor (one per model).
            n_beta defaults to N / log N (beta = 1 / log n) for uniform weights; weighted data
            (e.g. ``tms_quadrature``) has no sample size and needs it.
        theta_every: keep theta every theta_every draws (0: none).
        generator: makes the chains reproducible; a CPU generator gives the same chains on
            every device.

    Cost per step: one gradient pass over B C chains x (batch_size or N) samples.
    """
    inp = _kernel.check_inputs(model, theta_star, data)
    if inp.w.dim() == 2:
        raise ValueError(f"sgld takes sample weights shared by the models, (N,); this data has "
                         f"per-model weights {tuple(inp.w.shape)}")
    B, P = inp.theta.shape
    N = inp.X.shape[-2]
    for name, v, low in (("chains", chains, 1), ("draws", draws, 1), ("burn_in", burn_in, 0),
                         ("theta_every", theta_every, 0)):
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    if preconditioner not in PRECONDITIONERS:
        raise ValueError(f"preconditioner must be one of {PRECONDITIONERS}, got "
                         f"{preconditioner!r}")
    if not 0 <= rmsprop_alpha < 1 or not rmsprop_eps > 0:
        raise ValueError("rmsprop_alpha must be in [0, 1) and rmsprop_eps > 0")
    if n_beta is None:
        n_beta = default_n_beta(inp.w)
    theta0 = inp.theta
    eps, nb, gam = (per_model(v, name, B, theta0) for v, name in
                    ((step_size, "step_size"), (n_beta, "n_beta"), (gamma, "gamma")))
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
    init_loss = _kernel.run(model.spec, theta0, inp.X, inp.T, inp.w, inp.imp, inp.loss,
                            _kernel.Mode.loss).loss.clone()
    with torch.no_grad():
        for step in range(burn_in + draws):
            if full:
                Xb, Tb, wb = X, T, inp.w
            else:
                idx = minibatch(generator, inp.w, rows, batch_size)
                Xb, wb = _gather(X, idx, rows), w_mb
                Tb = Xb if T is X else _gather(T, idx, rows)  # autoencoders (TMS): one gather
            sums = _kernel.run(model.spec, theta, Xb, Tb, wb, inp.imp, inp.loss,
                               _kernel.Mode.grad)
            diverged |= ~torch.isfinite(sums.loss) | ~torch.isfinite(theta).all(1)
            if step >= burn_in:
                losses.append(sums.loss.clone())
                dists.append(torch.linalg.vector_norm(theta - star, dim=1))
                if theta_every and (step - burn_in + 1) % theta_every == 0:
                    kept.append(theta.clone())
            g = nb_r * sums.grad + gam_r * (theta - star)
            xi = noise(generator, rows, P, theta)
            if square_avg is None:
                theta += -0.5 * eps_r * g + eps_r.sqrt() * xi
            else:
                square_avg.mul_(rmsprop_alpha).addcmul_(g, g, value=1 - rmsprop_alpha)
                D = 1 / (rmsprop_eps + square_avg.sqrt())
                theta += -0.5 * eps_r * D * g + (eps_r * D).sqrt() * xi
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


def per_model(v: Scalar, name: str, B: int, like: Tensor) -> Tensor:
    """A positive finite number or (B,) tensor as a (B,) tensor like ``like``."""
    t = torch.as_tensor(v, dtype=like.dtype).to(like.device)
    if t.dim() == 0:
        t = t.expand(B)
    if t.shape != (B,):
        raise ValueError(f"{name} must be a number or a ({B},) tensor, got shape {tuple(t.shape)}")
    if not bool((torch.isfinite(t) & (t > 0)).all()):
        raise ValueError(f"{name} must be finite and > 0, got {v}")
    return t.contiguous()


def _gather(t: Tensor, idx: Tensor, rows: int) -> Tensor:
    """Rows of samples t[idx]: t (N, k) shared or (rows, N, k) per chain -> (rows, m, k)."""
    if t.dim() == 2:
        return t[idx]
    return t[torch.arange(rows, device=t.device)[:, None], idx]
