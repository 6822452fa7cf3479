"""reluscope.regions.segments (count_1d, breakpoints_1d) vs the float64 reference, exact cases,
the CUDA plan's overflow path, error paths."""
import functools
import math

import pytest
import torch

from reluscope import MLP, reference
from reluscope import regions
from reluscope._ext import _core
from tests.utils import DEVICES, DTYPES, assert_matches_reference

F64 = torch.float64
ARCHS = [[2, 8, 1], [2, 16, 16, 1], [3, 12, 12, 12, 1], [1, 32, 32, 1], [2, 6, 6, 6, 6, 1]]


def nets(widths, act, dtype, B=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    net = MLP(widths, act)
    return net, net.init(B, generator=g, bias_std=0.5, dtype=dtype), g


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("widths", ARCHS)
@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
@pytest.mark.parametrize("merge", regions.MERGES)
def test_count_1d_matches_reference_float64(widths, act, merge, device):
    net, theta, g = nets(widths, act, F64)
    a = torch.randn(3, widths[0], generator=g, dtype=F64) * 2
    b = torch.randn(3, widths[0], generator=g, dtype=F64) * 2
    got = regions.count_1d(net, theta.to(device), a.to(device), b.to(device), merge=merge)
    assert_matches_reference(got, reference.regions.count_1d(net, theta, a, b, merge=merge))


@pytest.mark.parametrize("widths", ARCHS)
def test_count_1d_float32_matches_reference(widths):
    """The geometry is decided in float64 whatever the input dtype: float32 nets count exactly
    like the float64 reference of the same values; breakpoints come back in float32."""
    net, theta, g = nets(widths, "relu", torch.float32)
    a, b = (torch.randn(3, widths[0], generator=g) * 2 for _ in range(2))
    assert_matches_reference(regions.count_1d(net, theta, a, b),
                             reference.regions.count_1d(net, theta, a, b))
    assert regions.breakpoints_1d(net, theta, a, b).values.dtype == torch.float32


def test_float32_nets_from_modules_count_like_float64():
    """Default-initialised torch models are float32: 100 [2,16,16,1] nets count the same pieces
    and regions as the same values in float64."""
    torch.manual_seed(0)
    net, theta = MLP.from_modules([torch.nn.Sequential(
        torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, 1)) for _ in range(100)])
    assert theta.dtype == torch.float32
    a, b = torch.tensor([[-1.0, -1.0]]), torch.tensor([[1.0, 1.0]])
    assert torch.equal(regions.count_1d(net, theta, a, b),
                       regions.count_1d(net, theta.double(), a.double(), b.double()))
    e = torch.eye(2)
    assert torch.equal(regions.count_2d(net, theta, torch.zeros(2), e[0], e[1]),
                       regions.count_2d(net, theta.double(), torch.zeros(2, dtype=F64),
                                        e[0].double(), e[1].double()))


def test_breakpoints_per_network_segments():
    net, theta, g = nets([2, 10, 10, 1], "relu", F64, B=4)
    a, b = (torch.randn(4, 5, 2, generator=g, dtype=F64) * 3 for _ in range(2))
    bp = regions.breakpoints_1d(net, theta, a, b)
    assert torch.equal(bp.counts, reference.regions.count_1d(net, theta, a, b))
    assert torch.equal(bp.counts, regions.count_1d(net, theta, a, b))
    assert torch.equal(bp.offsets[1:] - bp.offsets[:-1], bp.counts.reshape(-1) - 1)
    for i in range(bp.counts.numel()):
        v = bp.values[bp.offsets[i]:bp.offsets[i + 1]]
        assert bool((v > 0).all() and (v < 1).all() and (v[1:] > v[:-1]).all())
    # a breakpoint is where the pattern changes: patterns at piece midpoints differ pairwise
    v = bp.values[:bp.offsets[1]]
    ts = torch.cat([torch.zeros(1, dtype=F64), v, torch.ones(1, dtype=F64)])
    mids = (ts[1:] + ts[:-1]) / 2
    X = a[0, 0] + mids[:, None] * (b[0, 0] - a[0, 0])
    words = regions.activation_words(net, theta[:1], X)[0]
    assert bool((words[1:] != words[:-1]).any(1).all())


