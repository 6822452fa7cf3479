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
