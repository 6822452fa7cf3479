"""The smooth and sampled counterparts of the hypercube sums: Gaussian data X ~ N(0, Σ)
(``Gaussian``, with the closed form ``f_gaussian``), the nonlinear Gaussian data model
X = erf(gZ)/√Z(g), Z ~ N(0, Σ(ξ)) (``nonlinear_gaussian``), and Monte Carlo f over samples.

Σ(ξ)_ij = exp(−d(i,j)²/ξ²) with the circular distance d(i,j) = min(|i−j|, n−|i−j|). With
E[erf(aU) erf(bV)] = (2/π) arcsin(2ab ρ / √((1+2a²)(1+2b²))) for standard normals of correlation
ρ, the normaliser making Var X_i = 1 is Z(g) = (2/π) arcsin(2g²/(1+2g²)), and
Cov(X_i, X_j) = (2/π) arcsin(2g² Σ_ij/(1+2g²)) / Z(g).
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from .._validate import as_float_tensor, check_finite, check_ndim, same_dtype_device

__all__ = ["Gaussian", "f_gaussian", "f_monte_carlo", "nonlinear_gaussian",
           "nonlinear_gaussian_covariance"]


class Gaussian:
    """Gaussian data X ~ N(0, Σ): the smooth contrast to hypercube weights in ``flow`` and ``f``.
    Its f is ``f_gaussian`` (closed form) and its second moment is Σ."""

    def __init__(self, Sigma: torch.Tensor):
        Sigma = as_float_tensor(Sigma, "Sigma")
        if Sigma.dim() != 2 or Sigma.shape[0] != Sigma.shape[1]:
            raise ValueError(f"Sigma must be (n, n), got shape {tuple(Sigma.shape)}")
        check_finite(Sigma, "Sigma")
        if not torch.allclose(Sigma, Sigma.T):
            raise ValueError("Sigma must be symmetric")
        self.Sigma = Sigma
        self.n = Sigma.shape[0]

    def __repr__(self):
        return f"Gaussian(n={self.n})"


def f_gaussian(w: torch.Tensor, Sigma: torch.Tensor) -> torch.Tensor:
    """E[1(<w,X> ≥ 0) X] for X ~ N(0, Σ): Σw / sqrt(2π wᵀΣw). w (B, n) or (n,), Σ (n, n).
    Where wᵀΣw = 0 (w = 0, or w in Σ's null space) <w,X> = 0 almost surely, every point is a
    tie, and the value is E[X] = 0 (tie="include")."""
    w = as_float_tensor(w, "w")
    Sigma = as_float_tensor(Sigma, "Sigma")
    same_dtype_device(w, "w", Sigma=Sigma)
    if Sigma.shape != (w.shape[-1], w.shape[-1]):
        raise ValueError(f"Sigma must be ({w.shape[-1]}, {w.shape[-1]}), got {tuple(Sigma.shape)}")
    Sw = w @ Sigma  # Σ symmetric
    q = (w * Sw).sum(-1, keepdim=True)
    return torch.where(q > 0, Sw / torch.sqrt(2 * math.pi * q.clamp_min(torch.finfo(q.dtype).tiny)),
                       torch.zeros_like(Sw))


def _check_params(n: int, xi: float, g: float) -> None:
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    if not (xi > 0 and math.isfinite(xi)) or not (g > 0 and math.isfinite(g)):
        raise ValueError(f"xi and g must be finite and > 0, got xi={xi}, g={g}")


def _sigma(n: int, xi: float, dtype) -> torch.Tensor:
    i = torch.arange(n, dtype=dtype)
    d = (i[:, None] - i[None, :]).abs()
    d = torch.minimum(d, n - d)
    return torch.exp(-(d / xi) ** 2)


def _normaliser(g: float) -> float:
    return (2 / math.pi) * math.asin(2 * g * g / (1 + 2 * g * g))


def nonlinear_gaussian_covariance(n: int, xi: float, g: float, dtype=torch.float64) -> torch.Tensor:
    """Exact Cov(X) (n, n) of the nonlinear Gaussian model (unit diagonal)."""
    _check_params(n, xi, g)
    a = 2 * g * g / (1 + 2 * g * g)
    return (2 / math.pi) * torch.asin(a * _sigma(n, xi, torch.float64)).to(dtype) / _normaliser(g)


def nonlinear_gaussian(n_samples: int, n: int, xi: float, g: float,
                       generator: Optional[torch.Generator] = None,
                       dtype=torch.float64) -> torch.Tensor:
    """(n_samples, n) samples X = erf(gZ)/√Z(g), Z ~ N(0, Σ(ξ)) (CPU; move them as needed)."""
    _check_params(n, xi, g)
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    evals, evecs = torch.linalg.eigh(_sigma(n, xi, torch.float64))
    root = evecs * evals.clamp(min=0).sqrt()  # Σ = root rootᵀ, robust for nearly singular Σ
    Z = torch.randn(n_samples, n, generator=generator, dtype=torch.float64) @ root.T
    return (torch.erf(g * Z) / math.sqrt(_normaliser(g))).to(dtype)


def f_monte_carlo(w: torch.Tensor, X: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
    """(B, n) = mean over the samples X (M, n) of 1(<w,x> ≥ 0) x; w (B, n) or (n,)."""
    w = as_float_tensor(w, "w")
    X = as_float_tensor(X, "X")
    same_dtype_device(w, "w", X=X)
    check_ndim(X, "X", (2,), "(M, n)")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1, got {chunk!r}")
    if X.shape[0] < 1 or X.shape[1] != w.shape[-1]:
        raise ValueError(f"X must be (M >= 1, {w.shape[-1]}), got {tuple(X.shape)}")
    check_finite(w, "w")
    out = w.new_zeros(w.reshape(-1, w.shape[-1]).shape)
    wb = w.reshape(-1, w.shape[-1])
    for m0 in range(0, X.shape[0], chunk):
        x = X[m0:m0 + chunk]
        out += (wb @ x.T >= 0).to(w.dtype) @ x
    out /= X.shape[0]
    return out.reshape(w.shape)
