"""Tests of reluscope.hypercube: kernels vs the enumeration reference, exact identities, closed
forms, a CLT check, the dynamics and data model, and every error path."""
import math

import pytest
import torch

import reluscope.hypercube as hc
from reluscope.reference import hypercube as ref
from reluscope.hypercube import mitm_torch
from conftest import CPU_ISAS

DTYPES = [torch.float64, torch.float32]
TOL = {torch.float64: 1e-12, torch.float32: 2e-5}


def families(n, g):
    J = torch.randn(n, n, generator=g, dtype=torch.float64) * 0.3
    J = torch.triu(J, 1)
    J = J + J.T
    return [hc.Uniform(n), hc.Product(torch.rand(n, generator=g, dtype=torch.float64)),
            hc.Ising(J, torch.randn(n, generator=g, dtype=torch.float64) * 0.2),
            hc.Ising.chain(n, 0.4), hc.Table(torch.rand(1 << n, generator=g, dtype=torch.float64))]


@pytest.mark.parametrize("isa", CPU_ISAS)
def test_brute_f_every_cpu_vector_variant(isa, monkeypatch):
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    g = torch.Generator().manual_seed(7)
    for dtype in DTYPES:
        w = torch.randn(5, 13, generator=g, dtype=torch.float64).to(dtype)
        for p in families(13, g):
            torch.testing.assert_close(hc.f(w, p, "half", "brute"), ref.f(w, p, "half"),
                                       atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3, 5, 11])  # c < 4 takes the scalar sums
