"""reluscope.hessian.class_structure: Papyan's four parts against the same maths written with
torch.func Jacobians and loops over samples and classes, their sum against the engine's
Gauss-Newton matrix, their ranks and signs; FactorOperator; errors."""
import pytest
import torch

from reluscope import MLP, Data, hessian
from reluscope.reference import forward as reference_forward
from reluscope.reference import hessian as reference
from tests.utils import random_problem

F64 = torch.float64


def parts_by_loops(model, theta_b, X, y, w, imp):
    """The four parts (P, P) of one network, written directly from the module docstring."""
    J = reference.jacobian(model, theta_b[None], X)[0]                    # (N, C, P)
    p = torch.softmax(reference_forward(model, theta_b[None], X)[0], -1)
    N, C, P = J.shape
    d = torch.zeros(N, C, P, dtype=F64)
    for i in range(N):
        for k in range(C):
            e = torch.zeros(C, dtype=F64)
            e[k] = 1
            d[i, k] = p[i, k].sqrt() * J[i].T @ (e - p[i])
    wi = w * imp[y]
    G = [torch.zeros(P, P, dtype=F64) for _ in range(4)]
    for c in range(C):
        members = [i for i in range(N) if y[i] == c]
        Wc = sum(float(wi[i]) for i in members)
        if Wc == 0:
            continue
        m = torch.stack([sum(wi[i] * d[i, k] for i in members) / Wc for k in range(C)])
        dc = (m.sum(0) - m[c]) / (C - 1)
        G[0] += Wc * torch.outer(m[c], m[c])
        G[1] += (C - 1) * Wc * torch.outer(dc, dc)
        for k in range(C):
            if k != c:
                G[2] += Wc * torch.outer(m[k] - dc, m[k] - dc)
        for i in members:
            for k in range(C):
                G[3] += wi[i] * torch.outer(d[i, k] - m[k], d[i, k] - m[k])
    return G


@pytest.mark.parametrize("per_model", [False, True])
def test_parts_match_loops_and_sum_to_gauss_newton(per_model):
    net = MLP([3, 5, 4], "tanh")
    theta, data = random_problem(net, 2, 14, F64, per_model=per_model, weighted=True,
                                 importance=True, loss="cross_entropy", labels=True)
    parts = hessian.class_decomposition(net, theta, data)
    dense = [op.to_dense() for op in parts]
    G = hessian.GaussNewton(net, theta, data).to_dense()
    torch.testing.assert_close(sum(dense), G, rtol=1e-12, atol=1e-13)
    for b in range(2):
        X = data.X[b] if per_model else data.X
        y = data.T[b] if per_model else data.T
        want = parts_by_loops(net, theta[b], X, y, data.w, data.importance_for(4))
        for got, ref in zip(dense, want):
            torch.testing.assert_close(got[b], ref, rtol=1e-11, atol=1e-13)


def test_ranks_signs_and_one_network():
    """true_class and class_means have rank <= C, cross_class <= C(C-2) (its C-1 vectors per class
    sum to zero), all PSD; FactorOperator.eigvalsh equals the dense spectrum's top values; theta
    (P,) gives B = 1."""
    C = 4
    net = MLP([5, 12, C], "tanh")
    theta, data = random_problem(net, 2, 40, F64, loss="cross_entropy", labels=True)
    parts = hessian.class_decomposition(net, theta, data)
    for op, rank in zip(parts, (C, C, C * (C - 2), None)):
        full = torch.linalg.eigvalsh(op.to_dense())
        scale = float(full.abs().max())
        assert float(full.min()) >= -1e-12 * scale
        if rank is not None:
            assert int((full > 1e-10 * scale).sum(1).max()) <= rank
        top = op.eigvalsh()
        k = top.shape[1]
        torch.testing.assert_close(top, full[:, -k:], rtol=1e-9, atol=1e-12 * scale)
    one = hessian.class_decomposition(net, theta[1], data)
    torch.testing.assert_close(one.cross_class.to_dense()[0], parts.cross_class.to_dense()[1],
                               rtol=1e-13, atol=1e-15)


def test_factor_operator():
    F = torch.randn(3, 2, 5, dtype=F64)
    op = hessian.FactorOperator(F)
    A = F.transpose(1, 2) @ F
    V = torch.randn(3, 4, 5, dtype=F64)
    torch.testing.assert_close(op.matmat(V), V @ A, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(op.network(2).to_dense(), A[2:3])
    torch.testing.assert_close(op.eigvalsh(), torch.linalg.eigvalsh(A)[:, -2:], rtol=1e-10,
                               atol=1e-12)
    wide = hessian.FactorOperator(torch.randn(2, 7, 5, dtype=F64))   # R > P: the dense path
    assert wide.eigvalsh().shape == (2, 5)
    with pytest.raises(ValueError, match="vectors must be"):
        hessian.FactorOperator(torch.randn(2, 5, dtype=F64))


def test_errors():
    net = MLP([3, 5, 4], "tanh")
    theta, mse = random_problem(net, 2, 10, F64)
    with pytest.raises(ValueError, match="cross_entropy"):
        hessian.class_decomposition(net, theta, mse)
    _, probs = random_problem(net, 2, 10, F64, loss="cross_entropy")
    with pytest.raises(ValueError, match="integer class"):
        hessian.class_decomposition(net, theta, probs)
    one = MLP([3, 5, 1], "tanh")
    with pytest.raises(ValueError, match="at least 2 classes"):
        hessian.class_decomposition(one, one.init(1, dtype=F64),
                                    Data(torch.randn(4, 3, dtype=F64), torch.zeros(4).long(),
                                         loss="cross_entropy"))
    _, labels = random_problem(net, 2, 10, F64, loss="cross_entropy", labels=True)
    with pytest.raises(NotImplementedError, match="not differentiable"):
        hessian.class_decomposition(net, theta.requires_grad_(), labels)
    with pytest.raises(TypeError, match="Data"):
        hessian.class_decomposition(net, theta.detach(), (labels.X, labels.T))
