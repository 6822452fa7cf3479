"""reluscope.slt.sgld against the per-model torch.func reference, step for step under the same
noise (float64, 1e-10), reproducibility, divergence and every error."""
import math

import pytest
import torch

from reluscope import MLP, TMS, Data, slt, tms_quadrature
from reluscope.reference import slt as reference
from tests.utils import DEVICES, random_problem


def problem(loss="mse", per_model=False, device="cpu", labels=False):
    net = MLP([3, 4, 2], "tanh")
    theta, data = random_problem(net, 3, 12, torch.float64, per_model=per_model, loss=loss,
                                 labels=labels, device=device)
    return net, theta, data


def same_chains(model, theta, data, **options):
    ours = slt.sgld(model, theta, data, generator=torch.Generator().manual_seed(7), **options)
    ref = reference.sgld(model, theta, data, generator=torch.Generator().manual_seed(7), **options)
    for name, a, b in zip(ours._fields, ours, ref):
        if a is None:
            assert b is None, name
        elif a.dtype == torch.bool:
            assert torch.equal(a, b), name
        else:
            assert a.shape == b.shape, name
            assert (a.cpu().double() - b.cpu().double()).abs().max() <= 1e-10 * max(
                1.0, b.abs().max().item()), name
    return ours


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("options", [
    {}, {"batch_size": 5}, {"batch_size": 5, "preconditioner": "rmsprop"},
    {"theta_every": 3, "burn_in": 2}, {"step_size": torch.tensor([1e-4, 3e-4, 1e-3]),
                                       "gamma": torch.tensor([1.0, 10.0, 100.0]), "n_beta": 7.0},
], ids=["full", "minibatch", "rmsprop", "theta-trace", "per-model"])
@pytest.mark.parametrize("loss,labels", [("mse", False), ("cross_entropy", True),
                                         ("bce_with_logits", False)])
def test_matches_the_reference_step_for_step(loss, labels, options, device):
    net, theta, data = problem(loss, device=device, labels=labels)
    options = {k: v.to(device=device, dtype=theta.dtype) if torch.is_tensor(v) else v
               for k, v in options.items()}
    run = same_chains(net, theta, data, chains=2, draws=12, **options)
    assert run.loss_trace.shape == (3, 2, 12) and run.diverged.shape == (3, 2)
    assert not run.diverged.any()
    if options.get("theta_every"):
        assert run.theta_trace.shape == (3, 2, 4, net.num_params)


def test_per_model_data_weighted_quadrature_and_tms():
    net, theta, data = problem(per_model=True)
    same_chains(net, theta, data, chains=3, draws=6, batch_size=4)
    tms = TMS(3, 2)
    theta = tms.init(2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    quad = tms_quadrature(0.5, n_nodes=2, n_features=3, importance=[1.0, 0.5, 0.25])
    same_chains(tms, theta, quad, chains=2, draws=6, n_beta=100.0, batch_size=8)  # with replacement


def test_one_model_drops_the_model_dimension_and_a_cpu_generator_reproduces():
    net, theta, data = problem()
    one = slt.sgld(net, theta[0], data, chains=2, draws=5, generator=torch.Generator().manual_seed(1))
    all3 = slt.sgld(net, theta[:1], data, chains=2, draws=5,
                    generator=torch.Generator().manual_seed(1))
    assert one.loss_trace.shape == (2, 5) and one.init_loss.shape == ()
    assert torch.equal(one.loss_trace, all3.loss_trace[0])
    other = slt.sgld(net, theta[0], data, chains=2, draws=5,
                     generator=torch.Generator().manual_seed(2))
    assert not torch.equal(one.loss_trace, other.loss_trace)
    assert torch.equal(one.loss_trace[:, 0], one.init_loss.expand(2))  # chains start at theta*


def test_default_n_beta_is_n_over_log_n():
    net, theta, data = problem()
    run = slt.sgld(net, theta, data, chains=1, draws=1)
    assert torch.allclose(run.n_beta, torch.full((3,), 12 / math.log(12), dtype=torch.float64))


def test_a_diverging_chain_is_flagged_and_never_averaged():
    net, theta, data = problem()
    step = torch.tensor([1e-4, 1e6, 1e-4], dtype=torch.float64)  # model 1 overflows to inf
    result = slt.llc(net, theta, data, chains=2, draws=60, step_size=step,
                     generator=torch.Generator().manual_seed(0))
    assert result.diverged.tolist() == [False, True, False]
    assert torch.isnan(result.llc[1]) and torch.isfinite(result.llc[[0, 2]]).all()
    assert result.sgld.diverged[1].any()


def test_errors():
    net, theta, data = problem()
    cases = [({"step_size": 0.0}, "step_size must be finite and > 0"),
             ({"step_size": -1e-3}, "step_size"), ({"gamma": 0.0}, "gamma must be"),
             ({"n_beta": -1.0}, "n_beta must be"), ({"chains": 0}, "chains must be"),
             ({"draws": 0}, "draws must be"), ({"burn_in": -1}, "burn_in must be"),
             ({"batch_size": 0}, "batch_size must be"),
             ({"preconditioner": "adam"}, "preconditioner must be"),
             ({"step_size": torch.ones(2, dtype=torch.float64)}, r"a \(3,\) tensor"),
             ({"gamma": float("nan")}, "gamma must be finite")]
    for options, match in cases:
        with pytest.raises(ValueError, match=match):
            slt.sgld(net, theta, data, **options)
    bad = theta.clone()
    bad[1, 0] = float("nan")
    with pytest.raises(ValueError, match="theta"):
        slt.llc(net, bad, data)
    quad = tms_quadrature(0.5, n_nodes=2, n_features=2)
    with pytest.raises(ValueError, match="pass n_beta"):
        slt.sgld(TMS(2, 1), TMS(2, 1).init(1), Data(quad.X.float(), quad.T.float(),
                                                       weights=quad.weights.float()))


@pytest.mark.parametrize("device", DEVICES)
def test_float32_follows_the_reference(device):
    """float32: the same draws; the chains agree to float32 rounding over a few steps."""
    net = MLP([3, 4, 2], "tanh")
    theta, data = random_problem(net, 3, 12, torch.float32, device=device)
    options = dict(chains=2, draws=5, batch_size=6, step_size=1e-3, gamma=10.0)
    ours = slt.sgld(net, theta, data, generator=torch.Generator().manual_seed(3), **options)
    ref = reference.sgld(net, theta, data, generator=torch.Generator().manual_seed(3), **options)
    assert ours.loss_trace.dtype == torch.float32
    torch.testing.assert_close(ours.loss_trace, ref.loss_trace, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.distance, ref.distance, rtol=1e-4, atol=1e-5)


def test_progress_goes_to_stderr(capsys):
    net, theta, data = problem()
    slt.sgld(net, theta, data, chains=1, draws=3, burn_in=2, progress=True)
    err = capsys.readouterr().err
    assert "sgld" in err and "5/5" in err


def test_per_model_weights_are_refused_with_their_shape():
    """sgld's minibatches draw from one weight vector shared by the models; (B, N) weights are an
    error that says so, not a wrong draw."""
    net = MLP([2, 2, 1])
    theta, data = random_problem(net, 2, 5, torch.float64, weighted="per_model")
    with pytest.raises(ValueError, match=r"per-model weights \(2, 5\)"):
        slt.sgld(net, theta, data, n_beta=10.0, draws=2)
