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


def test_unit_products_in_several_calls(monkeypatch):
    """to_dense applies the P unit vectors in chunks of the plan's max_directions: one direction
    per call gives the same matrix."""
    tms = TMS(4, 2)
    theta, data = random_problem(tms, 3, 20, F64)
    H = hessian.Hessian(tms, theta, data)
    whole = H.to_dense()
    monkeypatch.setattr(H, "directions_per_call", lambda: 1)
    assert torch.equal(H.to_dense(), whole)


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
