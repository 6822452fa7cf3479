"""reluscope.hessian.spectrum on every kind of operator: dense eigenvalues, Lanczos, index, trace."""
import pytest
import torch

from reluscope import MLP
from reluscope import hessian
from reluscope.hessian import spectrum
from tests.utils import assert_matches_reference, random_problem

F64 = torch.float64


def test_dense_spectrum_index_and_trace():
    net = MLP([3, 6, 2], "tanh")
    theta, data = random_problem(net, 4, 31, F64)
    H = hessian.Hessian(net, theta, data)
    Hs = H.to_dense()
    ev = torch.linalg.eigvalsh(Hs)
    assert_matches_reference(spectrum.eigvalsh(H), ev, kind="reduction")
    assert torch.equal(spectrum.index(H), (ev < -1e-8).sum(1))
    assert_matches_reference(spectrum.trace(H), Hs.diagonal(dim1=1, dim2=2).sum(1),
                             kind="reduction")
    g = torch.Generator().manual_seed(2)
    est = spectrum.trace(H, n_probes=4000, generator=g)
    assert ((est - spectrum.trace(H)).abs() < 0.1 * Hs.norm(dim=(1, 2)) + 1e-6).all()
    r = spectrum.extreme_eigs(H, k=2, which="both", return_vectors=True)
    assert_matches_reference(r.values, ev[:, [0, 1, -2, -1]], kind="reduction")
    assert r.vectors.shape == (4, 4, net.num_params) and (r.residuals < 1e-8).all()


def test_lanczos_matches_dense():
    net = MLP([4, 16, 8, 2], "sigmoid")  # P = 234
    theta, data = random_problem(net, 3, 40, F64)
    H = hessian.Hessian(net, theta, data)
    ev = spectrum.eigvalsh(H)
    g = torch.Generator().manual_seed(3)
    r = spectrum.extreme_eigs(H, k=3, which="both", method="lanczos", generator=g,
                              return_vectors=True, max_iter=net.num_params)
    assert_matches_reference(r.values, ev[:, [0, 1, 2, -3, -2, -1]], kind="reduction")
    V = r.vectors
    HV = hessian.hvp(net, theta, data, V)
    true_res = torch.linalg.vector_norm(HV - r.values[..., None] * V, dim=-1)
    assert (true_res < 1e-6 * ev.abs().amax(1, keepdim=True)).all()


@pytest.mark.parametrize("op_name", ["GaussNewton", "Residual"])
def test_gauss_newton_and_residual_spectra(op_name):
    """Seed 001's split H = H0 + H1: the same algorithms on either part; Lanczos agrees with the
    dense eigenvalues, and the Gauss-Newton spectrum is non-negative."""
    net = MLP([3, 8, 2], "sigmoid")
    theta, data = random_problem(net, 3, 40, F64)
    op = getattr(hessian, op_name)(net, theta, data)
    ev = spectrum.eigvalsh(op)
    r = spectrum.extreme_eigs(op, k=2, which="both", method="lanczos", max_iter=net.num_params,
                              generator=torch.Generator().manual_seed(4))
    assert_matches_reference(r.values, ev[:, [0, 1, -2, -1]], kind="reduction")
    if op_name == "GaussNewton":
        assert (ev > -1e-10).all()


def test_lanczos_on_a_dense_operator_with_a_repeated_eigenvalue():
    """An invariant subspace (eigenvalue 1 of multiplicity 8) makes Lanczos restart; the extreme
    eigenvalues still come out exactly."""
    Q, _ = torch.linalg.qr(torch.randn(2, 12, 12, dtype=F64))
    lam = torch.tensor([-3.0] + [1.0] * 10 + [5.0], dtype=F64)
    A = Q @ torch.diag_embed(lam.expand(2, 12)) @ Q.transpose(1, 2)
    r = spectrum.extreme_eigs(hessian.DenseOperator(A), k=1, which="both", method="lanczos",
                              generator=torch.Generator().manual_seed(0))
    assert_matches_reference(r.values, torch.tensor([[-3.0, 5.0]] * 2, dtype=F64),
                             kind="reduction")


def test_errors():
    net = MLP([2, 3, 1])
    theta, data = random_problem(net, 2, 10, F64)
    H = hessian.Hessian(net, theta, data)
    P = net.num_params
    with pytest.raises(ValueError, match="which"):
        spectrum.extreme_eigs(H, which="middle")
    with pytest.raises(ValueError, match="more eigenvalues"):
        spectrum.extreme_eigs(H, k=P + 1)
    with pytest.raises(ValueError, match="method"):
        spectrum.extreme_eigs(H, method="arpack")
    with pytest.raises(ValueError, match="n_probes"):
        spectrum.trace(H, n_probes=0)
    with pytest.raises(TypeError, match="operator"):
        spectrum.eigvalsh(torch.eye(3)[None])


def test_integer_options_are_checked():
    net = MLP([2, 3, 1])
    theta, data = random_problem(net, 2, 10, F64)
    H = hessian.Hessian(net, theta, data)
    with pytest.raises(TypeError, match="k must be an integer"):
        spectrum.extreme_eigs(H, k=2.0)
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        spectrum.extreme_eigs(H, method="lanczos", max_iter=0)
    with pytest.raises(ValueError, match="tol must be > 0"):
        spectrum.extreme_eigs(H, method="lanczos", tol=0.0)
    with pytest.raises(TypeError, match="n_probes"):
        spectrum.trace(H, n_probes=1.5)


def test_lanczos_progress_on_request(capsys):
    A = torch.eye(30, dtype=F64).expand(2, 30, 30) * torch.arange(1, 31, dtype=F64)
    spectrum.extreme_eigs(hessian.DenseOperator(A), method="lanczos", progress=True)
    assert "lanczos [" in capsys.readouterr().err
