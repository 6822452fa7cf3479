"""reluscope.hessian.finder: critical points of every index from nearby starts at their closed
forms, gradient-flat points flagged, the two solvers, the pure-torch reference step for step,
training_starts, errors."""
import math

import pytest
import torch

import reluscope as rs
from reluscope import hessian, reference

f64 = torch.float64


def _linear_net():
    """y = W2 W1 x, widths [3, 1, 3], on x = e1, e2, e3 (w = 1/3) with targets A x, A =
    diag(3, 2, 1): L = ||W2 W1 - A||_F^2 / 3. Critical points (Baldi-Hornik): W2 W1 = 0 and
    W2 W1 = sigma_i e_i e_i^T, i.e. W1 = sqrt(sigma_i) e_i^T, W2 = sqrt(sigma_i) e_i."""
    net = rs.MLP([3, 1, 3], "identity", bias=False)
    A = torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=f64))
    data = rs.Data(torch.eye(3, dtype=f64), A.clone())
    points = [torch.zeros(6, dtype=f64)]
    for i, sigma in enumerate([3.0, 2.0, 1.0]):
        e = torch.zeros(3, dtype=f64)
        e[i] = math.sqrt(sigma)
        points.append(torch.cat([e, e]))
    return net, data, A, torch.stack(points)


def _independent_index(theta: torch.Tensor, A: torch.Tensor) -> list:
    """Negative eigenvalues (below -1e-9) of the Hessian of ||W2 W1 - A||^2 / 3, by torch.func."""
    def loss(t):
        return ((t[3:, None] * t[None, :3] - A) ** 2).sum() / 3
    return [int((torch.linalg.eigvalsh(torch.func.hessian(loss)(t)) < -1e-9).sum()) for t in theta]


def test_linear_network_critical_points_of_every_index_from_nearby_starts():
    """Starts 1e-3 from each closed form: converged to it (W2 W1 within 1e-9; the scaling
    W1 -> c W1, W2 -> W2 / c is a flat direction, so theta itself may move along it), the index
    the independent Hessian gives at the closed form (0 at the top singular pair, 3 at the
    origin), the energy ||W2 W1 - A||^2 / (3 * 2 * 3)."""
    net, data, A, points = _linear_net()
    want = _independent_index(points, A)
    assert sorted(want) == [0, 1, 2, 3]
    g = torch.Generator().manual_seed(0)
    start = points + 1e-3 * torch.randn(points.shape, dtype=f64, generator=g)
    r = hessian.critical_points(net, start, data, steps=50)
    assert r.converged.all() and not r.gradient_flat.any()
    prod = r.theta[:, 3:, None] * r.theta[:, None, :3]
    exact = points[:, 3:, None] * points[:, None, :3]
    torch.testing.assert_close(prod, exact, rtol=0, atol=1e-9)
    assert r.index.negative.tolist() == want
    energy = ((exact - A) ** 2).sum((1, 2)) / 3 / (2 * 3)
    torch.testing.assert_close(r.energy, energy, rtol=1e-12, atol=1e-14)


def test_the_origin_of_the_tanh_line_is_a_saddle_of_index_one():
    """y = v tanh(w x): theta = 0 is critical (gradient exactly 0) with Hessian
    [[0, c], [c, 0]], c = -2 E[x t]: index 1. From 1e-4 away the finder returns to it; one
    network (P,) in, no batch dimension out."""
    net = rs.MLP([1, 1, 1], "tanh", bias=False)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(20, 1, dtype=f64, generator=g)
    data = rs.Data(X, 0.5 * X + 0.1 * torch.randn(20, 1, dtype=f64, generator=g))
    r = hessian.critical_points(net, torch.tensor([1e-4, -2e-4], dtype=f64), data, steps=30)
    assert r.theta.shape == (2,) and bool(r.converged) and int(r.index.negative) == 1
    assert r.theta.abs().max() < 1e-7          # within grad_tol / |c| of the origin
    torch.testing.assert_close(r.energy, (data.T ** 2).mean() / 2, rtol=1e-9, atol=0)


