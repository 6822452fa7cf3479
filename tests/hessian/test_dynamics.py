"""reluscope.hessian.gd: against the per-network torch.func reference step for step (float64,
1e-12; sharpness = eigvalsh of the torch.func Hessian), the exact quadratic case (linear
regression: theta_t - theta* = (I - eta H)^t (theta_0 - theta*), constant sharpness, divergence
exactly beyond eta = 2 / lambda_max), Lanczos sharpness, momentum, errors."""
import math

import pytest
import torch

from reluscope import MLP, TMS, Data, hessian
from reluscope.reference import hessian as reference
from tests.utils import DEVICES, random_problem

f64 = torch.float64


def same(ours, ref, tol=1e-12):
    for name, a, b in zip(ours._fields, ours, ref):
        if a is None:
            assert b is None, name
        elif a.dtype in (torch.bool, torch.int64):
            assert torch.equal(a.cpu(), b.cpu()), name
        else:
            a, b = a.cpu(), b.cpu()
            assert torch.equal(torch.isnan(a), torch.isnan(b)), name
            ok = ~torch.isnan(a)
            assert (a[ok] - b[ok]).abs().max() <= tol * max(1.0, b[ok].abs().max().item()), name


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("loss,labels", [("mse", False), ("cross_entropy", True),
                                         ("bce_with_logits", False)])
def test_matches_the_reference_step_for_step(loss, labels, device):
    net = MLP([3, 5, 2], "tanh")
    theta, data = random_problem(net, 3, 15, f64, loss=loss, labels=labels, device=device)
    lr = torch.tensor([0.05, 0.2, 0.5], dtype=f64, device=device)
    kw = dict(lr=lr, steps=12, every=5, momentum=0.3, track=("sharpness", "gn_sharpness"))
    ours = hessian.gd(net, theta, data, **kw)
    ref = reference.gd(net, theta.cpu(), data_cpu(data), **{**kw, "lr": lr.cpu()})
    assert ours.steps.tolist() == [0, 5, 10, 12]
    same(ours, ref)


def data_cpu(data):
    from tests.utils import data_on
    return data_on(data, "cpu")


