"""reluscope.hessian.training: fit and Levenberg-Marquardt for all models at once."""
import pytest
import torch

from reluscope import MLP, TMS, Data, forward, tms_quadrature
from reluscope import hessian
from tests.utils import assert_matches_reference, random_problem


def test_fit_then_classify():
    net = MLP([2, 3, 1], "tanh")
    g = torch.Generator().manual_seed(4)
    X = torch.randn(50, 2, generator=g, dtype=torch.float64)
    data = Data(X, torch.sin(X[:, :1]))
    theta0 = net.init(8, generator=g, dtype=torch.float64)
    theta, hist = hessian.fit(net, theta0, data, lr=1e-2, steps=200, log_every=50, progress=False)
    assert hist.loss.shape == (5, 8) and hist.grad_norm.shape == (5, 8)
    assert hist.steps.tolist() == [0, 50, 100, 150, 200]
    assert (hist.loss[-1] < hist.loss[0]).all()
    assert_matches_reference(hist.loss[-1], hessian.loss(net, theta, data), kind="reduction")
    assert hessian.extreme_eigs(hessian.Hessian(net, theta, data)).values.shape == (8, 1)


def test_fit_progress_goes_to_stderr(capsys):
    net = MLP([2, 3, 1], "tanh")
    theta, data = random_problem(net, 2, 20, torch.float64)
    hessian.fit(net, theta, data, steps=20, progress=True)
    err = capsys.readouterr().err
    assert "fit [" in err and "20/20" in err and "median loss" in err
    hessian.fit(net, theta, data, steps=20, progress=False)
    assert capsys.readouterr().err == ""


def test_levenberg_marquardt_recovers_teacher():
    """A perturbed teacher on its own (zero-residual) data: LM reaches loss ~0 with a monotone
    loss per model."""
    net = MLP([2, 4, 1], "sigmoid", bias=False)
    g = torch.Generator().manual_seed(5)
    X = torch.randn(80, 2, generator=g, dtype=torch.float64) * 3
    teacher = net.init(1, generator=g, dtype=torch.float64)
    data = Data(X, forward(net, teacher, X)[0])
    theta0 = teacher + 0.05 * torch.randn(6, net.num_params, generator=g, dtype=torch.float64)
    theta, hist = hessian.levenberg_marquardt(net, theta0, data, steps=60)
    assert hist.loss.shape == (61, 6) and hist.steps.tolist() == list(range(61))
    assert (hist.loss[1:] <= hist.loss[:-1]).all()
    assert (hist.loss[-1] < 1e-20).all() and (hist.grad_norm[-1] < 1e-9).all()
    assert_matches_reference(hist.loss[-1], hessian.loss(net, theta, data), kind="reduction")
    theta1, _ = hessian.levenberg_marquardt(net, theta0, data, steps=0)
    assert torch.equal(theta1, theta0)


def test_levenberg_marquardt_dead_model_stays_put_and_the_others_continue():
    """A dead TMS model (W = 0, negative biases: every output 0 whatever the data, zero gradient
    and zero Gauss-Newton matrix) used to make the damping a subnormal pivot, a NaN step and a
    'theta contains NaN or inf' error for the whole batch. Now it stays put and the live model
    beside it is refined as if alone."""
    model, data = TMS(2, 1), tms_quadrature(0.1)
    dead = torch.tensor([0.0, 0.0, -0.5, -0.5], dtype=torch.float64)
    live = torch.tensor([0.9, -0.3, 0.05, -0.02], dtype=torch.float64)
    theta, hist = hessian.levenberg_marquardt(model, dead[None], data, steps=5)
    assert torch.equal(theta[0], dead) and (hist.grad_norm == 0).all()
    theta, hist = hessian.levenberg_marquardt(model, torch.stack([dead, live]), data, steps=40)
    alone, alone_hist = hessian.levenberg_marquardt(model, live[None], data, steps=40)
    assert torch.equal(theta[0], dead) and (hist.grad_norm[:, 0] == 0).all()
    assert_matches_reference(theta[1], alone[0], kind="reduction")
    assert_matches_reference(hist.loss[:, 1], alone_hist.loss[:, 0], kind="reduction")
    assert hist.loss[-1, 1] < hist.loss[0, 1]


def test_errors():
    net = MLP([2, 3, 1])
    theta, data = random_problem(net, 2, 10, torch.float64)
    with pytest.raises(ValueError, match="optimizer"):
        hessian.fit(net, theta, data, optimizer="lbfgs")
    with pytest.raises(ValueError, match="steps"):
        hessian.fit(net, theta, data, steps=-1)
    with pytest.raises(ValueError, match="log_every"):
        hessian.fit(net, theta, data, log_every=0)
    with pytest.raises(ValueError, match="steps"):
        hessian.levenberg_marquardt(net, theta, data, steps=-1)
    with pytest.raises(ValueError, match="damping"):
        hessian.levenberg_marquardt(net, theta, data, damping=0.0)
