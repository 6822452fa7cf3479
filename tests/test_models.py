"""reluscope.MLP / TMS: parameter layout, flatten/unflatten, init, from_modules/to_modules."""
import pytest
import torch
from torch import nn

import reluscope as rs
from reluscope.models import ACTIVATIONS


def test_mlp_num_params_and_layout():
    net = rs.MLP([3, 4, 2])
    assert net.num_params == 3 * 4 + 4 + 4 * 2 + 2
    assert net.num_hidden == 4
    # W1 at 0, b1 after it, W2 after that.
    assert [row[:2] for row in net.layers] == [(0, 12), (16, 24)]
    assert rs.MLP([3, 4, 2], bias=False).num_params == 3 * 4 + 4 * 2


def test_mlp_unflatten_flatten_round_trip():
    net = rs.MLP([3, 5, 4, 2], "tanh")
    theta = torch.randn(6, net.num_params, dtype=torch.float64)
    params = net.unflatten(theta)
    assert [tuple(W.shape) for W, _ in params] == [(6, 5, 3), (6, 4, 5), (6, 2, 4)]
    assert torch.equal(net.flatten(params), theta)
    # unflatten gives views: W1[0, 1, 2] is theta[0, 1 * 3 + 2]
    assert params[0][0][0, 1, 2] == theta[0, 5]


def test_tms_layout():
    tms = rs.TMS(5, 2)
    assert tms.num_params == 15 and tms.d_in == 5 and tms.d_out == 5
    theta = torch.arange(30.0).reshape(2, 15)
    W, b = tms.unflatten(theta)
    assert W.shape == (2, 2, 5) and b.shape == (2, 5)
    assert torch.equal(tms.flatten(W, b), theta)
    assert rs.TMS(5, 2, bias=False).num_params == 10


@pytest.mark.parametrize("scheme", ["he", "lecun", "normal"])
def test_init_shapes_and_scale(scheme):
    net = rs.MLP([50, 400, 1])
    g = torch.Generator().manual_seed(0)
    theta = net.init(20, generator=g, scheme=scheme, dtype=torch.float64)
    assert theta.shape == (20, net.num_params) and theta.dtype == torch.float64
    W1 = net.unflatten(theta)[0][0]
    expected = {"he": 2 / 50, "lecun": 1 / 50, "normal": 1.0}[scheme]
    assert abs(W1.var().item() / expected - 1) < 0.05
    assert torch.equal(net.unflatten(theta)[0][1], torch.zeros(20, 400, dtype=torch.float64))
    g2 = torch.Generator().manual_seed(0)
    assert torch.equal(net.init(20, generator=g2, scheme=scheme, dtype=torch.float64), theta)


def test_from_modules_round_trip():
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Linear(3, 6), nn.LeakyReLU(0.2), nn.Linear(6, 2)) for _ in range(4)]
    net, theta = rs.MLP.from_modules(models)
    assert net == rs.MLP([3, 6, 2], "leaky_relu", slope=0.2)
    X = torch.randn(7, 3)
    with torch.no_grad():
        expected = torch.stack([m(X) for m in models])
    assert torch.allclose(rs.forward(net, theta, X), expected, atol=1e-6)
    back = net.to_modules(theta)
    for m, m2 in zip(models, back):
        for p, q in zip(m.parameters(), m2.parameters()):
            assert torch.equal(p, q)


def test_from_modules_errors():
    with pytest.raises(ValueError, match="one architecture"):
        rs.MLP.from_modules([nn.Sequential(nn.Linear(2, 3)), nn.Sequential(nn.Linear(2, 4))])
    with pytest.raises(ValueError, match="unsupported module"):
        rs.MLP.from_modules([nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1))])
    with pytest.raises(ValueError, match="at least one"):
        rs.MLP.from_modules([])


def test_constructor_errors():
    with pytest.raises(ValueError, match="unknown activation"):
        rs.MLP([2, 3, 1], "gelu")
    with pytest.raises(ValueError, match="widths"):
        rs.MLP([2])
    with pytest.raises(ValueError, match="widths"):
        rs.MLP([2, 0, 1])
    with pytest.raises(ValueError, match="64 layers"):
        rs.MLP([1] * 66)
    with pytest.raises(ValueError):
        rs.TMS(0, 2)
    with pytest.raises(ValueError, match="scheme"):
        rs.MLP([2, 1]).init(1, scheme="xavier")


def test_net_spec_matches_layers():
    net = rs.MLP([3, 4, 2], "sigmoid")
    spec = net.spec
    assert (spec.n_layers, spec.d_in, spec.d_out, spec.max_width, spec.n_params) == (2, 3, 2, 4, net.num_params)
    assert net.layers[0][5] == ACTIVATIONS["sigmoid"] and net.layers[1][5] == ACTIVATIONS["identity"]


def test_net_spec_rejects_inconsistent_tables():
    from reluscope._ext import _core

    with pytest.raises(ValueError, match="outside theta"):
        _core.NetSpec([(0, -1, 3, 4, False, 0)], 5, 0.01)
    with pytest.raises(ValueError, match="does not match"):
        _core.NetSpec([(0, -1, 2, 2, False, 0), (4, -1, 3, 1, False, 0)], 7, 0.01)
    with pytest.raises(ValueError, match="activation code"):
        _core.NetSpec([(0, -1, 1, 1, False, 99)], 1, 0.01)
