"""reluscope.Data: validation, conversions, defaults, labels and the kernels' derived fields."""
import math

import numpy as np
import pytest
import torch

import reluscope as rs


def test_defaults_and_derived_fields():
    X, T = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    imp = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    d = rs.Data(X.t().contiguous().t(), T, importance=imp)
    assert d.N == 5 and d.X.is_contiguous() and d.loss == "mse"
    assert torch.equal(d.w, torch.full((5,), 0.2, dtype=torch.float64))
    assert torch.equal(d.imp, imp)  # the importance weights squared errors linearly
    assert torch.equal(rs.Data(X, T).imp, torch.ones(3, dtype=torch.float64))


def test_lists_numpy_dtype_and_device():
    """Nested lists and numpy arrays are converted like torch.as_tensor (lists to the default
    float dtype, or X's for the other fields), dtype= and device= convert every field."""
    d = rs.Data([[0, 1], [1, 0]], [0.5, 1.5], weights=[1, 3])
    assert d.X.dtype == torch.get_default_dtype() and d.T.shape == (2, 1)
    assert d.w.dtype == d.X.dtype and d.w.tolist() == [1.0, 3.0]
    n = rs.Data(np.eye(2), np.ones(2))
    assert n.X.dtype == torch.float64 and n.T.shape == (2, 1)
    c = rs.Data([[0.1, 0.2]], [[0.3]], dtype=torch.float64, device="cpu")
    assert c.X.dtype == c.T.dtype == torch.float64 and c.X[0, 0].item() == 0.1
    f = rs.Data(np.eye(2), np.ones((2, 1)), dtype=torch.float32)
    assert f.X.dtype == f.T.dtype == torch.float32


def test_one_output_targets_and_labels():
    X = torch.randn(4, 2, dtype=torch.float64)
    assert rs.Data(X, torch.zeros(4, dtype=torch.float64)).T.shape == (4, 1)
    assert rs.Data(torch.randn(3, 4, 2), torch.zeros(3, 4)).T.shape == (3, 4, 1)
    d = rs.Data(X, [0, 2, 1, 2], loss="cross_entropy")
    assert d.has_labels and d.T.dtype == torch.int64
    one_hot = d.targets(3)
    assert one_hot.dtype == torch.float64 and one_hot.tolist()[1] == [0.0, 0.0, 1.0]
    assert d.targets(3) is one_hot  # cached
    assert torch.equal(d.importance_for(3), torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="labels must be < d_out = 2"):
        d.targets(2)
    probs = rs.Data(X, torch.full((4, 3), 1 / 3, dtype=torch.float64), loss="cross_entropy")
    assert not probs.has_labels


def test_errors():
    with pytest.raises(ValueError, match="does not match"):
        rs.Data(torch.zeros(5, 2), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="weights"):
        rs.Data(torch.zeros(5, 2), torch.zeros(5, 1), weights=torch.ones(4))
    with pytest.raises(ValueError, match="importance"):
        rs.Data(torch.zeros(5, 2), torch.zeros(5, 1), importance=torch.ones(2))
    with pytest.raises(ValueError, match="importance must be >= 0"):
        rs.Data(torch.zeros(5, 2), torch.zeros(5, 2), importance=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="NaN"):
        rs.Data(torch.full((5, 2), math.nan), torch.zeros(5, 1))
    with pytest.raises(ValueError, match="no samples"):
        rs.Data(torch.zeros(0, 2), torch.zeros(0, 1))
    with pytest.raises(TypeError, match="one dtype"):
        rs.Data(torch.zeros(5, 2), torch.zeros(5, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(N, d0\)"):
        rs.Data(torch.zeros(5), torch.zeros(5, 1))
    with pytest.raises(ValueError, match="loss must be one of"):
        rs.Data(torch.zeros(5, 2), torch.zeros(5, 1), loss="hinge")
    with pytest.raises(TypeError, match="only loss='cross_entropy'"):
        rs.Data(torch.zeros(3, 2), torch.tensor([0, 1, 1]))
    with pytest.raises(TypeError, match="integer labels"):
        rs.Data(torch.zeros(3, 2), torch.tensor([True, False, True]), loss="cross_entropy")
    with pytest.raises(ValueError, match="labels must be >= 0"):
        rs.Data(torch.zeros(3, 2), torch.tensor([0, -1, 1]), loss="cross_entropy")
    with pytest.raises(ValueError, match=r"labels must be \(N,\)"):
        rs.Data(torch.zeros(3, 2), torch.zeros(3, 1, dtype=torch.int64), loss="cross_entropy")


def test_weights_and_importance_types():
    X, T = torch.zeros(3, 2), torch.zeros(3, 1)
    with pytest.raises(TypeError, match="weights must be a torch.Tensor"):
        rs.Data(X, T, weights="uniform")
    with pytest.raises(TypeError, match="importance must be float32 or float64"):
        rs.Data(X, T, importance=torch.ones(1, dtype=torch.int64))
    with pytest.raises(TypeError, match="T must be a torch.Tensor"):
        rs.Data(X, None)


def test_per_model_weights():
    """weights (B, N): one row of sample weights per model, with shared or per-model inputs;
    B must match per-model inputs."""
    w = torch.rand(3, 4, dtype=torch.float64)
    d = rs.Data(torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4, 1, dtype=torch.float64),
                weights=w)
    assert d.w.shape == (3, 4) and torch.equal(d.w, w)
    assert rs.Data(torch.zeros(3, 4, 2), torch.zeros(3, 4, 1), weights=w.float()).w.shape == (3, 4)
    with pytest.raises(ValueError, match=r"weights must be \(4,\), or \(B, 4\) per model"):
        rs.Data(torch.zeros(2, 4, 2), torch.zeros(2, 4, 1), weights=w.float())
    with pytest.raises(ValueError, match="weights must be"):
        rs.Data(torch.zeros(4, 2), torch.zeros(4, 1), weights=torch.ones(3, 5))
