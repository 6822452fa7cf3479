"""reluscope.regions: kernels vs the float64 references, exact analytic cases, error paths."""
import math

import pytest
import torch

from reluscope import MLP, reference
from reluscope import regions as R
from reluscope.regions import bounds
from conftest import CPU_ISAS

F64 = torch.float64
ARCHS = [[2, 8, 1], [2, 16, 16, 1], [3, 12, 12, 12, 1], [1, 32, 32, 1], [2, 6, 6, 6, 6, 1]]


def _nets(widths, act, dtype, B=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    net = MLP(widths, act)
    return net, net.init(B, generator=g, bias_std=0.5, dtype=dtype), g


@pytest.mark.parametrize("widths", ARCHS)
@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
@pytest.mark.parametrize("merge", ["activation", "linear"])
def test_count_1d_matches_reference_float64(widths, act, merge):
    net, theta, g = _nets(widths, act, F64)
    a = torch.randn(3, widths[0], generator=g, dtype=F64) * 2
    b = torch.randn(3, widths[0], generator=g, dtype=F64) * 2
    assert torch.equal(R.count_1d(net, theta, a, b, merge=merge),
                       reference.regions.count_1d(net, theta, a, b, merge=merge))


@pytest.mark.parametrize("widths", ARCHS)
def test_count_1d_float32_close_to_reference(widths):
    # float32 rounding can merge or split zeros closer than ~1e-5: allow 1% of the pieces.
    net, theta, g = _nets(widths, "relu", torch.float32)
    a, b = (torch.randn(3, widths[0], generator=g) * 2 for _ in range(2))
    ours, ref = R.count_1d(net, theta, a, b), reference.regions.count_1d(net, theta, a, b)
    assert (ours - ref).abs().sum() <= 0.01 * ref.sum()


def test_count_1d_per_network_segments_and_breakpoints():
    net, theta, g = _nets([2, 10, 10, 1], "relu", F64, B=4)
    a, b = (torch.randn(4, 5, 2, generator=g, dtype=F64) * 3 for _ in range(2))
    counts, bp = R.count_1d(net, theta, a, b, return_breakpoints=True)
    assert torch.equal(counts, reference.regions.count_1d(net, theta, a, b))
    assert torch.equal(bp.offsets[1:] - bp.offsets[:-1], counts.reshape(-1) - 1)
    for i in range(counts.numel()):
        v = bp.values[bp.offsets[i]:bp.offsets[i + 1]]
        assert bool((v > 0).all() and (v < 1).all() and (v[1:] > v[:-1]).all())
    # a breakpoint is where the pattern changes: patterns at piece midpoints differ pairwise
    v = bp.values[:bp.offsets[1]]
    ts = torch.cat([torch.zeros(1, dtype=F64), v, torch.ones(1, dtype=F64)])
    mids = (ts[1:] + ts[:-1]) / 2
    X = a[0, 0] + mids[:, None] * (b[0, 0] - a[0, 0])
    words = R.activation_words(net, theta[:1], X)[0]
    assert bool((words[1:] != words[:-1]).any(1).all())


@pytest.mark.parametrize("L", [1, 2, 3, 7, 12, 20])
def test_sawtooth_has_2_to_the_L_pieces(L):
    net, theta = R.sawtooth(L, F64)
    a, b = torch.zeros(1, 1, dtype=F64), torch.ones(1, 1, dtype=F64)
    counts, bp = R.count_1d(net, theta, a, b, return_breakpoints=True)
    assert int(counts) == 2 ** L
    assert torch.equal(bp.values * 2 ** L, torch.arange(1, 2 ** L, dtype=F64))
    assert int(R.count_1d(net, theta, a, b, merge="linear")) == 2 ** L
    if L <= 7:
        assert int(reference.regions.count_1d(net, theta, a, b)) == 2 ** L


def test_sawtooth_float32_small_L():
    for L in (1, 4, 8):
        net, theta = R.sawtooth(L, torch.float32)
        assert int(R.count_1d(net, theta, torch.zeros(1, 1), torch.ones(1, 1))) == 2 ** L


def test_one_hidden_layer_general_position():
    g = torch.Generator().manual_seed(3)
    for n1 in (1, 5, 13):
        net = MLP([1, n1, 1])
        theta = net.init(1, generator=g, bias_std=1.0, dtype=F64)
        (W, bw), _ = net.unflatten(theta)
        roots = -bw[0] / W[0, :, 0]
        a = (roots.min() - 1).reshape(1, 1)
        b = (roots.max() + 1).reshape(1, 1)
        assert int(R.count_1d(net, theta, a, b)) == n1 + 1
        net2 = MLP([2, n1, 1])
        theta2 = net2.init(1, generator=g, bias_std=1.0, dtype=F64)
        (W, bw), _ = net2.unflatten(theta2)
        W, bw = W[0], bw[0]
        pts = [torch.linalg.solve(W[[i, j]], -bw[[i, j]]) for i in range(n1) for j in range(i)]
        r = float(torch.stack(pts).abs().max()) + 1 if pts else 1.0
        e = [torch.eye(2, dtype=F64)[k] for k in range(2)]
        c2 = R.count_2d(net2, theta2, torch.zeros(2, dtype=F64), e[0], e[1], (-r, r, -r, r))
        assert int(c2) == bounds.zaslavsky(2, n1) == bounds.serra([2, n1, 1])


def test_linear_network_has_one_region():
    net, theta, g = _nets([2, 9, 9, 1], "identity", F64, B=3)
    a, b = (torch.randn(4, 2, generator=g, dtype=F64) for _ in range(2))
    assert bool((R.count_1d(net, theta, a, b) == 1).all())
    e = torch.eye(2, dtype=F64)
    assert bool((R.count_2d(net, theta, torch.zeros(2, dtype=F64), e[0], e[1]) == 1).all())
    assert bool((R.count_patterns(net, theta, torch.randn(50, 2, dtype=F64)) == 1).all())


@pytest.mark.parametrize("widths", [[2, 8, 1], [2, 10, 10, 1], [3, 8, 8, 8, 1]])
@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_count_2d_matches_reference(widths, dtype):
    net, theta, g = _nets(widths, "relu", dtype, B=3)
    origin = torch.randn(widths[0], generator=g, dtype=dtype) * 0.3
    u, v = (torch.randn(widths[0], generator=g, dtype=dtype) for _ in range(2))
    ours = R.count_2d(net, theta, origin, u, v, (-1.5, 1.0, -1.0, 2.0))
    ref = reference.regions.count_2d(net, theta, origin, u, v, (-1.5, 1.0, -1.0, 2.0))
    if dtype == F64:
        assert torch.equal(ours, ref)
    else:
        assert (ours - ref).abs().sum() <= 0.02 * ref.sum()


def test_count_2d_polygons_tile_the_rectangle_with_distinct_patterns():
    net, theta, g = _nets([2, 8, 8, 1], "leaky_relu", F64, B=2)
    e = torch.eye(2, dtype=F64)
    origin = torch.randn(2, 2, generator=g, dtype=F64)
    counts, P = R.count_2d(net, theta, origin, e[[0, 0]], e[[1, 1]], (-1, 1, -2, 2), True)
    assert torch.equal(P.region_offsets[1:] - P.region_offsets[:-1], counts)
    assert P.patterns.shape == (int(counts.sum()), net.num_hidden)
    for k in range(2):
        r0, r1 = int(P.region_offsets[k]), int(P.region_offsets[k + 1])
        area = 0.0
        for r in range(r0, r1):
            p = P.vertices[P.vertex_offsets[r]:P.vertex_offsets[r + 1]]
            area += 0.5 * abs(float((p[:, 0] * p[:, 1].roll(-1) - p[:, 1] * p[:, 0].roll(-1)).sum()))
            # the pattern stored is the pattern at the polygon's centroid
            x = origin[k] + p.mean(0)
            words = R.activation_words(net, theta[k:k + 1], x[None])[0, 0]
            bits = [(int(words[i // 64]) >> (i % 64)) & 1 for i in range(net.num_hidden)]
            assert bits == P.patterns[r].int().tolist()
        assert math.isclose(area, 8.0, rel_tol=1e-9)
        assert len({tuple(p.tolist()) for p in P.patterns[r0:r1]}) == r1 - r0


@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_count_patterns_matches_brute_force_and_is_a_lower_bound(dtype):
    net, theta, g = _nets([2, 12, 12, 1], "relu", dtype, B=4)
    X = torch.rand(3000, 2, generator=g, dtype=dtype) * 2 - 1
    ours = R.count_patterns(net, theta, X)
    assert torch.equal(ours, reference.regions.count_patterns(net, theta, X))
    e = torch.eye(2, dtype=dtype)
    exact = R.count_2d(net, theta, torch.zeros(2, dtype=dtype), e[0], e[1])
    assert bool((ours <= exact).all())
    Xb = torch.rand(4, 500, 2, generator=g, dtype=dtype)
    assert torch.equal(R.count_patterns(net, theta, Xb), reference.regions.count_patterns(net, theta, Xb))


def test_count_patterns_many_words():
    net, theta, g = _nets([3, 70, 70, 1], "relu", F64, B=2)
    X = torch.randn(400, 3, generator=g, dtype=F64)
    assert torch.equal(R.count_patterns(net, theta, X), reference.regions.count_patterns(net, theta, X))


@pytest.mark.parametrize("isa", CPU_ISAS)
def test_count_patterns_every_cpu_vector_variant(isa, monkeypatch):
    """Whole and partial CPU tiles, three pattern words, shared and per-network samples."""
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    for dtype in (torch.float32, F64):
        net, theta, g = _nets([3, 70, 70, 1], "leaky_relu", dtype, B=3)
        for X in (torch.randn(150, 3, generator=g, dtype=dtype),
                  torch.randn(3, 90, 3, generator=g, dtype=dtype)):
            assert torch.equal(R.count_patterns(net, theta, X),
                               reference.regions.count_patterns(net, theta, X))


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
    counts, bp = R.count_1d(net, theta, a, b, return_breakpoints=True)
    assert int(counts) == 2 and math.isclose(float(-1 + 2 * bp.values[0]), 0.3, abs_tol=1e-12)
    assert torch.equal(counts, reference.regions.count_1d(net, theta, a, b))
    c2 = R.count_2d(MLP([2, 2, 1]), torch.tensor([[1.0, 0, 2.0, 0, -0.3, -0.6, 1, 1, 0]], dtype=F64),
                    torch.zeros(2, dtype=F64), torch.tensor([1.0, 0], dtype=F64),
                    torch.tensor([0, 1.0], dtype=F64))
    assert int(c2) == 2


def test_bounds():
    assert bounds.zaslavsky(2, 4) == 1 + 4 + 6
    assert bounds.serra([2, 4, 1]) == bounds.zaslavsky(2, 4)
    assert bounds.serra([1, 2, 2, 1]) <= bounds.trivial([1, 2, 2, 1]) == 16
    assert bounds.trivial([1, 2, 2, 1], ternary=True) == 81
    net, theta = R.sawtooth(5)
    count = int(R.count_1d(net, theta, torch.zeros(1, 1, dtype=F64), torch.ones(1, 1, dtype=F64)))
    assert count <= bounds.serra(net.widths)
    with pytest.raises(ValueError):
        bounds.serra([3])


def test_error_paths():
    net, theta, _ = _nets([2, 4, 1], "relu", F64, B=2)
    a, b = torch.zeros(1, 2, dtype=F64), torch.ones(1, 2, dtype=F64)
    e = torch.eye(2, dtype=F64)
    with pytest.raises(ValueError, match="tanh"):
        R.count_1d(MLP([2, 4, 1], "tanh"), theta, a, b)
    with pytest.raises(ValueError, match="parallel"):
        R.count_2d(net, theta, e[0], e[0], 2 * e[0])
    with pytest.raises(ValueError, match="lo1 < hi1"):
        R.count_2d(net, theta, e[0], e[0], e[1], (1, 0, 0, 1))
    with pytest.raises(ValueError, match="lo1 < hi1"):
        R.count_2d(net, theta, e[0], e[0], e[1], (0, 1, 0, 0))
    bad = theta.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        R.count_1d(net, bad, a, b)
    with pytest.raises(ValueError, match="NaN"):
        R.count_patterns(net, theta, torch.full((3, 2), float("nan"), dtype=F64))
    with pytest.raises(ValueError):
        R.count_1d(net, theta, torch.zeros(1, 3, dtype=F64), torch.ones(1, 3, dtype=F64))
    with pytest.raises(ValueError):
        R.count_1d(net, theta, a, torch.ones(2, 2, dtype=F64))
    with pytest.raises(TypeError):
        R.count_1d(net, theta, a.float(), b.float())
    with pytest.raises(TypeError):
        R.count_1d(net, theta.long(), a, b)
    with pytest.raises(ValueError, match="merge"):
        R.count_1d(net, theta, a, b, merge="slope")
    with pytest.raises(ValueError):
        R.count_patterns(net, theta, torch.zeros(3, 3, 2, dtype=F64))
    with pytest.raises(TypeError):
        R.count_2d(object(), theta, e[0], e[0], e[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_matches_cpu():
    net, theta, g = _nets([2, 16, 16, 1], "relu", F64, B=16)
    a, b = (torch.randn(3, 2, generator=g, dtype=F64) * 2 for _ in range(2))
    c, bp = R.count_1d(net, theta.cuda(), a.cuda(), b.cuda(), return_breakpoints=True)
    c0, bp0 = R.count_1d(net, theta, a, b, return_breakpoints=True)
    assert torch.equal(c.cpu(), c0) and torch.equal(bp.offsets.cpu(), bp0.offsets)
    torch.testing.assert_close(bp.values.cpu(), bp0.values)
    saw, th = R.sawtooth(12)
    with pytest.warns(RuntimeWarning):
        cs = R.count_1d(saw, th.cuda(), torch.zeros(1, 1, dtype=F64, device="cuda"),
                        torch.ones(1, 1, dtype=F64, device="cuda"))
    assert int(cs) == 2 ** 12
    X = torch.rand(2000, 2, generator=g, dtype=F64)
    assert torch.equal(R.count_patterns(net, theta.cuda(), X.cuda()).cpu(),
                       R.count_patterns(net, theta, X))
    e = torch.eye(2, dtype=F64)
    assert torch.equal(R.count_2d(net, theta.cuda(), e[0].cuda(), e[0].cuda(), e[1].cuda()).cpu(),
                       R.count_2d(net, theta, e[0], e[0], e[1]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("act,merge", [("relu", "linear"), ("leaky_relu", "activation")])
def test_cuda_count_1d_per_network_segments_and_one_thread(dtype, act, merge, monkeypatch):
    """Per-network segments, both merges, both dtypes; then a workspace for a single work item
    (grid-stride loop over all items); then overflowing items with breakpoints requested."""
    net, theta, g = _nets([3, 12, 12, 12, 1], act, dtype, B=40)
    a, b = (torch.randn(40, 5, 3, generator=g, dtype=dtype) * 2 for _ in range(2))
    want = R.count_1d(net, theta, a, b, merge=merge)

    def on_cuda():
        return R.count_1d(net, theta.cuda(), a.cuda(), b.cuda(), merge=merge).cpu()

    # float32: CPU (no FMA) and CUDA (FMA) may round a zero to the other side of a breakpoint.
    slack = 0 if dtype == F64 else 0.01 * want.sum()
    assert (on_cuda() - want).abs().sum() <= slack
    monkeypatch.setattr(R, "_CUDA_WORKSPACE_BYTES", 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (0, 0))
    assert (on_cuda() - want).abs().sum() <= slack
    saw, th = R.sawtooth(10)
    with pytest.warns(RuntimeWarning):
        c, bp = R.count_1d(saw, th.cuda(), torch.zeros(1, 1, dtype=F64, device="cuda"),
                           torch.ones(1, 1, dtype=F64, device="cuda"), return_breakpoints=True)
    assert int(c) == 2 ** 10 and bp.values.is_cuda
    torch.testing.assert_close(bp.values.cpu(), torch.arange(1, 2 ** 10, dtype=F64) / 2 ** 10)