def test_one_hidden_layer_general_position():
    g = torch.Generator().manual_seed(3)
    for n1 in (1, 5, 13):
        net = MLP([1, n1, 1])
        theta = net.init(1, generator=g, bias_std=1.0, dtype=F64)
        (W, bw), _ = net.unflatten(theta)
        roots = -bw[0] / W[0, :, 0]
        a = (roots.min() - 1).reshape(1, 1)
        b = (roots.max() + 1).reshape(1, 1)
        assert int(regions.count_1d(net, theta, a, b)) == n1 + 1


def test_linear_network_has_one_piece():
    net, theta, g = nets([2, 9, 9, 1], "identity", F64, B=3)
    a, b = (torch.randn(4, 2, generator=g, dtype=F64) for _ in range(2))
    assert bool((regions.count_1d(net, theta, a, b) == 1).all())


def test_degenerate_coincident_and_touching_neurons():
    # neurons 1 and 2 share a hyperplane (x = 0.3, one scaled); neuron 3 is zero-slope; layer 2
    # neuron touches zero exactly at x = 0.3 (|x - 0.3| shape) without crossing.
    net = MLP([1, 4, 2, 1])
    W1 = torch.tensor([[[1.0], [2.0], [0.0], [-1.0]]], dtype=F64)
    b1 = torch.tensor([[-0.3, -0.6, 0.5, 0.3]], dtype=F64)
    W2 = torch.tensor([[[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0]]], dtype=F64)
    b2 = torch.zeros(1, 2, dtype=F64)
    W3, b3 = torch.ones(1, 1, 2, dtype=F64), torch.zeros(1, 1, dtype=F64)
    theta = net.flatten([(W1, b1), (W2, b2), (W3, b3)])
    a, b = torch.full((1, 1), -1.0, dtype=F64), torch.ones(1, 1, dtype=F64)
    bp = regions.breakpoints_1d(net, theta, a, b)
    assert int(bp.counts) == 2 and math.isclose(float(-1 + 2 * bp.values[0]), 0.3, abs_tol=1e-12)
    assert torch.equal(bp.counts, reference.regions.count_1d(net, theta, a, b))


def test_segment_status_enum():
    """count_1d's CUDA status codes come from C++ (_core.SegmentStatus), read by name in Python."""
    assert [s.name for s in _core.SegmentStatus] == ["ok", "over_capacity", "offsets_mismatch"]
    assert int(_core.SegmentStatus.ok) == 0   # the kernel writes ok on success: a zeroed buffer


def test_segment_plan():
    spec = MLP([2, 16, 1]).spec
    cpu = _core.segment_plan(spec, 10, 3, False, 8, 0)
    assert (cpu.capacity, cpu.workspace_bytes) == (0, 0)
    cuda = _core.segment_plan(spec, 10, 3, True, 8, 8 << 30)
    assert cuda.capacity > 0 and cuda.workspace_bytes > 0 and cuda.workspace_bytes % 30 == 0
    one = _core.segment_plan(spec, 10, 3, True, 8, 8 << 30, max_workspace_bytes=1)
    assert one.workspace_bytes * 30 == cuda.workspace_bytes
    # never more than half of what is free, and always one work item
    item = one.workspace_bytes
    tight = _core.segment_plan(spec, 10**6, 1, True, 8, 10 * item)
    assert item <= tight.workspace_bytes <= 5 * item
    assert _core.segment_plan(spec, 10, 3, True, 8, 0).workspace_bytes == item


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act,merge", [("relu", "linear"), ("leaky_relu", "activation")])
def test_cuda_per_network_segments_one_work_item_and_overflow(dtype, act, merge, monkeypatch):
    """Per-network segments, both merges, both dtypes; then a workspace for a single work item
    (grid-stride loop over all items); then items that overflow the plan's capacity, with and
    without breakpoints (recounted on the CPU, with a warning)."""
    net, theta, g = nets([3, 12, 12, 12, 1], act, dtype, B=40)
    a, b = (torch.randn(40, 5, 3, generator=g, dtype=dtype) * 2 for _ in range(2))
    want = regions.count_1d(net, theta, a, b, merge=merge)

    def on_cuda():
        return regions.count_1d(net, theta.cuda(), a.cuda(), b.cuda(), merge=merge).cpu()

    assert torch.equal(on_cuda(), want)
    monkeypatch.setattr(_core, "segment_plan", functools.partial(_core.segment_plan,
                                                                 max_workspace_bytes=1))
    assert torch.equal(on_cuda(), want)
    saw, th = regions.sawtooth(10)
    zero, one = (torch.full((1, 1), x, dtype=F64, device="cuda") for x in (0.0, 1.0))
    with pytest.warns(RuntimeWarning):
        assert int(regions.count_1d(saw, th.cuda(), zero, one)) == 2 ** 10
    with pytest.warns(RuntimeWarning):
        bp = regions.breakpoints_1d(saw, th.cuda(), zero, one)
    assert int(bp.counts) == 2 ** 10 and bp.values.is_cuda
    torch.testing.assert_close(bp.values.cpu(), torch.arange(1, 2 ** 10, dtype=F64) / 2 ** 10)


