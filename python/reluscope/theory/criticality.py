"""Signal propagation in deep random MLPs at initialisation: the exact infinite-width maps of the
deep-learning-theory notes, by Gauss-Hermite quadrature for every activation (closed forms for
relu and identity), and the finite-width laws checked by ``reproduce criticality``.

Convention: z^{l+1} = W a^l + b with the weights as the layer applies them ~ N(0, C_W / fan_in)
and b ~ N(0, C_b) (``Model.init(C_W=, C_b=)``, either parameterisation), a^l = sigma(z^l).
Infinite width: z^l is Gaussian with kernel K^l,

  K^{l+1}(x, x') = C_b + C_W E[sigma(u) sigma(u')],  (u, u') ~ N(0, K^l restricted to x, x')
  (``variance_map``, ``correlation_map``),
  chi_par(K) = dK'/dK = C_W E[sigma(z) sigma'(z) z] / K,  chi_perp(K) = C_W E[sigma'(z)^2]
  (``susceptibilities``), z ~ N(0, K).

Criticality: chi_par = chi_perp = 1 at the fixed point K* (ReLU: C_W = 2, C_b = 0, every K a fixed
point; tanh: C_W = 1, C_b = 0, K* = 0). For tanh at criticality, E[tanh(z)^2] = K - 2K^2 +
(17/3) K^3 + O(K^4) (tanh z = z - z^3/3 + 2z^5/15 - ..., E z^4 = 3K^2, E z^6 = 15 K^3), so
1/K^{l+1} = 1/K^l + 2 + (4 - 17/3) K^l + O(K^2) and (``tanh_depth_law``)

  1/K^l = 2 l - (5/6) ln l + c + o(1):  K^l ~ 1 / (2 l) — the K* = 0 class's power law.

Off criticality with a fixed point K* > 0 the correlation of two inputs approaches 1 like
chi_perp(K*)^l: the correlation length xi = -1 / ln chi_perp(K*) (``correlation_length``).

Finite width, ReLU without bias (``relu_norm_ratio``): given layer l - 1, the n_l pre-activations
are i.i.d. N(0, C_W |a^{l-1}|^2 / n_{l-1}); so S^l = sum_j (z_j^l)^2 = (C_W |a^{l-1}|^2 / n_{l-1})
chi^2_{n_l} and |a^l|^2 = (C_W |a^{l-1}|^2 / n_{l-1}) R_l with R_l = sum_j g_j^2 1(g_j > 0)
independent across layers, E R = n/2, E R^2 = n^2/4 + 5n/4. Hence exactly, at any widths,

  E[(S^l)^2] / E[S^l]^2 = (1 + 2/n_l) prod_{k<l} (1 + 5/n_k),

whose first-order part (2 + 5 (l - 1)) / n is the four-point vertex V^l / (n (K^l)^2) of Roberts,
Yaida and Hanin (V^{l+1} = chi_par^2 V^l + C_W^2 Var(sigma(z)^2) = V^l + 5 K^2 at ReLU
criticality) plus the Gaussian 2/n.

Any activation, equal widths n, to leading order in 1/n (``four_point_vertex``): with
Cov(z_i^2, z_j^2) = V^l / n (i != j) and V^1 = 0 (the first layer is Gaussian),
V^{l+1} = chi_par(K^l)^2 V^l + C_W^2 (E sigma(z)^4 - (E sigma(z)^2)^2), z ~ N(0, K^l); the
empirical K^l = (1/n) sum_i (z_i^l)^2 then has n Var(K^l) = 2 (K^l)^2 + V^l + O(1/n).
"""
from __future__ import annotations

import functools
import math
from typing import Optional

import torch

from ..reference.activations import activation_fn

__all__ = ["correlation_length", "correlation_map", "fixed_point", "four_point_vertex",
           "relu_norm_ratio", "susceptibilities", "tanh_depth_law", "variance_map"]

