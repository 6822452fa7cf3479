"""Spectra of batched symmetric operators (``reluscope.hessian.operators``): every function takes
an operator, so the spectra of the Hessian, its Gauss-Newton part and its residual part (or of any
``DenseOperator``) come from the same code.

- ``eigvalsh``: all eigenvalues (dense).
- ``extreme_eigs``: the k smallest / largest eigenpairs, dense or by batched Lanczos.
- ``index``: the number of negative eigenvalues.
- ``trace``: exact, or Hutchinson's estimate.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple, Optional

import torch

from ..progress import Progress
from .operators import BatchedLinearOperator

__all__ = ["DENSE_MAX_P", "EigResult", "eigvalsh", "extreme_eigs", "index", "trace"]

#: Largest P for which extreme_eigs(method="auto") takes the dense eigensolver.
DENSE_MAX_P = 512
_WHICH = ("smallest", "largest", "both")
_METHODS = ("auto", "dense", "lanczos")


class EigResult(NamedTuple):
    """values (B, k); vectors (B, k, P) or None; residuals ||A v - lambda v|| (B, k)."""
    values: torch.Tensor
    vectors: Optional[torch.Tensor]
    residuals: torch.Tensor


def _positive_int(x, name: str) -> int:
    """x as an int >= 1; TypeError for non-integers (2.0 included), ValueError below 1."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {x!r}")
    if x < 1:
        raise ValueError(f"{name} must be >= 1, got {x}")
    return int(x)


def _check_operator(op) -> BatchedLinearOperator:
    if not isinstance(op, BatchedLinearOperator):
        raise TypeError("expected a reluscope.hessian operator (Hessian, GaussNewton, Residual, "
                        f"DenseOperator), got {type(op).__name__}")
    return op


def eigvalsh(op: BatchedLinearOperator) -> torch.Tensor:
    """All eigenvalues (B, P), ascending (dense: ``op.to_dense()`` then eigh)."""
    return torch.linalg.eigvalsh(_check_operator(op).to_dense())


def index(op: BatchedLinearOperator, *, tol: float = 1e-8) -> torch.Tensor:
    """Number of eigenvalues below -tol, per operator: (B,) int64 (dense)."""
    return (eigvalsh(op) < -tol).sum(1)