def test_a_teacher_is_a_minimum_and_both_solvers_agree():
    """A tanh student started 1e-3 from the teacher that labels its data (all weights N(0, 1)):
    converged (grad_tol 1e-11; 1e-8 for CG) to the teacher — within 2 grad_tol / lambda_min(H) — with
    loss ~ 0 and index 0, by the dense solver and by CG on Hessian-vector products."""
    net = rs.MLP([2, 3, 1], "tanh")
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(1, net.num_params, dtype=f64, generator=g)
    X = torch.randn(40, 2, dtype=f64, generator=g)
    data = rs.Data(X, reference.forward(net, teacher, X)[0])
    lam_min = torch.linalg.eigvalsh(reference.hessian.hessian(net, teacher, data))[0, 0]
    assert lam_min > 1e-5
    start = teacher + 1e-3 * torch.randn(teacher.shape, dtype=f64, generator=g)
    for solver, tol in (("dense", 1e-11), ("cg", 1e-8)):   # CG's solves stop at 1e-10
        r = hessian.critical_points(net, start, data, steps=100, solver=solver, grad_tol=tol)
        assert bool(r.converged.all()), solver
        assert (r.theta - teacher).norm() <= 2 * tol / lam_min
        assert r.index.negative.tolist() == [0] and r.loss.item() <= tol ** 2 / lam_min  # g H^-1 g / 2


def test_gradient_flat_points_are_flagged_not_called_critical():
    """Tanh networks [4, 4, 4] without bias on 16 random samples, started along training runs (the
    regime where Frye et al. found gradient-flat regions): the finder stops at critical points or
    at points it flags gradient-flat, and every flagged point is, checked independently
    (torch.func), a stationary point of ||g||^2 with g != 0: ||H g|| <= 1e-4 ||H||_2 ||g|| with
    ||g|| > 100 grad_tol; a flagged point is never 'converged'."""
    net = rs.MLP([4, 4, 4], "tanh", bias=False)
    g = torch.Generator().manual_seed(0)
    data = rs.Data(torch.randn(16, 4, dtype=f64, generator=g),
                   torch.randn(16, 4, dtype=f64, generator=g))
    start = hessian.training_starts(net, net.init(16, generator=g, dtype=f64), data, snapshots=1,
                                    every=1000, lr=0.1)[0]
    r = hessian.critical_points(net, start, data, steps=300)
    flat = r.gradient_flat
    assert flat.any() and not (flat & r.converged).any()
    for th in r.theta[flat]:
        H = reference.hessian.hessian(net, th[None], data)[0]
        gr = reference.hessian.value_and_grad(net, th[None], data)[1][0]
        assert gr.norm() > 100 * math.sqrt(torch.finfo(f64).eps)
        assert (H @ gr).norm() <= 1e-4 * torch.linalg.matrix_norm(H, 2) * gr.norm() * (1 + 1e-6)


def test_agrees_with_the_reference_finder_step_for_step():
    """Each step count k = 1, 2, 5, 10: the engine's theta after k steps equals the pure-torch
    reference's (torch.func Hessians, per network) to 1e-10, for networks of a shallow tanh
    MLP at random starts on random data. (The two differ by rounding, ~1e-15 after a step; the
    iteration amplifies that ~3x per step here — 1e-9 at 15 steps — so longer runs are compared
    by their endpoints' properties, not bits.)"""
    net = rs.MLP([2, 3, 2], "tanh")
    g = torch.Generator().manual_seed(4)
    X, T = torch.randn(15, 2, dtype=f64, generator=g), torch.randn(15, 2, dtype=f64, generator=g)
    data = rs.Data(X, T)
    start = net.init(3, generator=g, dtype=f64)
    for k in (1, 2, 5, 10):
        ours = hessian.critical_points(net, start, data, steps=k, grad_tol=1e-300)
        ref = reference.hessian.critical_points(net, start, data, steps=k, grad_tol=1e-300)
        torch.testing.assert_close(ours.theta, ref.theta, rtol=0, atol=1e-10)
        assert ours.steps.tolist() == ref.steps.tolist()


