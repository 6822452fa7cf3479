"""Hessian engine: batched loss, gradient, Hessian-vector and Gauss-Newton-vector products, full
Hessians and eigenvalues for B networks of one architecture at once (fused C++/CUDA kernels).

Loss convention (every call): for model b,

    L_b(theta_b) = sum_n w_n * || u ⊙ (y(x_n; theta_b) - t_n) ||^2

with sample weights w (default 1/N: the mean squared error *without* a factor 1/2) and per-output
importance u (default 1). The Hessian splits as H = H0 + H1: H0 = sum_n J_n^T diag(2 w_n u^2) J_n
is the Gauss-Newton part (``gnvp``, ``gauss_newton``; positive semi-definite), H1 = H - H0 the
residual part.

ReLU and leaky ReLU have sigma'' = 0 almost everywhere: ``hvp`` and ``hessian`` give the Hessian of
the piecewise-smooth loss at points where no pre-activation is exactly 0 (with relu'(0) = 0, as
torch autograd). At a kink the loss is not twice differentiable; choose data off the kinks.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

import numpy as np
import torch

from ._ext import _core, cuda_stream
from ._validate import as_float_tensor, check_finite, check_ndim, same_dtype_device
from .models import Model

__all__ = ["Data", "EigResult", "FitHistory", "eigvalsh", "extreme_eigs", "fit", "gauss_newton",
           "gnvp", "hessian", "hvp", "index", "levenberg_marquardt", "loss", "tms_quadrature", "trace", "value_and_grad"]

#: Largest dense (B, P, P) result ``hessian``/``gauss_newton`` build, in bytes.
HESSIAN_MAX_BYTES = 4 << 30
#: Largest P for which method="auto" picks the dense eigensolver.
DENSE_MAX_P = 512

_MODE_LOSS, _MODE_GRAD, _MODE_HVP, _MODE_GNVP = 0, 1, 2, 3
_CUDA_BLOCK = 128          # threads per block of csrc/hessian/hessian_cuda.cu
_CUDA_MAX_BLOCKS = 2048    # bounds the CUDA scratch workspace
_CUDA_SAMPLES_PER_CHUNK = 512
_PART_BUDGET = 1 << 25     # values of partial sums one kernel call may allocate
_CUDA_WORKSPACE_BYTES = 1 << 30  # CUDA scratch per call (fewer blocks for very wide nets)


@dataclass
class Data:
    """A (weighted) dataset, validated once.

    Attributes:
        X: inputs, (N, d0) shared by all models or (B, N, d0) per model.
        T: targets, (N, d_out) or (B, N, d_out).
        weights: (N,) sample weights w_n; default 1/N.
        importance: (d_out,) per-output importance u; default 1.

    The loss is L_b = sum_n w_n || u ⊙ (y(x_n; theta_b) - t_n) ||^2.
    """

    X: torch.Tensor
    T: torch.Tensor
    weights: Optional[torch.Tensor] = None
    importance: Optional[torch.Tensor] = None
    w: torch.Tensor = field(init=False, repr=False)
    u2: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        X = as_float_tensor(self.X, "X")
        T = as_float_tensor(self.T, "T")
        same_dtype_device(X, "X", T=T, weights=self.weights, importance=self.importance)
        check_ndim(X, "X", (2, 3), "(N, d0) or (B, N, d0)")
        check_ndim(T, "T", (2, 3), "(N, d_out) or (B, N, d_out)")
        N = X.shape[-2]
        if N == 0:
            raise ValueError(f"X has no samples: shape {tuple(X.shape)}")
        if T.shape[-2] != N or (X.dim() == 3 and T.dim() == 3 and T.shape[0] != X.shape[0]):
            raise ValueError(f"T {tuple(T.shape)} does not match X {tuple(X.shape)}")
        if self.weights is None:
            w = X.new_full((N,), 1.0 / N)
        else:
            w = as_float_tensor(self.weights, "weights")
            if w.shape != (N,):
                raise ValueError(f"weights must be ({N},), got {tuple(w.shape)}")
        if self.importance is None:
            u2 = T.new_ones(T.shape[-1])
        else:
            u = as_float_tensor(self.importance, "importance")
            if u.shape != (T.shape[-1],):
                raise ValueError(f"importance must be ({T.shape[-1]},), got {tuple(u.shape)}")
            u2 = u * u
        for name, t in (("X", X), ("T", T), ("weights", w), ("importance", u2)):
            check_finite(t, name)
        self.X, self.T = X.contiguous(), T.contiguous()
        self.w, self.u2 = w.contiguous(), u2.contiguous()

    @property
    def N(self) -> int:
        return self.X.shape[-2]


def _check(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Validate theta against model and data; returns theta contiguous."""
    if not isinstance(data, Data):
        raise TypeError(f"data must be a reluscope.hessian.Data, got {type(data).__name__}")
    theta = as_float_tensor(theta, "theta")
    model.check_theta(theta)
    same_dtype_device(theta, "theta", X=data.X)
    B = theta.shape[0]
    if data.X.shape[-1] != model.d_in:
        raise ValueError(f"X has {data.X.shape[-1]} features but {model!r} takes {model.d_in}")
    if data.T.shape[-1] != model.d_out:
        raise ValueError(f"T has {data.T.shape[-1]} outputs but {model!r} gives {model.d_out}")
    for name, t in (("X", data.X), ("T", data.T)):
        if t.dim() == 3 and t.shape[0] != B:
            raise ValueError(f"{name} is per model with {t.shape[0]} models but theta has B={B}")
    check_finite(theta, "theta")
    return theta.contiguous()