def test_f_mass_match_reference(dtype, n):
    g = torch.Generator().manual_seed(n)
    w = torch.randn(6, n, generator=g, dtype=torch.float64).to(dtype)
    for p in families(n, g):
        for tie in ("include", "exclude", "half"):
            methods = ["brute", "mitm"] if (p.mitm_ok and n >= 2) else ["brute"]
            for m in methods:
                torch.testing.assert_close(hc.f(w, p, tie, m), ref.f(w, p, tie),
                                           atol=TOL[dtype], rtol=0)
                torch.testing.assert_close(hc.mass(w, p, tie, m), ref.mass(w, p, tie),
                                           atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_integer_w_ties_match_reference(dtype):
    g = torch.Generator().manual_seed(1)
    w = torch.randint(-2, 3, (8, 9), generator=g).to(dtype)
    w[0] = 0  # every vertex is a tie
    for p in families(9, g)[:3]:
        for tie in ("include", "exclude", "half"):
            torch.testing.assert_close(hc.f(w, p, tie, "brute"), ref.f(w, p, tie),
                                       atol=TOL[dtype], rtol=0)
            if p.mitm_ok:
                torch.testing.assert_close(hc.f(w, p, tie, "mitm"), ref.f(w, p, tie),
                                           atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("n", [14, 19, 24])
def test_mitm_equals_brute(n):
    g = torch.Generator().manual_seed(n)
    w = torch.randn(3, n, generator=g, dtype=torch.float64)
    for p in (hc.Uniform(n), hc.Product(torch.rand(n, generator=g, dtype=torch.float64))):
        a = hc.f(w, p, method="brute")
        torch.testing.assert_close(hc.f(w, p, method="mitm"), a, atol=1e-13, rtol=0)
        pA, pB = p.half_probabilities(n // 2, w.dtype, w.device)
        torch_mitm = mitm_torch.mitm_sums(w, pA, pB, n // 2, hc.tie_tolerance(w), 1.0)
        torch.testing.assert_close(torch_mitm[:, :n], a, atol=1e-13, rtol=0)
    vb, _ = hc.delta(w, method="brute")
    vm, xm = hc.delta(w, method="mitm")
    torch.testing.assert_close(vm, vb, atol=1e-13, rtol=0)
    torch.testing.assert_close(vm, (w * xm).sum(1).abs())
    idx = mitm_torch.mitm_delta_index(w, n // 2)
    x = hc.weights.vertex_bits(idx, n).double()
    torch.testing.assert_close((w * x).sum(1).abs(), vb, atol=1e-13, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_delta_matches_reference(dtype):
    g = torch.Generator().manual_seed(3)
    w = torch.randn(5, 13, generator=g, dtype=torch.float64).to(dtype)
    for m in ("brute", "mitm"):
        v, x = hc.delta(w, method=m)
        torch.testing.assert_close(v, ref.delta(w), atol=TOL[dtype] * 10, rtol=0)
        assert bool(((x == 1) | (x == -1)).all())
    v, x = hc.delta(torch.tensor([3.0, 1.0, 1.0, 1.0], dtype=torch.float64))
    assert v.item() == 0.0 and (x * torch.tensor([3.0, 1.0, 1.0, 1.0])).sum().item() == 0


def test_exact_scale_and_sign_float64():
    g = torch.Generator().manual_seed(4)
    n = 12
    w = torch.randn(5, n, generator=g, dtype=torch.float64)
    w[0] = 0
    w[0, 2], w[0, 7] = 1.0, 1.0  # e_i + e_j: ties
    w[1] = torch.randint(-2, 3, (n,), generator=g).double()
    sym = [hc.Uniform(n), hc.Product(torch.full((n,), 0.5, dtype=torch.float64)),
           hc.Ising.chain(n, 0.3), hc.Table(torch.ones(1 << n, dtype=torch.float64))]
    for p in families(n, g) + sym:
        for tie in ("include", "exclude", "half"):
            for m in (["brute", "mitm"] if p.mitm_ok else ["brute"]):
                base = hc.f(w, p, tie, m)
                for alpha in (3.7, 1e-3, 2.0 ** 40):
                    # bitwise: brute force, and mitm with Uniform weights (its running sums add
                    # equal powers of two); Product mitm adds in sorted-sum order, which the
                    # rounding of αw may permute among equal sums: equal to rounding there
                    if m == "brute" or isinstance(p, hc.Uniform):
                        assert torch.equal(hc.f(alpha * w, p, tie, m), base)
                    else:
                        torch.testing.assert_close(hc.f(alpha * w, p, tie, m), base,
                                                   atol=1e-15, rtol=0)
            if p.symmetric:  # f(-w) = -f(w): every tie rule, bitwise (pair sweep)
                assert torch.equal(hc.f(-w, p, tie, "brute"), -hc.f(w, p, tie, "brute"))
        # any p: f_half(w) + f_half(-w) = E[X] (the tie vertices are counted once in total)
        mean = hc.moments(p)[0]
        torch.testing.assert_close(hc.f(w, p, "half") + hc.f(-w, p, "half"),
                                   mean.expand(5, n), atol=1e-13, rtol=0)


def test_permutation_and_translation_equivariance():
    g = torch.Generator().manual_seed(5)
    n = 10
    w = torch.randn(4, n, generator=g, dtype=torch.float64)
    perm = torch.randperm(n, generator=g)
    q = torch.rand(n, generator=g, dtype=torch.float64)
    p, pp = hc.Product(q), hc.Product(q[perm])
    torch.testing.assert_close(hc.f(w[:, perm], pp), hc.f(w, p)[:, perm], atol=1e-14, rtol=0)
    chain = hc.Ising.chain(n, 0.6)
    shifted = hc.f(w.roll(3, 1), chain)
    torch.testing.assert_close(shifted, hc.f(w, chain).roll(3, 1), atol=1e-14, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_closed_forms_bumps(dtype):
    n, i, j = 9, 2, 6
    e = torch.eye(n, dtype=dtype)
    u = hc.Uniform(n)
    # uniform: f(e_i) = P(x_i = 1) E[X | x_i = 1] = e_i / 2; the same for alpha e_i ± e_j, alpha > 1
    for w in (e[i], 1.5 * e[i] + e[j], 1.5 * e[i] - e[j], 7 * e[i] - e[j]):
        torch.testing.assert_close(hc.f(w, u), 0.5 * e[i], atol=TOL[dtype], rtol=0)
    # balanced bumps e_i + e_j: f = (e_i + e_j)/4 for every tie rule (tie vertices cancel);
    # the mass is 3/4, 1/4, 1/2 for include, exclude, half
    for tie, m in (("include", 0.75), ("exclude", 0.25), ("half", 0.5)):
        torch.testing.assert_close(hc.f(e[i] + e[j], u, tie), 0.25 * (e[i] + e[j]))
        assert hc.mass(e[i] + e[j], u, tie).item() == m
    # symmetric p: f(e_i) = E[X x_i 1(x_i=1)] = Σ e_i / 2, and the same for alpha e_i ± e_j
    chain = hc.Ising.chain(n, 0.5, dtype=dtype)
    S = hc.moments(chain, dtype)[1]
    for w in (e[i], 1.5 * e[i] + e[j], 2.5 * e[i] - e[j]):
        torch.testing.assert_close(hc.f(w, chain), 0.5 * S[i], atol=TOL[dtype] * 10, rtol=0)


def test_clt_limit_uniform():
    # <f(w), w> = E[S^+] = E|S|/2, S = <w,X>. Gaussian: ||w||/sqrt(2π). Goldstein's W1 bound for
    # sums of independent terms, W1(S, N(0,||w||²)) <= Σ|w_i|³/||w||², gives
    # |<f,w>/||w|| - 1/sqrt(2π)| <= Σ|w_i|³ / (2 ||w||³). By symmetry the mass is exactly 1/2.
    g = torch.Generator().manual_seed(6)
    for n in (40, 48):
        w = (1 + torch.rand(2, n, generator=g, dtype=torch.float64)) * \
            (torch.randint(0, 2, (2, n), generator=g) * 2 - 1)
        fw = hc.f(w, hc.Uniform(n))
        norm = w.norm(dim=1)
        bound = (w.abs() ** 3).sum(1) / (2 * norm ** 3)
        err = ((fw * w).sum(1) / norm - 1 / math.sqrt(2 * math.pi)).abs()
        assert bool((err <= bound).all()), (err, bound)
        torch.testing.assert_close(hc.mass(w, hc.Uniform(n)), torch.full((2,), 0.5,
                                   dtype=torch.float64), atol=1e-12, rtol=0)


def test_ising_log_partition_and_moments():
    g = torch.Generator().manual_seed(7)
    for p in families(10, g)[2:4]:
        x = hc.vertices(10)
        logz = torch.logsumexp(x @ p.h + 0.5 * ((x @ p.J) * x).sum(1), 0)
        torch.testing.assert_close(p.log_partition(), logz, atol=1e-12, rtol=0)
        torch.testing.assert_close(p.log_partition(torch.float32), logz.float(), atol=1e-4, rtol=0)
    for p in families(8, g):
        m, S = hc.moments(p)
        mr, Sr = ref.moments(p)
        torch.testing.assert_close(m, mr, atol=1e-12, rtol=0)
        torch.testing.assert_close(S, Sr, atol=1e-12, rtol=0)
    # open chain: <x_0 x_r> = tanh(K)^r; correlation_length maps to K = atanh(exp(-1/ξ))
    K = 0.7
    S = hc.moments(hc.Ising.chain(8, K, circular=False))[1]
    torch.testing.assert_close(S[0], torch.tanh(torch.tensor(K, dtype=torch.float64)) **
                               torch.arange(8), atol=1e-12, rtol=0)
    a = hc.Ising.chain(8, correlation_length=2.0, circular=False)
    torch.testing.assert_close(hc.moments(a)[1][0, 3], torch.tensor(math.exp(-1.5),
                               dtype=torch.float64), atol=1e-12, rtol=0)


def test_table_from_samples():
    X = torch.tensor([[1, -1, 1], [1, -1, 1], [-1, -1, -1], [1, 1, 1]])
    t = hc.Table.from_samples(X)
    assert t.p[5].item() == 0.5 and t.p[0].item() == 0.25 and t.p[7].item() == 0.25
    w = torch.tensor([[0.3, -1.0, 0.2]], dtype=torch.float64)
    torch.testing.assert_close(hc.f(w, t), hc.f_monte_carlo(w, X.double()))


def test_flow_and_gaussian_contrast():
    n = 12
    g = torch.Generator().manual_seed(8)
    w0 = torch.randn(3, n, generator=g, dtype=torch.float64) * 0.3
    p1, p0 = hc.Ising.chain(n, correlation_length=2.0), hc.Ising.chain(n, correlation_length=0.7)
    r = hc.flow(w0, p1, p0, dt=0.05, steps=20, save_every=5)
    assert r.w.shape == (5, 3, n) and r.ipr.shape == (5, 3) and r.t.shape == (5,)
    torch.testing.assert_close(r.ipr, hc.ipr(r.w))
    # euler with one step is exactly w0 + dt * rhs
    e = hc.flow(w0, p1, p0, dt=0.1, steps=1, method="euler")
    A = 0.5 * (hc.moments(p0)[1] + hc.moments(p1)[1])
    torch.testing.assert_close(e.w[1], w0 + 0.1 * (0.5 * hc.f(w0, p1) - w0 @ A))
    # the Gaussian contrast: same call with Gaussian classes of the same covariances
    G1, G0 = hc.Gaussian(hc.moments(p1)[1]), hc.Gaussian(hc.moments(p0)[1])
    rg = hc.flow(w0, G1, G0, dt=0.05, steps=4)
    assert torch.isfinite(rg.w).all()
    S = G1.Sigma
    torch.testing.assert_close(hc.f(w0, G1), S @ w0[0] / torch.sqrt(2 * math.pi * w0[0] @ S @ w0[0])
                               if False else hc.f_gaussian(w0, S))
    v = w0[0]
    torch.testing.assert_close(hc.f_gaussian(v, S), S @ v / torch.sqrt(2 * math.pi * (v @ S @ v)))


def test_nonlinear_gaussian():
    g = torch.Generator().manual_seed(9)
    n, xi, gain = 8, 2.0, 1.5
    X = hc.nonlinear_gaussian(200000, n, xi, gain, generator=g)
    C = hc.nonlinear_gaussian_covariance(n, xi, gain)
    assert torch.allclose(C.diagonal(), torch.ones(n, dtype=torch.float64))
    # sample covariance: entries are means of bounded terms (|x_i x_j| <= 1/Z(g) < 1.2), so the
    # standard error is below 1.2/sqrt(M) ≈ 0.0027; allow 5 of them
    torch.testing.assert_close(X.T @ X / X.shape[0], C, atol=0.014, rtol=0)
    # large gain: the data approach the hypercube
    Xh = hc.nonlinear_gaussian(1000, n, xi, 200.0, generator=g)
    assert (Xh.abs() - 1).abs().median() < 1e-2


def test_errors():
    u = hc.Uniform(4)
    w = torch.randn(2, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="mitm"):
        hc.f(torch.randn(1, 40, dtype=torch.float64), hc.Uniform(40), method="brute")
    with pytest.raises(ValueError, match="Uniform or Product"):
        hc.f(torch.randn(1, 40, dtype=torch.float64), hc.Ising.chain(40, 0.1))
    with pytest.raises(ValueError, match="meet in the middle"):
        hc.f(torch.randn(1, 60, dtype=torch.float64), hc.Uniform(60))
    with pytest.raises(ValueError, match="Uniform or Product"):
        hc.f(w, hc.Ising.chain(4, 0.1), method="mitm")
    for q in ([0.5, 1.2], [-0.1, 0.5], [[0.5]], [float("nan"), 0.5]):
        with pytest.raises(ValueError):
            hc.Product(torch.tensor(q))
    with pytest.raises(ValueError, match="symmetric"):
        hc.Ising(torch.tensor([[0.0, 1.0], [0.5, 0.0]]))
    with pytest.raises(ValueError, match="diagonal"):
        hc.Ising(torch.eye(3))
    with pytest.raises(ValueError, match="2\\^n"):
        hc.Table(torch.ones(6))
    with pytest.raises(ValueError, match="nonnegative"):
        hc.Table(torch.tensor([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="±1"):
        hc.Table.from_samples(torch.tensor([[1, 0]]))
    with pytest.raises(ValueError, match="NaN"):
        hc.f(torch.tensor([[1.0, float("nan"), 0.0, 0.0]]), u)
    with pytest.raises(ValueError, match="NaN"):
        hc.delta(torch.tensor([[1.0, float("inf")]]))
    with pytest.raises(TypeError, match="float32 or float64"):
        hc.f(torch.ones(2, 4, dtype=torch.int64), u)
    with pytest.raises(ValueError, match="columns"):
        hc.f(torch.ones(2, 5), u)
    with pytest.raises(ValueError, match="tie"):
        hc.f(w, u, tie="both")
    with pytest.raises(ValueError, match="method"):
        hc.f(w, u, method="fast")
    with pytest.raises(TypeError, match="dtype"):
        hc.f_gaussian(w, torch.eye(4, dtype=torch.float32))
    with pytest.raises(TypeError, match="dtype"):
        hc.f_monte_carlo(w, torch.ones(3, 4, dtype=torch.float32))
    with pytest.raises(ValueError, match="coupling"):
        hc.Ising.chain(5)
    with pytest.raises(ValueError):
        hc.flow(w, u, u, method="midpoint")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_matches_cpu():
    g = torch.Generator().manual_seed(10)
    for n in (9, 21):
        w = torch.randn(5, n, generator=g, dtype=torch.float64)
        for p in families(n, g)[:4] if n < 20 else [hc.Uniform(n), hc.Ising.chain(n, 0.5)]:
            for dtype in DTYPES:
                wd = w.to(dtype)
                torch.testing.assert_close(hc.f(wd.cuda(), p, method="brute").cpu(),
                                           hc.f(wd, p, method="brute"), atol=TOL[dtype], rtol=0)
                if p.mitm_ok:
                    torch.testing.assert_close(hc.f(wd.cuda(), p, method="mitm").cpu(),
                                               hc.f(wd, p, method="mitm"), atol=TOL[dtype], rtol=0)
        for m in ("brute", "mitm"):
            torch.testing.assert_close(hc.delta(w.cuda(), m)[0].cpu(), hc.delta(w, m)[0],
                                       atol=1e-12, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_ties_every_family_log_partition_and_flow(dtype):
    """Integer w (many exact ties) under every tie rule and every family, including tables;
    mass; the Ising log partition; a few RK4 steps of the flow."""
    g = torch.Generator().manual_seed(11)
    n = 12
    w = torch.randint(-2, 3, (6, n), generator=g).to(dtype)
    w[0] = 0
    w[0, :2] = 1  # e_1 + e_2: a quarter of the vertices are ties
    for p in families(n, g):
        for tie in ("include", "exclude", "half"):
            torch.testing.assert_close(hc.f(w.cuda(), p, tie=tie).cpu(), hc.f(w, p, tie=tie),
                                       atol=TOL[dtype], rtol=0)
            torch.testing.assert_close(hc.mass(w.cuda(), p, tie=tie).cpu(),
                                       hc.mass(w, p, tie=tie), atol=TOL[dtype], rtol=0)
    ising = families(n, g)[2]
    torch.testing.assert_close(ising.log_partition(dtype, "cuda").cpu(),
                               ising.log_partition(dtype), atol=TOL[dtype], rtol=0)
    w0 = torch.randn(3, n, generator=g, dtype=dtype)
    p1, p0 = hc.Ising.chain(n, 0.4), hc.Uniform(n)
    got = hc.flow(w0.cuda(), p1, p0, dt=0.05, steps=20)
    want = hc.flow(w0, p1, p0, dt=0.05, steps=20)
    assert got.w.is_cuda
    torch.testing.assert_close(got.w.cpu(), want.w, atol=10 * TOL[dtype], rtol=0)
