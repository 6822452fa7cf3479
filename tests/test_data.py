"""reluscope.Data: validation, defaults and the kernels' derived fields."""
import math

import pytest
import torch

import reluscope as rs


def test_defaults_and_derived_fields():
    X, T = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    d = rs.Data(X.t().contiguous().t(), T, importance=torch.tensor([1.0, 2.0, 3.0],
                                                                   dtype=torch.float64))
    assert d.N == 5 and d.X.is_contiguous()
    assert torch.equal(d.w, torch.full((5,), 0.2, dtype=torch.float64))
    assert torch.equal(d.u2, torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64))


def test_errors():
    with pytest.raises(ValueError, match="does not match"):
        rs.Data(torch.zeros(5, 2), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="weights"):
        rs.Data(torch.zeros(5, 2), torch.zeros(5, 1), weights=torch.ones(4))
    with pytest.raises(ValueError, match="importance"):
        rs.Data(torch.zeros(5, 2), torch.zeros(5, 1), importance=torch.ones(2))
    with pytest.raises(ValueError, match="NaN"):
        rs.Data(torch.full((5, 2), math.nan), torch.zeros(5, 1))
    with pytest.raises(ValueError, match="no samples"):
        rs.Data(torch.zeros(0, 2), torch.zeros(0, 1))
    with pytest.raises(TypeError, match="one dtype"):
        rs.Data(torch.zeros(5, 2), torch.zeros(5, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(N, d0\)"):
        rs.Data(torch.zeros(5), torch.zeros(5, 1))


def test_weights_and_importance_must_be_tensors():
    X, T = torch.zeros(3, 2), torch.zeros(3, 1)
    with pytest.raises(TypeError, match="weights must be a torch.Tensor"):
        rs.Data(X, T, weights=[1.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="importance must be a torch.Tensor"):
        rs.Data(X, T, importance=[1.0])