def trace(op: BatchedLinearOperator, *, n_probes: Optional[int] = None,
          generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Traces (B,). n_probes None: exact (products with the P unit vectors, in chunks, only the
    diagonal kept). Otherwise Hutchinson's estimate with n_probes Rademacher vectors per
    operator (unbiased, variance 2 ||A||_F^2 / n_probes minus the diagonal part)."""
    _check_operator(op)
    if n_probes is None:
        return op.diagonal().sum(1)
    n_probes = _positive_int(n_probes, "n_probes")
    B, P, _ = op.shape
    Z = torch.randint(0, 2, (B, n_probes, P), generator=generator).to(op.dtype) * 2 - 1
    Z = Z.to(op.device)
    return (Z * op.matmat(Z)).sum(-1).mean(1)


def _select(k: int, which: str, n: int) -> torch.Tensor:
    small, large = torch.arange(k), torch.arange(n - k, n)
    return {"smallest": small, "largest": large, "both": torch.cat([small, large])}[which]


def extreme_eigs(op: BatchedLinearOperator, *, k: int = 1, which: str = "smallest",
                 return_vectors: bool = False, method: str = "auto",
                 max_iter: Optional[int] = None, tol: Optional[float] = None,
                 generator: Optional[torch.Generator] = None, progress: bool = False) -> EigResult:
    """The k smallest / largest eigenpairs of every operator ("both": 2k values, the k smallest
    then the k largest, ascending within each group).

    method: "dense" (``op.to_dense()`` + eigh), "lanczos" (batched Lanczos on ``op.matvec`` with
    full reorthogonalisation, all B operators advancing together; max_iter Krylov steps,
    default min(P, max(100, 10 k)); stops when every wanted residual is below tol * |lambda|_max,
    tol default 1e-8 for float64 and 1e-4 for float32), or "auto" (dense when P <= DENSE_MAX_P).
    progress: a progress bar of the Lanczos steps on stderr (``reluscope.progress``).
    """
    _check_operator(op)
    B, P, _ = op.shape
    k = _positive_int(k, "k")
    if max_iter is not None:
        max_iter = _positive_int(max_iter, "max_iter")
    if tol is not None and not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if which not in _WHICH:
        raise ValueError(f"which must be one of {_WHICH}, got {which!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if (2 * k if which == "both" else k) > P:
        raise ValueError(f"k={k} with which={which!r} asks for more eigenvalues than P={P}")
    if method == "dense" or (method == "auto" and P <= DENSE_MAX_P):
        A = op.to_dense()
        evals, evecs = torch.linalg.eigh(A)
        sel = _select(k, which, P).to(A.device)
        values, vecs = evals[:, sel], evecs[:, :, sel]
        res = torch.linalg.vector_norm(A @ vecs - vecs * values[:, None, :], dim=1)
        return EigResult(values, vecs.transpose(1, 2).contiguous() if return_vectors else None, res)
    if tol is None:
        tol = 1e-8 if op.dtype == torch.float64 else 1e-4
    m = min(P, max_iter if max_iter is not None else max(100, 10 * k))
    return _lanczos(op, k, which, m, tol, generator, return_vectors, progress)


def _lanczos(op: BatchedLinearOperator, k: int, which: str, m: int, tol: float,
             generator: Optional[torch.Generator], return_vectors: bool,
             progress: bool) -> EigResult:
    """Batched Lanczos with full reorthogonalisation (twice), m steps at most; an invariant
    subspace restarts the model's basis with a random vector orthogonal to it."""
    B, P, _ = op.shape
    opts = dict(dtype=op.dtype, device=op.device)
    tiny = torch.finfo(op.dtype).tiny
    Q = torch.zeros(B, m + 1, P, **opts)
    alpha = torch.zeros(B, m, **opts)
    beta = torch.zeros(B, m, **opts)

    def random_unit(n):
        r = torch.randn(n, P, generator=generator, dtype=op.dtype).to(op.device)
        return r / torch.linalg.vector_norm(r, dim=1, keepdim=True)

    def orthogonalise(r, basis):
        for _ in range(2):  # full reorthogonalisation, twice is enough
            r = r - torch.einsum("bjp,bj->bp", basis, torch.einsum("bjp,bp->bj", basis, r))
        return r

    Q[:, 0] = random_unit(B)
    bar = Progress(m, "lanczos", enabled=progress)
    for j in range(m):
        bar.update()
        q = Q[:, j]
        w = op.matvec(q)
        a = (w * q).sum(1)
        w = w - a[:, None] * q - (beta[:, j - 1, None] * Q[:, j - 1] if j > 0 else 0)
        w = orthogonalise(w, Q[:, :j + 1])
        b = torch.linalg.vector_norm(w, dim=1)
        alpha[:, j], beta[:, j] = a, b
        if j + 1 < m:
            scale = alpha[:, :j + 1].abs().amax(1) + beta[:, :j + 1].amax(1)
            dead = b <= 1e-10 * scale.clamp_min(tiny)
            nxt = w / b.clamp_min(tiny)[:, None]
            if bool(dead.any()):
                r = orthogonalise(random_unit(int(dead.sum())), Q[dead, :j + 1])
                nxt[dead] = r / torch.linalg.vector_norm(r, dim=1, keepdim=True)
                beta[dead, j] = 0
            Q[:, j + 1] = nxt
        n = j + 1
        if n >= (2 * k if which == "both" else k) and (n % 10 == 0 or n == m):
            values, S, res = _ritz(alpha[:, :n], beta[:, :n], k, which)
            scale = values.abs().amax(1, keepdim=True).clamp_min(tiny)
            if n == m or bool((res <= tol * scale).all()):
                break
    vectors = torch.einsum("bjp,bjk->bkp", Q[:, :n], S) if return_vectors else None
    return EigResult(values, vectors, res)


def _ritz(alpha, beta, k, which):
    """Ritz values, vectors (in the Krylov basis) and residual bounds of the wanted pairs."""
    n = alpha.shape[1]
    Tm = torch.diag_embed(alpha) + torch.diag_embed(beta[:, :n - 1], 1) + \
        torch.diag_embed(beta[:, :n - 1], -1)
    evals, S = torch.linalg.eigh(Tm)
    sel = _select(k, which, n).to(alpha.device)
    return evals[:, sel], S[:, :, sel], (beta[:, n - 1, None] * S[:, n - 1, sel]).abs()
