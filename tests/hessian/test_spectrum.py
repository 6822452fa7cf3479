"""reluscope.hessian.spectrum on every kind of operator: dense eigenvalues, Lanczos, index, trace."""
from types import SimpleNamespace

import pytest
import torch

from reluscope import MLP, Data
from reluscope import _core, hessian
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
    idx = spectrum.index(H)
    ours = spectrum.eigvalsh(H)
    tol = 2 * net.num_params * torch.finfo(F64).eps * ours.abs().amax(1)
    assert torch.equal(idx.tol, tol) and torch.equal(spectrum.resolution(ours), tol)
    assert torch.equal(idx.negative, (ours < -tol[:, None]).sum(1))
    assert torch.equal(idx.unresolved, (ours.abs() <= tol[:, None]).sum(1))
    assert torch.equal(idx.negative, (ev < -tol[:, None]).sum(1))  # no eigenvalue near the band
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


def spectrum_matrix(lam: torch.Tensor, B: int = 1, seed: int = 0) -> torch.Tensor:
    """(B, P, P) matrices Q diag(lam) Q^T with random orthogonal Q (float64)."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(B, len(lam), len(lam), generator=g, dtype=F64))
    return Q @ torch.diag_embed(lam.to(F64).expand(B, -1)) @ Q.transpose(1, 2)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_index_of_an_index_3_matrix_in_every_dtype_and_scale(dtype, scale):
    """Eigenvalues -3, -2, -1, 37 zeros, 10 in [1, 2]: the zeros come out of eigh as +-eps ‖A‖,
    which the absolute tolerance 1e-8 counted as negative in float32 (index 10-19). The band
    2 P eps ‖A‖ scales with the matrix and the dtype: 3 certainly negative, the 37 zeros
    unresolved, the exact index 3 inside [negative, negative + unresolved]."""
    g = torch.Generator().manual_seed(1)
    lam = torch.cat([torch.tensor([-3.0, -2.0, -1.0]), torch.zeros(37),
                     1 + torch.rand(10, generator=g)])
    A = (scale * spectrum_matrix(lam, B=3)).to(dtype)
    idx = spectrum.index(hessian.DenseOperator(A))
    assert idx.negative.tolist() == [3] * 3 and idx.unresolved.tolist() == [37] * 3
    assert torch.allclose(idx.tol, torch.full((3,), 2 * 50 * torch.finfo(dtype).eps * 3 * scale,
                                              dtype=dtype), rtol=1e-3)


def test_index_of_relu_net_hessians_float32_agrees_with_float64():
    """200 ReLU-net Hessians in both dtypes (the absolute 1e-8 gave 9 different indices): each
    dtype's interval [negative, negative + unresolved] holds the exact index, so the float32
    one contains the (narrower) float64 one, and where float32 resolves every sign the two
    indices are equal."""
    net = MLP([3, 5, 2], "relu")
    g = torch.Generator().manual_seed(1)
    theta = net.init(200, generator=g, dtype=F64, bias_std=0.5)
    X = torch.randn(200, 100, 3, generator=g, dtype=F64)
    T = torch.randn(200, 100, 2, generator=g, dtype=F64)
    i64 = spectrum.index(hessian.Hessian(net, theta, Data(X, T)))
    i32 = spectrum.index(hessian.Hessian(net, theta.float(), Data(X.float(), T.float())))
    assert (i32.negative <= i64.negative).all()
    assert (i64.negative + i64.unresolved <= i32.negative + i32.unresolved).all()
    resolved = i32.unresolved == 0
    assert resolved.sum() > 150 and torch.equal(i32.negative[resolved], i64.negative[resolved])


def test_index_with_a_given_tolerance():
    A = torch.diag_embed(torch.tensor([[-1.0, -1e-3, 0.0, 2.0], [-1.0, -1e-6, 1e-6, 2.0]],
                                      dtype=F64))
    idx = spectrum.index(hessian.DenseOperator(A), tol=1e-4)
    assert idx.negative.tolist() == [2, 1] and idx.unresolved.tolist() == [1, 2]
    idx = spectrum.index(hessian.DenseOperator(A), tol=torch.tensor([1e-2, 1e-9], dtype=F64))
    assert idx.negative.tolist() == [1, 2] and idx.unresolved.tolist() == [2, 0]
    for bad in (-1.0, float("nan"), torch.ones(3, dtype=F64)):
        with pytest.raises(ValueError, match="tol must be"):
            spectrum.index(hessian.DenseOperator(A), tol=bad)
    with pytest.raises(TypeError, match="tol must be"):
        spectrum.index(hessian.DenseOperator(A), tol="1e-3")


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("which", ["smallest", "largest", "both"])
def test_lanczos_finds_every_copy_of_a_repeated_extreme_eigenvalue(which, dtype):
    """Eigenvalues {-1 x12, 0 x276, 1 x12}, k = 12: one Krylov space sees one copy of each
    (restarts at invariant subspaces add one copy per restart), so plain Lanczos stopped with
    some -1 (or 1) replaced by 0 and residuals 0 (the issue's {-1 x5, 0 x100, 2 x195} gave
    [-1, -1, -1, 0, 0, 0]). The check from fresh start vectors orthogonal to the locked pairs
    finds the missing copies."""
    k = 12
    lam = torch.tensor([-1.0] * k + [0.0] * 276 + [1.0] * k)
    A = spectrum_matrix(lam, B=2).to(dtype)
    r = spectrum.extreme_eigs(hessian.DenseOperator(A), k=k, which=which, method="lanczos",
                              generator=torch.Generator().manual_seed(0), return_vectors=True)
    ends = ("smallest", "largest") if which == "both" else (which,)
    want = torch.cat([lam[:k] if e == "smallest" else lam[-k:] for e in ends])
    assert_matches_reference(r.values, want.to(dtype).expand(2, -1), kind="reduction")
    assert r.converged.all()
    tol = 1e-8 if dtype == F64 else 1e-4  # extreme_eigs' default, relative to ‖A‖ = 1
    true_res = torch.linalg.vector_norm(
        r.vectors @ A.transpose(1, 2) - r.values[..., None] * r.vectors, dim=-1)
    assert (r.residuals <= tol).all() and (true_res <= 2 * tol).all()


def test_the_issue_case_smallest_of_minus_one_five_times():
    lam = torch.tensor([-1.0] * 5 + [0.0] * 100 + [2.0] * 195)
    r = spectrum.extreme_eigs(hessian.DenseOperator(spectrum_matrix(lam)), k=6, method="lanczos",
                              generator=torch.Generator().manual_seed(0))
    assert_matches_reference(r.values, lam[None, :6].to(F64), kind="reduction")
    assert r.converged.all()


def test_auto_above_the_dense_limit_takes_lanczos_and_finds_the_multiplicity():
    """P = 600 > DENSE_MAX_P: "auto" is Lanczos; eigenvalues {-1 x12, 0 x576, 1 x12}."""
    lam = torch.tensor([-1.0] * 12 + [0.0] * 576 + [1.0] * 12)
    r = spectrum.extreme_eigs(hessian.DenseOperator(spectrum_matrix(lam, seed=3)), k=12,
                              which="both", generator=torch.Generator().manual_seed(1))
    want = torch.cat([lam[:12], lam[-12:]])
    assert_matches_reference(r.values, want[None].to(F64), kind="reduction")
    assert r.converged.all() and r.vectors is None


def test_lanczos_that_runs_out_of_steps_says_not_converged():
    lam = torch.linspace(-1, 1, 200)
    A = spectrum_matrix(lam, B=2)
    r = spectrum.extreme_eigs(hessian.DenseOperator(A), k=2, method="lanczos", max_iter=5,
                              generator=torch.Generator().manual_seed(0))
    assert not r.converged.any() and (r.residuals > 1e-3).any()


def test_lanczos_warm_start():
    """v0 starts the first run: from the exact top eigenvectors it stops at its first test
    (n = 2 products) where random starts need more, with the same values; its checks still
    start at random (the value is right even from a start orthogonal to the answer); zero rows
    start at random; bad v0 is a clear error."""
    lam = torch.cat([torch.linspace(-1, 1, 198), torch.tensor([1.02, 3.0])]).to(F64)
    A = spectrum_matrix(lam, B=2).to(F64)
    top = torch.linalg.eigh(A)[1][:, :, -1]
    op = hessian.DenseOperator(A)
    calls = []
    real = op.matmat
    op.matmat = lambda V: calls.append(V.shape[1]) or real(V)
    g = torch.Generator().manual_seed(0)
    warm = spectrum.extreme_eigs(op, k=1, which="largest", method="lanczos", v0=top.clone(),
                                 generator=g)
    first_warm = len(calls)
    calls.clear()
    cold = spectrum.extreme_eigs(op, k=1, which="largest", method="lanczos", generator=g)
    assert warm.converged.all() and cold.converged.all()
    torch.testing.assert_close(warm.values, cold.values, rtol=1e-12, atol=0)
    torch.testing.assert_close(warm.values[:, 0], torch.full((2,), 3.0, dtype=F64), rtol=1e-12,
                               atol=0)
    assert first_warm < len(calls)
    ortho = torch.linalg.eigh(A)[1][:, :, 0]     # the bottom eigenvector: no top component
    v0 = torch.stack([ortho[0], torch.zeros(200, dtype=F64)])
    r = spectrum.extreme_eigs(op, k=1, which="largest", method="lanczos", v0=v0, generator=g)
    torch.testing.assert_close(r.values[:, 0], torch.full((2,), 3.0, dtype=F64), rtol=1e-12,
                               atol=0)
    for bad in (torch.ones(2, 199, dtype=F64), torch.ones(2, 200), [1.0] * 200):
        with pytest.raises(ValueError, match="v0 must be"):
            spectrum.extreme_eigs(op, k=1, method="lanczos", v0=bad)
    with pytest.raises(ValueError, match="NaN or inf"):
        spectrum.extreme_eigs(op, k=1, method="lanczos", v0=torch.full((2, 200), torch.nan,
                                                                       dtype=F64))


def test_lanczos_max_iter_below_the_wanted_count_is_a_clear_error():
    A = spectrum_matrix(torch.linspace(-1, 1, 20), B=2)
    with pytest.raises(ValueError, match="max_iter must be >= 3"):
        spectrum.extreme_eigs(hessian.DenseOperator(A), k=3, method="lanczos", max_iter=2)
    with pytest.raises(ValueError, match="max_iter must be >= 4"):
        spectrum.extreme_eigs(hessian.DenseOperator(A), k=2, which="both", method="lanczos",
                              max_iter=3)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_dense_without_vectors_computes_no_vectors(dtype, monkeypatch):
    """return_vectors=False: eigenvalues only (vectors cost 1.4-2x in the kernel, 2-7x in
    LAPACK at small P); the residuals are the eigensolver's error bound P eps ‖A‖_2, which holds
    every value's error."""
    lam = torch.cat([torch.tensor([-2.0, -2.0]), torch.linspace(-1, 3, 38)])
    A = spectrum_matrix(lam, B=3).to(dtype)
    want = torch.linalg.eigh(A.double()).eigenvalues
    calls = []
    kernel = _core.eigh
    monkeypatch.setattr(torch.linalg, "eigh", None)  # any torch eigh call would fail
    monkeypatch.setattr(spectrum, "_core", SimpleNamespace(
        eigh=lambda *a, **k: calls.append(k["vectors"]) or kernel(*a, **k),
        eigh_workspace=_core.eigh_workspace))
    r = spectrum.extreme_eigs(hessian.DenseOperator(A), k=2, which="both")
    assert calls == [None]
    assert r.vectors is None and r.converged.all()
    ev = spectrum.dense_eigh(hessian.DenseOperator(A).to_dense(), vectors=False)
    assert torch.equal(r.values, ev[:, [0, 1, -2, -1]])
    assert torch.equal(r.residuals, (40 * torch.finfo(dtype).eps * ev.abs().amax(1, True)
                                     ).expand(3, 4))
    assert ((r.values.double() - want[:, [0, 1, -2, -1]]).abs() <= r.residuals).all()


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


