"""reluscope.hypercube.weights: the families' parameters, probabilities and errors."""
import pytest
import torch

import reluscope.hypercube as hc


def test_probabilities_sum_to_one_and_product_halves():
    g = torch.Generator().manual_seed(0)
    q = torch.rand(6, generator=g, dtype=torch.float64)
    for p in (hc.Uniform(6), hc.Product(q), hc.Ising.chain(6, 0.4),
              hc.Table(torch.rand(64, generator=g, dtype=torch.float64))):
        torch.testing.assert_close(p.probabilities().sum(), torch.tensor(1.0, dtype=torch.float64))
        if p.product_form:
            pA, pB = p.half_probabilities(2, torch.float64, None)
            full = (pA[:, None] * pB[None, :]).T.reshape(-1)  # vertex = a | b << 2
            torch.testing.assert_close(full, p.probabilities(), atol=1e-15, rtol=0)
        else:
            with pytest.raises(ValueError, match="Uniform or Product"):
                p.half_probabilities(2, torch.float64, None)
    assert hc.Product(torch.full((4,), 0.5)).symmetric and not hc.Product(q).symmetric


def test_table_from_samples():
    X = torch.tensor([[1, -1, 1], [1, -1, 1], [-1, -1, -1], [1, 1, 1]])
    t = hc.Table.from_samples(X)
    assert t.p[5].item() == 0.5 and t.p[0].item() == 0.25 and t.p[7].item() == 0.25
    w = torch.tensor([[0.3, -1.0, 0.2]], dtype=torch.float64)
    torch.testing.assert_close(hc.f(w, t), hc.f_monte_carlo(w, X.double()))


def test_errors():
    for q in ([0.5, 1.2], [-0.1, 0.5], [[0.5]], [float("nan"), 0.5]):
        with pytest.raises(ValueError):
            hc.Product(torch.tensor(q))
    with pytest.raises(ValueError, match="symmetric"):
        hc.Ising(torch.tensor([[0.0, 1.0], [0.5, 0.0]]))
    with pytest.raises(ValueError, match="diagonal"):
        hc.Ising(torch.eye(3))
    with pytest.raises(ValueError, match="2\\^n"):
        hc.Table(torch.ones(6))
    with pytest.raises(ValueError, match="nonnegative"):
        hc.Table(torch.tensor([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="±1"):
        hc.Table.from_samples(torch.tensor([[1, 0]]))
    with pytest.raises(ValueError, match="coupling"):
        hc.Ising.chain(5)
    with pytest.raises(ValueError, match="positive integer"):
        hc.Uniform(0)


def test_complex_and_boolean_parameters_are_refused():
    with pytest.raises(TypeError, match="real"):
        hc.Product(torch.tensor([0.5 + 1j, 0.5]))
    with pytest.raises(TypeError, match="real"):
        hc.Ising(torch.zeros(2, 2, dtype=torch.complex128))
    with pytest.raises(TypeError, match="real"):
        hc.Table(torch.ones(4, dtype=torch.bool))
