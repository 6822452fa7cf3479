"""reluscope.regions.slices (count_2d, polygons_2d) vs the float64 reference, Zaslavsky's count,
the polygons' geometry, error paths."""
import math

import pytest
import torch

from reluscope import MLP, reference
from reluscope import regions
from reluscope.regions import bounds
from tests.utils import DEVICES, DTYPES, assert_matches_reference
from tests.regions.test_segments import nets

F64 = torch.float64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("widths", [[2, 8, 1], [2, 10, 10, 1], [3, 8, 8, 8, 1]])
@pytest.mark.parametrize("dtype", DTYPES)
def test_count_2d_matches_reference(widths, dtype, device):
    net, theta, g = nets(widths, "relu", dtype, B=3)
    origin = torch.randn(widths[0], generator=g, dtype=dtype) * 0.3
    u, v = (torch.randn(widths[0], generator=g, dtype=dtype) for _ in range(2))
    box = (-1.5, 1.0, -1.0, 2.0)
    ours = regions.count_2d(net, *(x.to(device) for x in (theta, origin, u, v)), bounds=box)
    assert ours.device.type == device
    assert_matches_reference(ours, reference.regions.count_2d(net, theta, origin, u, v,
                                                              bounds=box))


def test_one_hidden_layer_in_the_plane_is_zaslavsky():
    g = torch.Generator().manual_seed(3)
    for n1 in (1, 5, 13):
        net = MLP([2, n1, 1])
        theta = net.init(1, generator=g, bias_std=1.0, dtype=F64)
        (W, bw), _ = net.unflatten(theta)
        W, bw = W[0], bw[0]
        pts = [torch.linalg.solve(W[[i, j]], -bw[[i, j]]) for i in range(n1) for j in range(i)]
        r = float(torch.stack(pts).abs().max()) + 1 if pts else 1.0
        e = torch.eye(2, dtype=F64)
        c2 = regions.count_2d(net, theta, torch.zeros(2, dtype=F64), e[0], e[1],
                              bounds=(-r, r, -r, r))
        assert int(c2) == bounds.zaslavsky(2, n1) == bounds.serra([2, n1, 1])


def test_linear_network_has_one_region():
    net, theta, g = nets([2, 9, 9, 1], "identity", F64, B=3)
    e = torch.eye(2, dtype=F64)
    assert bool((regions.count_2d(net, theta, torch.zeros(2, dtype=F64), e[0], e[1]) == 1).all())
    poly = regions.polygons_2d(net, theta, torch.zeros(2, dtype=F64), e[0], e[1])
    assert poly.patterns.shape == (3, 0)


def test_polygons_tile_the_rectangle_with_distinct_patterns():
    net, theta, g = nets([2, 8, 8, 1], "leaky_relu", F64, B=2)
    e = torch.eye(2, dtype=F64)
    origin = torch.randn(2, 2, generator=g, dtype=F64)
    P = regions.polygons_2d(net, theta, origin, e[[0, 0]], e[[1, 1]], bounds=(-1, 1, -2, 2))
    assert P.vertices.dtype == F64
    assert regions.polygons_2d(net, theta.float(), origin.float(), e[[0, 0]].float(),
                               e[[1, 1]].float()).vertices.dtype == torch.float32
    assert torch.equal(P.counts, regions.count_2d(net, theta, origin, e[[0, 0]], e[[1, 1]],
                                                  bounds=(-1, 1, -2, 2)))
    assert torch.equal(P.region_offsets[1:] - P.region_offsets[:-1], P.counts)
    assert P.patterns.shape == (int(P.counts.sum()), net.num_hidden)
    for k in range(2):
        r0, r1 = int(P.region_offsets[k]), int(P.region_offsets[k + 1])
        area = 0.0
        for r in range(r0, r1):
            p = P.vertices[P.vertex_offsets[r]:P.vertex_offsets[r + 1]]
            area += 0.5 * abs(float((p[:, 0] * p[:, 1].roll(-1) - p[:, 1] * p[:, 0].roll(-1)).sum()))
            # the pattern stored is the pattern at the polygon's centroid
            x = origin[k] + p.mean(0)
            words = regions.activation_words(net, theta[k:k + 1], x[None])[0]
            assert torch.equal(regions.unpack_patterns(words, net.num_hidden)[0], P.patterns[r])
        assert math.isclose(area, 8.0, rel_tol=1e-9)
        assert len({tuple(p.tolist()) for p in P.patterns[r0:r1]}) == r1 - r0