def test_an_overflowed_hessian_gives_nan_and_all_unresolved_for_that_model_only():
    """Weights of 1e300 overflow the Hessian of one model to NaN: LAPACK does not converge on it
    (torch raised for the whole batch); now that model's eigenvalues are NaN, its index counts
    every eigenvalue unresolved, classify calls it unresolved, and the other models are
    unaffected."""
    net = MLP([3, 5, 2], "tanh")
    theta = net.init(3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    data = Data(torch.randn(17, 3, generator=g, dtype=torch.float64),
                torch.randn(17, 2, generator=g, dtype=torch.float64))
    big = theta.clone()
    big[1] *= 1e300
    op = hessian.Hessian(net, big, data)
    assert not torch.isfinite(op.to_dense()[1]).all()
    want = spectrum.dense_eigh(hessian.Hessian(net, theta[[0, 2]], data).to_dense(),
                               vectors=False)
    ev = hessian.eigvalsh(op)
    assert ev[1].isnan().all()
    torch.testing.assert_close(ev[[0, 2]], want, rtol=0, atol=0)
    res = hessian.extreme_eigs(op, k=2, which="smallest", method="dense", return_vectors=True)
    assert res.values[1].isnan().all() and res.vectors[1].isnan().all()
    with_vectors = spectrum.dense_eigh(hessian.Hessian(net, theta[[0, 2]], data).to_dense())
    torch.testing.assert_close(res.values[[0, 2]], with_vectors.eigenvalues[:, :2], rtol=0, atol=0)
    idx = hessian.index(op)
    assert idx.negative[1] == 0 and idx.unresolved[1] == net.num_params
    assert (idx.negative[[0, 2]] + idx.unresolved[[0, 2]] <= net.num_params).all()
    assert hessian.classify(net, big, data, grad_tol=1e-5).label[1] == "unresolved"


# ---- the batched eigensolver kernel (csrc/linalg/eigh_math.h) behind dense_eigh ----------------

def _symmetric(B: int, n: int, dtype, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(B, n, n, generator=g, dtype=F64)
    return (A + A.mT).to(dtype)


def _kernel(A: torch.Tensor, vectors: bool = True):
    """_core.eigh on A, outputs allocated as dense_eigh does."""
    B, n = A.shape[0], A.shape[-1]
    values = torch.empty(B, n, dtype=A.dtype, device=A.device)
    vecs = torch.empty(B, n, n, dtype=A.dtype, device=A.device) if vectors else None
    words = _core.eigh_workspace(B, n, vectors, A.is_cuda)
    work = torch.empty(words, dtype=A.dtype, device=A.device) if words else None
    _core.eigh(A, values, vectors=vecs, workspace=work)
    return values, vecs


def _check_eigh(A, values, vecs):
    """Backward stability, the bound resolution() builds on (p(n) = n): each eigenvalue within
    n eps ‖A‖_2 of torch's LAPACK value (which obeys the same bound: 2 n eps ‖A‖_2 between the
    two). Vectors: residuals ‖A v - lambda v‖ and orthogonality ‖V^T V - I‖ within
    (n + 16) eps (‖A‖_2) — at small n a constant of a few rotations' and reflections' roundings
    dominates: LAPACK's own vectors reach 8-10 eps at n = 3-4 on 5000 random matrices, and
    this kernel's 8-11 eps (both grow to 21 and 45 eps at n = 128) — plus n eps (‖A‖_2) for the
    rounding of the check's own products."""
    n, eps = A.shape[-1], torch.finfo(A.dtype).eps
    ref = torch.linalg.eigvalsh(A.double())
    norm = ref.abs().amax(1, keepdim=True)
    assert ((values.double() - ref).abs() <= 2 * n * eps * norm).all()
    assert (values[:, 1:] >= values[:, :-1]).all()  # ascending
    if vecs is not None:
        Ad, Vd = A.double() / norm[..., None], vecs.double()  # scaled: no overflow in the check
        res = (Ad @ Vd - Vd * (values.double() / norm)[:, None, :]).norm(dim=1)
        assert (res <= (2 * n + 16) * eps).all()
        eye = torch.eye(n, dtype=F64)
        assert ((Vd.mT @ Vd - eye).abs().amax((1, 2)) <= (2 * n + 16) * eps).all()


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 32, 64, 128])
def test_eigh_kernel_matches_lapack_on_random_matrices(dtype, n):
    A = _symmetric(6, n, dtype, seed=n)
    for vectors in (True, False):
        values, vecs = _kernel(A, vectors)
        _check_eigh(A, values, vecs)
    values, vecs = spectrum.dense_eigh(A)  # the route users take: the kernel up to 128
    assert torch.equal(values, _kernel(A)[0]) and torch.equal(vecs, _kernel(A)[1])


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
def test_eigh_kernel_in_every_cpu_vector_variant(isa, monkeypatch):
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    A = _symmetric(5, 40, F64, seed=3)
    _check_eigh(A, *_kernel(A))


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_eigh_kernel_exact_cases(dtype):
    """Diagonal (sorted values, signed unit vectors), a multiple of the identity (a 9-fold
    eigenvalue, any orthonormal basis), zero, 2 x 2 [[a, b], [b, a]] (a -+ b), and spectra with
    clusters and a 1e-12 gap."""
    d = torch.tensor([3.0, -1.0, 0.5, 2.0, -7.0], dtype=dtype)
    values, vecs = _kernel(torch.diag(d)[None])
    assert torch.equal(values[0], d.sort().values)
    assert torch.equal(vecs[0].abs(), torch.eye(5, dtype=dtype)[:, d.argsort()])
    values, vecs = _kernel(2.5 * torch.eye(9, dtype=dtype)[None])
    assert torch.equal(values, torch.full((1, 9), 2.5, dtype=dtype))
    _check_eigh(2.5 * torch.eye(9, dtype=dtype)[None], values, vecs)
    values, _ = _kernel(torch.zeros(2, 4, 4, dtype=dtype))
    assert torch.equal(values, torch.zeros(2, 4, dtype=dtype))
    values, _ = _kernel(torch.tensor([[[2.0, 0.5], [0.5, 2.0]]], dtype=dtype))
    assert torch.equal(values, torch.tensor([[1.5, 2.5]], dtype=dtype))
    lam = torch.cat([torch.full((5,), -1.0), torch.full((5,), 1.0), torch.tensor([1 + 1e-12]),
                     torch.linspace(2, 3, 9)])
    A = spectrum_matrix(lam, B=3).to(dtype)
    _check_eigh(A, *_kernel(A))