def test_linear_regression_is_exact_and_diverges_beyond_two_over_lambda():
    """y = w x + b on N points (mse, weights 1/N): H = 2 X~^T X~ / N is constant, so every record
    of the sharpness is lambda_max(H); GD is theta_t - theta* = (I - eta H)^t (theta_0 - theta*);
    eta = 1.9 / lambda converges, eta = 2.1 / lambda grows like |1 - eta lambda|^t and is flagged
    once the loss passes max_loss, the others unaffected."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 2, generator=g, dtype=f64)
    T = torch.randn(20, 1, generator=g, dtype=f64)
    net = MLP([2, 1], "identity")
    Xt = torch.cat([X, torch.ones(20, 1, dtype=f64)], 1)
    H = 2 * Xt.T @ Xt / 20
    lam = torch.linalg.eigvalsh(H)[-1]
    star = torch.linalg.lstsq(Xt, T).solution[:, 0]
    theta0 = torch.zeros(3, 3, dtype=f64)
    lr = torch.stack([0.5 / lam, 1.9 / lam, 2.1 / lam])
    r = hessian.gd(net, theta0, Data(X, T), lr=lr, steps=400, every=100, max_loss=1e3)
    assert torch.allclose(r.sharpness[:2], lam.expand(2, 5), rtol=1e-13, atol=0)
    for b in range(2):
        M = torch.linalg.matrix_power(torch.eye(3, dtype=f64) - lr[b] * H, 400)
        want = star + M @ (theta0[b] - star)
        torch.testing.assert_close(r.theta[b], want, rtol=1e-10, atol=1e-12)
    assert r.diverged.tolist() == [False, False, True]
    assert 0 < r.diverged_at[2] < 400 and torch.isnan(r.loss[2, -1])


def test_lanczos_sharpness_on_a_larger_net_and_one_network():
    """P above DENSE_MAX_P takes batched Lanczos (warm-started from the previous record's
    eigenvector): its top eigenvalue equals the dense one at every record; one network
    (theta (P,)) drops the B dimension."""
    net = MLP([4, 30, 3], "tanh")
    theta, data = random_problem(net, 2, 20, f64)
    lanczos = hessian.gd(net, theta, data, lr=0.1, steps=6, every=2, method="lanczos")
    dense = hessian.gd(net, theta, data, lr=0.1, steps=6, every=2, method="dense")
    torch.testing.assert_close(lanczos.sharpness, dense.sharpness, rtol=1e-8, atol=1e-10)
    one = hessian.gd(net, theta[0], data, lr=0.1, steps=6, every=2)
    assert one.loss.shape == (4,) and one.theta.shape == (net.num_params,)
    torch.testing.assert_close(one.sharpness, dense.sharpness[0], rtol=1e-12, atol=0)


def test_unconverged_lanczos_is_never_recorded(monkeypatch):
    """A network whose Lanczos did not converge is redone densely (P <= DENSE_MAX_P: the dense
    value recorded), else recorded as NaN with a RuntimeWarning."""
    from reluscope.hessian import dynamics, spectrum

    net = MLP([4, 30, 3], "tanh")
    theta, data = random_problem(net, 3, 20, f64)
    dense = hessian.gd(net, theta, data, lr=0.1, steps=1, method="dense")
    real = dynamics.extreme_eigs

    def flaky(op, **kw):   # network 1's Lanczos "fails"; its value is garbage
        r = real(op, **kw)
        if kw.get("method") == "lanczos" and op.shape[0] == 3:
            conv, values = r.converged.clone(), r.values.clone()
            conv[1], values[1] = False, values[1] + 1.0
            r = r._replace(values=values, converged=conv)
        return r

    monkeypatch.setattr(dynamics, "extreme_eigs", flaky)
    r = hessian.gd(net, theta, data, lr=0.1, steps=1, method="lanczos")
    torch.testing.assert_close(r.sharpness, dense.sharpness, rtol=1e-12, atol=0)
    monkeypatch.setattr(dynamics, "DENSE_MAX_P", 100)
    with pytest.warns(RuntimeWarning, match="did not converge for 1 network"):
        r = hessian.gd(net, theta, data, lr=0.1, steps=1, method="lanczos")
    assert torch.isnan(r.sharpness[1]).all() and torch.isfinite(r.sharpness[[0, 2]]).all()
    assert spectrum.DENSE_MAX_P == 512


def test_float32_and_tied_weights():
    net = TMS(5, 2)
    theta, data = random_problem(net, 2, 30, torch.float32)
    r = hessian.gd(net, theta, data, lr=0.05, steps=3, track=())
    assert r.loss.dtype == torch.float32 and r.sharpness is None and not r.diverged.any()
    assert bool((r.loss[:, -1] < r.loss[:, 0]).all())


def test_errors():
    net = MLP([2, 3, 1], "tanh")
    theta, data = random_problem(net, 2, 5, f64)
    for kw, msg in [({"lr": 0.0}, "lr"), ({"lr": torch.ones(3)}, "lr"), ({"lr": "x"}, "lr"),
                    ({"lr": math.nan}, "lr"), ({"steps": -1}, "steps"), ({"every": 0}, "every"),
                    ({"momentum": 1.0}, "momentum"), ({"track": ("trace",)}, "track"),
                    ({"max_loss": math.nan}, "max_loss")]:
        with pytest.raises(ValueError, match=msg):
            hessian.gd(net, theta, data, **{"lr": 0.1, "steps": 2, **kw})
    with pytest.raises(NotImplementedError, match="requires grad"):
        hessian.gd(net, theta.requires_grad_(), data, lr=0.1, steps=1)
