"""Exact kernels of random ReLU MLPs in the NTK parameterisation, to check empirical NTKs
(``reluscope.hessian.ntk``) against.

Conventions (``MLP(widths, "relu", parameterization="ntk")`` with ``init(C_W=, C_b=)``): layer l
computes z^l = W^l a^{l-1} / sqrt(n_{l-1}) + b^l, a^l = relu(z^l) on hidden layers, the last layer
linear; theta's weight entries ~ N(0, C_W), biases ~ N(0, C_b). The NTK is in that theta:
Theta(x, x') = sum_p dy/dtheta_p(x) dy/dtheta_p(x') per output (outputs decouple as the widths grow).

Infinite width (every hidden n_l -> inf; Jacot et al., Arora et al.), with Sigma^l(x, x') =
E[relu(u) relu(u')] and dSigma^l = E[relu'(u) relu'(u')] for (u, u') ~ N(0, K^{l-1}) — the
arc-cosine kernels (Cho & Saul): with rho = K12 / sqrt(K11 K22), t = arccos rho,
Sigma = sqrt(K11 K22) (sin t + (pi - t) cos t) / (2 pi), dSigma = (pi - t) / (2 pi):

  K^1 = C_W <x, x'> / d + C_b,            Theta^1 = <x, x'> / d + 1,
  K^l = C_W Sigma^l + C_b,                Theta^l = Sigma^l + 1 + C_W dSigma^l Theta^{l-1}
(the "+ C_b" and "+ 1" terms only with biases). For two weight layers the mean of the empirical
NTK equals Theta^2 at every width (the first layer's pre-activations are exactly Gaussian), and
Theta(x, x) = 1 + (1/n) sum_k Y_k with i.i.d. Y = 1(z > 0) (z^2 + c w^2), z ~ N(0, K^1(x, x)),
w ~ N(0, C_W), c = |x|^2 / d + 1: its variance is exactly Var(Y) / n (``relu_ntk_variance``).
"""
from __future__ import annotations

import math
from typing import Optional

import torch

__all__ = ["relu_kernels", "relu_ntk_variance"]


def relu_kernels(X1: torch.Tensor, X2: Optional[torch.Tensor] = None, *, depth: int,
                 C_W: float = 2.0, C_b: float = 0.0, bias: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Infinite-width NNGP K^depth and NTK Theta^depth (module docstring) of a ReLU MLP with
    ``depth`` weight layers, between the rows of X1 (N1, d) and X2 (N2, d) (None: X1); float64.
    Returns (K (N1, N2), Theta (N1, N2)), per output. ValueError for an input whose K(x, x)
    vanishes (x = 0 without bias variance: the kink's derivative would decide the kernel)."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    X1 = torch.as_tensor(X1, dtype=torch.float64)
    X2 = X1 if X2 is None else torch.as_tensor(X2, dtype=torch.float64)
    if X1.dim() != 2 or X2.dim() != 2 or X1.shape[1] != X2.shape[1]:
        raise ValueError(f"X1, X2 must be (N, d) with one d, got {tuple(X1.shape)}, "
                         f"{tuple(X2.shape)}")
    d = X1.shape[1]
    one = 1.0 if bias else 0.0
    cb = C_b * one
    k12 = C_W * (X1 @ X2.T) / d + cb
    k11 = C_W * (X1 * X1).sum(1) / d + cb
    k22 = C_W * (X2 * X2).sum(1) / d + cb
    t12 = (X1 @ X2.T) / d + one
    t11 = (X1 * X1).sum(1) / d + one
    t22 = (X2 * X2).sum(1) / d + one
    if depth > 1 and (not bool((k11 > 0).all()) or not bool((k22 > 0).all())):
        raise ValueError("an input has K(x, x) = 0 (x = 0 and no bias variance)")
    for _ in range(depth - 1):
        norm = torch.sqrt(k11[:, None] * k22[None, :])
        t = torch.arccos((k12 / norm).clamp(-1.0, 1.0))
        sig = norm * (torch.sin(t) + (math.pi - t) * torch.cos(t)) / (2 * math.pi)
        dsig = (math.pi - t) / (2 * math.pi)
        t12 = sig + one + C_W * dsig * t12
        t11 = k11 / 2 + one + C_W / 2 * t11
        t22 = k22 / 2 + one + C_W / 2 * t22
        k12 = C_W * sig + cb
        k11 = C_W * k11 / 2 + cb
        k22 = C_W * k22 / 2 + cb
    return k12, t12


def relu_ntk_variance(X: torch.Tensor, width: int, *, C_W: float = 2.0, C_b: float = 0.0,
                      bias: bool = True) -> torch.Tensor:
    """Exact variance over initialisations of Theta(x, x) of a two-layer ReLU MLP [d, width, ...]
    (module docstring): Var(Y) / width, E[Y] = (q + c C_W) / 2,
    E[Y^2] = (3 q^2 + 2 c q C_W + 3 c^2 C_W^2) / 2, q = K^1(x, x). X (N, d) -> (N,) float64."""
    X = torch.as_tensor(X, dtype=torch.float64)
    one = 1.0 if bias else 0.0
    sq = (X * X).sum(1) / X.shape[1]
    q, c = C_W * sq + C_b * one, sq + one
    mean = (q + c * C_W) / 2
    second = (3 * q ** 2 + 2 * c * q * C_W + 3 * c ** 2 * C_W ** 2) / 2
    return (second - mean ** 2) / width
