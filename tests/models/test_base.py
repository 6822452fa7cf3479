"""reluscope.models.base: activations read from the extension, the layer table, NetSpec, init."""
import pytest
import torch

import reluscope as rs
from reluscope._ext import _core
from reluscope.models.base import Layer


def test_activation_tables_come_from_the_extension():
    assert rs.ACTIVATIONS == tuple(a.name for a in _core.Activation)
    assert set(rs.ACTIVATIONS) == {"identity", "relu", "leaky_relu", "tanh", "sigmoid",
                                   "softplus", "erf", "quadratic"}
    assert rs.PIECEWISE_LINEAR == ("identity", "relu", "leaky_relu")
    assert rs.KINKED == ("relu", "leaky_relu")


def test_layer_table_and_net_spec():
    net = rs.MLP([3, 4, 2], "sigmoid")
    assert net.layers[0] == Layer(0, 12, 3, 4, False, _core.Activation.sigmoid)
    assert net.layers[1].activation == _core.Activation.identity
    spec = net.spec
    assert (spec.n_layers, spec.d_in, spec.d_out, spec.max_width, spec.n_params) == \
        (2, 3, 2, 4, net.num_params)
    assert len(net.flat_layers) == 2 * len(Layer._fields)
    assert not net.layers[0].ntk and rs.MLP([3, 4, 2], parameterization="ntk").layers[1].ntk


def test_pattern_layout_counts_the_neurons_with_a_kink():
    assert rs.MLP([2, 70, 5, 1]).spec.pattern_bits == 75
    assert rs.MLP([2, 70, 5, 1]).spec.pattern_words == 2
    assert rs.MLP([2, 3, 1], "identity").spec.pattern_bits == 0
    assert rs.MLP([2, 3, 1], "identity").spec.pattern_words == 1


def test_has_kink_names_the_networks_whose_samples_can_sit_on_a_kink():
    assert rs.MLP([2, 5, 1], "relu").spec.has_kink
    assert rs.MLP([2, 5, 1], "leaky_relu").spec.has_kink
    assert rs.TMS(5, 2).spec.has_kink            # TMS's kink is in its output layer
    for act in ("identity", "tanh", "sigmoid", "softplus", "erf", "quadratic"):
        assert not rs.MLP([2, 5, 1], act).spec.has_kink, act


def test_net_spec_rejects_inconsistent_tables():
    """The one encoding (the flattened layer table) is checked in C++: rows of layer_fields
    ints, the Layer tuple's fields in order."""
    assert len(rs.models.base.Layer._fields) == _core.layer_fields
    with pytest.raises(ValueError, match="outside theta"):
        _core.NetSpec([0, -1, 3, 4, 0, 0, 0], 5, 0.01)
    with pytest.raises(ValueError, match="does not match"):
        _core.NetSpec([0, -1, 2, 2, 0, 0, 0, 4, -1, 3, 1, 0, 0, 0], 7, 0.01)
    with pytest.raises(ValueError, match="activation code"):
        _core.NetSpec([0, -1, 1, 1, 0, 99, 0], 1, 0.01)
    for bad in ([], [0, -1, 1, 1, 0, 0]):
        with pytest.raises(ValueError, match="rows of 7 ints"):
            _core.NetSpec(bad, 1, 0.01)
    with pytest.raises(ValueError, match="width"):
        _core.NetSpec([0, -1, 0, 1, 0, 0, 0], 1, 0.01)


def test_one_net_spec_per_architecture():
    """Models of one architecture share one compiled NetSpec (one cache, models.spec), and the
    custom ops' route (a flattened table) reaches the same object."""
    a, b = rs.MLP([2, 5, 1], "tanh"), rs.MLP([2, 5, 1], "tanh")
    assert a.spec is b.spec
    assert rs._ops.spec_of(a.flat_layers, a.num_params, float(a.slope)) is a.spec
    assert rs.MLP([2, 5, 1], "relu").spec is not a.spec


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


