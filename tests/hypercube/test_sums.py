"""reluscope.hypercube.sums vs the enumeration reference (every family, tie rule, method, dtype,
CPU vector variant and device), exact identities, closed forms, a CLT bound, and error paths."""
import math
import os
import pickle
import subprocess
import sys

import pytest
import torch

import reluscope.hypercube as hc
from reluscope.reference import hypercube as reference
from tests.utils import CPU_ISAS, DEVICES, DTYPES, assert_matches_reference

TIES = list(hc.TIES)


def families(n, g):
    J = torch.randn(n, n, generator=g, dtype=torch.float64) * 0.3
    J = torch.triu(J, 1)
    J = J + J.T
    return [hc.Uniform(n), hc.Product(torch.rand(n, generator=g, dtype=torch.float64)),
            hc.Ising(J, torch.randn(n, generator=g, dtype=torch.float64) * 0.2),
            hc.Ising.chain(n, 0.4), hc.Table(torch.rand(1 << n, generator=g, dtype=torch.float64))]


def methods(p, n):
    return ["brute", "mitm"] if p.product_form and n >= 2 else ["brute"]


def matches_reference(w, p, *, tie, method):
    """f and mass on w's device vs the reference on the CPU."""
    for name in ("f", "mass"):
        assert_matches_reference(getattr(hc, name)(w, p, tie=tie, method=method),
                                 getattr(reference, name)(w.cpu(), p, tie=tie, method=method),
                                 kind="hypercube")


@pytest.mark.parametrize("isa", CPU_ISAS)
def test_brute_f_every_cpu_vector_variant(isa, monkeypatch):
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    g = torch.Generator().manual_seed(7)
    for dtype in DTYPES:
        w = torch.randn(5, 13, generator=g, dtype=torch.float64).to(dtype)
        for p in families(13, g):
            matches_reference(w, p, tie="half", method="brute")


# Every brute-force sum with every CPU vector variant (RELUSCOPE_CPU_ISA is read per call), in a
# child process per thread count (the pool's size is fixed when it starts).
BRUTE_SUMS = """
import os, pickle, sys, torch
import reluscope.hypercube as hc
from tests.hypercube.test_sums import families
out = {}
for isa in sys.argv[1:]:
    os.environ["RELUSCOPE_CPU_ISA"] = isa
    g = torch.Generator().manual_seed(5)
    for dtype in (torch.float32, torch.float64):
        w = torch.randn(70, 16, generator=g, dtype=torch.float64).to(dtype)
        for i, p in enumerate(families(16, g)):
            for tie in ("include", "half"):
                out[isa, dtype, i, tie] = (hc.f(w, p, tie=tie, method="brute"),
                                           hc.mass(w, p, tie=tie, method="brute"))
            if isinstance(p, hc.Ising):
                out[isa, dtype, i] = (hc.log_partition(p, dtype),)
        out[isa, dtype, "delta"] = hc.delta(w, method="brute")
sys.stdout.buffer.write(pickle.dumps(out))
"""


