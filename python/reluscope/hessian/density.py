"""Spectral densities of B operators by batched stochastic Lanczos quadrature
(``spectral_density``), for networks whose P is too large for dense spectra (PyHessian's and
curvlinops' estimator, all networks and probes at once)."""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple, Optional

import torch

from .._validate import check_count
from .operators import BatchedLinearOperator
from .spectrum import _check_operator

__all__ = ["SpectralDensity", "spectral_density"]


class SpectralDensity(NamedTuple):
    """What ``spectral_density`` returns.

    grid (G,); density (B, G): the Gaussian-smoothed density (1/K) sum_k sum_i w_ki N(x; t_ki,
    sigma^2), integrating to ~1; nodes (B, K, m) the Ritz values t_ki of probe k; weights (B, K, m)
    the squared first components w_ki of their eigenvectors (sum_i w_ki = 1): probe k's
    quadrature, exact for polynomials of degree < 2m: sum_i w_ki t_ki^p = v_k^T A^p v_k / |v_k|^2;
    probes (B, K, P) the start vectors v_k; sigma (B,) the smoothing width used."""
    grid: torch.Tensor
    density: torch.Tensor
    nodes: torch.Tensor
    weights: torch.Tensor
    probes: torch.Tensor
    sigma: torch.Tensor


def spectral_density(op: BatchedLinearOperator, *, probes: int = 8, steps: int = 60,
                     grid: Optional[torch.Tensor] = None, points: int = 400,
                     sigma: Optional[float] = None,
                     generator: Optional[torch.Generator] = None) -> SpectralDensity:
    """Stochastic Lanczos quadrature for every operator of a batch: K = ``probes`` Rademacher
    start vectors per operator, m = min(``steps``, P) Lanczos steps each with full
    reorthogonalisation (all B K runs advance together through ``op.matmat``), the tridiagonal
    matrices' eigenpairs as quadrature nodes and weights, and a Gaussian-smoothed density.

    grid: (G,) points to evaluate on (default ``points`` points spanning every node +- 5 sigma);
    sigma: the smoothing width (default (t_max - t_min) / 100 per operator, the nodes' range).
    Cost: B K m products with the operator plus O(B K m^2 P) for the reorthogonalisation; memory
    B K m P. A run that meets an invariant subspace early (beta ~ 0) leaves zero-weight nodes."""
    _check_operator(op)
    B, P, _ = op.shape
    K = check_count(probes, "probes", 1)
    m = min(check_count(steps, "steps", 1), P)
    points = check_count(points, "points", 1)
    dtype, device = op.dtype, op.device
    signs = torch.randint(0, 2, (B, K, P), generator=generator).to(dtype=dtype, device=device)
    v = (2 * signs - 1) / math.sqrt(P)                       # unit Rademacher probes
    Q = torch.zeros(B, K, m, P, dtype=dtype, device=device)
    alpha = torch.zeros(B, K, m, dtype=dtype, device=device)
    beta = torch.zeros(B, K, m, dtype=dtype, device=device)   # beta[j]: between q_j and q_{j+1}
    q, q_prev = v, torch.zeros_like(v)
    eps = torch.finfo(dtype).eps
    for j in range(m):
        Q[:, :, j] = q
        w = op.matmat(q) - (beta[..., j - 1, None] * q_prev if j else 0.0)
        alpha[..., j] = (q * w).sum(-1)
        w = w - alpha[..., j, None] * q
        for _ in range(2):  # full reorthogonalisation against q_0 .. q_j
            w = w - torch.einsum("bkjp,bkj->bkp", Q[:, :, :j + 1],
                                 torch.einsum("bkjp,bkp->bkj", Q[:, :, :j + 1], w))
        if j + 1 < m:
            b = torch.linalg.vector_norm(w, dim=-1)
            scale = alpha[..., :j + 1].abs().amax(-1).clamp(min=1.0)
            alive = b > 1e3 * eps * scale
            beta[..., j] = torch.where(alive, b, torch.zeros_like(b))
            q_prev, q = q, torch.where(alive[..., None], w / b.clamp(min=1e-300)[..., None],
                                       torch.zeros_like(w))
    T = torch.diag_embed(alpha) + torch.diag_embed(beta[..., :-1], 1) + \
        torch.diag_embed(beta[..., :-1], -1)
    nodes, U = torch.linalg.eigh(T)
    weights = U[..., 0, :] ** 2
    lo, hi = nodes.flatten(1).amin(1), nodes.flatten(1).amax(1)
    if sigma is None:
        width = ((hi - lo) / 100).clamp(min=eps * hi.abs().clamp(min=1.0))
    else:
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not sigma > 0:
            raise ValueError(f"sigma must be a positive number, got {sigma!r}")
        width = torch.full((B,), float(sigma), dtype=dtype, device=device)
    if grid is None:
        grid = torch.linspace(float((lo - 5 * width).min()), float((hi + 5 * width).max()),
                              points, dtype=dtype, device=device)
    else:
        grid = torch.as_tensor(grid, dtype=dtype, device=device)
        if grid.dim() != 1:
            raise ValueError(f"grid must be 1-D, got shape {tuple(grid.shape)}")
    s = width[:, None, None, None]
    gauss = torch.exp(-0.5 * ((grid - nodes[..., None]) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    density = (weights[..., None] * gauss).sum(2).mean(1)
    return SpectralDensity(grid, density, nodes, weights, v, width)
