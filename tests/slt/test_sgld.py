"""reluscope.slt.sgld against the per-model torch.func reference, step for step under the same
noise (float64, 1e-10), reproducibility, divergence and every error."""
import math

import pytest
import torch

from reluscope import MLP, TMS, Data, hessian, slt, tms_quadrature
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


def test_a_finite_runaway_is_flagged_by_the_distance_bound():
    """Inputs all 0: the loss is the same at every theta, and step_size * gamma = 10 > 4 makes
    the localisation's Euler step unstable (theta - theta* grows 4-fold a step, ~1e18 after 30
    steps, finite). Only the distance bound sqrt(2 (n_beta L* + K) / gamma) can see it; the
    reference flags the same chains."""
    net = MLP([2, 1], "identity", bias=False)
    theta = torch.zeros(2, 2, dtype=torch.float64)
    data = Data(torch.zeros(6, 2, dtype=torch.float64), torch.ones(6, dtype=torch.float64))
    step = torch.tensor([1e-4, 0.1], dtype=torch.float64)
    run = same_chains(net, theta, data, chains=2, draws=30, step_size=step)
    assert torch.isfinite(run.distance).all() and run.distance[1, :, -1].min() > 1e15
    assert (run.loss_trace == run.init_loss[:, None, None]).all()  # the loss never moves
    assert run.diverged.tolist() == [[False, False], [True, True]]
    result = slt.estimate(run)
    assert result.diverged.tolist() == [False, True] and torch.isnan(result.llc[1])
    assert torch.isnan(result.chain_llc[1]).all() and result.llc[0] == 0


def test_a_finite_runaway_is_flagged_by_the_loss_bound():
    """gamma = 0 (no distance bound) and a step far beyond stability: the chains run away to
    ~1e120 in distance and ~1e240 in loss, finite (a tanh or relu net overflows instead); the
    loss bound (n_beta L* + K) / n_beta flags them: llc NaN, not ~1e262."""
    net = MLP([3, 4, 2], "sigmoid")
    theta, data = random_problem(net, 3, 12, torch.float64)
    result = slt.llc(net, theta, data, chains=2, draws=200, step_size=1.0, gamma=0.0,
                     generator=torch.Generator().manual_seed(0))
    assert result.diverged.all() and torch.isnan(result.llc).all()
    assert torch.isnan(result.chain_llc).all()
    assert torch.isfinite(result.sgld.distance[1:, :, -1]).all()  # finite runaways among them
    same = slt.llc(net, theta, data, chains=2, draws=200, step_size=0.1,
                   generator=torch.Generator().manual_seed(0))  # gamma 100: both bounds
    assert same.diverged.all() and torch.isfinite(same.sgld.distance[..., -1]).all()


def test_a_step_past_the_stability_limit_is_flagged_on_the_full_data():
    """A deep linear network at its minimum (Hessian eigenvalues up to h = 4), n_beta = 100,
    gamma = 100: a_max = n_beta h + gamma = 500. At eps = 1e-2 (eps a_max = 5 > 4) the Euler
    step grows along the stiffest direction, but the quartic loss holds the chain in a bounded
    cycle inside the runaway bound: llc ~20 for lambda = 2, unflagged before. At eps = 4e-3
    (eps a_max = 2) nothing is flagged. The reference flags the same chains, also with RMSprop
    (D-weighted test)."""
    model, theta, data = slt.deep_linear_problem([2, 2, 2], 1)
    assert abs(float(torch.linalg.eigvalsh(hessian.hessian(model, theta, data))[-1]) - 4) < 1e-12
    step = torch.tensor([1e-2, 4e-3], dtype=torch.float64)
    run = same_chains(model, theta.expand(2, -1), data, chains=4, draws=50, n_beta=100.0,
                      step_size=step)
    assert torch.isfinite(run.loss_trace).all() and run.distance.max() < 2
    assert run.diverged.tolist() == [[True] * 4, [False] * 4]
    result = slt.estimate(run)
    assert torch.isnan(result.llc[0]) and abs(float(result.llc[1])) < 2
    rms = same_chains(model, theta.expand(2, -1), data, chains=4, draws=50, n_beta=100.0,
                      step_size=torch.tensor([0.3, 1e-3], dtype=torch.float64),
                      preconditioner="rmsprop")
    assert rms.diverged[0].any() and not rms.diverged[1].any()


