"""reluscope.theory.hessian_spectrum against what is known exactly: the closed-form critical
energy, Marchenko-Pastur at eps = 0, the free cumulants (moments), the semicircle as phi -> 0, the
3/2 law with its analytic prefactor, and draws of the finite model (counts and Tracy-Widom)."""
import math

import numpy as np
import pytest
import torch

from reluscope import theory

PHIS = [1e-3, 0.05, 0.2, 0.5, 0.8, 0.95, 0.999]


def integrate(f, eps, phi, nodes=200):
    """int f(lam) rho(lam) d lam over the support: lam = mid - half cos(theta) turns the square-root
    edges into a smooth integrand, then Gauss-Legendre on [0, pi]."""
    lower, upper = theory.spectrum_edges(eps, phi)
    x, w = np.polynomial.legendre.leggauss(nodes)
    theta = torch.as_tensor(math.pi * (x + 1) / 2, dtype=torch.float64)
    mid, half = (upper + lower) / 2, (upper - lower) / 2
    lam = mid - half * torch.cos(theta)
    jacobian = half * torch.sin(theta) * math.pi / 2
    return float((torch.as_tensor(w) * jacobian * f(lam) * theory.density(lam, eps, phi)).sum())


@pytest.mark.parametrize("phi", PHIS)
def test_critical_energy_closed_form_matches_the_numerical_edge(phi):
    closed = theory.critical_energy(phi)
    assert theory.critical_energy_from_edge(phi) == pytest.approx(closed, rel=4e-15, abs=0)
    assert theory.spectrum_edges(closed * (1 - 1e-14), phi)[0] > 0
    assert theory.spectrum_edges(closed * (1 + 1e-14), phi)[0] < 0
    # the brief's unfactored form: equal up to its own cancellation (terms ~ 25)
    naive = (1 - 20 * phi - 8 * phi ** 2 + (1 + 8 * phi) ** 1.5) / 16
    assert naive == pytest.approx(closed, rel=0, abs=1e-14)


def test_critical_energy_limits():
    """phi -> 0: the semicircle alone reaches 0 at radius 2 sqrt(2 eps) = 1; phi -> 1: MP's edge."""
    assert theory.critical_energy(1e-12) == pytest.approx(1 / 8, rel=1e-10)
    assert 0 < theory.critical_energy(1 - 1e-6) < 1e-17


@pytest.mark.parametrize("phi", [1e-4, 0.1, 0.5, 0.9, 0.999, 1 - 1e-6])
def test_eps_zero_is_marchenko_pastur(phi):
    r = math.sqrt(phi)
    a, b = ((1 - phi) / (1 + r)) ** 2, (1 + r) ** 2  # 1 - sqrt(phi) without cancellation
    lower, upper = theory.spectrum_edges(0.0, phi)
    assert lower == pytest.approx(a, rel=2e-15) and upper == pytest.approx(b, rel=2e-15)
    lam = torch.linspace(a, b, 501, dtype=torch.float64)[1:-1]
    mp_density = torch.sqrt((lam - a) * (b - lam)) / (2 * math.pi * phi * lam)
    torch.testing.assert_close(theory.density(lam, 0.0, phi), mp_density, rtol=1e-12, atol=1e-13)
    outside = torch.tensor([a - 1e-3, b + 1e-3, -5.0, 50.0], dtype=torch.float64)
    assert (theory.density(outside, 0.0, phi) == 0).all()


@pytest.mark.parametrize("eps,phi", [(0.0, 0.3), (0.01, 0.5), (0.05, 0.2), (0.3, 0.9), (2.0, 0.05)])
def test_moments_are_the_free_cumulants(eps, phi):
    """R(g) = 1 / (1 - phi g) + 2 eps g = sum_n kappa_(n+1) g^n: kappa1 = 1, kappa2 = phi + 2 eps
    (variances add), kappa3 = phi^2, so m1 = 1, m2 = kappa2 + 1, m3 = kappa3 + 3 kappa2 + 1."""
    kappa2 = phi + 2 * eps
    for power, exact in [(0, 1.0), (1, 1.0), (2, 1 + kappa2), (3, phi ** 2 + 3 * kappa2 + 1)]:
        assert integrate(lambda lam: lam ** power, eps, phi) == pytest.approx(exact, rel=1e-12)


