"""reluscope.MLP: parameter layout, flatten/unflatten, from_modules/to_modules, errors."""
import pytest
import torch
from torch import nn

import reluscope as rs


def test_mlp_num_params_and_layout():
    net = rs.MLP([3, 4, 2])
    assert net.num_params == 3 * 4 + 4 + 4 * 2 + 2
    assert net.num_hidden == 4
    # W1 at 0, b1 after it, W2 after that.
    assert [(layer.w_off, layer.b_off) for layer in net.layers] == [(0, 12), (16, 24)]
    assert rs.MLP([3, 4, 2], bias=False).num_params == 3 * 4 + 4 * 2


def test_mlp_unflatten_flatten_round_trip():
    net = rs.MLP([3, 5, 4, 2], "tanh")
    theta = torch.randn(6, net.num_params, dtype=torch.float64)
    params = net.unflatten(theta)
    assert [tuple(W.shape) for W, _ in params] == [(6, 5, 3), (6, 4, 5), (6, 2, 4)]
    assert torch.equal(net.flatten(params), theta)
    # unflatten gives views: W1[0, 1, 2] is theta[0, 1 * 3 + 2]
    assert params[0][0][0, 1, 2] == theta[0, 5]


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
    # one model not in a list, or a model that is not a Sequential: a TypeError saying so (was:
    # "'Linear' object is not iterable")
    for one in (nn.Linear(2, 3), nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))):
        with pytest.raises(TypeError, match=r"list of B torch models.*pass \[model\]"):
            rs.MLP.from_modules(one)
    with pytest.raises(TypeError, match=r"modules\[1\] must be an nn.Sequential.*got Conv1d"):
        rs.MLP.from_modules([nn.Linear(2, 3), nn.Conv1d(2, 3, 1)])
    with pytest.raises(TypeError, match="list of torch models, got int"):
        rs.MLP.from_modules(3)


def test_from_modules_takes_a_bare_linear_as_a_one_layer_mlp():
    lins = [nn.Linear(3, 2, dtype=torch.float64) for _ in range(2)]
    net, theta = rs.MLP.from_modules(lins)
    assert net == rs.MLP([3, 2], "identity") and theta.shape == (2, 8)
    X = torch.randn(5, 3, dtype=torch.float64)
    with torch.no_grad():
        want = torch.stack([lin(X) for lin in lins])
    torch.testing.assert_close(rs.forward(net, theta, X), want, rtol=1e-12, atol=1e-12)


def test_constructor_errors():
    with pytest.raises(ValueError, match="unknown activation"):
        rs.MLP([2, 3, 1], "gelu")
    with pytest.raises(ValueError, match="widths"):
        rs.MLP([2])
    with pytest.raises(ValueError, match="widths"):
        rs.MLP([2, 0, 1])
    with pytest.raises(ValueError, match="64 layers"):
        rs.MLP([1] * 66)
    with pytest.raises(ValueError, match="integers"):
        rs.MLP([2, 3.7, 1])
    with pytest.raises(ValueError, match="integers"):
        rs.MLP(["2", 3, 1])
    with pytest.raises(ValueError, match="integers"):
        rs.MLP([2, True, 1])
    # the kernels' layer widths are 32-bit: 2^31 was accepted, then failed in the binding with
    # "incompatible function arguments"
    with pytest.raises(ValueError, match="widths must be at most 2147483647.*got 2147483648"):
        rs.MLP([2, 2 ** 31, 1])


class _HandNTK(nn.Module):
    """A hand-written NTK-parameterised tanh MLP: z = W a / sqrt(fan_in) + b."""

    def __init__(self, params):
        super().__init__()
        self.params = params

    def forward(self, x):
        for l, (W, b) in enumerate(self.params):
            x = x @ W.T / W.shape[1] ** 0.5 + b
            if l < len(self.params) - 1:
                x = torch.tanh(x)
        return x


