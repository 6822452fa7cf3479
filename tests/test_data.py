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


def test_data_is_immutable_and_replace_rechecks():
    """Assigning a field used to keep the old labels' cached one-hot (and skip every check);
    now it is an error pointing to replace, which builds a new, checked Data."""
    X = torch.randn(4, 2, dtype=torch.float64)
    d = rs.Data(X, [0, 1, 1, 0], loss="cross_entropy")
    old = d.targets(2)
    with pytest.raises(AttributeError, match=r"immutable.*data.replace\(T=\.\.\.\)"):
        d.T = torch.tensor([1, 0, 0, 1])
    with pytest.raises(AttributeError, match="immutable"):
        d.weights = torch.ones(4, dtype=torch.float64)
    with pytest.raises(AttributeError, match="immutable"):
        del d.X
    assert torch.equal(d.targets(2), old) and d.T.tolist() == [0, 1, 1, 0]
    e = d.replace(T=torch.tensor([1, 0, 0, 1]))
    assert e.T.tolist() == [1, 0, 0, 1] and e.targets(2).tolist()[0] == [0.0, 1.0]
    assert e.loss == "cross_entropy" and e.X is d.X
    with pytest.raises(ValueError, match="labels must be >= 0"):
        d.replace(T=torch.tensor([1, 0, 0, -1]))
    w = d.replace(weights=torch.tensor([1.0, 1.0, 2.0, 0.0], dtype=torch.float64))
    assert w.w.tolist() == [1.0, 1.0, 2.0, 0.0] and w.replace(weights=None).w.tolist() == [0.25] * 4


def test_sample_weights_must_be_nonnegative_and_not_all_zero():
    X, T = torch.zeros(3, 2), torch.zeros(3, 1)
    with pytest.raises(ValueError, match="weights must be >= 0"):
        rs.Data(X, T, weights=torch.tensor([1.0, -0.5, 1.0]))
    with pytest.raises(ValueError, match="weights are all 0"):
        rs.Data(X, T, weights=torch.zeros(3))
    assert rs.Data(X, T, weights=torch.tensor([0.0, 2.0, 0.0])).w.tolist() == [0.0, 2.0, 0.0]


def test_float_labels_for_the_cross_entropy():
    """Float class labels (N,) or (B, N) used to give a dtype or outputs message; the
    cross-entropy's float targets are class probabilities (N, d_out)."""
    X = torch.zeros(4, 2, dtype=torch.float64)
    for T in (torch.tensor([0.0, 1.0, 1.0, 0.0]), [0.0, 1.0, 1.0, 0.0],
              torch.zeros(4, dtype=torch.float64)):
        with pytest.raises(TypeError, match="labels must be integers"):
            rs.Data(X, T, loss="cross_entropy")
    with pytest.raises(TypeError, match=r"labels must be integers.*\(3, 4\)"):
        rs.Data(torch.zeros(3, 4, 2), torch.zeros(3, 4), loss="cross_entropy")
    assert rs.Data(X, torch.full((4, 2), 0.5, dtype=torch.float64), loss="cross_entropy").T.shape == (4, 2)


