"""The exact learning coefficients of reluscope.slt.theory: their limits and an independent
2-D quadrature."""
import pytest
import torch

from reluscope import slt


def test_gaussian_llc_limits():
    h = torch.tensor([0.5, 1.0, 4.0], dtype=torch.float64)
    assert abs(float(slt.gaussian_llc(h, 1e9, 1.0)) - 1.5) < 1e-8  # d / 2
    assert float(slt.gaussian_llc(h, 1.0, 1e9)) < 1e-8           # all localisation
    # SGLD's stationary variance along h: 1 / (a (1 - eps a / 4)), a = n_beta h + gamma
    a = 10 * 4.0 + 1
    assert float(slt.gaussian_llc(h[2:], 10.0, 1.0, step_size=0.01)) == pytest.approx(
        10 * 4.0 / (2 * a * (1 - 0.01 * a / 4)), rel=1e-14)


def test_minimal_singular_llc_matches_a_2d_quadrature_and_tends_to_one_half():
    k, gamma = 50.0, 2.0
    w = torch.linspace(-10, 10, 4001, dtype=torch.float64)
    w1, w2 = torch.meshgrid(w, w, indexing="ij")
    energy = k * w1 ** 2 * w2 ** 2
    density = torch.exp(-energy - gamma * (w1 ** 2 + w2 ** 2) / 2)
    brute = float((energy * density).sum() / density.sum())
    assert slt.minimal_singular_llc(k, gamma) == pytest.approx(brute, rel=1e-6)
    values = [slt.minimal_singular_llc(k, 1.0) for k in (1e2, 1e4, 1e8, 1e16)]
    assert all(a < b < 0.5 for a, b in zip(values, values[1:]))
    assert values[-1] > 0.47


def reduced_rank_regression(M, H, N, r):
    """Aoyagi and Watanabe (2005): one hidden layer, M inputs, H hidden, N outputs, rank r."""
    if N + r <= M + H and M + r <= N + H and H + r <= M + N:
        return (2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2 + (M + H + N + r) % 2) / 8
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2
    return M * N / 2


def test_deep_linear_llc_matches_reduced_rank_regression_and_the_regular_case():
    for M in range(1, 6):
        for H in range(1, 6):
            for N in range(1, 6):
                for r in range(min(M, H, N) + 1):
                    assert slt.deep_linear_llc([M, H, N], r) == pytest.approx(
                        reduced_rank_regression(M, H, N, r), abs=1e-12)
    assert slt.deep_linear_llc([3, 4], 2) == 6.0  # one layer: regular, d / 2
    assert slt.deep_linear_llc([1, 1, 1], 0) == 0.5  # y = w2 w1 x at 0
    # y = w3 w2 w1 x at 0: the RLCT of (w1 w2 w3)^2 is 1/2 (multiplicity 3)
    assert slt.deep_linear_llc([1, 1, 1, 1], 0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="rank"):
        slt.deep_linear_llc([2, 2], 3)


def test_deep_linear_problem_has_the_population_loss():
    """L(W) - L* = ||W_L ... W_1 - W*||_F^2 with W* of rank r; zero loss at theta*."""
    from reluscope import hessian

    net, theta, data = slt.deep_linear_problem([3, 2, 4], 1)
    assert float(hessian.loss(net, theta, data)) == 0.0
    W1, W2 = theta[:6].view(2, 3), theta[6:].view(4, 2)
    assert torch.linalg.matrix_rank(W2 @ W1) == 1
    other = torch.randn(14, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    V1, V2 = other[:6].view(2, 3), other[6:].view(4, 2)
    assert float(hessian.loss(net, other, data)) == pytest.approx(
        float(((V2 @ V1 - W2 @ W1) ** 2).sum()), rel=1e-12)