@pytest.mark.parametrize("dtype,scale", [(F64, 1e-300), (F64, 1e-160), (F64, 1e160),
                                         (F64, 1e300), (torch.float32, 1e-30),
                                         (torch.float32, 1e-12), (torch.float32, 1e12),
                                         (torch.float32, 1e36)])
def test_eigh_kernel_far_from_unit_scale(dtype, scale):
    """The QL rotations square entries: matrices of 1e+-300 (float64) or 1e+-36 (float32) are
    solved in a power-of-two rescaled copy, as accurately as at scale 1 (without it, 1e160 in
    float64 overflowed to inf and 1e-160 underflowed)."""
    A = (_symmetric(4, 9, F64, seed=6) * scale).to(dtype)
    _check_eigh(A, *_kernel(A))
    assert torch.isfinite(_kernel(A)[0]).all()


def test_eigh_kernel_reads_the_lower_triangle_and_gives_nan_for_non_finite_matrices():
    A = _symmetric(4, 12, F64, seed=5)
    junk = A.clone()
    upper = torch.ones(12, 12, dtype=torch.bool).triu(1)
    junk[:, upper] = torch.nan  # the upper triangle is never read (torch.linalg.eigh's convention)
    values, vecs = _kernel(junk)
    want_values, want_vecs = _kernel(A)
    assert torch.equal(values, want_values) and torch.equal(vecs, want_vecs)
    bad = A.clone()
    bad[1, 7, 2] = torch.inf
    bad[3, 0, 0] = torch.nan
    values, vecs = _kernel(bad)
    assert values[[1, 3]].isnan().all() and vecs[[1, 3]].isnan().all()
    assert torch.equal(values[[0, 2]], want_values[[0, 2]])
    assert torch.equal(vecs[[0, 2]], want_vecs[[0, 2]])
    values, vecs = _kernel(torch.empty(0, 3, 3, dtype=F64))
    assert values.shape == (0, 3) and vecs.shape == (0, 3, 3)


