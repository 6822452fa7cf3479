"""The extension's launch contract (csrc/common/launch.h and the plans that use it): for random
sizes, the planned grid x block x stride of every grid-stride kernel covers every item exactly
once, and the CUDA probe answers (or raises) cleanly; ``_ext._core`` hands the extension tensors
as DLPack capsules, zero-copy, without ``Tensor.__dlpack__``."""
import random

import pytest
import torch

import reluscope as rs
from reluscope._ext import _core


def covered_once(items: int, g) -> bool:
    """Simulates the kernels' loop `for (i = t; i < items; i += stride)` over the launched threads
    t < stride (threads >= stride return at once) of the GridStride g."""
    stride = g.stride
    assert 1 <= stride <= g.blocks * g.block
    seen = torch.zeros(items, dtype=torch.int64)
    for t in range(min(stride, items)):
        seen[t::stride] += 1
    return bool((seen == 1).all())


def test_grid_stride_covers_every_item_once():
    rng = random.Random(0)
    for _ in range(300):
        items, workers = rng.randint(1, 5000), rng.randint(1, 3000)
        g = _core.grid_stride(items, workers, rng.choice([32, 64, 128]))
        assert g.stride <= workers and covered_once(items, g)
        capped = _core.grid_stride(items, workers, 32, max_blocks=3)
        assert capped.blocks <= 3 and covered_once(items, capped)
    # far past the grid cap: the stride is what the capped grid launches, never the workers
    g = _core.grid_stride(1 << 40, 1 << 40, 128)
    assert g.blocks == 1 << 20 and g.stride == g.blocks * g.block


def test_lane_and_segment_launches_cover_their_plans():
    """The forward / pattern and count_1d launches, fed the workers their plans allocate."""
    rng = random.Random(1)
    spec = rs.MLP([3, 16, 8, 2]).spec
    for _ in range(100):
        items = rng.randint(1, 4000)
        budget = rng.choice([1, 1000, 10**5, -1])
        values = _core.lane_workspace(spec, items, True, 8, max_workspace_bytes=budget)
        workers = values // (2 * spec.max_width)
        assert workers >= 1
        assert covered_once(items, _core.lane_launch(items, workers))
        seg = _core.segment_plan(spec, items, 1, True, 8, 0, max_workspace_bytes=budget)
        seg_workers = _core.segment_workers(spec, seg.workspace_bytes, seg.capacity, 8)
        assert seg_workers >= 1
        assert covered_once(items, _core.segment_launch(items, seg_workers))


def test_cuda_probe_runs_a_kernel_or_raises_cleanly():
    if torch.cuda.is_available() and rs.config()["cuda_kernels_compiled"]:
        p = _core.cuda_probe(0)
        assert p["kernel_ok"] and p["runtime_version"] > 0 and p["driver_version"] > 0
    else:
        with pytest.raises(RuntimeError):
            _core.cuda_probe(0)


def test_every_enum_has_one_validity_check():
    """The first code past each C++ enum (and -1) is refused by its one check (valid_loss,
    valid_hess_mode, valid_jac_mode, valid_merge, the activation count), so a new entry only
    moves the count."""
    import pytest
    import torch

    from reluscope import MLP

    f64 = torch.float64
    net = MLP([2, 3, 1], "tanh")
    spec, theta = net.spec, net.init(1, dtype=f64)
    X, T = torch.zeros(4, 2, dtype=f64), torch.zeros(4, 1, dtype=f64)
    w, imp = torch.full((4,), 0.25, dtype=f64), torch.ones(1, dtype=f64)
    part = torch.zeros(1, 1, 2, dtype=f64)
    n_losses, n_modes = len(_core.Loss.__members__), len(_core.HessMode.__members__)
    for bad in (-1, n_losses):
        with pytest.raises(ValueError, match="unknown loss"):
            _core.hess(spec, theta, X, T, w, imp, part=part, mode=0, loss=bad)
    for bad in (-1, n_modes):
        with pytest.raises(ValueError, match="unknown mode"):
            _core.hess_plan(spec, 1, 4, 0, bad, False, 8)
    for bad in (-1, len(_core.JacMode.__members__)):
        with pytest.raises(ValueError, match="unknown mode"):
            _core.jac(spec, theta, X, out=torch.zeros(1, 4, 1, 13, dtype=f64), mode=bad)
    counts = torch.empty(1, 1, dtype=torch.int64)
    a, b = -torch.ones(1, 2, dtype=f64), torch.ones(1, 2, dtype=f64)
    for bad in (-1, len(_core.RegionMerge.__members__)):
        with pytest.raises(ValueError, match="unknown merge"):
            _core.region_segments(spec, theta, a, b, counts, bad)
    with pytest.raises(ValueError, match="activation code"):
        _core.NetSpec([0, -1, 1, 1, 0, len(_core.Activation.__members__), 0], 1, 0.01)
    _core.hess(spec, theta, X, T, w, imp, part=part, mode=0, loss=n_losses - 1)


def test_tensors_reach_the_extension_as_capsules_without_dlpack_method(monkeypatch):
    """No ``Tensor.__dlpack__`` (2.3 us a tensor) in a kernel call, positional or keyword; the
    kernel writes into the caller's tensor (zero-copy), reads a temporary kept alive by its
    capsule, and a refused call leaves its tensors usable."""
    calls = []
    dlpack = torch.Tensor.__dlpack__

    def counted(self, *args, **kwargs):
        calls.append(1)
        return dlpack(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "__dlpack__", counted)
    net = rs.MLP([2, 3, 1], "tanh")
    theta, X = net.init(2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    out = torch.full((2, 4, 1), float("nan"), dtype=torch.float64)
    _core.forward(net.spec, theta * 1, X, out=out)
    assert torch.allclose(out, rs.reference.forward(net, theta, X), rtol=1e-13, atol=0)
    with pytest.raises(ValueError, match="wrong dtype"):
        _core.forward(net.spec, theta, X.float(), out)
    out.fill_(0)
    _core.forward(net.spec, theta, X, out)
    assert torch.allclose(out, rs.reference.forward(net, theta, X), rtol=1e-13, atol=0)
    assert calls == []
    assert _core.NetSpec is rs._core.NetSpec and _core.Loss is rs._core.Loss
    # the plain extension, for comparison, calls it (so the count above can fail)
    rs._core.forward(net.spec, theta, X, out)
    assert calls