def test_gamma_zero_is_unlocalised_sgld():
    """gamma = 0 (devinterp's default) samples exp(-n_beta L) itself; for a quadratic loss that
    is a normalisable Gaussian and the chains follow the reference step for step."""
    net, theta, data = problem()
    run = same_chains(net, theta, data, chains=2, draws=12, gamma=0.0)
    assert not run.diverged.any()
    with pytest.raises(ValueError, match="gamma must be finite and >= 0"):
        slt.sgld(net, theta, data, gamma=-1.0)


def test_rmsprop_starts_like_plain_sgld_at_a_critical_point():
    """At a minimum the drift g is 0, so V = 0 after the first step and D = 1 / rmsprop_eps:
    with the default rmsprop_eps = 1 the first step is plain SGLD's (the same noise, to
    rounding); with the old default 1e-5 it was sqrt(1e5) = 316 times longer."""
    model, theta, data = slt.deep_linear_problem([2, 2, 2], 1)
    assert hessian.value_and_grad(model, theta, data)[1].abs().max() == 0  # a minimum
    options = dict(chains=3, draws=2, n_beta=1e3, generator=None)
    plain, rms = (slt.sgld(model, theta, data, preconditioner=pre,
                           **{**options, "generator": torch.Generator().manual_seed(0)})
                  for pre in (None, "rmsprop"))
    torch.testing.assert_close(rms.distance[:, 1], plain.distance[:, 1], rtol=1e-12, atol=0)


def test_errors():
    net, theta, data = problem()
    cases = [({"step_size": 0.0}, "step_size must be finite and > 0"),
             ({"step_size": -1e-3}, "step_size"), ({"gamma": -1e-3}, "gamma must be"),
             ({"n_beta": -1.0}, "n_beta must be"), ({"chains": 0}, "chains must be"),
             ({"draws": 0}, "draws must be"), ({"burn_in": -1}, "burn_in must be"),
             ({"batch_size": 0}, "batch_size must be"),
             ({"preconditioner": "adam"}, "preconditioner must be"),
             ({"step_size": torch.ones(2, dtype=torch.float64)}, r"a \(3,\) tensor"),
             ({"gamma": float("nan")}, "gamma must be finite")]
    for options, match in cases:
        with pytest.raises(ValueError, match=match):
            slt.sgld(net, theta, data, **options)
    # wrong types: a TypeError naming the argument, not torch's "invalid data type" or a bool
    # taken for 1
    types = [({"step_size": "1e-3"}, "step_size must be a number"),
             ({"n_beta": "3"}, "n_beta must be a number"),
             ({"gamma": torch.ones(3, dtype=torch.bool)}, "gamma must be a number"),
             ({"batch_size": True}, "batch_size must be an integer"),
             ({"batch_size": 2.0}, "batch_size must be an integer"),
             ({"chains": 2.0}, "chains must be an integer"),
             ({"rmsprop_eps": "1"}, "rmsprop_eps must be a number"),
             ({"rmsprop_alpha": None}, "rmsprop_alpha must be a number")]
    for options, match in types:
        with pytest.raises(TypeError, match=match):
            slt.sgld(net, theta, data, **options)
    for options, match in [({"rmsprop_eps": math.inf}, "rmsprop_eps must be finite and > 0"),
                           ({"rmsprop_eps": 0.0}, "rmsprop_eps must be finite and > 0"),
                           ({"rmsprop_alpha": 1.0}, r"rmsprop_alpha must be in \[0, 1\)")]:
        with pytest.raises(ValueError, match=match):
            slt.sgld(net, theta, data, preconditioner="rmsprop", **options)
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


def test_ntk_parameterisation_matches_the_reference():
    """The NTK parameterisation reaches sgld through the fused gradient kernel (w_scale): the
    chains equal the torch.func reference's, whose forward applies W / sqrt(fan_in)."""
    net = MLP([3, 4, 2], "tanh", parameterization="ntk")
    theta, data = random_problem(net, 3, 12, torch.float64)
    same_chains(net, theta, data, draws=20, batch_size=5)