def test_dense_eigh_takes_lapack_where_the_kernel_cannot_serve():
    """Above EIGH_KERNEL_MAX_P, and for a matrix needing a gradient (the kernel has no
    derivative: never a silently detached result), dense_eigh is torch.linalg.eigh, NaN rows
    for non-finite matrices included; under torch.func.vmap it runs too."""
    n = spectrum.EIGH_KERNEL_MAX_P + 1
    A = _symmetric(2, n, F64, seed=1)
    A[1, 3, 2] = torch.nan
    values, vecs = spectrum.dense_eigh(A)
    assert values[1].isnan().all() and vecs[1].isnan().all()
    want = torch.linalg.eigh(A[:1])
    assert torch.equal(values[:1], want.eigenvalues) and torch.equal(vecs[:1], want.eigenvectors)
    A = _symmetric(2, 6, F64, seed=2).requires_grad_()
    values = spectrum.dense_eigh(A, vectors=False)
    assert values.requires_grad
    (grad,) = torch.autograd.grad(values[:, 0].sum(), A)
    _, V = torch.linalg.eigh(A.detach())
    torch.testing.assert_close(grad, V[..., :, :1] @ V[..., :, :1].mT)  # d lambda = v v^T
    batched = torch.func.vmap(lambda a: spectrum.dense_eigh(a[None], vectors=False)[0])(A.detach())
    torch.testing.assert_close(batched, _kernel(A.detach())[0], rtol=0,
                               atol=2 * 6 * torch.finfo(F64).eps * batched.abs().amax().item())