def test_ntk_parameterisation_equals_a_hand_written_torch_model():
    """MLP(..., parameterization="ntk"): forward, loss gradient and Hessian-vector products (fused
    kernels) equal torch autograd through the hand-written model, float64 to 1e-12."""
    f64 = torch.float64
    net = rs.MLP([3, 5, 4, 2], "tanh", parameterization="ntk")
    g = torch.Generator().manual_seed(0)
    theta = net.init(1, generator=g, dtype=f64, C_W=1.5, C_b=0.2)[0]
    X, T = torch.randn(9, 3, generator=g, dtype=f64), torch.randn(9, 2, generator=g, dtype=f64)
    v = torch.randn(net.num_params, generator=g, dtype=f64)

    def hand_loss(th):
        params = [(W[0], b[0]) for W, b in net.unflatten(th[None])]
        return ((_HandNTK(params)(X) - T) ** 2).sum(1).mean()   # Data's mse, weights 1/N

    with torch.no_grad():
        y = _HandNTK([(W[0], b[0]) for W, b in net.unflatten(theta[None])])(X)
    torch.testing.assert_close(rs.forward(net, theta, X), y, rtol=1e-12, atol=1e-12)
    data = rs.Data(X, T)
    L, G = rs.hessian.value_and_grad(net, theta, data)
    torch.testing.assert_close(L, hand_loss(theta), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(G, torch.func.grad(hand_loss)(theta), rtol=1e-12, atol=1e-12)
    Hv = torch.func.jvp(torch.func.grad(hand_loss), (theta,), (v,))[1]
    torch.testing.assert_close(rs.hessian.hvp(net, theta, data, v), Hv, rtol=1e-11, atol=1e-12)


def test_ntk_parameterisation_is_the_standard_one_reparameterised():
    """The NTK network at theta is the standard network at D theta (D: 1/sqrt(fan_in) on each W):
    the same outputs and the same linear regions (relu, exact 1-D count); gradients relate by
    D (g_ntk = D g_std at D theta); the kernels' kink flags agree."""
    f64 = torch.float64
    ntk = rs.MLP([2, 6, 5, 1], "relu", parameterization="ntk")
    std = rs.MLP([2, 6, 5, 1], "relu")
    g = torch.Generator().manual_seed(1)
    theta = ntk.init(4, generator=g, dtype=f64, bias_std=0.5)
    D = torch.ones(ntk.num_params, dtype=f64)
    for layer in ntk.layers:
        D[layer.w_off:layer.w_off + layer.d_in * layer.d_out] = layer.d_in ** -0.5
    X = torch.randn(30, 2, generator=g, dtype=f64)
    torch.testing.assert_close(rs.forward(ntk, theta, X), rs.forward(std, theta * D, X),
                               rtol=1e-13, atol=1e-13)
    a, b = torch.tensor([[-2.0, -1.0]], dtype=f64), torch.tensor([[2.0, 1.5]], dtype=f64)
    counts = rs.regions.count_1d(ntk, theta, a, b)
    assert counts.min() > 1 and torch.equal(counts, rs.regions.count_1d(std, theta * D, a, b))
    data = rs.Data(X, torch.randn(30, 1, generator=g, dtype=f64))
    torch.testing.assert_close(rs.hessian.value_and_grad(ntk, theta, data)[1],
                               D * rs.hessian.value_and_grad(std, theta * D, data)[1],
                               rtol=1e-12, atol=1e-13)
    assert torch.equal(rs.hessian.kinks(ntk, theta, data), rs.hessian.kinks(std, theta * D, data))


def test_ntk_parameterisation_identity_and_errors():
    net = rs.MLP([2, 3, 1], parameterization="ntk")
    assert net != rs.MLP([2, 3, 1]) and hash(net) != hash(rs.MLP([2, 3, 1]))
    assert "ntk" in repr(net) and "parameterization" not in repr(rs.MLP([2, 3, 1]))
    assert all(layer.ntk for layer in net.layers)
    with pytest.raises(ValueError, match="parameterization"):
        rs.MLP([2, 3, 1], parameterization="mup")
    with pytest.raises(ValueError, match="standard parameterisation"):
        net.to_modules(net.init(1))
