"""The gd benchmark suite runs (quick), times both sides on the same work, and its
Edge-of-Stability-code loop computes the same sharpness as gd."""
import pytest
import torch

from reluscope import MLP, Data, hessian
from reluscope.benchmarks import gd


def test_quick_suite_times_both_sides():
    results = list(gd.run("cpu", quick=True))
    assert [r.name.split(" vs ")[1] for r in results] == ["eos-code", "torch.func"]
    for r in results:
        assert r.suite == "gd" and r.sizes["B"] == 20 and r.sizes["every"] == 10
        assert r.ours_s > 0 and r.reference_s > 0 and r.ratio > 0
        assert "scaled" in r.extra["reference"]


def test_eos_code_loop_tracks_the_same_sharpness():
    """The baseline does the same work: its eigsh sharpnesses equal gd's exact ones (the HVPs
    and the GD steps are the same maths; eigsh's default tolerance is machine precision)."""
    pytest.importorskip("scipy")
    net = MLP([1, 100, 1], "tanh")
    X = torch.linspace(-1, 1, 20, dtype=torch.float64)[:, None]
    Y = torch.cos(3 * torch.arccos(X))
    theta = net.init(1, generator=torch.Generator().manual_seed(0), dtype=torch.float64,
                     scheme="lecun")
    ours = hessian.gd(net, theta, Data(X, Y), lr=gd.LR, steps=gd.STEPS, every=gd.EVERY)
    theirs = torch.tensor(gd._eos_code_loop(net, theta, X, Y), dtype=torch.float64)
    assert torch.allclose(theirs, ours.sharpness[0], rtol=1e-8, atol=0)