#: Quadrature points of the 1-D and 2-D rules (module docstring).
POINTS_1D, POINTS_2D = 4001, 801


@functools.lru_cache(maxsize=None)
def _gh(n: int = POINTS_1D) -> tuple[torch.Tensor, torch.Tensor]:
    """Points g and weights w with sum_i w_i f(g_i) ~ E f(g), g ~ N(0, 1): the trapezoid rule on
    [-10, 10] with the Gaussian density, weights normalised to sum 1."""
    g = torch.linspace(-10.0, 10.0, n, dtype=torch.float64)
    w = torch.exp(-g ** 2 / 2)
    return g, w / w.sum()


def _sigma(activation: str, slope: float):
    return activation_fn(activation, slope)


def _dsigma(activation: str, slope: float, z: torch.Tensor) -> torch.Tensor:
    z = z.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (d,) = torch.autograd.grad(_sigma(activation, slope)(z).sum(), z)
    return d


def variance_map(K: torch.Tensor, activation: str, C_W: float, C_b: float = 0.0,
                 slope: float = 0.01) -> torch.Tensor:
    """K' = C_b + C_W E[sigma(z)^2], z ~ N(0, K), elementwise over K (float64): relu K/2 and
    identity K exactly, else the 1-D rule."""
    K = torch.as_tensor(K, dtype=torch.float64)
    if activation == "relu":
        return C_b + C_W * K / 2
    if activation == "identity":
        return C_b + C_W * K
    g, w = _gh()
    z = K.clamp(min=0).sqrt()[..., None] * g
    return C_b + C_W * (w * _sigma(activation, slope)(z) ** 2).sum(-1)


def correlation_map(K11: torch.Tensor, K22: torch.Tensor, K12: torch.Tensor, activation: str,
                    C_W: float, C_b: float = 0.0, slope: float = 0.01) -> torch.Tensor:
    """K12' = C_b + C_W E[sigma(u) sigma(u')], (u, u') ~ N(0, [[K11, K12], [K12, K22]]): relu by
    the arc-cosine formula, identity exactly, else the 2-D rule on
    u = sqrt(K11) g1, u' = sqrt(K22) (rho g1 + sqrt(1 - rho^2) g2)."""
    K11, K22, K12 = (torch.as_tensor(t, dtype=torch.float64) for t in (K11, K22, K12))
    if activation == "identity":
        return C_b + C_W * K12
    norm = torch.sqrt(K11 * K22)
    rho = (K12 / norm).clamp(-1.0, 1.0)
    if activation == "relu":
        t = torch.arccos(rho)
        return C_b + C_W * norm * (torch.sin(t) + (math.pi - t) * torch.cos(t)) / (2 * math.pi)
    g, w = _gh(POINTS_2D)
    g1, g2 = g[:, None], g[None, :]
    ww = w[:, None] * w[None, :]
    s = _sigma(activation, slope)
    r = rho[..., None, None]
    u = K11.sqrt()[..., None, None] * g1
    v = K22.sqrt()[..., None, None] * (r * g1 + torch.sqrt(1 - r ** 2) * g2)
    return C_b + C_W * (ww * s(u) * s(v)).sum((-2, -1))