def test_small_phi_is_the_semicircle():
    """phi -> 0: R = 1 + (2 eps + phi) g + O(phi^2 g^2), a semicircle of variance 2 eps + phi at 1
    up to O(phi^2); against variance 2 eps the gap is phi d rho_sc / dv (<= 13 phi on the inner
    95 %) and phi / sqrt(2 eps) at the edges."""
    phi, eps = 1e-6, 0.05

    def semicircle(lam, v):
        return torch.sqrt((4 * v - (lam - 1) ** 2).clamp(min=0)) / (2 * math.pi * v)

    radius = 2 * math.sqrt(2 * eps)
    lam = torch.linspace(1 - 0.95 * radius, 1 + 0.95 * radius, 201, dtype=torch.float64)
    rho = theory.density(lam, eps, phi)
    assert float((rho - semicircle(lam, 2 * eps + phi)).abs().max()) < 1e-9
    assert float((rho - semicircle(lam, 2 * eps)).abs().max()) < 20 * phi
    lower, upper = theory.spectrum_edges(eps, phi)
    assert abs(lower - (1 - radius)) < 5 * phi and abs(upper - (1 + radius)) < 5 * phi


@pytest.mark.parametrize("phi", [0.05, 0.5, 0.9])
def test_negative_fraction_vanishes_below_eps_c_and_follows_the_three_halves_law(phi):
    """Near eps_c the lower edge is 2 G_c (eps - eps_c) and rho ~ sqrt(2 (lam - lower) / |z''|) / pi,
    so alpha ~ alpha0 delta^(3/2), delta = (eps - eps_c) / eps_c, with
    alpha0 = (2 / (3 pi)) sqrt(2 / |z''(G_c)|) (2 |G_c| eps_c)^(3/2); z = z' = 0 at eps_c gives
    2 phi (1 - phi) G^2 - (1 - 4 phi) G - 2 = 0, G_c = (1 - 4 phi - s) / (4 phi (1 - phi))."""
    eps_c = theory.critical_energy(phi)
    assert theory.negative_fraction(0.0, phi) == 0
    assert theory.negative_fraction(eps_c * (1 - 1e-8), phi) == 0
    assert theory.negative_fraction(eps_c * (1 + 1e-8), phi) > 0
    s = math.sqrt(1 + 8 * phi)
    g = (1 - 4 * phi - s) / (4 * phi * (1 - phi))
    z2 = 2 * phi ** 2 / (1 - phi * g) ** 3 + 2 / g ** 3
    alpha0 = 2 / (3 * math.pi) * math.sqrt(2 / abs(z2)) * (2 * abs(g) * eps_c) ** 1.5
    ratios = [theory.negative_fraction(eps_c * (1 + d), phi) / d ** 1.5 for d in (1e-3, 1e-4)]
    assert ratios[0] == pytest.approx(ratios[1], rel=2e-3)  # the correction is O(delta)
    for d, ratio in zip((1e-3, 1e-4), ratios):
        assert ratio == pytest.approx(alpha0, rel=2 * d)


def test_negative_fraction_grows_to_one_half():
    """As eps -> infinity the semicircle dominates (centred at 1, radius 2 sqrt(2 eps)):
    alpha -> 1/2 from below, 1/2 - alpha ~ 1 / (pi sqrt(2 eps)) (the density at 0 times 1)."""
    values = [theory.negative_fraction(eps, 0.5) for eps in (0.02, 0.1, 1.0, 10.0, 1e4)]
    assert all(a < b for a, b in zip(values, values[1:])) and values[-1] < 0.5
    assert 0.5 - values[-1] == pytest.approx(1 / (math.pi * math.sqrt(2e4)), rel=1e-2)


@pytest.fixture(scope="module")
def draws():
    """Four seeded draws at P = 1000, phi = 0.5 (M = 2000: the realised ratio is exactly phi).
    On one thread: ~0.1 s per eigvalsh, where threaded LAPACK on a busy machine took 12 s."""
    P, phi, eps = 1000, 0.5, 0.05
    g = torch.Generator().manual_seed(2017)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spectra = [torch.linalg.eigvalsh(theory.sample_hessian(P, phi, eps, generator=g))
                   for _ in range(4)]
    finally:
        torch.set_num_threads(threads)
    return P, phi, eps, torch.stack(spectra)