def test_init_errors_and_non_models():
    with pytest.raises(ValueError, match="scheme"):
        rs.MLP([2, 1]).init(1, scheme="xavier")
    from reluscope.models.base import check_model

    with pytest.raises(TypeError, match="reluscope.MLP or reluscope.TMS"):
        check_model(torch.nn.Linear(2, 1))


@pytest.mark.parametrize("parameterization", ["standard", "ntk"])
def test_init_variances_C_W_and_C_b(parameterization):
    """init(C_W=, C_b=): the weights as the layers apply them have variance C_W / fan_in (theta's
    entries: C_W / fan_in standard, C_W in the NTK parameterisation), biases C_b; "he" is C_W = 2.
    Sample variances of 200 x 40 x 30 draws within 5 standard errors (sd of a sample variance:
    var sqrt(2 / n))."""
    net = rs.MLP([30, 40, 1], parameterization=parameterization)
    g = torch.Generator().manual_seed(0)
    for kw, C_W in (({"C_W": 1.7, "C_b": 0.3}, 1.7), ({"scheme": "he", "bias_std": 0.3 ** 0.5}, 2.0)):
        theta = net.init(200, generator=g, dtype=torch.float64, **kw)
        (W, b), _ = net.unflatten(theta)
        want = C_W if parameterization == "ntk" else C_W / 30
        n = W.numel()
        assert abs(W.var().item() - want) <= 5 * want * (2 / n) ** 0.5
        assert abs(b.var().item() - 0.3) <= 5 * 0.3 * (2 / b.numel()) ** 0.5


@pytest.mark.parametrize("parameterization", ["standard", "ntk"])
def test_init_torch_scheme_is_nn_linear_default(parameterization):
    """scheme="torch": weights and biases as the layers apply them ~ U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), nn.Linear's reset_parameters (kaiming_uniform_(a=sqrt(5)) has that bound).
    Checked: the bound, the range filled (max within 1 %), the variance k^2 / 3 within 5 standard
    errors (Var of a sample variance of U(-k, k): (k^4 / 5 - k^4 / 9) / n), for both layers of a
    [30, 40, 1] MLP and for TMS's bias (fan-in n_hidden)."""
    net = rs.MLP([30, 40, 1], "tanh", parameterization=parameterization)
    theta = net.init(300, generator=torch.Generator().manual_seed(0), scheme="torch",
                     dtype=torch.float64)
    for layer, ((W, b), fan_in) in enumerate(zip(net.unflatten(theta), (30, 40))):
        applied = W / fan_in ** 0.5 if parameterization == "ntk" else W
        k = 1 / fan_in ** 0.5
        lin = torch.nn.Linear(fan_in, 1)
        assert float(lin.weight.detach().abs().max()) <= k  # torch's own bound, the same k
        for x in (applied, b):
            assert float(x.abs().max()) <= k and float(x.abs().max()) >= 0.99 * k
            se = (k ** 4 * (1 / 5 - 1 / 9) / x.numel()) ** 0.5
            assert abs(x.var().item() - k * k / 3) <= 5 * se
    tms = rs.TMS(6, 3)
    b = tms.unflatten(tms.init(2000, generator=torch.Generator().manual_seed(1),
                               scheme="torch", dtype=torch.float64))[1]
    assert float(b.abs().max()) <= 3 ** -0.5 and float(b.abs().max()) >= 0.99 * 3 ** -0.5
    with pytest.raises(ValueError, match="scheme='torch' draws the biases"):
        net.init(1, scheme="torch", bias_std=0.1)


def test_init_C_W_errors():
    net = rs.MLP([2, 3, 1])
    with pytest.raises(ValueError, match="scheme or C_W"):
        net.init(1, scheme="he", C_W=2.0)
    with pytest.raises(ValueError, match="bias_std or C_b"):
        net.init(1, bias_std=0.1, C_b=0.1)
    for bad in (-1.0, float("nan"), True):
        with pytest.raises(ValueError, match="C_W"):
            net.init(1, C_W=bad)
        with pytest.raises(ValueError, match="C_b"):
            net.init(1, C_b=bad)
