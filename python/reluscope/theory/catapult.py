"""The catapult phase of gradient descent (Lewkowycz, Bahri, Dyer, Sohl-Dickstein & Gur-Ari 2020)
in its exactly solvable model, the two-layer linear "uv" network.

Model: f(x) = v^T u x / sqrt(n), u, v in R^n (``MLP([1, n, 1], "identity", bias=False,
parameterization="ntk")``, theta = (u, v)), one sample x = 1 with target 0, loss L = f^2 / 2,
full-batch GD with step eta. The NTK is Theta = (|u|^2 + |v|^2) / n =: lambda (the top — here the
only — eigenvalue of the NTK over the sample count). With grad_u L = f v / sqrt(n),
grad_v L = f u / sqrt(n):

  u' = u - eta f v / sqrt(n),  v' = v - eta f u / sqrt(n), hence exactly (``uv_step``)

  f'      = f (1 - eta lambda + eta^2 f^2 / n),
  lambda' = lambda + eta f^2 (eta lambda - 4) / n.

The pair (f, lambda) is closed: GD on 2n parameters is a 2-D map. Its Hessian is
(v, u)(v, u)^T / n + f [[0, I], [I, 0]] / sqrt(n): lambda plus O(f / sqrt(n)), lambda at a
minimum (f = 0).

Phases (n -> infinity at fixed f_0 = O(1), c = eta lambda_0; ``uv_phase``): the map in
phi = f / sqrt(n) is width-free, phi' = phi (1 - c + eta^2 phi^2), eta lambda' = eta lambda +
eta^2 phi^2 (eta lambda - 4), started at phi_0 = f_0 / sqrt(n) -> 0:
  - c < 2, lazy: |1 - c| < 1, f decays geometrically and lambda moves by O(f_0^2 / n);
  - 2 < c < 4, catapult: |1 - c| > 1, f grows until eta^2 f^2 / n = O(1); then eta lambda - 4 < 0
    drives lambda down until eta lambda < 2, and f converges: the loss spikes by a factor O(n) and
    training ends at a flatter point with eta lambda_final < 2;
  - c > 4: lambda grows with f, and both diverge.
"""
from __future__ import annotations

import math

import torch

__all__ = ["uv_dynamics", "uv_phase", "uv_step"]


def uv_step(f: torch.Tensor, lam: torch.Tensor, eta: torch.Tensor, n: int):
    """One GD step of the uv model in its closed variables: (f, lambda) -> (f', lambda')."""
    return (f * (1 - eta * lam + eta ** 2 * f ** 2 / n),
            lam + eta * f ** 2 * (eta * lam - 4) / n)


def uv_dynamics(f0: torch.Tensor, lam0: torch.Tensor, eta: torch.Tensor, n: int, steps: int):
    """The exact trajectories of B uv models: f0, lam0, eta (B,) -> f, lam (B, steps + 1), entry
    t after t steps. Overflow gives inf / NaN, as GD's own does."""
    f, lam = [f0], [lam0]
    for _ in range(steps):
        a, b = uv_step(f[-1], lam[-1], eta, n)
        f.append(a)
        lam.append(b)
    return torch.stack(f, 1), torch.stack(lam, 1)


def uv_phase(c: float) -> str:
    """The large-width phase of the uv model at c = eta lambda_0: "lazy", "catapult" or
    "divergent" (the boundaries c = 2 and 4 themselves: "boundary")."""
    if not math.isfinite(c) or c <= 0:
        raise ValueError(f"c must be positive and finite, got {c!r}")
    if c in (2.0, 4.0):
        return "boundary"
    return "lazy" if c < 2 else "catapult" if c < 4 else "divergent"