def susceptibilities(K: torch.Tensor, activation: str, C_W: float,
                     slope: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """(chi_par, chi_perp) at K > 0 (module docstring), by the 1-D rule (relu: C_W / 2 both)."""
    K = torch.as_tensor(K, dtype=torch.float64)
    if activation == "relu":
        c = torch.full_like(K, C_W / 2)
        return c, c.clone()
    g, w = _gh()
    z = K.sqrt()[..., None] * g
    s, d = _sigma(activation, slope)(z), _dsigma(activation, slope, z)
    return C_W * (w * s * d * z).sum(-1) / K, C_W * (w * d ** 2).sum(-1)


def fixed_point(activation: str, C_W: float, C_b: float = 0.0, K0: float = 1.0,
                iters: int = 100000, tol: float = 1e-15, slope: float = 0.01) -> float:
    """K* = variance_map(K*), by iterating the map from K0 until the relative change is below tol
    (ValueError when it does not settle within iters: no stable fixed point from K0)."""
    K = torch.tensor(float(K0), dtype=torch.float64)
    for _ in range(iters):
        new = variance_map(K, activation, C_W, C_b, slope)
        if not math.isfinite(float(new)):
            break
        if abs(float(new - K)) <= tol * max(float(abs(new)), 1e-300):
            return float(new)
        K = new
    raise ValueError(f"the variance map of {activation} (C_W={C_W}, C_b={C_b}) did not settle "
                     f"within {iters} iterations from K0={K0} (or diverged)")


def correlation_length(activation: str, C_W: float, C_b: float = 0.0, K0: float = 1.0,
                       slope: float = 0.01) -> float:
    """xi = -1 / ln chi_perp(K*) (module docstring); inf at chi_perp = 1, ValueError where
    chi_perp(K*) > 1 (the correlation-1 fixed point is unstable: chaotic phase)."""
    K = fixed_point(activation, C_W, C_b, K0, slope=slope)
    chi = float(susceptibilities(torch.tensor(K), activation, C_W, slope)[1])
    if chi > 1:
        raise ValueError(f"chi_perp(K*) = {chi:.4g} > 1: correlations do not converge to 1")
    return math.inf if chi == 1 else -1.0 / math.log(chi)


def four_point_vertex(activation: str, C_W: float, C_b: float, K1: float, depth: int,
                      slope: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """(K^l, V^l) for l = 1..depth from K^1 = K1 (module docstring's recursion, leading order in
    1/width); expectations by the 1-D rule (relu in closed form: E relu^4 = 3K^2/2)."""
    K = torch.tensor(float(K1), dtype=torch.float64)
    V = torch.zeros((), dtype=torch.float64)
    Ks, Vs = [], []
    for _ in range(depth):
        Ks.append(K)
        Vs.append(V)
        if activation == "relu":
            s2, s4 = K / 2, 3 * K ** 2 / 2
        elif activation == "identity":
            s2, s4 = K, 3 * K ** 2
        else:
            g, w = _gh()
            a = _sigma(activation, slope)(K.sqrt() * g)
            s2, s4 = (w * a ** 2).sum(), (w * a ** 4).sum()
        chi = susceptibilities(K, activation, C_W, slope)[0] if activation != "identity" else \
            torch.tensor(C_W, dtype=torch.float64)
        V = chi ** 2 * V + C_W ** 2 * (s4 - s2 ** 2)
        K = C_b + C_W * s2
    return torch.stack(Ks), torch.stack(Vs)


def tanh_depth_law(layer: torch.Tensor, c: float = 0.0) -> torch.Tensor:
    """K^l of tanh at criticality (C_W = 1, C_b = 0) at large depth: 1 / (2 l - (5/6) ln l + c);
    c depends on the input (module docstring)."""
    layer = torch.as_tensor(layer, dtype=torch.float64)
    return 1.0 / (2 * layer - (5.0 / 6.0) * torch.log(layer) + c)


def relu_norm_ratio(widths, layer: Optional[int] = None) -> torch.Tensor:
    """E[(S^l)^2] / E[S^l]^2 of a ReLU MLP without bias, S^l the sum of squares of layer l's
    pre-activations (module docstring), exact at any widths: (1 + 2/n_l) prod_{k<l} (1 + 5/n_k).
    widths: the hidden widths [n_1, n_2, ...] (n_l of the layer whose pre-activations are summed,
    l = 1 the first hidden); returns the ratio for every l = 1..len(widths) (or at ``layer``)."""
    n = torch.as_tensor(widths, dtype=torch.float64)
    before = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 + 5 / n, 0)[:-1]])
    ratio = (1 + 2 / n) * before
    return ratio if layer is None else ratio[layer - 1]
