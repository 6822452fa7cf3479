"""reluscope.hessian.operators: the Hessian, Gauss-Newton and residual operators and dense ones."""
import pytest
import torch

from reluscope import MLP, TMS
from reluscope import hessian
from reluscope.reference import hessian as reference
from tests.utils import DEVICES, assert_matches_reference, random_problem

F64 = torch.float64


@pytest.mark.parametrize("device", DEVICES)
def test_operators_match_the_products_and_the_reference(device):
    net = MLP([3, 6, 2], "tanh")
    theta, data = random_problem(net, 4, 31, F64, weighted=True, device=device)
    H, G, R = (op(net, theta, data) for op in (hessian.Hessian, hessian.GaussNewton,
                                                hessian.Residual))
    assert H.shape == G.shape == R.shape == (4, net.num_params, net.num_params)
    V = torch.randn(4, 3, net.num_params, dtype=F64, device=device)
    assert torch.equal(H.matmat(V), hessian.hvp(net, theta, data, V))
    assert torch.equal(G @ V, hessian.gnvp(net, theta, data, V))
    assert torch.equal(H.matvec(V[:, 0]), H.matmat(V)[:, 0])
    assert torch.equal(R @ V, H @ V - G @ V)
    Hd, Gd = H.to_dense(), G.to_dense()
    assert torch.equal(Hd, hessian.hessian(net, theta, data))
    assert_matches_reference(Hd, reference.hessian(net, theta.cpu(), data.__class__(
        data.X.cpu(), data.T.cpu(), data.weights.cpu())), kind="reduction")
    assert_matches_reference(R.to_dense(), Hd - Gd, kind="reduction")
    assert_matches_reference(H.diagonal(), Hd.diagonal(dim1=1, dim2=2), kind="reduction")


def test_properties():
    net = MLP([3, 6, 2], "tanh")
    theta, data = random_problem(net, 4, 31, F64)
    H = hessian.Hessian(net, theta, data)
    Hs = H.to_dense()
    assert torch.equal(Hs, Hs.transpose(1, 2))
    g = torch.Generator().manual_seed(2)
    V1, V2 = (torch.randn(4, net.num_params, generator=g, dtype=F64) for _ in range(2))
    assert_matches_reference(H @ (2 * V1 - 3 * V2), 2 * (H @ V1) - 3 * (H @ V2), kind="reduction")
    assert_matches_reference(H @ V1, (Hs @ V1[..., None])[..., 0], kind="reduction")
    assert (torch.linalg.eigvalsh(hessian.GaussNewton(net, theta, data).to_dense()) > -1e-10).all()


@pytest.mark.parametrize("make", [lambda: TMS(4, 2), lambda: MLP([2, 5, 1], "sigmoid")],
                         ids=["TMS", "MLP"])
def test_unit_products_in_several_calls(make, monkeypatch):
    """to_dense applies the P unit vectors in chunks of the plan's max_directions: one direction
    per call gives the same matrix (TMS: full columns, symmetrised; the MLP: the kernel's upper
    triangle, mirrored)."""
    model = make()
    theta, data = random_problem(model, 3, 20, F64)
    for op in (hessian.Hessian, hessian.GaussNewton, hessian.Residual):
        H = op(model, theta, data)
        assert H._unit_triangle == isinstance(model, MLP)
        whole = H.to_dense()
        monkeypatch.setattr(H, "directions_per_call", lambda: 1)
        assert torch.equal(H.to_dense(), whole)
        assert torch.equal(whole, whole.transpose(1, 2))
        assert torch.equal(H.diagonal(), whole.diagonal(dim1=1, dim2=2))
    assert_matches_reference(whole, reference.hessian(model, theta, data)
                             - reference.gauss_newton(model, theta, data), kind="reduction")


def test_dense_operator():
    A = torch.randn(2, 5, 5, dtype=F64)
    A = A + A.transpose(1, 2)
    op = hessian.DenseOperator(A)
    V = torch.randn(2, 3, 5, dtype=F64)
    assert_matches_reference(op @ V, torch.einsum("bij,bkj->bki", A, V), kind="reduction")
    assert torch.equal(op.to_dense(), A) and torch.equal(op.diagonal(), A.diagonal(dim1=1, dim2=2))
    with pytest.raises(ValueError, match=r"\(B, P, P\)"):
        hessian.DenseOperator(torch.zeros(2, 3, 4))


def test_operator_errors():
    net = MLP([2, 3, 1])
    theta, data = random_problem(net, 2, 10, F64)
    H = hessian.Hessian(net, theta, data)
    with pytest.raises(ValueError, match="V must be"):
        H.matmat(torch.zeros(3, 1, net.num_params, dtype=F64))
    with pytest.raises(ValueError, match=r"matmat takes V \(B, K, P\)"):
        H.matmat(torch.zeros(2, net.num_params, dtype=F64))
    with pytest.raises(ValueError, match="theta must have shape"):
        hessian.GaussNewton(net, theta[:, 1:], data)
    with pytest.raises(ValueError, match="HESSIAN_MAX_BYTES"):
        big = MLP([2, 200, 200, 1])
        hessian.Residual(big, big.init(20, dtype=F64), data).to_dense()


SPECTRA = [("eigvalsh", {}), ("index", {}), ("extreme_eigs", {}),
           ("extreme_eigs", {"method": "lanczos", "max_iter": 2}), ("trace", {})]