def _chunks(B: int, N: int, device: torch.device) -> int:
    """How many data chunks each model's samples are split into (parallelism when B is small)."""
    if B == 0:
        return 1
    if device.type == "cuda":  # enough tasks to fill the grid, and no more
        return max(1, min(math.ceil(N / _CUDA_SAMPLES_PER_CHUNK),
                          math.ceil(2 * _CUDA_MAX_BLOCKS / B)))
    threads = _threads()
    if B >= 4 * threads:
        return 1
    return max(1, min(math.ceil(4 * threads / B), N // 64))


_THREADS: list[int] = []


def _threads() -> int:
    if not _THREADS:
        _THREADS.append(int(_core.build_info()["max_threads"]))
    return _THREADS[0]


def _run(model: Model, theta: torch.Tensor, data: Data, mode: int,
         V: Optional[torch.Tensor] = None) -> torch.Tensor:
    """One kernel call on validated inputs -> (B, len) sums, len = 1 + (P if grad) + K P."""
    B, P = theta.shape
    C = _chunks(B, data.N, theta.device)
    K = 0 if V is None else V.shape[-2]
    length = 1 + (P if mode == _MODE_GRAD else 0) + K * P
    part = torch.zeros(B, C, length, dtype=theta.dtype, device=theta.device)
    workspace = None
    if theta.is_cuda:
        rows = _core.hess_scratch_rows(model.spec)
        per_block = _CUDA_BLOCK * rows * theta.element_size()
        blocks = max(1, min(B * C, _CUDA_MAX_BLOCKS, _CUDA_WORKSPACE_BYTES // per_block))
        workspace = torch.empty(blocks * _CUDA_BLOCK * rows, dtype=theta.dtype, device=theta.device)
    _core.hess(model.spec, theta, data.X, data.T, data.w, data.u2, V, part, mode, C, workspace,
               cuda_stream(theta))
    return part[:, 0] if C == 1 else part.sum(1)


def loss(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Losses L_b of B models: theta (B, P) -> (B,)."""
    theta = _check(model, theta, data)
    return _run(model, theta, data, _MODE_LOSS)[:, 0].contiguous()


def value_and_grad(model: Model, theta: torch.Tensor, data: Data) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss (B,) and gradient (B, P) in one fused pass."""
    theta = _check(model, theta, data)
    out = _run(model, theta, data, _MODE_GRAD)
    return out[:, 0].contiguous(), out[:, 1:].contiguous()


def _check_V(theta: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    V = as_float_tensor(V, "V")
    same_dtype_device(theta, "theta", V=V)
    B, P = theta.shape
    if not (V.dim() in (2, 3) and V.shape[0] == B and V.shape[-1] == P):
        raise ValueError(f"V must be ({B}, {P}) or ({B}, K, {P}), got {tuple(V.shape)}")
    return V.contiguous()


def _products(model, theta, data, V, mode) -> torch.Tensor:
    theta = _check(model, theta, data)
    V = _check_V(theta, V)
    V3 = V if V.dim() == 3 else V[:, None]
    out = _run(model, theta, data, mode, V3)[:, 1:].view(V3.shape)
    return out if V.dim() == 3 else out[:, 0]


def hvp(model: Model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Exact Hessian-vector products H_b v (Pearlmutter: forward once, then one R-forward and
    R-backward per vector). V (B, P) or (B, K, P) -> same shape. For ReLU nets this is the Hessian
    of the piecewise-smooth loss (no pre-activation exactly 0)."""
    return _products(model, theta, data, V, _MODE_HVP)


def gnvp(model: Model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Gauss-Newton products H0 v = sum_n J_n^T diag(2 w_n u^2) J_n v (sigma'' and residual
    terms dropped). V (B, P) or (B, K, P) -> same shape. The residual part is hvp - gnvp."""
    return _products(model, theta, data, V, _MODE_GNVP)


def _unit_products(model, theta, data, mode, diagonal_only: bool = False) -> torch.Tensor:
    """Products with all P unit vectors, in chunks of K: (B, P, P), or its diagonal (B, P)."""
    B, P = theta.shape
    C = _chunks(B, data.N, theta.device)
    kc = max(1, min(P, _PART_BUDGET // max(1, B * C * P)))
    eye = torch.eye(P, dtype=theta.dtype, device=theta.device)
    outs = []
    for k0 in range(0, P, kc):
        E = eye[k0:k0 + kc]
        block = _run(model, theta, data, mode, E)[:, 1:].view(B, E.shape[0], P)
        outs.append(block.diagonal(offset=k0, dim1=1, dim2=2) if diagonal_only else block)
    return torch.cat(outs, dim=1)


def _dense(model, theta, data, mode) -> torch.Tensor:
    theta = _check(model, theta, data)
    B, P = theta.shape
    need = B * P * P * theta.element_size()
    if need > HESSIAN_MAX_BYTES:
        raise ValueError(f"a dense (B, P, P) = ({B}, {P}, {P}) result needs {need / 2**30:.1f} GiB, "
                         f"over HESSIAN_MAX_BYTES = {HESSIAN_MAX_BYTES / 2**30:.1f} GiB; use hvp or "
                         "extreme_eigs(method='lanczos')")
    H = _unit_products(model, theta, data, mode)
    return 0.5 * (H + H.transpose(1, 2))


def hessian(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Full Hessians (B, P, P), symmetric (HVPs with the P unit vectors, symmetrised).
    Raises ValueError when (B, P, P) would exceed HESSIAN_MAX_BYTES."""
    return _dense(model, theta, data, _MODE_HVP)


def gauss_newton(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """Gauss-Newton matrices H0 (B, P, P), positive semi-definite."""
    return _dense(model, theta, data, _MODE_GNVP)


def eigvalsh(model: Model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """All Hessian eigenvalues (B, P), ascending (dense)."""
    return torch.linalg.eigvalsh(hessian(model, theta, data))


class EigResult(NamedTuple):
    """values (B, k); vectors (B, k, P) or None; residuals ||H v - lambda v|| (B, k)."""
    values: torch.Tensor
    vectors: Optional[torch.Tensor]
    residuals: torch.Tensor


def _select(k: int, which: str, n: int) -> torch.Tensor:
    small, large = torch.arange(k), torch.arange(n - k, n)
    return {"smallest": small, "largest": large, "both": torch.cat([small, large])}[which]


def extreme_eigs(model: Model, theta: torch.Tensor, data: Data, k: int = 1,
                 which: str = "smallest", return_vectors: bool = False, method: str = "auto",
                 max_iter: Optional[int] = None, tol: Optional[float] = None,
                 generator: Optional[torch.Generator] = None) -> EigResult:
    """The k smallest / largest Hessian eigenpairs of every model ("both": 2k values, the k
    smallest then the k largest, ascending within each group).

    method: "dense" (full Hessian + eigh), "lanczos" (batched Lanczos on hvp with full
    reorthogonalisation, all B models advancing together; max_iter Krylov steps, default
    min(P, max(100, 10 k)); stops when every wanted residual is below tol * |lambda|_max, tol
    default 1e-8 for float64 and 1e-4 for float32), or "auto" (dense when P <= DENSE_MAX_P).
    """
    theta = _check(model, theta, data)
    B, P = theta.shape
    if which not in ("smallest", "largest", "both"):
        raise ValueError(f"which must be 'smallest', 'largest' or 'both', got {which!r}")
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    if k < 1 or (2 * k if which == "both" else k) > P:
        raise ValueError(f"k={k} with which={which!r} asks for more eigenvalues than P={P}")
    if method == "dense" or (method == "auto" and P <= DENSE_MAX_P):
        H = hessian(model, theta, data)
        evals, evecs = torch.linalg.eigh(H)
        sel = _select(k, which, P).to(theta.device)
        values, vecs = evals[:, sel], evecs[:, :, sel]
        res = torch.linalg.vector_norm(H @ vecs - vecs * values[:, None, :], dim=1)
        return EigResult(values, vecs.transpose(1, 2).contiguous() if return_vectors else None, res)
    if tol is None:
        tol = 1e-8 if theta.dtype == torch.float64 else 1e-4
    m = min(P, max_iter if max_iter is not None else max(100, 10 * k))
    return _lanczos(lambda Q: _run(model, theta, data, _MODE_HVP, Q[:, None].contiguous())[:, 1:], theta, k,
                    which, m, tol, generator, return_vectors)


def _lanczos(matvec, theta, k, which, m, tol, generator, return_vectors) -> EigResult:
    B, P = theta.shape
    opts = dict(dtype=theta.dtype, device=theta.device)
    Q = torch.zeros(B, m + 1, P, **opts)
    alpha = torch.zeros(B, m, **opts)
    beta = torch.zeros(B, m, **opts)

    def random_unit(n):
        r = torch.randn(n, P, generator=generator, dtype=theta.dtype).to(theta.device)
        return r / torch.linalg.vector_norm(r, dim=1, keepdim=True)

    Q[:, 0] = random_unit(B)
    for j in range(m):
        q = Q[:, j]
        w = matvec(q)
        a = (w * q).sum(1)
        w = w - a[:, None] * q - (beta[:, j - 1, None] * Q[:, j - 1] if j > 0 else 0)
        basis = Q[:, :j + 1]
        for _ in range(2):  # full reorthogonalisation, twice is enough
            w = w - torch.einsum("bjp,bj->bp", basis, torch.einsum("bjp,bp->bj", basis, w))
        b = torch.linalg.vector_norm(w, dim=1)
        alpha[:, j], beta[:, j] = a, b
        if j + 1 < m:
            scale = alpha[:, :j + 1].abs().amax(1) + beta[:, :j + 1].amax(1)
            dead = b <= 1e-10 * scale.clamp_min(torch.finfo(theta.dtype).tiny)
            nxt = w / b.clamp_min(torch.finfo(theta.dtype).tiny)[:, None]
            if bool(dead.any()):  # invariant subspace found: restart orthogonal to the basis
                r = random_unit(int(dead.sum()))
                sub = basis[dead]
                for _ in range(2):
                    r = r - torch.einsum("bjp,bj->bp", sub, torch.einsum("bjp,bp->bj", sub, r))
                nxt[dead] = r / torch.linalg.vector_norm(r, dim=1, keepdim=True)
                beta[dead, j] = 0
            Q[:, j + 1] = nxt
        n = j + 1
        if n >= (2 * k if which == "both" else k) and (n % 10 == 0 or n == m):
            values, S, res = _ritz(alpha[:, :n], beta[:, :n], k, which)
            scale = values.abs().amax(1, keepdim=True).clamp_min(torch.finfo(theta.dtype).tiny)
            if n == m or bool((res <= tol * scale).all()):
                break
    vectors = torch.einsum("bjp,bjk->bkp", Q[:, :n], S) if return_vectors else None
    return EigResult(values, vectors, res)


def _ritz(alpha, beta, k, which):
    n = alpha.shape[1]
    Tm = torch.diag_embed(alpha) + torch.diag_embed(beta[:, :n - 1], 1) + \
        torch.diag_embed(beta[:, :n - 1], -1)
    evals, S = torch.linalg.eigh(Tm)
    sel = _select(k, which, n).to(alpha.device)
    return evals[:, sel], S[:, :, sel], (beta[:, n - 1, None] * S[:, n - 1, sel]).abs()


def index(model: Model, theta: torch.Tensor, data: Data, tol: float = 1e-8) -> torch.Tensor:
    """Number of Hessian eigenvalues below -tol, per model: (B,) int64 (dense)."""
    return (eigvalsh(model, theta, data) < -tol).sum(1)


def trace(model: Model, theta: torch.Tensor, data: Data, n_probes: Optional[int] = None,
          generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Hessian traces (B,). n_probes None: exact (HVPs with the P unit vectors, in chunks, only
    the diagonal kept). Otherwise Hutchinson's estimate with n_probes Rademacher vectors per
    model (unbiased, variance 2 ||H||_F^2 / n_probes minus the diagonal part)."""
    theta = _check(model, theta, data)
    if n_probes is None:
        return _unit_products(model, theta, data, _MODE_HVP, diagonal_only=True).sum(1)
    if n_probes < 1:
        raise ValueError(f"n_probes must be >= 1, got {n_probes}")
    B, P = theta.shape
    Z = torch.randint(0, 2, (B, n_probes, P), generator=generator).to(theta) * 2 - 1
    HZ = _run(model, theta, data, _MODE_HVP, Z)[:, 1:].view(B, n_probes, P)
    return (Z * HZ).sum(-1).mean(1)


@dataclass
class FitHistory:
    """Logged every log_every steps (and at the last step): loss (n_logged, B), grad_norm
    (n_logged, B), steps (n_logged,)."""
    loss: torch.Tensor
    grad_norm: torch.Tensor
    steps: torch.Tensor


_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
               "rmsprop": torch.optim.RMSprop}


def fit(model: Model, theta: torch.Tensor, data: Data, optimizer: str = "adam", lr: float = 1e-3,
        steps: int = 1000, log_every: Optional[int] = None, progress: bool = True,
        **opt_kwargs) -> tuple[torch.Tensor, FitHistory]:
    """Train all B models together by full-batch gradient steps on their losses (the gradients
    from value_and_grad; models are independent: per-model losses are summed for the optimizer,
    whose per-element updates keep them apart).

    Args:
        optimizer: "adam", "adamw", "sgd" or "rmsprop" (torch.optim, with **opt_kwargs).
        log_every: history interval (default steps // 100, at least 1); the last step is logged.
        progress: print a progress line to stderr.

    Returns:
        (theta after `steps` steps (B, P), FitHistory). A model whose loss becomes NaN keeps
        NaN; the others are unaffected.
    """
    theta = _check(model, theta, data)
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    log_every = max(1, steps // 100) if log_every is None else int(log_every)
    if log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}")
    param = theta.detach().clone()
    opt = _OPTIMIZERS[optimizer]([param], lr=lr, **opt_kwargs)
    losses, norms, logged = [], [], []
    with torch.no_grad():
        for step in range(steps + 1):
            out = _run(model, param, data, _MODE_GRAD)
            if step % log_every == 0 or step == steps:
                losses.append(out[:, 0].clone())
                norms.append(torch.linalg.vector_norm(out[:, 1:], dim=1))
                logged.append(step)
                if progress:
                    print(f"\rfit {step}/{steps}  median loss {losses[-1].median().item():.4g}",
                          end="" if step < steps else "\n", file=sys.stderr, flush=True)
            if step == steps:
                break
            param.grad = out[:, 1:].contiguous()
            opt.step()
    hist = FitHistory(torch.stack(losses), torch.stack(norms), torch.tensor(logged))
    return param, hist


def levenberg_marquardt(model: Model, theta: torch.Tensor, data: Data, steps: int = 200,
                        damping: float = 1e-3, progress: bool = False) -> tuple[torch.Tensor, FitHistory]:
    """Refine all B models by batched Levenberg-Marquardt: each step solves
    (H0 + mu_b * mean diag(H0) * I) delta = grad with the engine's dense Gauss-Newton matrix H0
    and takes it only if the model's loss does not increase; mu_b shrinks 3x after an accepted
    step and grows 4x after a rejected one (starting from `damping`). A descent method for the
    least-squares losses here: converges quadratically at zero-residual minima and, unlike
    Newton, is not attracted to saddles. Cost per step: P products with the Gauss-Newton matrix
    and one (P, P) solve per model; memory B P^2 (subject to HESSIAN_MAX_BYTES).

    Returns:
        (theta (B, P), FitHistory logged at every step).
    """
    theta = _check(model, theta, data).detach().clone()
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if not damping > 0:
        raise ValueError(f"damping must be > 0, got {damping}")
    B, P = theta.shape
    mu = theta.new_full((B,), damping)
    eye = torch.eye(P, dtype=theta.dtype, device=theta.device)
    L, g = value_and_grad(model, theta, data)
    losses, norms = [L], [g.norm(dim=1)]
    for step in range(steps):
        G = gauss_newton(model, theta, data)
        scale = G.diagonal(dim1=1, dim2=2).mean(1).clamp_min(torch.finfo(theta.dtype).tiny)
        delta = torch.linalg.solve(G + (mu * scale)[:, None, None] * eye, g[..., None])[..., 0]
        cand = theta - delta
        Lc, gc = value_and_grad(model, cand, data)
        ok = Lc <= L
        theta = torch.where(ok[:, None], cand, theta)
        L, g = torch.where(ok, Lc, L), torch.where(ok[:, None], gc, g)
        mu = torch.where(ok, mu / 3, mu * 4).clamp(1e-15, 1e15)
        losses.append(L)
        norms.append(g.norm(dim=1))
        if progress:
            print(f"\rlevenberg_marquardt {step + 1}/{steps}  median loss {L.median().item():.4g}",
                  end="" if step + 1 < steps else "\n", file=sys.stderr, flush=True)
    return theta, FitHistory(torch.stack(losses), torch.stack(norms), torch.arange(steps + 1))


def tms_quadrature(s: float, n_nodes: int = 16, dtype: torch.dtype = torch.float64,
                   n_features: int = 2, device="cpu") -> Data:
    """The population of the toy model of superposition as an exact weighted dataset: each of
    n_features features is 0 with probability s, else U[0, 1], independently; targets = inputs.

    For every subset S of active features, a Gauss-Legendre tensor grid of n_nodes points per
    active feature on [0, 1]^|S| carries weight s^(n-|S|) (1-s)^|S| times the node weights, so
    sum_n w_n f(x_n) = E f(x) exactly for f polynomial of degree < 2 n_nodes in each active
    feature on each piece (x = 0 carries weight s^n). Loss: E ||y - x||^2 (no factor 1/2).
    Gauss-Legendre nodes are interior, so at TMS points with all W^T W x > 0 off zero no
    pre-activation sits on a ReLU kink.
    """
    if not 0 <= s <= 1:
        raise ValueError(f"sparsity s must be in [0, 1], got {s}")
    if n_nodes < 1 or n_features < 1:
        raise ValueError(f"n_nodes and n_features must be >= 1, got {n_nodes}, {n_features}")
    if (n_nodes + 1) ** n_features > 2_000_000:
        raise ValueError(f"{n_features} features with {n_nodes} nodes need "
                         f"{(n_nodes + 1) ** n_features} points; use fewer")
    nodes, node_w = np.polynomial.legendre.leggauss(n_nodes)
    nodes, node_w = (nodes + 1) / 2, node_w / 2
    xs, ws = [], []
    for mask in range(1 << n_features):
        active = [i for i in range(n_features) if mask >> i & 1]
        grids = np.meshgrid(*([nodes] * len(active)), indexing="ij")
        wgrid = np.ones(()) if not active else np.prod(np.meshgrid(*([node_w] * len(active)),
                                                                   indexing="ij"), axis=0)
        X = np.zeros((wgrid.size, n_features))
        for col, g in zip(active, grids):
            X[:, col] = g.ravel()
        xs.append(X)
        ws.append(wgrid.ravel() * s ** (n_features - len(active)) * (1 - s) ** len(active))
    X = torch.tensor(np.concatenate(xs), dtype=dtype, device=device)
    w = torch.tensor(np.concatenate(ws), dtype=dtype, device=device)
    return Data(X, X.clone(), weights=w)
