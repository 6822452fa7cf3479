"""Reference enclosures (the ENCLOSURE CONTRACT, ``reluscope.certify.Enclosure``) in mpmath
interval arithmetic; see the package docstring."""
from __future__ import annotations

import torch
from mpmath import iv

from ..._certificate import Enclosure, Flag
from ...data import Data
from ...models.base import check_model
from ._functions import activation, sample_loss
from ._interval import HD, hd_chain, hd_mul, hd_sum, outward, precision

__all__ = ["enclose"]


def _network(model, params: list, x: list):
    """Outputs (d_out hyper-duals) of one sample x (interval constants) and whether a kinked
    unit's pre-activation interval contains 0."""
    a = [HD(xi) for xi in x]
    kink = False
    for layer in model.layers:
        z = []
        for j in range(layer.d_out):
            terms = [hd_mul(params[layer.w_off + (k * layer.d_out + j if layer.transposed
                                                 else j * layer.d_in + k)], a[k])
                     for k in range(layer.d_in)]
            if layer.b_off >= 0:
                terms.append(params[layer.b_off + j])
            z.append(hd_sum(terms))
        a = []
        for zj in z:
            f0, f1, f2, k = activation(layer.activation.name, zj.v, model.slope)
            kink |= k
            a.append(hd_chain(zj, f0, f1, f2))
    return a, kink


def enclose_one(model, theta: list, X: list, T: list, w: list, imp: list, kind: str,
                 radius: float):
    """(loss, grad (P,), hess (P, P) intervals, kink) of one network over theta + [-r, r]^P."""
    P = len(theta)
    box = iv.mpf([-radius, radius])
    params = [HD(iv.mpf(c) + box, {i: iv.mpf(1)}) for i, c in enumerate(theta)]
    impv = [iv.mpf(v) for v in imp]
    losses, kink = [], False
    for x, t, wn in zip(X, T, w):
        if wn == 0:
            continue
        y, k = _network(model, params, [iv.mpf(v) for v in x])
        kink |= k
        losses.append(sample_loss(kind, y, [iv.mpf(v) for v in t], iv.mpf(wn), impv))
    L = hd_sum(losses)
    zero = iv.mpf(0)
    grad = [L.g.get(i, zero) for i in range(P)]
    hess = [[L.h.get((i, j) if i <= j else (j, i), zero) for j in range(P)] for i in range(P)]
    return L.v, grad, hess, kink


def network_rows(model, theta: torch.Tensor, data: Data):
    """Per network: (theta row, X, T, w) as float lists, and the importance and loss name."""
    check_model(model)
    if not isinstance(data, Data):
        raise TypeError(f"data must be a reluscope.Data, got {type(data).__name__}")
    if not isinstance(theta, torch.Tensor) or not theta.is_floating_point():
        raise TypeError("theta must be a floating torch tensor (B, P)")
    model.check_theta(theta)
    th = theta.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(th).all()):
        raise ValueError("theta must be finite")
    B = th.shape[0]
    X, T, w = (v.detach().to("cpu", torch.float64)
               for v in (data.X, data.targets(model.d_out), data.w))
    for name, v, nd in (("X", X, 3), ("T", T, 3), ("weights", w, 2)):
        if v.dim() == nd and v.shape[0] != B:
            raise ValueError(f"data.{name} holds {v.shape[0]} models, theta {B}")
    if X.shape[-1] != model.d_in:
        raise ValueError(f"X has {X.shape[-1]} inputs, the model takes {model.d_in}")
    pick = lambda v, nd, b: (v[b] if v.dim() == nd else v).tolist()  # noqa: E731
    rows = [(th[b].tolist(), pick(X, 3, b), pick(T, 3, b), pick(w, 2, b)) for b in range(B)]
    imp = data.importance_for(model.d_out).detach().to("cpu", torch.float64).tolist()
    return rows, imp, data.loss


def _tensor(x) -> torch.Tensor:
    """Outward float64 [lo, hi] of an interval or nested lists of intervals: (..., 2)."""
    if isinstance(x, list):
        return torch.stack([_tensor(v) for v in x])
    return torch.tensor(outward(x), dtype=torch.float64)


def _radii(radius, B: int) -> list:
    r = torch.as_tensor(radius, dtype=torch.float64).detach().cpu()
    if r.dim() == 0:
        r = r.expand(B)
    if r.shape != (B,):
        raise ValueError(f"radius must be a number or a ({B},) tensor, got shape {tuple(r.shape)}")
    if not bool(torch.isfinite(r).all()) or bool((r < 0).any()):
        raise ValueError("radius must be finite and >= 0")
    return r.tolist()


# ---------------------------------------------------------------------------------------------
# enclose

def enclose(model, theta: torch.Tensor, data: Data, radius=0.0, *, prec: int = 113) -> Enclosure:
    """Enclosures of L, grad L and the Hessian over theta + [-radius, radius]^P (the ENCLOSURE
    CONTRACT, see the module docstring) at ``prec`` bits.

    theta (B, P); radius a float or (B,) >= 0. Returns ``Enclosure``: loss (B, 2), grad (B, P, 2),
    hess (B, P, P, 2) float64 [lo, hi], flags (B,) int32 (``Flag.KINK``, ``Flag.NONFINITE``).
    """
    rows, imp, kind = network_rows(model, theta, data)
    B, P = len(rows), model.num_params
    radii = _radii(radius, B)
    loss = torch.empty(B, 2, dtype=torch.float64)
    grad = torch.empty(B, P, 2, dtype=torch.float64)
    hess = torch.empty(B, P, P, 2, dtype=torch.float64)
    flags = torch.zeros(B, dtype=torch.int32)
    with precision(prec):
        for b, ((th, X, T, w), r) in enumerate(zip(rows, radii)):
            L, g, H, kink = enclose_one(model, th, X, T, w, imp, kind, r)
            loss[b] = _tensor(L)
            grad[b] = _tensor(g)
            hess[b] = _tensor(H)
            bits = Flag.KINK if kink else 0
            if not (torch.isfinite(loss[b]).all() and torch.isfinite(grad[b]).all()
                    and torch.isfinite(hess[b]).all()):
                bits |= Flag.NONFINITE
            flags[b] = int(bits)
    return Enclosure(loss, grad, hess, flags)
