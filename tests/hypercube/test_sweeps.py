"""reluscope.hypercube._sweeps: the limits and chunking read from C++, and the torch meet in the
middle (the CUDA path) against the compiled CPU one."""
import pytest
import torch

import reluscope.hypercube as hc
from reluscope._ext import _core
from reluscope.hypercube import _sweeps


def test_limits_and_plans_come_from_the_extension():
    cpu, cuda = _core.hc_limits(False), _core.hc_limits(True)
    assert (cpu.brute_max_n, cpu.mitm_max_n) == (34, 52)
    assert cuda.brute_max_n == 32 and cuda.mitm_max_n == 0
    assert _sweeps.mitm_max_n(torch.device("cuda")) == _sweeps.TORCH_MITM_MAX_N
    plan = _core.hc_brute_plan(20, 7, False, 21)
    assert (plan.chunk_bits, plan.groups, plan.batch) == (12, 64, 7)
    plan = _core.hc_brute_plan(21, 1000, True, 22)
    assert plan.chunk_bits == 4 and plan.groups == 1 << 16
    assert plan.batch == (256 << 20) // (((1 << 4) + (1 << 16) + (1 << 16) * 22) * 8)
    # a huge batch at small n goes in pieces whose tables stay near 256 MiB (n = 12: c = 11)
    plan = _core.hc_brute_plan(12, 1 << 22, False, 13)
    assert plan.batch == (256 << 20) // (((1 << 11) + 1 + 13) * 8) < 1 << 22
    with pytest.raises(ValueError, match="out of range"):
        _core.hc_brute_plan(0, 1, False, 1)


@pytest.mark.parametrize("n", [2, 9, 14, 19])
def test_torch_mitm_equals_compiled_mitm(n):
    g = torch.Generator().manual_seed(n)
    w = torch.randn(3, n, generator=g, dtype=torch.float64)
    w[0, :2] = 1.0  # ties
    for p in (hc.Uniform(n), hc.Product(torch.rand(n, generator=g, dtype=torch.float64))):
        for tie in hc.TIES.values():
            pA, pB = p.half_probabilities(n // 2, w.dtype, w.device)
            got = _sweeps.torch_mitm_sums(w, pA, pB, n // 2, hc.tie_tolerance(w), tie)
            want = _sweeps.mitm_sums(w, p, hc.tie_tolerance(w), tie)
            torch.testing.assert_close(got, want, atol=1e-13, rtol=0)
    idx = _sweeps.torch_mitm_delta_index(w, n // 2)
    x = hc.vertex_bits(idx, n).double()
    torch.testing.assert_close((w * x).sum(1).abs(), hc.delta(w, method="mitm")[0], atol=1e-13,
                               rtol=0)


def test_weight_tables_reject_unknown_families():
    with pytest.raises(TypeError, match="no compiled sweep"):
        _sweeps.brute_sums(torch.zeros(1, 3, dtype=torch.float64), hc.Gaussian(
            torch.eye(3, dtype=torch.float64)), torch.zeros(1, dtype=torch.float64), 1.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e308])
def test_compiled_mitm_refuses_sums_that_are_not_finite(bad):
    """The merges assume finite subset sums: a NaN made the chains run past their lists (a heap
    overflow with NaN in w, found in review); the binding checks each row's sum |w_i| and tol
    (reluscope.hypercube scales w before, so only direct _core calls can meet this)."""
    w = torch.tensor([[0.5, 0.25, 0.4, 0.3, bad, 0.1]], dtype=torch.float64)
    val, idx = torch.empty(1, dtype=torch.float64), torch.empty(1, dtype=torch.int64)
    with pytest.raises(ValueError, match="w must be finite"):
        _core.hc_mitm_delta(w, 3, val, idx)
    q, out = torch.full((6,), 0.5, dtype=torch.float64), torch.empty(1, 7, dtype=torch.float64)
    with pytest.raises(ValueError, match="w must be finite"):
        _core.hc_mitm_f(w, q, 3, torch.zeros(1, dtype=torch.float64), 1.0, out)
    with pytest.raises(ValueError, match="tol must be finite"):
        _core.hc_mitm_f(torch.rand(1, 6, dtype=torch.float64), q, 3,
                        torch.tensor([bad], dtype=torch.float64), 1.0, out)
    with pytest.raises(ValueError, match="halves of 1 to 26"):
        _core.hc_mitm_delta(torch.rand(1, 54, dtype=torch.float64), 27, val, idx)
