"""reluscope.theory.criticality: the quadrature maps against closed forms (erf: Williams'
arcsine kernel; relu, identity), susceptibilities against finite differences and closed forms,
fixed points, the correlation length against the iterated map, tanh's large-depth law, ReLU's
exact norm ratio at small widths by direct sampling."""
import math

import pytest
import torch

from reluscope import theory

f64 = torch.float64


def erf_kernel(K11, K22, K12):
    """E[erf(u) erf(u')] = (2/pi) arcsin(2 K12 / sqrt((1 + 2 K11)(1 + 2 K22)))."""
    return 2 / math.pi * math.asin(2 * K12 / math.sqrt((1 + 2 * K11) * (1 + 2 * K22)))


def test_maps_against_closed_forms():
    for K11, K22, K12 in ((0.3, 0.3, 0.1), (1.5, 0.7, -0.6), (4.0, 2.0, 2.7)):
        got = float(theory.correlation_map(K11, K22, K12, "erf", C_W=1.3, C_b=0.2))
        assert abs(got - (0.2 + 1.3 * erf_kernel(K11, K22, K12))) <= 1e-12
        got = float(theory.variance_map(K11, "erf", C_W=1.3, C_b=0.2))
        assert abs(got - (0.2 + 1.3 * erf_kernel(K11, K11, K11))) <= 1e-12
        relu = float(theory.correlation_map(K11, K22, K12, "relu", C_W=2.0))
        rho = K12 / math.sqrt(K11 * K22)
        t = math.acos(rho)
        assert abs(relu - 2 * math.sqrt(K11 * K22) * (math.sin(t) + (math.pi - t) * rho)
                   / (2 * math.pi)) <= 1e-14
        assert float(theory.correlation_map(K11, K22, K12, "identity", 1.5, 0.1)) == \
            pytest.approx(0.1 + 1.5 * K12, abs=1e-15)
    assert float(theory.variance_map(2.0, "relu", 2.0, 0.5)) == 2.5


def test_susceptibilities():
    """chi_par = dK'/dK (central difference, step 1e-5: error O(1e-10)); erf's chi_perp =
    C_W (4/pi) / sqrt(1 + 4K) exactly."""
    for act in ("tanh", "erf", "softplus"):
        for K in (0.2, 1.0, 3.0):
            par, perp = theory.susceptibilities(torch.tensor(K, dtype=f64), act, C_W=1.7)
            h = 1e-5
            fd = (theory.variance_map(K + h, act, 1.7) - theory.variance_map(K - h, act, 1.7)) / (2 * h)
            assert abs(float(par) - float(fd)) <= 1e-8
            if act == "erf":
                assert abs(float(perp) - 1.7 * 4 / math.pi / math.sqrt(1 + 4 * K)) <= 1e-12
    par, perp = theory.susceptibilities(torch.tensor(0.7, dtype=f64), "relu", C_W=2.0)
    assert float(par) == 1.0 and float(perp) == 1.0


def test_fixed_point_and_correlation_length():
    """tanh, C_W = 0.8, C_b = 0.1 (ordered phase): K* solves the map; the iterated correlation
    map's 1 - rho^l shrinks by chi_perp(K*) per layer — to 1e-5 once the gap is below 1e-7 (the
    map is analytic in 1 - rho: the rate's correction is O(gap); rounding, 1e-16 / gap), so
    xi = -1 / ln chi_perp; tanh with C_b = 0, C_W > 1 is chaotic (chi_perp > 1)."""
    Ks = theory.fixed_point("tanh", C_W=0.8, C_b=0.1)
    assert abs(float(theory.variance_map(Ks, "tanh", 0.8, 0.1)) - Ks) <= 1e-14
    xi = theory.correlation_length("tanh", C_W=0.8, C_b=0.1)
    k12 = 0.3 * Ks
    gaps = [1 - k12 / Ks]
    while gaps[-1] > 1e-7:
        k12 = float(theory.correlation_map(Ks, Ks, k12, "tanh", 0.8, 0.1))
        gaps.append(1 - k12 / Ks)
    rate = gaps[-1] / gaps[-2]
    assert abs(rate - math.exp(-1 / xi)) <= 1e-5
    assert theory.correlation_length("relu", C_W=2.0) == math.inf
    with pytest.raises(ValueError, match="chi_perp"):
        theory.correlation_length("tanh", C_W=1.5)
    with pytest.raises(ValueError, match="did not settle"):
        theory.fixed_point("relu", C_W=2.5)