def test_patience_stops_stalled_searches_as_the_reference_does():
    """patience k: a search stops when ||g|| after a step is above half its value k steps before.
    The engine stops each network at the same step as the reference (which applies the rule
    plainly, one network at a time) and at the same point; some networks stop that way here
    (neither converged nor at the step limit), and a network the rule does not stop follows the
    same path as without patience."""
    net = rs.MLP([2, 3, 2], "tanh")
    g = torch.Generator().manual_seed(4)
    data = rs.Data(torch.randn(15, 2, dtype=f64, generator=g),
                   torch.randn(15, 2, dtype=f64, generator=g))
    start = net.init(6, generator=g, dtype=f64)
    ours = hessian.critical_points(net, start, data, steps=10, patience=2)
    ref = reference.hessian.critical_points(net, start, data, steps=10, patience=2)
    assert ours.steps.tolist() == ref.steps.tolist()
    torch.testing.assert_close(ours.theta, ref.theta, rtol=0, atol=1e-10)
    stalled = ~ours.converged & (ours.steps < 10)
    assert stalled.any()
    free = hessian.critical_points(net, start, data, steps=10)
    kept = ~stalled
    torch.testing.assert_close(ours.theta[kept], free.theta[kept], rtol=0, atol=1e-10)
    assert (free.steps[stalled] > ours.steps[stalled]).all()


def test_float32_and_per_model_data():
    """float32 (default grad_tol sqrt(eps) = 3.5e-4) and per-model data (B, N, d): the origin of
    the tanh line for two networks on different data."""
    net = rs.MLP([1, 1, 1], "tanh", bias=False)
    g = torch.Generator().manual_seed(5)
    X = torch.randn(2, 10, 1, generator=g)
    data = rs.Data(X, 0.3 * X + 0.05)
    r = hessian.critical_points(net, torch.full((2, 2), 1e-3), data, steps=30)
    assert r.theta.dtype == torch.float32 and r.converged.all()
    assert r.index.negative.tolist() == [1, 1] and (r.theta.abs() < 1e-4).all()


def test_training_starts_are_points_of_a_training_run():
    """snapshots x every steps of SGD equal one run of fit with the same steps, sampled."""
    net = rs.MLP([2, 3, 1], "tanh")
    g = torch.Generator().manual_seed(6)
    data = rs.Data(torch.randn(10, 2, dtype=f64, generator=g), torch.randn(10, 1, dtype=f64,
                                                                            generator=g))
    theta0 = net.init(4, generator=g, dtype=f64)
    S = hessian.training_starts(net, theta0, data, snapshots=3, every=5, lr=0.1)
    assert S.shape == (3, 4, net.num_params)
    for k in range(3):
        th, _ = hessian.fit(net, theta0, data, optimizer="sgd", lr=0.1, steps=5 * (k + 1),
                            progress=False)
        torch.testing.assert_close(S[k], th, rtol=1e-12, atol=1e-14)


def test_errors():
    net = rs.MLP([1, 1, 1], "tanh")
    data = rs.Data(torch.zeros(3, 1, dtype=f64), torch.zeros(3, 1, dtype=f64))
    th = torch.zeros(2, 4, dtype=f64)
    for kw, msg in [({"steps": -1}, "steps"), ({"steps": 1.5}, "steps"),
                    ({"grad_tol": 0.0}, "grad_tol"), ({"damping": math.nan}, "damping"),
                    ({"flat_tol": -1.0}, "flat_tol"), ({"solver": "qr"}, "solver"),
                    ({"cg_iters": 0}, "cg_iters"), ({"patience": 0}, "patience")]:
        with pytest.raises(ValueError, match=msg):
            hessian.critical_points(net, th, data, **kw)
    with pytest.raises(ValueError):
        hessian.critical_points(net, torch.zeros(2, 5, dtype=f64), data)
    with pytest.raises(ValueError, match="NaN|finite"):
        hessian.critical_points(net, torch.full((2, 4), math.nan, dtype=f64), data)
    with pytest.raises(ValueError, match="snapshots"):
        hessian.training_starts(net, th, data, snapshots=0, every=1, lr=0.1)
