"""reluscope.layer_moments vs the torch reference (every activation, both parameterisations,
shared and per-model inputs, both dtypes, every CPU vector variant, CPU and CUDA), an exact
linear case, errors."""
import math

import pytest
import torch

import reluscope as rs
from reluscope import reference
from tests.utils import CPU_ISAS, DEVICES, DTYPES, assert_matches_reference

f64 = torch.float64


def problem(model, B, N, dtype, per_model=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    theta = model.init(B, generator=g, dtype=dtype, bias_std=0.3)
    shape = (B, N, model.d_in) if per_model else (N, model.d_in)
    return (theta, torch.randn(*shape, generator=g, dtype=dtype),
            torch.randn(*shape, generator=g, dtype=dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", rs.ACTIVATIONS)
@pytest.mark.parametrize("par,per_model", [("standard", False), ("ntk", True)])
def test_matches_reference(act, par, per_model, dtype, device):
    """Every moment of every layer equals the reference's (sums over <= 9 neurons of products of
    <= 4 forward values: the reduction tolerance)."""
    net = rs.MLP([3, 9, 6, 2], act, parameterization=par)
    theta, X, Y = problem(net, 3, 37, dtype, per_model)
    got = rs.layer_moments(net, theta.to(device), X.to(device), Y.to(device))
    want = reference.layer_moments(net, theta, X, Y)
    for name, a, b in zip(got._fields, got, want):
        assert a.shape == (3, 37, 3), name
        assert_matches_reference(a.cpu(), b, kind="reduction")


@pytest.mark.parametrize("isa", CPU_ISAS)
def test_every_cpu_vector_variant(isa, monkeypatch):
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    net = rs.MLP([2, 20, 20, 1], "relu")
    theta, X, Y = problem(net, 2, 100, f64)
    for a, b in zip(rs.layer_moments(net, theta, X, Y), reference.layer_moments(net, theta, X, Y)):
        assert_matches_reference(a, b, kind="reduction")


def test_one_input_shared_y_and_a_linear_layer_exactly():
    """Y = None gives xx = yy = xy and x4 = y4 = xxyy; one network drops B; a linear layer with
    W = I, b = 0 on integer inputs gives the inputs' own moments exactly."""
    net = rs.MLP([3, 3], "identity", bias=False)
    theta = torch.eye(3, dtype=f64).reshape(1, 9)
    X = torch.tensor([[1.0, -2.0, 3.0]], dtype=f64)
    m = rs.layer_moments(net, theta[0], X)
    assert m.xx.shape == (1, 1)
    assert m.xx.item() == 14 / 3 and m.x4.item() == 98 / 3
    assert torch.equal(m.xx, m.yy) and torch.equal(m.xx, m.xy) and torch.equal(m.x4, m.xxyy)
    Y = torch.tensor([[2.0, 0.0, -1.0]], dtype=f64)
    m = rs.layer_moments(net, theta, X, Y)
    assert m.xy.item() == -1 / 3 and m.xxyy.item() == 13 / 3


def test_errors():
    net = rs.MLP([2, 3, 1], "tanh")
    theta, X, Y = problem(net, 2, 4, f64)
    with pytest.raises(ValueError, match="same number"):
        rs.layer_moments(net, theta, X, Y[:3])
    with pytest.raises(ValueError, match="Y must be"):
        rs.layer_moments(net, theta, X, torch.zeros(4, 3, dtype=f64))
    with pytest.raises(TypeError, match="float32"):
        rs.layer_moments(net, theta, X.float())
    with pytest.raises(ValueError, match="NaN or inf"):
        rs.layer_moments(net, theta, X.clone().fill_(math.nan))
    with pytest.raises(ValueError, match="theta must have shape"):
        rs.layer_moments(net, theta[:, 1:], X)
    with pytest.raises(NotImplementedError, match="requires grad"):
        rs.layer_moments(net, theta.requires_grad_(), X)
