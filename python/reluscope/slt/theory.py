"""Exact learning coefficients the LLC estimator is checked against (tests, ``reproduce``).

Both give the value the estimator converges to at finite n beta and localisation gamma, not only
the n -> infinity limit, so a test can separate the estimator's error from the finite-n bias."""
from __future__ import annotations

import itertools
import math
from typing import Optional, Sequence

import torch
from torch import Tensor


def gaussian_llc(curvature: Tensor, n_beta: float, gamma: float,
                 step_size: Optional[float] = None) -> Tensor:
    """The localised LLC of a quadratic loss, exactly: for
    L(theta) = L(theta*) + (theta - theta*)^T H (theta - theta*) / 2 with Hessian eigenvalues h_i
    (``curvature``, (..., d)), the localised Gibbs measure exp(-n_beta L - gamma |u|^2 / 2) is
    Gaussian and

        E[n_beta (L - L*)] = sum_i n_beta h_i / (2 a_i),   a_i = n_beta h_i + gamma,

    -> d / 2 (the regular model's lambda) as n_beta h_i >> gamma. With ``step_size`` eps: the
    stationary value of the SGLD chain itself, whose variance along i is 1 / (a_i (1 - eps a_i / 4)).
    """
    a = n_beta * curvature + gamma
    if step_size is not None:
        a = a * (1 - step_size * a / 4)
    return (n_beta * curvature / (2 * a)).sum(-1)


def minimal_singular_llc(k: float, gamma: float, points: int = 20_001) -> float:
    """E[k w1^2 w2^2] under exp(-k w1^2 w2^2 - gamma (w1^2 + w2^2) / 2): the localised LLC of
    L(w) - L* = c (w1 w2)^2 with k = n_beta c, e.g. y = w2 w1 x at the true parameter 0
    (c = E x^2). Its limit as k -> infinity is lambda = 1/2, approached like 1/2 - O(1/log k).
    Integrating w2 out (Gaussian given w1) leaves a 1-D integral over w1 >= 0 (symmetric), done
    by the trapezoid rule in float64 on 0 and ``points`` log-spaced nodes from 1e-6 / sqrt(k + gamma)
    (the scale of the features near 0) to 12 / sqrt(gamma)."""
    lo, hi = 1e-6 / (k + gamma) ** 0.5, 12 / gamma ** 0.5
    u = torch.cat([torch.zeros(1, dtype=torch.float64),
                   torch.logspace(torch.log10(torch.tensor(lo)), torch.log10(torch.tensor(hi)),
                                  points, dtype=torch.float64)])
    marginal = torch.exp(-gamma * u ** 2 / 2) / torch.sqrt(2 * k * u ** 2 + gamma)
    conditional = k * u ** 2 / (2 * k * u ** 2 + gamma)
    return float(torch.trapezoid(conditional * marginal, u) / torch.trapezoid(marginal, u))


def deep_linear_llc(widths: Sequence[int], rank: int) -> float:
    """The learning coefficient of a deep linear network y = W_L ... W_1 x (no biases) with
    ``widths`` (H_0 = inputs, ..., H_L = outputs) at a true parameter whose product has rank r,
    by Aoyagi's closed form (M. Aoyagi, "Consideration on the learning efficiency of
    multiple-layered neural networks with linear units", Neural Networks 172, 2024):

    with D_j = H_j - r, take the subset S of the layers (|S| = l + 1) with
    max_S D < min_(not S) D, sum_S D >= l max_S D and sum_S D < l min_(not S) D; with
    s = sum_S D, m = ceil(s / l) and a = s - (m - 1) l,

        lambda = (r (H_0 + H_L) - r^2) / 2 + a (l - a) / (4 l) - l (l - 1) / 4 (s / l)^2
                 + (1/2) sum_(i < j in S) D_i D_j.

    One layer (L = 1) is the regular model: lambda = H_0 H_1 / 2 whatever r.
    """
    H = [int(h) for h in widths]
    if len(H) < 2 or min(H) < 1 or not 0 <= rank <= min(H):
        raise ValueError(f"widths must be >= 2 positive integers and 0 <= rank <= min(widths), "
                         f"got {list(widths)}, {rank}")
    D = [h - rank for h in H]
    for size in range(2, len(D) + 1):
        for S in itertools.combinations(range(len(D)), size):
            inside = [D[i] for i in S]
            outside = [D[i] for i in range(len(D)) if i not in S]
            ell, s = size - 1, sum(inside)
            if s < ell * max(inside):
                continue
            if outside and (max(inside) >= min(outside) or s >= ell * min(outside)):
                continue
            m = math.ceil(s / ell)
            a = s - (m - 1) * ell
            pairs = sum(x * y for x, y in itertools.combinations(inside, 2))
            return ((rank * (H[0] + H[-1]) - rank ** 2) / 2 + a * (ell - a) / (4 * ell)
                    - ell * (ell - 1) / 4 * (s / ell) ** 2 + pairs / 2)
    raise AssertionError(f"no subset satisfies Aoyagi's conditions for D = {D}")  # cannot happen


def deep_linear_problem(widths: Sequence[int], rank: int, dtype: torch.dtype = torch.float64,
                        device="cpu"):
    """A deep linear network at a true parameter of rank r, for ``deep_linear_llc``: the model
    (``MLP(widths, "identity", bias=False)``), theta* (P,) with W_l = diag(1, ..., 1, 0, ...) (r
    ones) in every layer, and whitened data: X = sqrt(d0) I (d0 samples of weight 1 / d0, so
    sum_n w_n x x^T = I) with targets W* x, W* = W_L ... W_1. Then L(W) - L* =
    ||W_L ... W_1 - W*||_F^2 exactly: the population loss, usable at any n beta."""
    from ..data import Data
    from ..models.mlp import MLP

    if not 0 <= rank <= min(widths):
        raise ValueError(f"rank must be in [0, {min(widths)}], got {rank}")
    blocks = []
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        W = torch.zeros(d_out, d_in, dtype=dtype)
        W[range(rank), range(rank)] = 1.0
        blocks.append(W)
    product = blocks[0]
    for W in blocks[1:]:
        product = W @ product
    X = math.sqrt(widths[0]) * torch.eye(widths[0], dtype=dtype)
    theta = torch.cat([W.flatten() for W in blocks]).to(device)
    return MLP(list(widths), "identity", bias=False), theta, Data(X, X @ product.T, device=device)