def test_eigh_kernel_errors():
    A = _symmetric(2, 4, F64)
    values = torch.empty(2, 4, dtype=F64)
    with pytest.raises(ValueError, match="float32 or float64"):
        _core.eigh(A.to(torch.int64), values.to(torch.int64))
    with pytest.raises(ValueError, match="float32 or float64"):
        _core.eigh(A.half(), values.half())
    with pytest.raises(ValueError, match="wrong dtype"):
        _core.eigh(A, values.float())
    with pytest.raises(ValueError, match=r"\(B, n, n\)"):
        _core.eigh(A[:, :3], values)
    with pytest.raises(ValueError, match=r"\(B, n, n\)"):
        _core.eigh(A[0], values)
    with pytest.raises(ValueError, match="values has size"):
        _core.eigh(A, values[:, :3])
    with pytest.raises(ValueError, match="vectors has size"):
        _core.eigh(A, values, vectors=torch.empty(2, 4, 5, dtype=F64))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.eigh(A.mT.contiguous().mT, values)
    with pytest.raises(ValueError, match="1 <= n"):
        _core.eigh(torch.empty(1, 0, 0, dtype=F64), torch.empty(1, 0, dtype=F64))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_eigh_kernel_on_cuda(dtype):
    A = _symmetric(64, 32, dtype, seed=4)
    cpu = _kernel(A)
    for vectors in (True, False):
        values, vecs = _kernel(A.cuda(), vectors)
        _check_eigh(A, values.cpu(), None if vecs is None else vecs.cpu())
        bound = 2 * 32 * torch.finfo(dtype).eps * cpu[0].abs().amax().item()
        torch.testing.assert_close(values.cpu(), cpu[0], rtol=0, atol=bound)
    with pytest.raises(ValueError, match="workspace"):
        _core.eigh(A.cuda(), torch.empty(64, 32, dtype=dtype, device="cuda"))
