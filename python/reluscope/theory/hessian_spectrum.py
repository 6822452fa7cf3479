"""The Hessian spectrum of Pennington & Bahri (2017), "Geometry of neural network loss surfaces
via random matrix theory" (ICML), computed exactly from its free-probability model.

At a critical point of energy eps the Hessian is H = H0 + H1, with H0 Marchenko-Pastur of scale 1
and ratio phi (0 < phi < 1: parameters per constraint) and H1 a Wigner semicircle of variance
2 eps, freely independent. The R-transforms add,

    R(g) = R0(g) + R1(g) = 1 / (1 - phi g) + 2 eps g,

so the Stieltjes transform G(z) = int rho(t) / (z - t) dt solves R(G) + 1/G = z; clearing the
denominators G (1 - phi G) gives the cubic

    -2 eps phi G^3 + (2 eps + phi z) G^2 + (1 - phi - z) G + 1 = 0,

and rho(lam) = -Im G(lam + i0) / pi on the branch with G ~ 1/z at infinity. Its functional
inverse z(G) = 1 / (1 - phi G) + 2 eps G + 1/G is real on the real G axis, and the edges of the
support (one interval) are z at the two real zeros of z'(G): G- < 0 (the lower edge) and
0 < G+ < 1/phi (the upper edge). Everything is float64 on the CPU.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import Tensor

QUADRATURE_NODES = 32  # Gauss-Legendre nodes of negative_fraction (accuracy: its docstring)


def _check_phi(phi: float) -> float:
    phi = float(phi)
    if not 0 < phi < 1:  # NaN fails too
        raise ValueError(f"phi must be in (0, 1), got {phi}")
    return phi


def _check_eps(eps: float) -> float:
    eps = float(eps)
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be finite and >= 0, got {eps}")
    return eps


def _bisect(f: Callable[[float], float], lo: float, hi: float) -> float:
    """The zero of an increasing f with f(lo) <= 0 <= f(hi), to the last bit: halves [lo, hi]
    until no float64 lies strictly between the ends."""
    while lo < (mid := 0.5 * (lo + hi)) < hi:
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _z(g: float, eps: float, phi: float) -> float:
    """z(G) = 1 / (1 - phi G) + 1/G + 2 eps G, the first two over one denominator: near the lower
    edge as phi -> 1 they are each ~ (1 - phi) and their sum ~ (1 - phi)^2."""
    return (1 + (1 - phi) * g) / (g * (1 - phi * g)) + 2 * eps * g


def _critical_points(eps: float, phi: float) -> tuple[float, float]:
    """G- < 0 < G+ < 1/phi with z'(G) = phi / (1 - phi G)^2 + 2 eps - 1/G^2 = 0. Times G^2,
    z' = 0 reads c(G) = phi G^2 / (1 - phi G)^2 + 2 eps G^2 - 1 = 0, and c increases with |G| on
    each side (|G| / |1 - phi G| does), from -1 at G = 0: one zero on each side, below the
    eps = 0 zeros -1 / (sqrt(phi) (1 -+ sqrt(phi))) in magnitude. There is none beyond 1/phi,
    where phi G^2 / (1 - phi G)^2 > 1/phi > 1, so the support is one interval."""
    def c(g):
        return phi * g * g / (1 - phi * g) ** 2 + 2 * eps * g * g - 1

    r = math.sqrt(phi)
    below = -_bisect(lambda u: c(-u), 0.0, 1 / (r * (1 - r)))
    above = _bisect(c, 0.0, 1 / (r * (1 + r)))
    return below, above


def critical_energy(phi: float) -> float:
    """eps_c(phi), the energy at which the lower edge of the spectrum reaches 0, in closed form:

        eps_c = (1 - 20 phi - 8 phi^2 + (1 + 8 phi)^(3/2)) / 16
              = 4 (1 - phi)^3 (1 + s) / (3 + s)^3,   s = sqrt(1 + 8 phi).

    The two lines are equal (with phi = (s^2 - 1) / 8 the first is (3 - s)^3 (1 + s) / 128, and
    3 - s = 8 (1 - phi) / (3 + s)); the second is evaluated, as it has no cancellation (the first
    cancels terms ~25 down to 16 eps_c: 9e-12 relative error at phi = 0.95). eps_c -> 1/8 as
    phi -> 0 (the semicircle alone, radius 2 sqrt(2 eps) = 1) and -> 0 as phi -> 1 (the
    Marchenko-Pastur edge (1 - sqrt(phi))^2)."""
    phi = _check_phi(phi)
    s = math.sqrt(1 + 8 * phi)
    return 4 * (1 - phi) ** 3 * (1 + s) / (3 + s) ** 3


def spectrum_edges(eps: float, phi: float) -> tuple[float, float]:
    """(lower, upper): the support of rho, z(G-) and z(G+) at the real zeros of z'(G) (module
    docstring), each found by bisection to the last bit. As z' = 0 there, the edges' error is
    second order in the zeros' and so is the round-off of evaluating z: a few ulp of the terms of
    z: at eps = 0 within 5e-16 relative of ((1 - sqrt(phi))^2, (1 + sqrt(phi))^2) for phi from
    1e-4 to 1 - 1e-6. The upper edge is > 1, the mean."""
    eps, phi = _check_eps(eps), _check_phi(phi)
    below, above = _critical_points(eps, phi)
    return _z(below, eps, phi), _z(above, eps, phi)


def critical_energy_from_edge(phi: float) -> float:
    """eps_c(phi) found numerically, independently of the closed form of ``critical_energy``: the
    eps at which the lower edge of ``spectrum_edges`` is 0, by bisection on eps in [0, 1/8] to the
    last bit. The lower edge is max over G < 0 of z(G), so it decreases strictly with eps (as
    2 eps G does), from (1 - sqrt(phi))^2 > 0 at eps = 0; at eps = 1/8 it is < 0: with u = -G > 0,
    G z(G) = 1 - u / (1 + phi u) + u^2 / 4 > (1 - u/2)^2 >= 0. Within 9e-16 relative of
    ``critical_energy`` for phi in [0.001, 0.999] (999 values checked)."""
    phi = _check_phi(phi)
    return _bisect(lambda eps: -_z(_critical_points(eps, phi)[0], eps, phi), 0.0, 0.125)


def density(lam: float | Tensor, eps: float, phi: float) -> Tensor:
    """rho(lam) = -Im G(lam + i0) / pi at the points ``lam`` (a float -> 0-d tensor, or a 1-D
    tensor -> same shape), float64; 0 outside the support (``spectrum_edges``).

    With w = 1/G the cubic becomes the monic w^3 + (1 - phi - z) w^2 + (2 eps + phi z) w
    - 2 eps phi = 0 (no degenerate leading coefficient at eps = 0 or small phi), whose roots are
    the eigenvalues of its companion matrix, in complex128. For real lam inside the support the
    physical G is not real, so the (real) cubic has one conjugate pair; the physical member has
    Im G < 0, i.e. Im w > 0, and rho = Im w / (pi |w|^2). Exact up to the eigenvalue round-off,
    checked against mpmath's roots: <= 4e-15 absolute in the bulk; the merging pair is
    ill-conditioned near an edge: up to 1e-12 absolute at 1e-8 of the support's width from it."""
    eps, phi = _check_eps(eps), _check_phi(phi)
    lam = torch.as_tensor(lam, dtype=torch.float64)
    if lam.dim() > 1 or not bool(torch.isfinite(lam).all()):
        raise ValueError(f"lam must be a finite float or 1-D tensor, got shape {tuple(lam.shape)}")
    z = lam.reshape(-1)
    companion = torch.zeros(z.numel(), 3, 3, dtype=torch.float64)
    companion[:, 0, 0] = -(1 - phi - z)
    companion[:, 0, 1] = -(2 * eps + phi * z)
    companion[:, 0, 2] = 2 * eps * phi
    companion[:, 1, 0] = companion[:, 2, 1] = 1
    w = torch.linalg.eigvals(companion)
    w = w.gather(1, w.imag.argmax(1, keepdim=True)).squeeze(1)
    rho = (w.imag / (math.pi * w.abs() ** 2)).clamp(min=0)
    lower, upper = spectrum_edges(eps, phi)
    return torch.where((z > lower) & (z < upper), rho, torch.zeros_like(rho)).reshape(lam.shape)


