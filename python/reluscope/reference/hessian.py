"""Reference Hessian engine with torch.func (grad, jvp of grad, hessian, under vmap) over
``reluscope.reference.forward``: the same calls and arguments as ``reluscope.hessian``'s products
and the same losses (``reluscope.Data``'s docstring), read from the fields of ``reluscope.Data``.

``sample_losses`` and ``product_sum`` work on raw tensors: the custom ops of
``reluscope.hessian`` differentiate them for derivatives beyond the kernels' second order.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch.func import grad, hessian as func_hessian, jvp, vjp, vmap

from ..data import Data
from .forward import forward

# the engine's calls; sample_losses and product_sum are helpers of the custom ops
__all__ = ["critical_points", "gauss_newton", "gd", "gnvp", "hessian", "hvp", "jacobian", "loss",
           "ntk", "value_and_grad"]


def sample_losses(y: torch.Tensor, T: torch.Tensor, w: torch.Tensor, imp: torch.Tensor,
                  loss: str) -> torch.Tensor:
    """Weighted per-sample losses w_n l(y_n, t_n) (..., N) of outputs y (..., N, d_out), with
    torch.nn.functional's losses (reduction "none", importance as their class / element weight)."""
    if loss == "mse":
        per = (imp * (y - T) ** 2).sum(-1)
    elif loss == "cross_entropy":
        flat = F.cross_entropy(y.reshape(-1, y.shape[-1]), T.reshape(-1, T.shape[-1]),
                               weight=imp, reduction="none")
        per = flat.reshape(y.shape[:-1])
    elif loss == "bce_with_logits":
        per = F.binary_cross_entropy_with_logits(y, T, weight=imp, reduction="none").sum(-1)
    elif loss == "linear":
        per = (imp * T * y).sum(-1)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return w * per


def _fields(model, data: Data):
    return (data.targets(model.d_out), data.w, data.importance_for(model.d_out), data.loss)


def _dims(X: torch.Tensor, T: torch.Tensor, w: torch.Tensor) -> tuple:
    """vmap in_dims over models of (theta, X, T, w): each per model or shared."""
    return (0, 0 if X.dim() == 3 else None, 0 if T.dim() == 3 else None,
            0 if w.dim() == 2 else None)


