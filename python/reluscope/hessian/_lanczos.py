"""Batched Lanczos for the extreme eigenpairs of B symmetric operators, with the check that no
eigenvalue beyond the k-th was missed (``reluscope.hessian.spectrum.extreme_eigs`` states the
algorithm and its guarantees)."""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch

from ..progress import Progress
from .operators import BatchedLinearOperator


def select(k: int, which: str, n: int) -> torch.Tensor:
    """Indices of the k smallest / largest / both ("both": smallest then largest) of n ascending
    values."""
    small, large = torch.arange(k), torch.arange(n - k, n)
    return {"smallest": small, "largest": large, "both": torch.cat([small, large])}[which]


class _Side(NamedTuple):
    """The k wanted pairs at one end of the spectrum: values (B, k), vectors (B, k, P)."""
    values: torch.Tensor
    vectors: torch.Tensor


def lanczos(op: BatchedLinearOperator, k: int, which: str, m: int, tol: float,
            generator: Optional[torch.Generator], progress: bool,
            start: Optional[torch.Tensor] = None):
    """A Lanczos run for the k wanted pairs at each end (from ``start`` (B, P) where given: a
    warm start), then checks from fresh random vectors against the locked pairs (see
    ``extreme_eigs``). Returns values (B, wanted), vectors (B, wanted, P), true residuals
    (B, wanted) and converged (B,)."""
    B, P, _ = op.shape
    ends = ("smallest", "largest") if which == "both" else (which,)
    first = _run(op, m, k, k, ends, tol, generator, None, Progress(m, "lanczos", progress),
                 start)
    sides = [_Side(v, x) for v, x in zip(first.values, first.vectors)]
    gap = tol * first.scale
    converged, active = first.ok.clone(), first.ok.clone()
    for check in range(k + 1):
        if not bool(active.any()):
            break
        locked = torch.cat([s.vectors for s in sides], 1)
        steps = min(m, P - locked.shape[1])
        if steps == 0:  # the locked pairs span the space: no eigenvalue left to miss
            active[:] = False
            break
        found = _run(op, steps, k, 1, ends, tol, generator, locked,
                     Progress(steps, f"lanczos check {check + 1}", progress))
        new = torch.zeros_like(active)
        for i, end in enumerate(ends):
            sides[i], beyond = _merge(sides[i], found, i, end, gap, active)
            new |= beyond
        converged &= ~active | found.ok  # a check that did not converge proves nothing
        active &= found.ok & new
    converged &= ~active  # still finding new eigenvalues after k + 1 checks
    values = torch.cat([s.values for s in sides], 1)
    vectors = torch.cat([s.vectors for s in sides], 1)
    res = torch.linalg.vector_norm(op.matmat(vectors) - values[..., None] * vectors, dim=-1)
    converged &= (res <= tol * first.scale[:, None]).all(1)
    return values, vectors, res, converged


class _Run(NamedTuple):
    """One Lanczos run: per end, its min(k, n) most extreme Ritz values (B, c) ascending, their
    vectors (B, c, P) and whether their residual bounds met the tolerance (B, c); ok (B,): the
    run's stopping test passed; scale (B,): the largest |Ritz value| (estimate of ‖A‖_2)."""
    values: list
    vectors: list
    good: list
    ok: torch.Tensor
    scale: torch.Tensor


def _merge(side: _Side, found: _Run, i: int, end: str, gap: torch.Tensor, active: torch.Tensor):
    """side's k pairs with the check run's pairs at end i that met the tolerance and lie beyond
    side's k-th value by more than gap (B,) (only where active): the k most extreme of both,
    ascending. Returns the new side and (B,) whether any was beyond."""
    sign = 1.0 if end == "smallest" else -1.0  # signed so that "extreme" means "smallest"
    values, vectors = found.values[i], found.vectors[i]
    kth = (sign * side.values).amax(1)
    beyond = found.good[i] & active[:, None] & (sign * values < (kth - gap)[:, None])
    pool = torch.cat([sign * side.values,
                      torch.where(beyond, sign * values, torch.full_like(values, torch.inf))], 1)
    order = pool.argsort(1)[:, :side.values.shape[1]]
    order = order.flip(1) if end == "largest" else order
    pool_vectors = torch.cat([side.vectors, vectors], 1)
    merged = _Side(sign * pool.gather(1, order),
                   pool_vectors.gather(1, order[..., None].expand(-1, -1, pool_vectors.shape[2])))
    return merged, beyond.any(1)