@pytest.mark.cuda
@pytest.mark.sanitize
def test_cuda_breakpoints_match_cpu():
    net, theta, g = nets([2, 16, 16, 1], "relu", F64, B=16)
    a, b = (torch.randn(3, 2, generator=g, dtype=F64) * 2 for _ in range(2))
    got = regions.breakpoints_1d(net, theta.cuda(), a.cuda(), b.cuda())
    want = regions.breakpoints_1d(net, theta, a, b)
    assert torch.equal(got.counts.cpu(), want.counts)
    assert torch.equal(got.offsets.cpu(), want.offsets)
    torch.testing.assert_close(got.values.cpu(), want.values)


def test_error_paths():
    net, theta, _ = nets([2, 4, 1], "relu", F64, B=2)
    a, b = torch.zeros(1, 2, dtype=F64), torch.ones(1, 2, dtype=F64)
    with pytest.raises(ValueError, match="tanh"):
        regions.count_1d(MLP([2, 4, 1], "tanh"), theta, a, b)
    bad = theta.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        regions.count_1d(net, bad, a, b)
    with pytest.raises(ValueError):
        regions.count_1d(net, theta, torch.zeros(1, 3, dtype=F64), torch.ones(1, 3, dtype=F64))
    with pytest.raises(ValueError):
        regions.count_1d(net, theta, a, torch.ones(2, 2, dtype=F64))
    with pytest.raises(TypeError):
        regions.count_1d(net, theta, a.float(), b.float())
    with pytest.raises(TypeError):
        regions.count_1d(net, theta.long(), a, b)
    with pytest.raises(ValueError, match="merge"):
        regions.count_1d(net, theta, a, b, merge="slope")
    with pytest.raises(ValueError, match="merge"):
        regions.breakpoints_1d(net, theta, a, b, merge="slope")
    with pytest.raises(TypeError, match="reluscope.MLP"):
        regions.count_1d(object(), theta, a, b)


def test_the_fill_pass_checks_its_buffer_against_the_offsets():
    """The private kernel entry: offsets that do not match the counts, or a values buffer too
    small for them, are an error, never a write past the buffer; an empty buffer is fine when
    there is nothing to write."""
    net, theta, _ = nets([2, 8, 1], "relu", F64, B=2)
    a, b = -torch.ones(1, 2, dtype=F64), torch.ones(1, 2, dtype=F64)
    counts = torch.empty(2, 1, dtype=torch.int64)
    _core.region_segments(net.spec, theta, a, b, counts, 0)
    good = torch.cat([torch.zeros(1, dtype=torch.int64), (counts.reshape(-1) - 1).cumsum(0)])
    for offsets, size in ((torch.tensor([0, 1, 2]), 2), (good, int(good[-1]) - 1)):
        with pytest.raises(ValueError, match="do not match"):
            _core.region_segments(net.spec, theta, a, b, counts, 0, offsets=offsets,
                                  values=torch.empty(size, dtype=F64))
    one = MLP([2, 3, 1], "identity")
    c1 = torch.ones(1, 1, dtype=torch.int64)
    _core.region_segments(one.spec, one.init(1, dtype=F64), a, b, c1, 0,
                          offsets=torch.zeros(2, dtype=torch.int64),
                          values=torch.empty(0, dtype=F64))
    assert int(c1) == 1