def negative_fraction(eps: float, phi: float) -> float:
    """alpha(eps, phi) = int_{lower}^0 rho(lam) d lam, the fraction of negative eigenvalues (0 when
    the lower edge is >= 0; the upper edge is > 1, so the range ends at 0). With lam = lower + t^2
    the integrand 2 t rho(lower + t^2) is analytic on [0, sqrt(-lower)] (rho ~ sqrt(lam - lower)
    at the edge), integrated by Gauss-Legendre with QUADRATURE_NODES nodes. Checked against
    mpmath's tanh-sinh quadrature of mpmath's cubic roots at 25 digits for phi from 1e-6 to 0.95
    and eps from eps_c (1 + 1e-6) to 1e4: absolute error <= 2e-16, relative <= 4e-10 (the largest
    at eps_c (1 + 1e-6), alpha ~ 1e-11, from the density's round-off at the edge); 16 nodes
    already did as well.

    Just above eps_c, alpha ~ alpha0(phi) ((eps - eps_c) / eps_c)^(3/2): the lower edge moves as
    2 G- (eps - eps_c) and the density near it is sqrt(2 (lam - lower) / |z''(G-)|) / pi."""
    lower, _ = spectrum_edges(eps, phi)
    if lower >= 0:
        return 0.0
    x, wts = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    half = math.sqrt(-lower) / 2
    t = torch.as_tensor(half * (x + 1), dtype=torch.float64)
    rho = density(lower + t * t, eps, phi)
    return float((torch.as_tensor(half * wts, dtype=torch.float64) * 2 * t * rho).sum())


def sample_hessian(P: int, phi: float, eps: float, *,
                   generator: torch.Generator | None = None) -> Tensor:
    """One draw (P, P) float64 of the finite model H = J J^T + W: J is (P, M) with i.i.d.
    N(0, 1/M) entries, M = round(P / phi), so J J^T is Wishart with the realised ratio P / M
    (compare with the theory at phi = P / M, not phi, when P / phi is not an integer); W is GOE,
    (A + A^T) sqrt(eps / P) with A (P, P) i.i.d. N(0, 1): off-diagonal variance 2 eps / P,
    diagonal 4 eps / P, so its spectrum tends to the semicircle of variance 2 eps. J is drawn
    before A, both from ``generator``. P >= 1 (an int); the result is exactly symmetric."""
    phi, eps = _check_phi(phi), _check_eps(eps)
    if isinstance(P, bool) or not isinstance(P, int) or P < 1:
        raise ValueError(f"P must be an int >= 1, got {P!r}")
    M = round(P / phi)
    J = torch.randn(P, M, generator=generator, dtype=torch.float64) / math.sqrt(M)
    A = torch.randn(P, P, generator=generator, dtype=torch.float64)
    wishart = J @ J.T  # the product's rounding is not symmetric: average it with its transpose
    return (wishart + wishart.T) / 2 + (A + A.T) * math.sqrt(eps / P)
