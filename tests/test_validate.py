"""reluscope._validate: the input checks every public call shares."""
import pytest
import torch

import reluscope as rs
from reluscope import hessian, slt


def test_a_sparse_tensor_is_refused_by_name():
    """A sparse theta used to fail inside torch ('unsupported memory format option',
    'Could not run aten::ne.Scalar ... SparseCPU')."""
    net = rs.MLP([3, 4, 2], "tanh")
    theta = net.init(2, dtype=torch.float64)
    X = torch.randn(5, 3, dtype=torch.float64)
    data = rs.Data(X, torch.randn(5, 2, dtype=torch.float64))
    calls = [lambda t: rs.forward(net, t, X), lambda t: hessian.loss(net, t, data),
             lambda t: slt.sgld(net, t, data, draws=1)]
    for call in calls:
        with pytest.raises(TypeError, match="theta must be a dense tensor.*sparse_coo"):
            call(theta.to_sparse())
    with pytest.raises(TypeError, match="X must be a dense tensor"):
        rs.Data(X.to_sparse(), torch.zeros(5, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="X must be a dense tensor"):
        rs.forward(net, theta, X.to_sparse())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64,
                                   torch.complex64])
def test_all_finite_finds_every_nan_and_inf(dtype):
    """all_finite (aminmax: amin/amax propagate NaN) against torch.isfinite(x).all() on tensors
    with one NaN, +inf or -inf at the first, a middle, the last or a random position, in
    contiguous and strided views; empty and integer tensors are finite."""
    from reluscope._validate import all_finite, check_finite

    gen = torch.Generator().manual_seed(0)
    for shape in ((1,), (7,), (33, 65), (3, 4, 1001)):
        x = torch.randn(shape, generator=gen).to(dtype)
        assert all_finite(x) and all_finite(x.mT if x.dim() > 1 else x)
        n = x.numel()
        for pos in {0, n // 2, n - 1, int(torch.randint(n, (1,), generator=gen))}:
            for bad in (float("nan"), float("inf"), -float("inf")):
                y = x.clone()
                y.view(-1)[pos] = bad
                if dtype.is_complex:     # the imaginary part alone
                    y = x.clone()
                    y.view(-1)[pos] = complex(0.5, bad)
                assert bool(torch.isfinite(y).all()) is False
                assert all_finite(y) is False
                if y.dim() > 1:
                    assert all_finite(y.mT) is False
                with pytest.raises(ValueError, match="y contains NaN or inf"):
                    check_finite(y, "y")
    assert all_finite(torch.zeros(0, 3, dtype=dtype))
    assert all_finite(torch.tensor([2 ** 62, -5], dtype=torch.int64))
    assert all_finite(torch.tensor([3e38, -3e38], dtype=torch.float32))    # large but finite
