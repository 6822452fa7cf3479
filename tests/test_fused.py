"""reluscope._fused (the fused kernel driver) and the C++ launch plan it reads (_core.hess_plan)."""
import functools

import pytest
import torch

from reluscope import MLP, TMS
from reluscope import hessian
from reluscope._ext import _core
from reluscope import _fused
from tests.hessian.test_products import matches_reference
from tests.utils import DTYPES, random_problem

Mode = _core.HessMode


def test_plan_layout():
    """[loss | kinks | gradient | K products]: offsets and length follow the mode."""
    spec = MLP([2, 5, 1]).spec
    P = spec.n_params
    loss = _core.hess_plan(spec, 10, 100, 0, Mode.loss, False, 8)
    grad = _core.hess_plan(spec, 10, 100, 0, Mode.grad, False, 8)
    hvp = _core.hess_plan(spec, 10, 100, 3, Mode.hvp, False, 8)
    assert loss.length == 2 and loss.kinks_offset == 1 and loss.workspace == 0
    assert (grad.grad_offset, grad.length) == (2, 2 + P)
    assert (hvp.products_offset, hvp.length) == (2, 2 + 3 * P)
    with pytest.raises(ValueError, match="unknown mode"):
        _core.hess_plan(spec, 1, 1, 0, 7, False, 8)


def test_plan_chunks_and_workspace():
    spec = MLP([2, 5, 1]).spec
    assert _core.hess_plan(spec, 64, 10_000, 0, Mode.loss, False, 8).chunks == 1
    few = _core.hess_plan(spec, 1, 10_000, 0, Mode.loss, False, 8)
    assert few.chunks == 64  # never from the thread count: the same sums for any threads
    assert _core.hess_plan(spec, 1, 64, 0, Mode.loss, False, 8).chunks == 1
    assert few.partials == few.chunks  # the CPU writes one row per (model, chunk)
    cuda = _core.hess_plan(spec, 3, 2000, 1, Mode.hvp, True, 8)
    assert cuda.chunks == 4 and cuda.workspace > 0 and cuda.workspace % 128 == 0
    assert cuda.partials == 4 * 4  # one row per warp of the 128-thread blocks
    one_block = _core.hess_plan(spec, 3, 2000, 1, Mode.hvp, True, 8, max_workspace_bytes=1)
    assert one_block.workspace * 12 == cuda.workspace  # 3 models x 4 chunks: 12 blocks
    P = spec.n_params
    assert _core.hess_plan(spec, 1000, 100, 0, Mode.hvp, False, 8).max_directions == \
        (1 << 25) // (1000 * P)


def test_chunked_cpu_sums_equal_one_chunk():
    """Few models are split into data chunks on the CPU; summing the chunks gives the loss of
    the whole data (to rounding)."""
    net = MLP([2, 5, 1], "tanh")
    theta, data = random_problem(net, 1, 3000, torch.float64)
    assert _fused.plan(net.spec, theta, data.N, Mode.loss).chunks > 1
    split = hessian.loss(net, theta, data)
    whole = hessian.loss(net, theta.expand(64, -1).contiguous(), data)
    torch.testing.assert_close(split.expand(64), whole, rtol=1e-14, atol=0)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_task_loop_and_small_workspace(dtype, monkeypatch):
    """More (model, chunk) tasks than blocks (grid-stride loop), then a workspace budget that
    allows a single block for everything."""
    net = MLP([2, 5, 1], "relu")
    theta, data = random_problem(net, 600, 2000, dtype, weighted=True, importance=True,
                                 device="cuda")
    V = torch.randn(600, net.num_params, dtype=dtype)
    matches_reference(net, theta, data, [V], dense=False, factor=10)
    monkeypatch.setattr(_core, "hess_plan", functools.partial(_core.hess_plan,
                                                              max_workspace_bytes=1))
    matches_reference(net, theta[:7], data, [V[:7]], factor=10)
    tms = TMS(6, 2)
    matches_reference(tms, *random_problem(tms, 3, 300, dtype, device="cuda"),
                      [torch.randn(3, tms.num_params, dtype=dtype)], factor=10)
