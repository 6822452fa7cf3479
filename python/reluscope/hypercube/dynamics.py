"""The localisation dynamics of one ReLU neuron: τ dw/dt = ½ f_{p1}(w) − ½ (Σ0 + Σ1) w, on
hypercube data (exact f) or Gaussian data of the same covariances (closed-form f)."""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import torch

from .._validate import as_float_tensor, check_finite, check_ndim
from ..progress import Progress
from .sums import f as f_exact, moments
from .weights import Ising, Table

_TABLE_FLOW_MAX_N = 24  # 2^24 float64 weights: 128 MiB

__all__ = ["FlowResult", "flow", "ipr"]


def ipr(w: torch.Tensor) -> torch.Tensor:
    """Inverse participation ratio Σ w_i⁴ / (Σ w_i²)² over the last dimension."""
    w2 = w * w
    return (w2 * w2).sum(-1) / w2.sum(-1) ** 2


class FlowResult(NamedTuple):
    t: torch.Tensor    # (T,) saved times
    w: torch.Tensor    # (T, B, n) trajectory
    ipr: torch.Tensor  # (T, B)


def flow(w0: torch.Tensor, p1, p0, *, tau: float = 1.0, dt: float = 0.05, steps: int = 200,
         method: str = "rk4", save_every: int = 1,
         f_fn: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
         progress: bool = False) -> FlowResult:
    """Integrate τ dw/dt = ½ f_{p1}(w) − ½ (Σ0 + Σ1) w from a batch of initial w.

    Args:
        w0: (B, n) or (n,) initial receptive fields.
        p1, p0: class weights: hypercube families (Uniform, Product, Ising, Table) or
            ``Gaussian(Σ)``; Σ_c is the second moment of p_c, f_{p1} is the exact hypercube f
            (tie="include") or ``f_gaussian`` for a Gaussian p1 — so the same call runs the
            Gaussian contrast with matching covariances.
        tau, dt, steps: time constant, step and number of steps.
        method: "rk4" or "euler".
        save_every: keep every save_every-th state (t = 0 always kept).
        f_fn: replaces f_{p1} (e.g. ``lambda w: hc.f_monte_carlo(w, X)``).
        progress: show a progress bar (``reluscope.progress``) on stderr.

    Returns:
        FlowResult(t (T,), w (T, B, n), ipr (T, B)), T = steps // save_every + 1.
    """
    w = as_float_tensor(w0, "w0")
    check_ndim(w, "w0", (1, 2), "(B, n) or (n,)")
    check_finite(w, "w0")
    w = w.reshape(-1, w.shape[-1]).clone()
    if method not in ("rk4", "euler"):
        raise ValueError(f"method must be 'rk4' or 'euler', got {method!r}")
    if steps < 0 or save_every < 1 or not dt > 0 or not tau > 0:
        raise ValueError("need steps >= 0, save_every >= 1, dt > 0 and tau > 0")
    for name, p in (("p1", p1), ("p0", p0)):
        if p.n != w.shape[1]:
            raise ValueError(f"{name} has n={p.n} but w0 has n={w.shape[1]}")
    S1 = moments(p1, w.dtype, w.device)[1].to(w.dtype)
    S0 = moments(p0, w.dtype, w.device)[1].to(w.dtype)
    A = 0.5 * (S0 + S1)
    if f_fn is None and isinstance(p1, Ising) and p1.n <= _TABLE_FLOW_MAX_N:
        # f is called 4 times a step with the same p1: tabulate the Ising weights once, so each
        # call reads 2 numbers per vertex pair instead of recomputing energies and exponentials
        p1 = Table(p1.probabilities(torch.float64, w.device))
    F = f_fn or (lambda v: f_exact(v, p1))

    def rhs(v):
        return (0.5 * F(v) - v @ A) / tau

    ts, ws = [0.0], [w.clone()]
    bar = Progress(steps, "flow", enabled=progress)
    for k in range(1, steps + 1):
        if method == "euler":
            w = w + dt * rhs(w)
        else:
            k1 = rhs(w)
            k2 = rhs(w + 0.5 * dt * k1)
            k3 = rhs(w + 0.5 * dt * k2)
            k4 = rhs(w + dt * k3)
            w = w + (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        if k % save_every == 0:
            ts.append(k * dt)
            ws.append(w.clone())
        bar.update()
    W = torch.stack(ws)
    return FlowResult(torch.tensor(ts, dtype=w.dtype, device=w.device), W, ipr(W))