def _per_model(model, data: Data):
    """(single-model loss f(theta, X, T, w), T, w, in_dims for vmap over models)."""
    T, w, imp, kind = _fields(model, data)

    def f(theta: torch.Tensor, X: torch.Tensor, T: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return sample_losses(forward(model, theta[None], X)[0], T, w, imp, kind).sum()

    return f, T, w, _dims(data.X, T, w)


def loss(model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """(B,) losses."""
    f, T, w, dims = _per_model(model, data)
    return vmap(f, in_dims=dims)(theta, data.X, T, w)


def value_and_grad(model, theta: torch.Tensor, data: Data):
    """(B,), (B, P)."""
    f, T, w, dims = _per_model(model, data)
    return vmap(torch.func.grad_and_value(f), in_dims=dims)(theta, data.X, T, w)[::-1]


def _over_models(one, dims, theta, X, T, w, V):
    """vmap of one(theta, x, t, w, v) over models (and over V's K directions when V is 3-D)."""
    if V.dim() == 2:
        return vmap(one, in_dims=(*dims, 0))(theta, X, T, w, V)
    return vmap(vmap(one, in_dims=(None, None, None, None, 0)), in_dims=(*dims, 0))(
        theta, X, T, w, V)


def hvp(model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Hessian-vector products, V (B, P) or (B, K, P) -> same shape (jvp of grad)."""
    f, T, w, dims = _per_model(model, data)

    def one(th, x, t, wt, v):
        return jvp(lambda p: grad(f)(p, x, t, wt), (th,), (v,))[1]

    return _over_models(one, dims, theta, data.X, T, w, V)


def _gnvp_one(model, imp, kind):
    """J^T (d2l/dy2) J v for one model (torch.func: jvp of the forward pass, the loss's Hessian in
    y as a jvp of its gradient, vjp back)."""

    def one(th, x, t, w, v):
        fwd = lambda p: forward(model, p[None], x)[0]  # noqa: E731
        y, jv = jvp(fwd, (th,), (v,))
        ell = lambda yy: sample_losses(yy, t, w, imp, kind).sum()  # noqa: E731
        hjv = jvp(grad(ell), (y,), (jv,))[1]
        return vjp(fwd, th)[1](hjv)[0]

    return one


def gnvp(model, theta: torch.Tensor, data: Data, V: torch.Tensor) -> torch.Tensor:
    """Gauss-Newton products J^T (d2l/dy2) J V, V (B, P) or (B, K, P)."""
    T, w, imp, kind = _fields(model, data)
    return _over_models(_gnvp_one(model, imp, kind), _dims(data.X, T, w), theta, data.X, T, w, V)


def hessian(model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """(B, P, P) with torch.func.hessian under vmap."""
    f, T, w, dims = _per_model(model, data)
    return vmap(func_hessian(f), in_dims=dims)(theta, data.X, T, w)


def gauss_newton(model, theta: torch.Tensor, data: Data) -> torch.Tensor:
    """(B, P, P) Gauss-Newton matrices, from gnvp on the P unit vectors."""
    P = theta.shape[1]
    E = torch.eye(P, dtype=theta.dtype, device=theta.device).expand(theta.shape[0], P, P)
    return gnvp(model, theta, data, E)


def product_sum(model, theta: torch.Tensor, X: torch.Tensor, T: torch.Tensor, w: torch.Tensor,
                imp: torch.Tensor, loss: str, V: torch.Tensor, U: torch.Tensor,
                gauss_newton: bool) -> torch.Tensor:
    """sum_{b,k} U[b, k] . (A_b V[b, k]) with A the Hessian (or Gauss-Newton matrix) of each
    model's loss, V (B, K, P) or (K, P), U (B, K, P), w (N,) or (B, N) per model: differentiable
    (torch.func) in theta, which is how the kernels' products get their derivative in theta
    (third derivatives)."""
    Vb = V.expand(theta.shape[0], *V.shape) if V.dim() == 2 else V
    if gauss_newton:
        one = _gnvp_one(model, imp, loss)
    else:
        def f(th, x, t, wt):
            return sample_losses(forward(model, th[None], x)[0], t, wt, imp, loss).sum()

        def one(th, x, t, wt, v):
            return jvp(lambda p: grad(f)(p, x, t, wt), (th,), (v,))[1]
    AV = _over_models(one, _dims(X, T, w), theta, X, T, w, Vb)
    return (U * AV).sum()


def critical_points(model, theta0: torch.Tensor, data: Data, *, steps: int = 100,
                    grad_tol: Optional[float] = None, damping: float = 1e-3,
                    flat_tol: float = 1e-4, solver: str = "auto", cg_iters: Optional[int] = None,
                    patience: Optional[int] = None, progress: bool = False):
    """``reluscope.hessian.critical_points`` with the dense solver, written plainly one network
    at a time on torch.func Hessians and gradients (``hessian``, ``value_and_grad`` here): for each
    trial damping mu_k = mu * TRIALS[k], delta_k = -(H^2 + mu_k s I)^-1 H g with
    s = ||H g||^2 / ||g||^2 (from torch.linalg.eigh of the torch.func Hessian); the candidate with
    the smallest gradient norm is taken if it is below ||g||, mu <- mu_k, else mu <- 10^4 mu; stop at
    ||g|| <= grad_tol or mu > MU_MAX or (with patience k, after k or more steps) when ||g|| is above
    STALL_FACTOR times its value k steps before. The index: eigenvalues below -tol, tol the rounding band
    2 P eps ||H||_2 (not the engine's ``classify`` band, which adds the Hessian's change over the
    Newton step). solver: only the dense step is implemented here ("auto" and "dense");
    cg_iters and progress are accepted and unused. Returns ``CriticalPointSearch``."""
    import math

    from .._critical_search import MU_MAX, STALL_FACTOR, TRIALS, CriticalPointSearch, IndexResult

    if solver not in ("auto", "dense"):
        raise ValueError(f"the reference implements the dense solver only, got solver={solver!r}")

    theta0 = theta0[None] if theta0.dim() == 1 else theta0
    tol = math.sqrt(torch.finfo(theta0.dtype).eps) if grad_tol is None else grad_tol
    rows = []
    for b in range(theta0.shape[0]):
        d = data.models(torch.tensor([b]))
        th, mu, taken = theta0[b:b + 1].clone(), damping, 0
        L, g = value_and_grad(model, th, d)
        norms = [g.norm()]
        for _ in range(steps):
            if g.norm() <= tol or mu > MU_MAX:
                break
            if patience is not None and taken >= patience and \
                    norms[taken] > STALL_FACTOR * norms[taken - patience]:
                break
            H = hessian(model, th, d)[0]
            lam, V = torch.linalg.eigh(H)
            Hg = H @ g[0]
            s = float((Hg.norm() / g.norm()) ** 2) if Hg.norm() > 0 else 1.0
            best = None
            for k in TRIALS:   # (H^2 + c I)^-1 H = V diag(lam / (lam^2 + c)) V^T
                step = -V @ (lam / (lam ** 2 + mu * k * s) * (V.T @ g[0]))
                Lc, gc = value_and_grad(model, th + step, d)
                if best is None or gc.norm() < best[2].norm():
                    best = (th + step, Lc, gc, mu * k)
            if best[2].norm() < g.norm():
                th, L, g, mu = best
            else:
                mu *= 1e4
            taken += 1
            norms.append(g.norm())
        H = hessian(model, th, d)[0]
        ev = torch.linalg.eigvalsh(H)[None]
        gn = g.norm()
        flat = bool(gn > tol) and bool((H @ g[0]).norm() <= flat_tol * ev.abs().max() * gn)
        w = d.w.sum()
        if d.loss == "mse":
            w = 2 * w * d.importance_for(model.layers[-1].d_out).sum()
        band = 2 * ev.shape[1] * torch.finfo(ev.dtype).eps * ev.abs().max()
        neg, pos = int((ev < -band).sum()), int((ev > band).sum())
        index = IndexResult(torch.tensor([neg]), torch.tensor([ev.shape[1] - neg - pos]),
                            band.reshape(1))
        rows.append((th[0], L[0], L[0] / w, gn, gn <= tol, index, flat, taken))
    idx = [r[5] for r in rows]
    return CriticalPointSearch(
        torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows]),
        torch.stack([r[2] for r in rows]), torch.stack([r[3] for r in rows]),
        torch.tensor([bool(r[4]) for r in rows]),
        IndexResult(*(torch.cat([getattr(i, f) for i in idx]) for f in IndexResult._fields)),
        torch.tensor([r[6] for r in rows]), torch.tensor([r[7] for r in rows]))


def jacobian(model, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``reluscope.hessian.jacobian`` by torch.func's empirical-NTK recipe: vmap over networks of
    vmap over samples of jacrev of one sample's outputs (d_out,) -> (B, N, d_out, P) (one
    network, theta (P,): (N, d_out, P))."""
    from torch.func import jacrev

    single = theta.dim() == 1
    th = theta[None] if single else theta

    def outputs(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return forward(model, t[None], x[None])[0, 0]

    per_sample = vmap(jacrev(outputs), in_dims=(None, 0))
    J = vmap(per_sample, in_dims=(0, 0 if X.dim() == 3 else None))(th, X)
    return J[0] if single else J


def ntk(model, theta: torch.Tensor, X1: torch.Tensor, X2: Optional[torch.Tensor] = None, *,
        trace: bool = False) -> torch.Tensor:
    """``reluscope.hessian.ntk``: torch.func's empirical-NTK recipe, the vmap(jacrev) Jacobians
    contracted with einsum."""
    J1 = jacobian(model, theta, X1)
    J2 = J1 if X2 is None else jacobian(model, theta, X2)
    return torch.einsum("...nip,...mip->...nm" if trace else "...nip,...mjp->...nmij", J1, J2)


def gd(model, theta: torch.Tensor, data: Data, *, lr, steps: int, every: int = 1,
       momentum: float = 0.0, track=("sharpness",), max_loss: float = float("inf"),
       method: str = "auto", progress: bool = False):
    """``reluscope.hessian.gd`` written plainly, one network at a time: torch.func losses and
    gradients (``value_and_grad`` here), v <- momentum v + g, theta <- theta - lr v; sharpness by
    torch.linalg.eigvalsh of the torch.func Hessian (``hessian`` here; of ``gauss_newton`` for
    gn_sharpness) at the recorded steps. method and progress are accepted and unused. Returns
    ``GDTrace``."""
    import math

    from .._trajectory import GDTrace

    single = theta.dim() == 1
    th0 = theta[None] if single else theta
    B = th0.shape[0]
    rates = lr.expand(B) if isinstance(lr, torch.Tensor) else torch.full((B,), float(lr))
    recorded = list(range(0, steps + 1, every))
    if recorded[-1] != steps:
        recorded.append(steps)
    names = ("loss", "grad_norm", "param_norm", *track)
    out = {n: torch.full((B, len(recorded)), math.nan, dtype=th0.dtype) for n in names}
    final, div_at = [], []
    for b in range(B):
        d = data.models(torch.tensor([b]))
        th, v, at = th0[b:b + 1].clone(), torch.zeros_like(th0[b:b + 1]), -1
        for step in range(steps + 1):
            L, g = value_and_grad(model, th, d)
            if not (bool(torch.isfinite(L).all()) and bool(torch.isfinite(g).all())
                    and float(L[0]) <= max_loss):
                at = step
                break
            if step in recorded:
                c = recorded.index(step)
                out["loss"][b, c], out["grad_norm"][b, c] = L[0], g[0].norm()
                out["param_norm"][b, c] = th[0].norm()
                if "sharpness" in track:
                    out["sharpness"][b, c] = torch.linalg.eigvalsh(hessian(model, th, d)[0])[-1]
                if "gn_sharpness" in track:
                    out["gn_sharpness"][b, c] = torch.linalg.eigvalsh(
                        gauss_newton(model, th, d)[0])[-1]
            if step == steps:
                break
            v = momentum * v + g if momentum else g
            th = th - float(rates[b]) * v
        final.append(th[0])
        div_at.append(at)
    at = torch.tensor(div_at)
    res = GDTrace(torch.stack(final), torch.tensor(recorded), out["loss"], out["grad_norm"],
                  out["param_norm"], out.get("sharpness"), out.get("gn_sharpness"), at >= 0, at)
    if single:
        res = GDTrace(*(t[0] if isinstance(t, torch.Tensor) and n != "steps" else t
                        for n, t in zip(GDTrace._fields, res)))
    return res