def test_tanh_depth_law_at_criticality():
    """Iterating the exact map (C_W = 1, C_b = 0) from K = 1: 1/K^l - 2l + (5/6) ln l settles to
    a constant c (changes by < 1e-3 from l = 10^4 to 2 10^4: the next order is O(ln l / l)), and
    tanh_depth_law with that c gives K^l to relative 1e-6 there."""
    K = torch.tensor(1.0, dtype=f64)
    resid = {}
    for layer in range(1, 20001):
        if layer in (10000, 20000):
            resid[layer] = 1 / float(K) - 2 * layer + 5 / 6 * math.log(layer)
        K = theory.variance_map(K, "tanh", 1.0)
    assert abs(resid[20000] - resid[10000]) <= 1e-3
    law = float(theory.tanh_depth_law(torch.tensor(20000.0), c=resid[20000]))
    assert abs(law - 1 / (1 / law)) == 0
    assert abs(law * (40000 - 5 / 6 * math.log(20000) + resid[20000]) - 1) <= 1e-12


def test_relu_norm_ratio_by_direct_sampling():
    """Widths [3, 2]: S^2 = (|a^1|^2 / 3) C_W chi^2_2-scaled; sampled 4 10^5 times (independent
    of the kernels) within 5 standard errors of (1 + 2/2)(1 + 5/3)."""
    g = torch.Generator().manual_seed(0)
    M = 400000
    z1 = torch.randn(M, 3, generator=g, dtype=f64)            # first hidden, K = 1
    a1 = torch.relu(z1)
    z2 = torch.randn(M, 2, generator=g, dtype=f64) * (2 * (a1 ** 2).sum(1, keepdim=True) / 3).sqrt()
    S = (z2 ** 2).sum(1)
    ratio = float((S ** 2).mean() / S.mean() ** 2)
    want = float(theory.relu_norm_ratio([3, 2], layer=2))
    assert want == pytest.approx(2 * (1 + 5 / 3))
    # delta-method SE of mean(S^2) / mean(S)^2
    m1, m2 = S.mean(), (S ** 2).mean()
    grad = torch.stack([torch.ones(M, dtype=f64) / m1 ** 2, -2 * m2 / m1 ** 3 * torch.ones(M, dtype=f64)])
    cov = torch.cov(torch.stack([S ** 2, S]))
    se = math.sqrt(float(grad[:, 0] @ cov @ grad[:, 0]) / M)
    assert abs(ratio - want) <= 5 * se


def test_four_point_vertex_recursion():
    """relu at criticality: V^l = 5 (l - 1) K^2 (so n Var K^l / K^2 = 2 + 5(l - 1), the first
    order of the exact norm ratio); linear: V^{l+1} = C_W^2 (V^l + 2 K^2); tanh by quadrature
    against relu's and identity's closed forms is not available, so its one-layer step is checked
    against direct sampling of z ~ N(0, K) (10^6 draws, 5 SE)."""
    K, V = theory.four_point_vertex("relu", 2.0, 0.0, 1.3, 6)
    torch.testing.assert_close(V, 5 * torch.arange(6, dtype=f64) * 1.3 ** 2, rtol=1e-14, atol=0)
    torch.testing.assert_close(K, torch.full((6,), 1.3, dtype=f64), rtol=0, atol=0)
    first = (theory.relu_norm_ratio([1e6] * 6) - 1) * 1e6          # 2 + 5 (l - 1) + O(1e-6)
    torch.testing.assert_close(2 + V / K ** 2, first, rtol=1e-4, atol=0)
    K, V = theory.four_point_vertex("identity", 1.1, 0.0, 0.7, 3)
    assert float(V[1]) == pytest.approx(1.1 ** 2 * 2 * 0.7 ** 2, rel=1e-14)
    K, V = theory.four_point_vertex("tanh", 1.0, 0.0, 0.8, 2)
    z = torch.randn(10 ** 6, generator=torch.Generator().manual_seed(4), dtype=f64) * math.sqrt(0.8)
    t2 = torch.tanh(z) ** 2
    assert abs(float(V[1]) - float(t2.var())) <= 5 * float(((t2 - t2.mean()) ** 2).std()) / 1000