def test_brute_sums_are_the_same_bits_for_every_cpu_variant_and_thread_count():
    """f, mass, Ising's log Z and delta by brute force at n = 16 (8 chunk groups, 70 w: two w
    blocks), every family, float32 and float64: bitwise equal from the generic, AVX2 and AVX-512
    builds of the sweep (a variant the CPU lacks runs the widest it has) and 1, 2 or 3 threads,
    as brute_cpu.cpp promises (the AVX2/AVX-512 builds once fused the Ising weights' exp
    polynomial into FMAs: f one ulp off)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    runs = {}
    for threads in (1, 2, 3):
        env = dict(os.environ, RELUSCOPE_NUM_THREADS=str(threads))
        env.pop("OMP_NUM_THREADS", None)
        r = subprocess.run([sys.executable, "-c", BRUTE_SUMS, *CPU_ISAS], capture_output=True,
                           env=env, cwd=root, timeout=600)
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        runs[threads] = pickle.loads(r.stdout)
    want = {key[1:]: value for key, value in runs[1].items() if key[0] == "generic"}
    assert want
    differ = [(threads, key) for threads, out in runs.items() for key, value in out.items()
              if not all(torch.equal(a, b) for a, b in zip(value, want[key[1:]]))]
    assert not differ


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3, 5, 11])  # c < 4 takes the scalar sums
def test_f_mass_match_reference(dtype, n, device):
    g = torch.Generator().manual_seed(n)
    w = torch.randn(6, n, generator=g, dtype=torch.float64).to(dtype).to(device)
    for p in families(n, g):
        for tie in TIES:
            for m in methods(p, n):
                matches_reference(w, p, tie=tie, method=m)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_integer_w_ties_match_reference(dtype, device):
    """Integer w: many exact ties (w = 0: every vertex; e_1 + e_2: a quarter), every family and
    tie rule."""
    g = torch.Generator().manual_seed(1)
    w = torch.randint(-2, 3, (8, 12), generator=g).to(dtype)
    w[0] = 0
    w[1] = 0
    w[1, :2] = 1
    w = w.to(device)
    for p in families(12, g):
        for tie in TIES:
            for m in methods(p, 12):
                matches_reference(w, p, tie=tie, method=m)


@pytest.mark.parametrize("n", [14, 19, 24])
def test_mitm_equals_brute(n):
    g = torch.Generator().manual_seed(n)
    w = torch.randn(3, n, generator=g, dtype=torch.float64)
    for p in (hc.Uniform(n), hc.Product(torch.rand(n, generator=g, dtype=torch.float64))):
        torch.testing.assert_close(hc.f(w, p, method="mitm"), hc.f(w, p, method="brute"),
                                   atol=1e-13, rtol=0)
    vb, _ = hc.delta(w, method="brute")
    vm, xm = hc.delta(w, method="mitm")
    torch.testing.assert_close(vm, vb, atol=1e-13, rtol=0)
    torch.testing.assert_close(vm, (w * xm).sum(1).abs())


@pytest.mark.parametrize("dtype", DTYPES)
def test_mitm_ties_between_the_halves(dtype):
    """w = (u, u), (u, -u) and (u, reversed u): each of the 2^8 vertices of one half ties one
    vertex of the other (exactly, or within the tolerance when the coordinates are summed in
    another order), 256 tied pairs, which the compiled meet in the middle walks (it merges a
    second time only past 2^h of them, as for integer w); w with a zero coordinate: half sums
    equal to 0 at the median, where the half mirrored from the merged one must hold one of each
    zero-sum pair (x, ~x). f and mass match brute
    force for every tie rule and family, and the tied mass counts."""
    g = torch.Generator().manual_seed(5)
    u = torch.randn(8, generator=g, dtype=torch.float64)
    zero = torch.randn(16, generator=g, dtype=torch.float64)
    zero[3] = 0
    w = torch.stack([torch.cat([u, u]), torch.cat([u, -u]), torch.cat([u, u.flip(0)]),
                     zero]).to(dtype)
    for p in (hc.Uniform(16), hc.Product(torch.rand(16, generator=g, dtype=torch.float64))):
        mass = {}
        for tie in TIES:
            assert_matches_reference(hc.f(w, p, tie=tie, method="mitm"),
                                     hc.f(w, p, tie=tie, method="brute"), kind="hypercube")
            mass[tie] = hc.mass(w, p, tie=tie, method="mitm")
            assert_matches_reference(mass[tie], hc.mass(w, p, tie=tie, method="brute"),
                                     kind="hypercube")
        assert bool((mass["include"][:3] > mass["exclude"][:3]).all())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_delta_matches_reference(dtype, device):
    g = torch.Generator().manual_seed(3)
    w = torch.randn(5, 13, generator=g, dtype=torch.float64).to(dtype).to(device)
    for m in ("brute", "mitm"):
        v, x = hc.delta(w, method=m)
        assert_matches_reference(v, reference.delta(w.cpu(), method=m)[0], kind="hypercube",
                                 factor=10)
        assert bool(((x == 1) | (x == -1)).all())
    w = torch.tensor([3.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    v, x = hc.delta(w)
    assert v.item() == 0.0 and (x * w).sum().item() == 0
    assert torch.equal(reference.delta(w)[0], v)


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
        for tie in TIES:
            for m in methods(p, n):
                base = hc.f(w, p, tie=tie, method=m)
                for alpha in (3.7, 1e-3, 2.0 ** 40):
                    # bitwise: brute force, and mitm with Uniform weights (its running sums add
                    # equal powers of two); Product mitm adds in sorted-sum order, which the
                    # rounding of αw may permute among equal sums: equal to rounding there
                    scaled = hc.f(alpha * w, p, tie=tie, method=m)
                    if m == "brute" or isinstance(p, hc.Uniform):
                        assert torch.equal(scaled, base)
                    else:
                        torch.testing.assert_close(scaled, base, atol=1e-15, rtol=0)
            if p.symmetric:  # f(-w) = -f(w): every tie rule, bitwise (pair sweep)
                assert torch.equal(hc.f(-w, p, tie=tie, method="brute"),
                                   -hc.f(w, p, tie=tie, method="brute"))
        # any p: f_half(w) + f_half(-w) = E[X] (the tie vertices are counted once in total)
        mean = hc.moments(p)[0]
        torch.testing.assert_close(hc.f(w, p, tie="half") + hc.f(-w, p, tie="half"),
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
        assert_matches_reference(hc.f(w, u), 0.5 * e[i], kind="hypercube")
    # balanced bumps e_i + e_j: f = (e_i + e_j)/4 for every tie rule (tie vertices cancel);
    # the mass is 3/4, 1/4, 1/2 for include, exclude, half
    for tie, m in (("include", 0.75), ("exclude", 0.25), ("half", 0.5)):
        torch.testing.assert_close(hc.f(e[i] + e[j], u, tie=tie), 0.25 * (e[i] + e[j]))
        assert hc.mass(e[i] + e[j], u, tie=tie).item() == m
    # symmetric p: f(e_i) = E[X x_i 1(x_i=1)] = Σ e_i / 2, and the same for alpha e_i ± e_j
    chain = hc.Ising.chain(n, 0.5, dtype=dtype)
    S = hc.moments(chain, dtype)[1]
    for w in (e[i], 1.5 * e[i] + e[j], 2.5 * e[i] - e[j]):
        assert_matches_reference(hc.f(w, chain), 0.5 * S[i], kind="hypercube", factor=10)


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


@pytest.mark.parametrize("device", DEVICES)
def test_log_partition_and_moments(device):
    g = torch.Generator().manual_seed(7)
    for p in families(10, g)[2:4]:
        x = hc.vertices(10)
        logz = torch.logsumexp(x @ p.h + 0.5 * ((x @ p.J) * x).sum(1), 0)
        torch.testing.assert_close(hc.log_partition(p, device=device).cpu(), logz, atol=1e-12,
                                   rtol=0)
        torch.testing.assert_close(hc.log_partition(p, torch.float32, device).cpu(), logz.float(),
                                   atol=1e-4, rtol=0)
    for p in families(8, g):
        assert_matches_reference(hc.moments(p, device=device), reference.moments(p),
                                 kind="hypercube")
    # open chain: <x_0 x_r> = tanh(K)^r; correlation_length maps to K = atanh(exp(-1/ξ))
    K = 0.7
    S = hc.moments(hc.Ising.chain(8, K, circular=False))[1]
    torch.testing.assert_close(S[0], torch.tanh(torch.tensor(K, dtype=torch.float64)) **
                               torch.arange(8), atol=1e-12, rtol=0)
    a = hc.Ising.chain(8, correlation_length=2.0, circular=False)
    torch.testing.assert_close(hc.moments(a)[1][0, 3], torch.tensor(math.exp(-1.5),
                               dtype=torch.float64), atol=1e-12, rtol=0)


def test_moments_of_a_circular_chain_to_rounding():
    """The circular Ising chain's correlations in closed form, <x_i x_j> = (t^d + t^(n-d)) /
    (1 + t^n), t = tanh K, d = |i - j|, at n = 16 (2^16 vertices, one chunk): moments sums blocks
    of 256 vertices, then the 256 blocks, so each entry errs by at most ~(256 + 256 + 3) u ~
    5.7e-14 (weights summing to 1; the closed form's own rounding is a few u): atol 1e-13. Its
    exp is numpy's: torch's CPU exp erred by up to 3.3e-9 in the first call of some processes,
    2.4e-11 on these moments."""
    n, K = 16, 0.8
    S = hc.moments(hc.Ising.chain(n, K, circular=True))[1]
    t = math.tanh(K)
    d = (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs().double()
    exact = (t ** d + t ** (n - d)) / (1 + t ** n)
    torch.testing.assert_close(S, exact, atol=1e-13, rtol=0)


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
    with pytest.raises(TypeError, match="weight family"):
        hc.f(w, "uniform")
    with pytest.raises(TypeError, match="Ising"):
        hc.log_partition(u)
    with pytest.raises(ValueError, match="too large"):
        hc.log_partition(hc.Ising.chain(40, 0.1))
    with pytest.raises(ValueError, match="n <= 26"):
        hc.moments(hc.Ising.chain(27, 0.1))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_chunked_sweep_matches_cpu(dtype):
    """n = 21: the CUDA sweep's chunks hold 2^4 pairs each (n <= 17 gives one pair per chunk)."""
    g = torch.Generator().manual_seed(10)
    n = 21
    w = torch.randn(5, n, generator=g, dtype=torch.float64).to(dtype)
    for p in (hc.Uniform(n), hc.Ising.chain(n, 0.5)):
        for m in methods(p, n):
            assert_matches_reference(hc.f(w.cuda(), p, method=m), hc.f(w, p, method=m),
                                     kind="hypercube")
    for m in ("brute", "mitm"):
        assert_matches_reference(hc.delta(w.cuda(), method=m)[0], hc.delta(w, method=m)[0],
                                 kind="hypercube", factor=10)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_chunked_every_family_more_than_one_batch(dtype):
    """n = 20 on CUDA: 2^3 pairs per chunk, 2^16 chunks, 24 w per kernel call: B = 30 takes two
    calls; every family, ties included."""
    g = torch.Generator().manual_seed(12)
    n = 20
    w = torch.randn(30, n, generator=g, dtype=torch.float64).to(dtype)
    w[0] = 0
    w[0, :2] = 1
    for p in families(n, g):
        for tie in ("include", "half"):
            assert_matches_reference(hc.f(w.cuda(), p, tie=tie, method="brute"),
                                     hc.f(w, p, tie=tie, method="brute"), kind="hypercube")


@pytest.mark.cuda
def test_cuda_brute_force_at_its_largest_n():
    """n = 32 (CUDA's brute-force limit), 20 w in two kernel calls, against the CPU's meet in
    the middle."""
    g = torch.Generator().manual_seed(13)
    n = 32
    w = torch.randn(20, n, generator=g, dtype=torch.float64)
    for p in (hc.Uniform(n), hc.Product(torch.rand(n, generator=g, dtype=torch.float64))):
        assert_matches_reference(hc.f(w.cuda(), p, method="brute"), hc.f(w, p, method="mitm"),
                                 kind="hypercube")
    assert_matches_reference(hc.delta(w[:4].cuda(), method="brute")[0],
                             hc.delta(w[:4], method="mitm")[0], kind="hypercube")


@pytest.mark.cuda
@pytest.mark.sanitize
def test_cuda_small_sweeps():
    """One small call per compiled sweep (f with every family, delta, log Z) for
    compute-sanitizer (bench/gpu_check.sh); n = 18 has 2 pairs per CUDA chunk."""
    g = torch.Generator().manual_seed(14)
    n = 18
    w = torch.randn(3, n, generator=g, dtype=torch.float64)
    for p in families(n, g):
        assert_matches_reference(hc.f(w.cuda(), p, method="brute"), hc.f(w, p, method="brute"),
                                 kind="hypercube")
    assert_matches_reference(hc.delta(w.cuda(), method="brute")[0],
                             hc.delta(w, method="brute")[0], kind="hypercube")


def test_any_scale_of_w_gives_the_same_sums():
    """f, mass and delta's minimisers are invariant under w -> a w (a > 0) even where a sum of n
    terms of a w would overflow (a = 1e306, n = 40) or fall into subnormals (a = 1e-300)."""
    g = torch.Generator().manual_seed(15)
    for n, method in ((20, "brute"), (40, "mitm")):
        w = torch.randn(3, n, generator=g, dtype=torch.float64)
        base = hc.f(w, hc.Uniform(n), method=method)
        _, x = hc.delta(w, method=method)
        for a in (1e306, 1e-300):
            assert torch.equal(hc.f(a * w, hc.Uniform(n), method=method), base)
            assert torch.equal(hc.delta(a * w, method=method)[1], x)


@pytest.mark.parametrize("method", ["brute", "mitm"])
def test_delta_of_huge_w_is_its_finite_minimum(method):
    """delta's value is summed at the scale of the search and scaled back: w = (1.5, 1, ..., 1)
    1e308 has delta = 0.5e308 (a partial sum of the unscaled terms overflows: it came back inf),
    (1, ..., 1) 1e308 has 0; any w at a power-of-two scale gives its values times that power."""
    w = torch.ones(2, 20, dtype=torch.float64) * 1e308
    w[0, 0] = 1.5e308
    v, x = hc.delta(w, method=method)
    assert v.tolist() == [0.5e308, 0.0] and bool((x.abs() == 1).all())
    r = torch.randn(3, 20, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert torch.equal(hc.delta(r * 2.0 ** 1000, method=method)[0],
                       hc.delta(r, method=method)[0] * 2.0 ** 1000)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("coupling", [50.0, 1e6, 1e200])
def test_huge_ising_couplings_keep_their_bits(coupling, dtype):
    """A chain with coupling K puts mass 1/2 on each of its two ground states (+1...+1, -1...-1)
    and e^{-4K} relative mass on the next states: f and mass as the enumeration reference
    (softmax over all vertices) also when E(x) and log Z are huge, where p = exp(E - log Z) alone
    would lose every bit of E - log Z."""
    p = hc.Ising.chain(8, coupling)
    if dtype == torch.float32 and coupling > 1e30:
        p = hc.Ising.chain(8, 1e30)
    w = torch.randn(4, 8, generator=torch.Generator().manual_seed(16), dtype=dtype)
    for name in ("f", "mass"):
        assert_matches_reference(getattr(hc, name)(w, p), getattr(reference, name)(w, p),
                                 kind="hypercube")
    assert torch.isfinite(hc.moments(p)[1]).all()