@pytest.mark.parametrize("name,options", SPECTRA)
def test_spectra_of_a_hessian_at_a_kink_warn_once(name, options):
    """The issue's reproducer (tms_quadrature at the seed's family-B point has nodes on the kink
    x1 = x2): ``on_kink`` says which models have no Hessian, and every spectrum of the operator
    warns (once per operator: at its first product); the Residual shares the flag. Off the kink
    nothing warns (the KinkWarning is an error there)."""
    import warnings

    from tests.hessian.test_products import family_b
    from reluscope import tms_quadrature

    tms, data = TMS(2, 1, bias=False), tms_quadrature(0.5)
    theta = torch.cat([torch.tensor([[0.3, 0.8]], dtype=F64), family_b(0.5)])
    H = hessian.Hessian(tms, theta, data)
    assert H.on_kink.tolist() == [False, True] and H.kinks.tolist() == [0, 16]
    assert hessian.Residual(tms, theta, data).on_kink.tolist() == [False, True]
    with pytest.warns(hessian.KinkWarning, match=r"1 of 2 models .*models 1\)"):
        getattr(hessian, name)(H, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hessian.KinkWarning)
        getattr(hessian, name)(H, **options)  # the same operator: warned already
        getattr(hessian, name)(hessian.Hessian(tms, theta[:1], data), **options)
    with pytest.warns(hessian.KinkWarning):
        getattr(hessian, name)(hessian.Residual(tms, theta, data), **options)


def test_first_product_counts_the_kinks_in_its_own_pass(monkeypatch):
    """An operator's first product counts the kinks in the same kernel pass (no forward pass of
    its own) and warns; ``kinks`` then reads that count."""
    from tests.hessian.test_products import family_b
    from reluscope import _fused, tms_quadrature

    tms, data = TMS(2, 1, bias=False), tms_quadrature(0.5)
    theta = torch.cat([torch.tensor([[0.3, 0.8]], dtype=F64), family_b(0.5)])
    passes = []
    monkeypatch.setattr(_fused, "kink_counts", lambda inp: passes.append(inp))
    H = hessian.Hessian(tms, theta, data)
    with pytest.warns(hessian.KinkWarning, match=r"1 of 2 models .*models 1\)"):
        H.to_dense()
    assert H.kinks.tolist() == [0, 16] and passes == []


@pytest.mark.parametrize("per_model", [False, True])
def test_network_b_alone(per_model):
    """network(b) is operator b of the batch on its own, for the kernel operators (a batch of one
    built from theta[b] and network b's data) and the dense and generic ones."""
    net = MLP([3, 5, 2], "tanh")
    theta, data = random_problem(net, 4, 17, F64, per_model=per_model, weighted=True)
    V = torch.randn(1, 3, net.num_params, dtype=F64)
    for kind in (hessian.Hessian, hessian.GaussNewton, hessian.Residual):
        op = kind(net, theta, data)
        full = op.matmat(V.expand(4, -1, -1).contiguous())
        for b in (0, 2, -1):
            one = op.network(b)
            assert one.shape == (1, net.num_params, net.num_params)
            assert torch.allclose(one.matmat(V), full[b:b + 1], rtol=1e-12, atol=1e-12)
    A = torch.randn(4, 6, 6, dtype=F64)
    dense = hessian.DenseOperator(A)
    assert torch.equal(dense.network(1).A, A[1:2])
    generic = hessian.BatchedLinearOperator.network(dense, 3)   # the zero-padding form
    W = torch.randn(1, 2, 6, dtype=F64)
    assert torch.allclose(generic.matmat(W), W @ A[3:4].transpose(1, 2), rtol=0, atol=1e-14)
    for bad in (4, -5, 1.0, True, "0"):
        with pytest.raises(ValueError, match="network index"):
            dense.network(bad)


def test_to_scipy_eigsh_and_cg():
    """to_scipy(b): scipy's eigsh finds network b's largest Hessian and Gauss-Newton eigenvalues
    (those of the dense matrix to 1e-9 relative), cg solves (G_b + I) x = r, and the operator
    has the numpy dtype, shape and symmetric rmatvec scipy expects."""
    sla = pytest.importorskip("scipy.sparse.linalg")
    import numpy as np

    net = MLP([3, 8, 2], "tanh")
    theta, data = random_problem(net, 3, 25, F64)
    P = net.num_params
    for kind in (hessian.Hessian, hessian.GaussNewton, hessian.Residual):
        op = kind(net, theta, data)
        dense = torch.linalg.eigvalsh(op.to_dense())
        for b in (0, 2):
            A = op.to_scipy(b)
            assert A.shape == (P, P) and A.dtype == np.float64
            top = sla.eigsh(A, k=2, which="LA", return_eigenvectors=False, tol=1e-12)
            assert np.allclose(np.sort(top), dense[b, -2:].numpy(), rtol=1e-9, atol=1e-12)
            x = np.random.default_rng(b).standard_normal(P)
            assert np.allclose(A.rmatvec(x), A.matvec(x), rtol=0, atol=0)
    G = hessian.GaussNewton(net, theta, data)
    A = G.to_scipy(1)
    M = sla.LinearOperator((P, P), matvec=lambda x: A.matvec(x) + x, dtype=np.float64)
    r = np.ones(P)
    x, info = sla.cg(M, r, rtol=1e-12, maxiter=10 * P)
    Gd = G.to_dense()[1].numpy()
    assert info == 0 and np.allclose(Gd @ x + x, r, rtol=0, atol=1e-9)
    f32 = hessian.Hessian(net, theta.float(), data.replace(dtype=torch.float32)).to_scipy(0)
    assert f32.dtype == np.float32 and f32.matvec(np.ones(P, np.float32)).dtype == np.float32


def test_to_scipy_without_scipy(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy.sparse.linalg", None)
    with pytest.raises(ImportError, match="pip install scipy"):
        hessian.DenseOperator(torch.eye(3, dtype=F64)[None]).to_scipy()
