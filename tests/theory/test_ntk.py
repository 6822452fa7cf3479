"""reluscope.theory.ntk: the arc-cosine recursion against independent quadrature (mpmath, 30
digits), depth 1 exactly, the two-layer mean and variance against the empirical NTKs of many
random networks (statistical, 5 standard errors), errors."""
import math

import mpmath
import pytest
import torch

from reluscope import MLP, hessian, theory

f64 = torch.float64


def relu_moments(k11, k22, k12):
    """E[relu(u) relu(u')] and P(u > 0, u' > 0) for (u, u') ~ N(0, [[k11, k12], [k12, k22]]) by
    polar coordinates: u = sqrt(k11) r cos p, u' = sqrt(k22) r cos(p - t), rho = cos t; E r^2 = 2
    (Rayleigh); both positive for p in (t - pi/2, pi/2). mpmath quadrature at 30 digits."""
    mpmath.mp.dps = 30
    t = mpmath.acos(mpmath.mpf(k12) / mpmath.sqrt(mpmath.mpf(k11) * k22))
    lo, hi = t - mpmath.pi / 2, mpmath.pi / 2
    m = 2 * mpmath.sqrt(mpmath.mpf(k11) * k22) / (2 * mpmath.pi) * mpmath.quad(
        lambda p: mpmath.cos(p) * mpmath.cos(p - t), [lo, hi])
    return float(m), float((hi - lo) / (2 * mpmath.pi))


def test_depth_one_is_the_linear_kernel_and_depth_two_the_quadrature():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(4, 3, generator=g, dtype=f64)
    C_W, C_b = 1.7, 0.3
    K, T = theory.relu_kernels(X, depth=1, C_W=C_W, C_b=C_b)
    torch.testing.assert_close(K, C_W * X @ X.T / 3 + C_b, rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(T, X @ X.T / 3 + 1, rtol=1e-15, atol=1e-15)
    K2, T2 = theory.relu_kernels(X, depth=2, C_W=C_W, C_b=C_b)
    for i in range(4):
        for j in range(4):
            if i == j:
                continue
            m, p = relu_moments(K[i, i].item(), K[j, j].item(), K[i, j].item())
            assert abs(K2[i, j].item() - (C_W * m + C_b)) <= 1e-13 * abs(K2[i, j].item())
            want = m + 1 + C_W * p * T[i, j].item()
            assert abs(T2[i, j].item() - want) <= 1e-13 * abs(want)
    # the diagonal: E relu(u)^2 = K / 2, P(u > 0) = 1/2
    torch.testing.assert_close(torch.diag(T2), torch.diag(K) / 2 + 1 + C_W / 2 * torch.diag(T))


def test_no_bias_and_depth_recursion_is_homogeneous():
    """Without bias K^l and Theta^l are positively homogeneous of degree 2 in x (scaling x by s
    scales both by s^2) and K^l(x, x) = (C_W / 2)^(l-1) C_W |x|^2 / d exactly."""
    X = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=f64)
    K, T = theory.relu_kernels(X, depth=4, C_W=2.0, bias=False)
    K3, T3 = theory.relu_kernels(3 * X, depth=4, C_W=2.0, bias=False)
    torch.testing.assert_close(K3, 9 * K, rtol=1e-14, atol=0)
    torch.testing.assert_close(T3, 9 * T, rtol=1e-14, atol=0)
    torch.testing.assert_close(torch.diag(K), 2.0 * (X * X).sum(1) / 2, rtol=1e-15, atol=0)


def empirical(width, depth, B, X, C_W, C_b, seed):
    net = MLP([X.shape[1]] + [width] * (depth - 1) + [1], "relu", parameterization="ntk")
    theta = net.init(B, generator=torch.Generator().manual_seed(seed), dtype=f64, C_W=C_W,
                     C_b=C_b)
    return hessian.ntk(net, theta, X)[..., 0, 0]        # (B, N, N)


def test_two_layer_mean_and_variance_are_exact_at_finite_width():
    """B = 3000 two-layer networks of width 16: the mean of Theta(x, x') is Theta^2 at every
    width, and the variance of Theta(x, x) is relu_ntk_variance; both within 5 standard errors
    (the variance's SE from the sample's fourth moment)."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(3, 4, generator=g, dtype=f64)
    C_W, C_b, B, n = 2.0, 0.2, 3000, 16
    K = empirical(n, 2, B, X, C_W, C_b, seed=2)
    _, T = theory.relu_kernels(X, depth=2, C_W=C_W, C_b=C_b)
    se = K.std(0) / math.sqrt(B)
    assert ((K.mean(0) - T).abs() <= 5 * se).all()
    diag = torch.diagonal(K, dim1=1, dim2=2)                       # (B, N)
    var = diag.var(0)
    c = diag - diag.mean(0)
    se_var = torch.sqrt(((c ** 4).mean(0) - var ** 2 * (B - 3) / (B - 1)) / B)
    want = theory.relu_ntk_variance(X, n, C_W=C_W, C_b=C_b)
    assert ((var - want).abs() <= 5 * se_var).all()


def test_variance_formula_against_direct_sampling():
    """Var(Y), Y = 1(z > 0)(z^2 + c w^2), sampled directly (10^6 draws, independent of the
    engine) within 5 standard errors."""
    g = torch.Generator().manual_seed(3)
    x = torch.tensor([[1.0, -2.0, 0.5]], dtype=f64)
    C_W, C_b = 1.3, 0.4
    q = C_W * (x * x).sum() / 3 + C_b
    c = (x * x).sum() / 3 + 1
    z = torch.randn(10 ** 6, generator=g, dtype=f64) * q.sqrt()
    w = torch.randn(10 ** 6, generator=g, dtype=f64) * math.sqrt(C_W)
    Y = (z > 0) * (z ** 2 + c * w ** 2)
    var, n = Y.var(), 10 ** 6
    se = torch.sqrt((((Y - Y.mean()) ** 4).mean() - var ** 2) / n)
    assert abs(var - 7 * theory.relu_ntk_variance(x, 7, C_W=C_W, C_b=C_b)[0]) <= 5 * se


def test_errors():
    X = torch.zeros(2, 3, dtype=f64)
    with pytest.raises(ValueError, match="K\\(x, x\\) = 0"):
        theory.relu_kernels(X, depth=2, C_b=0.0)
    with pytest.raises(ValueError, match="depth"):
        theory.relu_kernels(X, depth=0)
    with pytest.raises(ValueError, match="X1, X2"):
        theory.relu_kernels(X, torch.zeros(2, 4), depth=2)