def _run(op: BatchedLinearOperator, m: int, k: int, need: int, ends: tuple, tol: float,
         generator: Optional[torch.Generator], locked: Optional[torch.Tensor],
         bar: Progress, start: Optional[torch.Tensor] = None) -> _Run:
    """Batched Lanczos with full reorthogonalisation (twice), at most m steps, on the operator
    restricted to the orthogonal complement of ``locked`` (B, L, P) orthonormal vectors (None:
    the whole space; m <= P - L), from ``start`` (B, P) where given (rows of norm 0: random).
    Stops when the `need` most extreme Ritz pairs at every end have residual bounds
    |beta_n s_n| <= tol max|Ritz value| for every operator; returns the k most extreme at every
    end. An invariant subspace restarts the model's basis with a random
    vector orthogonal to it."""
    B, P, _ = op.shape
    opts = dict(dtype=op.dtype, device=op.device)
    tiny = torch.finfo(op.dtype).tiny
    Q = torch.zeros(B, m + 1, P, **opts)
    alpha = torch.zeros(B, m, **opts)
    beta = torch.zeros(B, m, **opts)

    def orthogonalise(r, bases):
        for _ in range(2):  # full reorthogonalisation, twice is enough
            for U in bases:
                r = r - torch.einsum("bjp,bj->bp", U, torch.einsum("bjp,bp->bj", U, r))
        return r

    def bases(j, rows=slice(None)):
        return [Q[rows, :j]] + ([] if locked is None else [locked[rows]])

    def random_unit(rows, j):
        n = B if isinstance(rows, slice) else int(rows.sum())
        r = torch.randn(n, P, generator=generator, dtype=op.dtype).to(op.device)
        r = orthogonalise(r, bases(j, rows))
        return r / torch.linalg.vector_norm(r, dim=1, keepdim=True)

    Q[:, 0] = random_unit(slice(None), 0)
    if start is not None:
        norm = torch.linalg.vector_norm(start, dim=1)
        given = norm > 0
        Q[given, 0] = start[given] / norm[given, None]
    for j in range(m):
        bar.update()
        q = Q[:, j]
        w = op.matvec(q)
        a = (w * q).sum(1)
        w = w - a[:, None] * q - (beta[:, j - 1, None] * Q[:, j - 1] if j > 0 else 0)
        w = orthogonalise(w, bases(j + 1))
        b = torch.linalg.vector_norm(w, dim=1)
        alpha[:, j], beta[:, j] = a, b
        if j + 1 < m:
            scale = alpha[:, :j + 1].abs().amax(1) + beta[:, :j + 1].amax(1)
            dead = b <= 1e-10 * scale.clamp_min(tiny)
            nxt = w / b.clamp_min(tiny)[:, None]
            if bool(dead.any()):
                nxt[dead] = random_unit(dead, j + 1)
                beta[dead, j] = 0
            Q[:, j + 1] = nxt
        n = j + 1
        # the stopping test: at n = 2, 4, 8 (a warm start can be done early), then every 10
        if n == m or (n >= need * len(ends) and (n % 10 == 0 or n in (2, 4, 8))):
            theta, S = torch.linalg.eigh(_tridiagonal(alpha[:, :n], beta[:, :n]))
            scale = theta.abs().amax(1).clamp_min(tiny)
            met = (beta[:, n - 1, None] * S[:, n - 1]).abs() <= tol * scale[:, None]
            ok = torch.stack([met[:, select(need, end, n).to(op.device)].all(1)
                              for end in ends]).all(0)
            if n == m or bool(ok.all()):
                break
    out = _Run([], [], [], ok, scale)
    for end in ends:
        sel = select(min(k, n), end, n).to(op.device)
        out.values.append(theta[:, sel])
        out.vectors.append(torch.einsum("bjp,bjc->bcp", Q[:, :n], S[:, :, sel]))
        out.good.append(met[:, sel])
    return out


def _tridiagonal(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """The Lanczos matrices T (B, n, n): diagonal alpha (B, n), off-diagonal beta[:, :n - 1]."""
    off = beta[:, :-1]
    return torch.diag_embed(alpha) + torch.diag_embed(off, 1) + torch.diag_embed(off, -1)