def test_a_corner_region_of_side_1e_6_is_counted():
    """Lines s = -1 + 1e-6 and t = -1 + 1e-6 cut the square [-1, 1]^2 into four regions, one a
    corner square of area 1e-12: far above rounding (its sides are 1e-6), so the kernel and the
    reference both count 4 (the reference once dropped pieces below 1e-12 of the rectangle's
    area and counted 3: the fuzz harness found such a region of a random network)."""
    net = MLP([2, 2, 1], "relu")
    d = 1 - 1e-6
    # W1 = I, b1 = (d, d): z = (s + d, t + d); then W2, b2
    theta = torch.tensor([[1.0, 0.0, 0.0, 1.0, d, d, 1.0, 1.0, 0.0]], dtype=F64)
    e = torch.eye(2, dtype=F64)
    origin = torch.zeros(2, dtype=F64)
    assert regions.count_2d(net, theta, origin, e[0], e[1]).item() == 4
    assert reference.regions.count_2d(net, theta, origin, e[0], e[1]).item() == 4
    assert int(regions.polygons_2d(net, theta, origin, e[0], e[1]).counts) == 4


def test_coincident_lines_count_once():
    c2 = regions.count_2d(MLP([2, 2, 1]), torch.tensor([[1.0, 0, 2.0, 0, -0.3, -0.6, 1, 1, 0]],
                                                       dtype=F64),
                          torch.zeros(2, dtype=F64), torch.tensor([1.0, 0], dtype=F64),
                          torch.tensor([0, 1.0], dtype=F64))
    assert int(c2) == 2


def test_error_paths():
    net, theta, _ = nets([2, 4, 1], "relu", F64, B=2)
    e = torch.eye(2, dtype=F64)
    with pytest.raises(ValueError, match="parallel"):
        regions.count_2d(net, theta, e[0], e[0], 2 * e[0])
    with pytest.raises(ValueError, match="lo1 < hi1"):
        regions.count_2d(net, theta, e[0], e[0], e[1], bounds=(1, 0, 0, 1))
    with pytest.raises(ValueError, match="lo1 < hi1"):
        regions.polygons_2d(net, theta, e[0], e[0], e[1], bounds=(0, 1, 0, 0))
    with pytest.raises(ValueError, match="finite"):
        regions.count_2d(net, theta, e[0], e[0], e[1], bounds=(0, float("inf"), 0, 1))
    with pytest.raises(ValueError, match=r"\(lo1, hi1, lo2, hi2\)"):
        regions.count_2d(net, theta, e[0], e[0], e[1], bounds=(0, 1))
    with pytest.raises(ValueError, match="like origin"):
        regions.count_2d(net, theta, e[0], e, e[1])
    with pytest.raises(TypeError):
        regions.count_2d(object(), theta, e[0], e[0], e[1])


def test_tiny_and_huge_slices_and_empty_batches():
    """Slices are judged scale-free: u, v of 1e-200 or 1e150 with bounds 1e-100 .. 1e39 count like
    the unit slice scaled to the same rectangle; an empty batch gives empty results."""
    net, theta, g = nets([2, 8, 8, 1], "relu", F64, B=2)
    e = torch.eye(2, dtype=F64)
    o = torch.zeros(2, dtype=F64)
    unit = regions.count_2d(net, theta, o, e[0], e[1], bounds=(-2, 2, -2, 2))
    for scale in (1e-200, 1e150):
        b = 2 / scale
        assert torch.equal(regions.count_2d(net, theta, o, scale * e[0], scale * e[1],
                                            bounds=(-b, b, -b, b)), unit)
    assert int(regions.count_2d(net, theta[:1], o, 1e-39 * e[0], 1e-39 * e[1],
                                bounds=(-1e39, 1e39, -1e39, 1e39))[0]) >= 1
    with pytest.raises(ValueError, match="finite"):
        regions.count_2d(net, theta, o, 1e300 * e[0], e[1], bounds=(-1e10, 1e10, -1, 1))
    empty = regions.polygons_2d(net, theta[:0], o, e[0], e[1])
    assert empty.counts.shape == (0,) and empty.patterns.shape == (0, net.num_hidden)


def test_the_binding_checks_every_buffer_it_writes():
    """The private kernel entry refuses output buffers that do not fit, instead of writing past
    them."""
    from reluscope._ext import _core

    net, theta, _ = nets([2, 4, 1], "relu", F64, B=2)
    e = torch.eye(2, dtype=F64)
    i64 = dict(dtype=torch.int64)
    with pytest.raises(ValueError, match="n_vertices"):
        _core.region_polygon_counts(net.spec, theta, e[0], e[0], e[1], (-1, 1, -1, 1),
                                    torch.empty(2, **i64), n_vertices=torch.empty(1, **i64))
    counts, nv = torch.empty(2, **i64), torch.empty(2, **i64)
    _core.region_polygon_counts(net.spec, theta, e[0], e[0], e[1], (-1, 1, -1, 1), counts,
                                n_vertices=nv)
    ro = torch.cat([torch.zeros(1, **i64), counts.cumsum(0)])
    vb = torch.cat([torch.zeros(1, **i64), nv.cumsum(0)])
    R, V = int(ro[-1]), int(vb[-1])
    with pytest.raises(ValueError, match="vertices"):
        _core.region_polygon_fill(net.spec, theta, e[0], e[0], e[1], (-1, 1, -1, 1), counts, ro,
                                  vb, torch.empty(V - 1, 2, dtype=F64), torch.empty(R + 1, **i64),
                              torch.empty(R, net.spec.pattern_words, **i64))
