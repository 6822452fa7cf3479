"""The TMS population with two features cut along the kinks of the model at given parameters:
``tms_population`` (an exact per-model weighted dataset) and the geometry of the population
Hessian's kink-line term (``kink_line_term``, ``hessian_exists``; assembled by
``reluscope.tms_population_hessian``).

Population: features x_1, x_2 independent, each 0 with probability s, else U[0, 1]; targets = x.
Its support: the atom x = 0 (mass s^2), the two edges x = t e_k, t in (0, 1) (density s(1 - s)
each) and the square (0, 1)^2 (density (1 - s)^2). Model output i: y_i = relu(z_i), z = M x + b,
M = W^T W (2 x 2 for any n_hidden); loss L = E sum_i I_i (y_i - x_i)^2 (``Data``'s mse).
"""
from __future__ import annotations

import numbers

import numpy as np
import torch

from .._validate import as_float_tensor, check_finite
from ..data import Data
from .tms import TMS

__all__ = ["hessian_exists", "kink_line_term", "tms_population"]

#: Gauss-Legendre points per piece: exact for polynomials of degree 3 (the integrands here have
#: degree <= 3 on every piece; see tms_population).
_NODES = 2


def _gauss(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    g, w = np.polynomial.legendre.leggauss(_NODES)
    return (torch.tensor((g + 1) / 2, dtype=like.dtype, device=like.device),
            torch.tensor(w / 2, dtype=like.dtype, device=like.device))


def _check(model, theta, s) -> tuple[torch.Tensor, bool]:
    if not isinstance(model, TMS):
        raise TypeError(f"model must be a reluscope.TMS, got {type(model).__name__}")
    if model.n_features != 2:
        raise ValueError(
            f"the exact TMS population is implemented for n_features = 2 (the square cut along "
            f"the kink lines), got {model!r}; for more features use tms_quadrature, exact only "
            "where no kink crosses the support")
    if isinstance(s, bool) or not isinstance(s, numbers.Real):
        raise TypeError(f"sparsity s must be a number, got {type(s).__name__}")
    if not 0 <= s <= 1:
        raise ValueError(f"sparsity s must be in [0, 1], got {s}")
    theta = as_float_tensor(theta, "theta", differentiable=True).detach()
    single = theta.dim() == 1
    theta = theta[None] if single else theta
    model.check_theta(theta)
    check_finite(theta, "theta")
    return theta, single


def _affine(model: TMS, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """z = M x + b per model: M = W^T W (B, 2, 2), b (B, 2) (zeros without bias)."""
    W, b = model.unflatten(theta)
    return W.mT @ W, (b if b is not None else theta.new_zeros(theta.shape[0], 2))


def _lines(model: TMS, theta: torch.Tensor, M: torch.Tensor, b: torch.Tensor):
    """The kink lines z_i = 0 as A_i x1 + C_i x2 + c_i = 0, (B, 2) each: (M_i1, M_i2, b_i); with
    n_hidden = 1 (z_i = w_i (w . x) + b_i) the same line as (w_1, w_2, b_i / w_i), so that outputs
    whose lines coincide (always without a bias) get bit-identical crossings and no sliver piece
    between two roundings of one line (w_i = 0: z_i = b_i, no line)."""
    if model.n_hidden > 1:
        return M[..., 0], M[..., 1], b
    w = theta[:, :2]
    on = w != 0
    return (torch.where(on, w[:, :1], 0.0), torch.where(on, w[:, 1:], 0.0),
            torch.where(on, _safe_div(b, w, 0.0), 1.0))


def _split(lo: torch.Tensor, hi: torch.Tensor, g: torch.Tensor, w: torch.Tensor):
    """Gauss points and weights on the intervals [lo, hi] (..., n): (..., n, _NODES) each."""
    return lo[..., None] + (hi - lo)[..., None] * g, (hi - lo)[..., None] * w


def _safe_div(num: torch.Tensor, den: torch.Tensor, fill: float) -> torch.Tensor:
    return torch.where(den != 0, num / torch.where(den != 0, den, 1.0), fill)


def tms_population(model: TMS, theta, s: float, *, importance=None) -> Data:
    """The population of TMS(2, m, bias) at sparsity s as a per-model weighted dataset whose loss,
    gradient and almost-everywhere Hessian at theta equal the population's, exactly (to rounding).

    Each model's support is cut along its kinks z_i(x) = 0 (i = 1, 2): the square by iterated
    integration (x_1 split where a kink line crosses x_2 = 0 or x_2 = 1 or the other line, so the
    kink crossings x_2*(x_1) move affinely and keep their order; x_2 split at them), each edge at
    the kink points. On every piece the integrands of the loss, its gradient and its Hessian
    away from the kinks are polynomials of degree <= 2 in x (y is affine there), the inner
    integrals with affine limits of degree <= 3 in x_1: two Gauss-Legendre points per interval
    are exact. Nodes are interior to their pieces, so no node with positive weight lies on a kink
    (pieces of zero width get weight 0); the x = 0 atom is a node (weight s^2), on a kink only
    with a bias b_i = 0 (then the population Hessian does not exist). 6 x 2 x 3 x 2 square
    nodes, 2 x 3 x 2 edge nodes and the atom: N = 85 per model.

    The dataset is the population only at theta: its nodes follow theta's kinks. Its Hessian
    lacks the term that the kinks put on the lines z_i = 0 (no dataset carries it): the full
    population Hessian is ``reluscope.tms_population_hessian``.

    Args:
        model: a ``reluscope.TMS`` with n_features = 2 (any n_hidden, with or without bias);
            other n_features are a ValueError (use ``tms_quadrature``).
        theta: (B, P), or (P,) for one model; its dtype and device are the dataset's. The nodes
            are built from its values (no gradient flows into them: the exact loss does not
            depend on where the support is cut, its integrand being continuous there).
        s: sparsity in [0, 1].
        importance: (2,) >= 0, ``Data``'s importance (default ones).

    Returns:
        ``Data`` with X = T (B, 85, 2) and weights (B, 85) (one model: (85, 2), (85,)).
    """
    theta, single = _check(model, theta, s)
    M, b = _affine(model, theta)
    g, gw = _gauss(theta)
    A, C, b = _lines(model, theta, M, b)                # kink i: A_i x1 + C_i x2 + b_i = 0
    det = A[:, 0] * C[:, 1] - A[:, 1] * C[:, 0]
    zero, one = torch.zeros_like(A[:, :1]), torch.ones_like(A[:, :1])
    cuts = torch.cat([zero, one, _safe_div(-b, A, 0.0), _safe_div(-(b + C), A, 0.0),
                      _safe_div(C[:, :1] * b[:, 1:] - b[:, :1] * C[:, 1:], det[:, None], 0.0)], 1)
    cuts = cuts.clamp(0, 1).sort(1).values                                       # (B, 7)
    x1, w1 = _split(cuts[:, :-1], cuts[:, 1:], g, gw)                             # (B, 6, 2)
    cross = _safe_div(-(b[:, None, None] + A[:, None, None] * x1[..., None]),
                      C[:, None, None].expand(-1, *x1.shape[1:], -1), 0.0)        # (B, 6, 2, 2)
    inner = torch.cat([torch.zeros_like(cross), cross.clamp(0, 1), torch.ones_like(cross)], -1)
    inner = inner[..., [0, 2, 3, 5]].sort(-1).values                              # (B, 6, 2, 4)
    x2, w2 = _split(inner[..., :-1], inner[..., 1:], g, gw)                       # (B, 6, 2, 3, 2)
    square = torch.stack([x1[..., None, None].expand_as(x2), x2], -1).flatten(1, -2)
    w_square = (w1[..., None, None] * w2).flatten(1) * (1 - s) ** 2
    edges, w_edges = [], []
    for k in range(2):  # x = t e_k: the kinks at t = -b_i / (A_i or C_i)
        t = _safe_div(-b, (A, C)[k], 0.0).clamp(0, 1)
        ends = torch.cat([zero, t, one], 1).sort(1).values
        tk, wk = (v.flatten(1) for v in _split(ends[:, :-1], ends[:, 1:], g, gw))
        edges.append(torch.stack([tk, torch.zeros_like(tk)][::1 - 2 * k], -1))
        w_edges.append(wk * s * (1 - s))
    atom = theta.new_zeros(theta.shape[0], 1, 2)
    X = torch.cat([square, *edges, atom], 1)
    w = torch.cat([w_square, *w_edges, theta.new_full((theta.shape[0], 1), s * s)], 1)
    bad = ~(torch.isfinite(X).all(2).all(1) & torch.isfinite(w).all(1))
    if bool(bad.any()):
        raise ValueError(f"theta of model(s) {bad.nonzero()[:, 0].tolist()[:8]} is too large for "
                         f"{theta.dtype}: its kink lines' crossings of the square overflow")
    if single:
        X, w = X[0], w[0]
    return Data(X, X.clone(), weights=w, importance=importance)


def kink_line_term(model: TMS, theta, s: float, *, importance=None) -> torch.Tensor:
    """The part of the population Hessian (B, P, P) that the kinks put on their lines, which no
    dataset carries: with r_i = relu(z_i) - x_i = -x_i where z_i = 0,

        sum_i 2 I_i E[ -x_i delta(z_i(x)) grad_theta z_i grad_theta z_i^T ],

    the derivative of 1(z_i > 0) in the gradient's 2 I_i r_i 1(z_i > 0) grad z_i. On the square
    E[g delta(z_i)] = (1 - s)^2 times the integral of g / |grad_x z_i| along the chord z_i = 0
    (parametrised by x_1 when |M_i2| >= |M_i1|, else by x_2: ds / |grad_x z_i| = du / |M_i,v|);
    on the edge x = t e_k only output k has r != 0: s (1 - s) g(t*) / |M_kk| at its kink t* in
    (0, 1); the atom has r = 0. g is cubic along a line: two Gauss points per chord are exact.
    Assumes the Hessian exists (``hessian_exists``)."""
    theta, _ = _check(model, theta, s)
    M, b = _affine(model, theta)
    I = (torch.ones(2) if importance is None else torch.as_tensor(importance)).to(theta)
    g, gw = _gauss(theta)
    points, weights, outputs = [], [], []
    for i in range(2):
        p, q = M[:, i, 0], M[:, i, 1]
        by_x1 = (q.abs() >= p.abs()) & (q != 0)
        u_coef, v_coef = torch.where(by_x1, p, q), torch.where(by_x1, q, p)  # u: the parameter
        v0, v1 = _safe_div(-b[:, i], v_coef, 2.0), _safe_div(-(b[:, i] + u_coef), v_coef, 2.0)
        flat = v0 == v1
        ua, ub = _safe_div(v0, v0 - v1, 0.0), _safe_div(v0 - 1, v0 - v1, 0.0)
        lo = torch.where(flat, 0.0, torch.minimum(ua, ub).clamp(0, 1))
        inside = (v0 >= 0) & (v0 <= 1)
        hi = torch.where(flat, inside.to(theta.dtype), torch.maximum(ua, ub).clamp(0, 1))
        u, wu = _split(lo, hi, g, gw)                                             # (B, 2)
        v = _safe_div(-(b[:, i, None] + u_coef[:, None] * u), v_coef[:, None].expand_as(u), 0.0)
        x = torch.where(by_x1[:, None, None], torch.stack([u, v], -1), torch.stack([v, u], -1))
        wu = _safe_div(wu, v_coef.abs()[:, None].expand_as(wu), 0.0) * (1 - s) ** 2
        t = _safe_div(-b[:, i], M[:, i, i], 0.0)
        on = (t > 0) & (t < 1)
        edge = torch.zeros_like(x[:, :1]).index_fill(-1, torch.tensor([i]), 1.0) * t[:, None, None]
        w_edge = torch.where(on, _safe_div(torch.ones_like(t), M[:, i, i].abs(), 0.0), 0.0)
        points.append(torch.cat([x, edge], 1))
        weights.append(torch.cat([wu, w_edge[:, None] * s * (1 - s)], 1))
        outputs += [i] * 3
    X, mass = torch.cat(points, 1), torch.cat(weights, 1)                         # (B, 6, ...)
    out = torch.tensor(outputs, device=X.device)
    coef = mass * 2 * I[out] * -X.gather(2, out.expand(X.shape[0], -1)[..., None])[..., 0]
    J = _pre_activation_grad(model, theta, X, out)                                # (B, 6, P)
    return torch.einsum("bq,bqp,bqr->bpr", coef, J, J)


def _pre_activation_grad(model: TMS, theta: torch.Tensor, X: torch.Tensor,
                         out: torch.Tensor) -> torch.Tensor:
    """d z_{out_q}(x_q) / d theta (B, Q, P) for z = W^T W x + b: d/dW_aj = [j = i] (W_a . x) +
    W_ai x_j, d/db_j = [j = i]."""
    W, _ = model.unflatten(theta)                                                 # (B, m, 2)
    h = torch.einsum("baj,bqj->bqa", W, X)                                        # (B, Q, m)
    onehot = torch.nn.functional.one_hot(out, 2).to(X)                            # (Q, 2)
    Wi = W[:, :, out].transpose(1, 2)                                             # (B, Q, m)
    dW = onehot[None, :, None, :] * h[..., None] + Wi[..., None] * X[:, :, None, :]
    parts = [dW.flatten(2)] + ([onehot.expand(X.shape[0], -1, -1)] if model.bias else [])
    return torch.cat(parts, 2)


def hessian_exists(model: TMS, theta, s: float) -> torch.Tensor:
    """(B,) bool: whether the population loss is twice differentiable at theta. It is not where a
    piece of the support with positive mass lies on a kink that moves with theta, or a kink enters
    that piece with a jump in the Hessian: the atom (s > 0) with a bias b_i = 0; an edge
    (0 < s < 1) on which some z_i is identically 0, or whose own output's kink sits at its far
    end t* = 1; the square (s < 1) on which some z_i is identically 0, or whose boundary a kink
    line contains where x_i is not 0 there (x_2 = 1, x_1 = 1, x_2 = 0 for z_1, x_1 = 0 for z_2).
    Decided exactly on M = W^T W and b as computed in theta's dtype."""
    theta, _ = _check(model, theta, s)
    M, b = _affine(model, theta)
    A, C = M[..., 0], M[..., 1]
    bad = torch.zeros(theta.shape[0], dtype=torch.bool, device=theta.device)
    if s > 0 and model.bias:
        bad |= (b == 0).any(1)
    if 0 < s < 1:
        for k in range(2):
            bad |= ((M[..., k] == 0) & (b == 0)).any(1)
            bad |= (M[:, k, k] != 0) & (M[:, k, k] + b[:, k] == 0)
    if s < 1:
        line = ~((A == 0) & (C == 0))
        bad |= (~line & (b == 0)).any(1)
        bad |= (line & (A == 0) & (C + b == 0)).any(1) | (line & (C == 0) & (A + b == 0)).any(1)
        bad |= (line[:, 0] & (A[:, 0] == 0) & (b[:, 0] == 0))
        bad |= (line[:, 1] & (C[:, 1] == 0) & (b[:, 1] == 0))
    return ~bad