def test_sample_hessian_shape_and_symmetry():
    h = theory.sample_hessian(7, 0.3, 0.2, generator=torch.Generator().manual_seed(0))
    assert h.shape == (7, 7) and h.dtype == torch.float64 and torch.equal(h, h.T)


def test_finite_model_negative_fraction(draws):
    """The fraction of negative eigenvalues per draw fluctuates by sd ~ sqrt(log P) / (pi P)
    (eigenvalue-count variance, GOE-like), measured here from the draws' spread; its mean is off
    alpha by O(1/P) (1/P density corrections, +-1 counts at the edge; ~0.4 / P measured over 96
    draws at P = 250..1000). Tolerance: 4 sd / sqrt(draws) + 2 / P."""
    P, phi, eps, spectra = draws
    fractions = (spectra < 0).double().mean(1)
    tolerance = 4 * float(fractions.std()) / math.sqrt(len(fractions)) + 2 / P
    assert abs(float(fractions.mean()) - theory.negative_fraction(eps, phi)) < tolerance


def test_finite_model_lowest_eigenvalue_is_tracy_widom_near_the_edge(draws):
    """With rho ~ K sqrt(lam - lower) at the edge, lambda_min = lower - s chi, s = (pi K P)^(-2/3)
    and chi ~ Tracy-Widom (beta = 1: mean -1.2065, sd 1.2680). K from the density at 1e-6 above
    the edge (error O(1e-6)). Tolerance on the mean of (lambda_min - lower) / s: 4 sd / sqrt(draws)."""
    P, phi, eps, spectra = draws
    lower, _ = theory.spectrum_edges(eps, phi)
    k = float(theory.density(lower + 1e-6, eps, phi)) / 1e-3
    scaled = (spectra[:, 0] - lower) / (math.pi * k * P) ** (-2 / 3)
    assert abs(float(scaled.mean()) - 1.2065) < 4 * 1.2680 / math.sqrt(len(scaled))


BAD_PHI = [0.0, 1.0, -0.1, 1.5, math.nan, math.inf]
BAD_EPS = [-1e-9, math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("phi", BAD_PHI)
def test_bad_phi_is_rejected(phi):
    calls = [lambda: theory.critical_energy(phi), lambda: theory.critical_energy_from_edge(phi),
             lambda: theory.spectrum_edges(0.1, phi), lambda: theory.density(1.0, 0.1, phi),
             lambda: theory.negative_fraction(0.1, phi), lambda: theory.sample_hessian(4, phi, 0.1)]
    for call in calls:
        with pytest.raises(ValueError, match="phi must be in"):
            call()


@pytest.mark.parametrize("eps", BAD_EPS)
def test_bad_eps_is_rejected(eps):
    calls = [lambda: theory.spectrum_edges(eps, 0.5), lambda: theory.density(1.0, eps, 0.5),
             lambda: theory.negative_fraction(eps, 0.5), lambda: theory.sample_hessian(4, 0.5, eps)]
    for call in calls:
        with pytest.raises(ValueError, match="eps must be"):
            call()


@pytest.mark.parametrize("lam", [torch.ones(2, 2, dtype=torch.float64), math.nan,
                                 torch.tensor([1.0, math.inf], dtype=torch.float64)])
def test_bad_lam_is_rejected(lam):
    with pytest.raises(ValueError, match="lam must be"):
        theory.density(lam, 0.1, 0.5)


@pytest.mark.parametrize("P", [0, -3, 2.5, True, "10"])
def test_bad_size_is_rejected(P):
    with pytest.raises(ValueError, match="P must be"):
        theory.sample_hessian(P, 0.5, 0.1)


def test_density_is_differentiable_in_lambda():
    """density propagates gradients in lam (through the companion matrix's eigenvalues): the
    derivative of rho inside the support matches finite differences (gradcheck)."""
    lam = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: theory.density(t, 0.1, 0.5), (lam,))