def test_shared_and_per_model_inputs_and_targets_combine():
    """X and T are each shared or per model, as the kernels take them: shared T with per-model
    X (refused before, quoting a reshaped T), per-model T with shared X (refused before unless
    B == N), and labels either way; errors quote the shapes as passed."""
    from reluscope import MLP, hessian, reference

    net = MLP([3, 4, 2], "tanh")
    theta = net.init(3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    X = torch.randn(3, 5, 3, dtype=torch.float64)
    T = torch.randn(5, 2, dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 0, 1])
    pairs = [(rs.Data(X, T), rs.Data(X, T.expand(3, 5, 2))),
             (rs.Data(X[0], T.expand(3, 5, 2)), rs.Data(X[0].expand(3, 5, 3), T.expand(3, 5, 2))),
             (rs.Data(X, labels, loss="cross_entropy"),
              rs.Data(X, labels.expand(3, 5), loss="cross_entropy")),
             (rs.Data(X[0], labels.expand(3, 5), loss="cross_entropy"),
              rs.Data(X[0].expand(3, 5, 3), labels.expand(3, 5), loss="cross_entropy"))]
    for mixed, full in pairs:
        torch.testing.assert_close(hessian.loss(net, theta, mixed), hessian.loss(net, theta, full),
                                   rtol=1e-12, atol=0)
        torch.testing.assert_close(reference.hessian.loss(net, theta, mixed),
                                   hessian.loss(net, theta, full), rtol=1e-12, atol=0)
    assert rs.Data(X, T[:, 0]).T.shape == (5, 1) and rs.Data(X, T[:, 0].expand(3, 5)).T.shape == (
        3, 5, 1)
    with pytest.raises(ValueError, match=r"T \(4, 2\) does not match X \(3, 5, 3\)"):
        rs.Data(X, T[:4])
    with pytest.raises(ValueError, match=r"T \(2, 5, 2\) does not match X \(3, 5, 3\)"):
        rs.Data(X, T.expand(2, 5, 2))
    with pytest.raises(ValueError, match=r"T \(3, 4, 2\) does not match X \(5, 3\)"):
        rs.Data(X[0], torch.zeros(3, 4, 2, dtype=torch.float64))  # B = 3 != N = 5 samples ...
    with pytest.raises(ValueError, match=r"T \(5, 4, 2\) does not match X \(5, 3\)"):
        rs.Data(X[0], torch.zeros(5, 4, 2, dtype=torch.float64))  # ... and B = N as well
    with pytest.raises(ValueError, match=r"labels must be \(N,\) or \(B, N\).*got \(2, 5\)"):
        rs.Data(X, labels.expand(2, 5), loss="cross_entropy")


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
    with pytest.raises(ValueError, match=r"weights must be .*T \(2, 4, 1\)"):
        rs.Data(torch.zeros(4, 2), torch.zeros(2, 4, 1), weights=w.float())  # B from T
    with pytest.raises(ValueError, match="weights are all 0 for a model"):
        rs.Data(torch.zeros(4, 2), torch.zeros(4, 1), weights=torch.tensor([[1.0] * 4, [0.0] * 4]))


def test_models_selects_the_per_model_fields_and_keeps_the_shared_ones():
    """Data.models(rows): X (B, N, d), T (B, N, k) or (B, N), weights (B, N) indexed; shared
    fields (X (N, d), T (N, k), weights (N,), importance) the same objects."""
    g = torch.Generator().manual_seed(0)
    X3, T3 = torch.randn(4, 5, 2, generator=g), torch.randn(4, 5, 3, generator=g)
    w2 = torch.rand(4, 5, generator=g)
    rows = torch.tensor([2, 0])
    d = rs.Data(X3, T3, weights=w2, importance=torch.tensor([1.0, 2.0, 3.0])).models(rows)
    assert torch.equal(d.X, X3[rows]) and torch.equal(d.T, T3[rows]) and torch.equal(d.w, w2[rows])
    assert torch.equal(d.imp, torch.tensor([1.0, 2.0, 3.0]))
    d = rs.Data(X3, T3[..., 0]).models(rows)                     # one output per model: (B, N)
    assert torch.equal(d.targets(1)[..., 0], T3[rows, :, 0])
    X2, T2 = torch.randn(5, 2, generator=g), torch.randn(5, 3, generator=g)
    shared = rs.Data(X2, T2, loss="mse")
    d = shared.models(rows)
    assert d.X is shared.X and d.T is shared.T and torch.equal(d.w, shared.w)
    labels = torch.randint(0, 3, (4, 5), generator=g)
    d = rs.Data(X3, labels, loss="cross_entropy").models(rows)
    assert torch.equal(d.T, labels[rows]) and d.loss == "cross_entropy"


def test_models_follows_the_stored_layout_of_t():
    """T (B, N) beside X (B, N, d) is one output per model (stored (B, N, 1)) and is indexed;
    T (N, d_out) beside per-model X is shared and kept; labels (B, N) are indexed."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(3, 4, 2, generator=g)
    one = rs.Data(X, torch.randn(3, 4, generator=g))
    assert one.T.shape == (3, 4, 1)
    assert torch.equal(one.models(torch.tensor([2, 0])).T, one.T[[2, 0]])
    shared = rs.Data(X, torch.randn(4, 5, generator=g))
    assert shared.models(torch.tensor([1])).T is shared.T
    labels = rs.Data(X, torch.randint(0, 2, (3, 4), generator=g), loss="cross_entropy")
    assert torch.equal(labels.models(torch.tensor([1])).T, labels.T[[1]])
