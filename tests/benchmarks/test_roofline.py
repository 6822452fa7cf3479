"""reluscope.benchmarks.roofline: the operation count against a count written out from the math
header's loops, the peak microbenchmark's sanity, and the columns it adds."""
import platform

import pytest
import torch

from reluscope import MLP, TMS
from reluscope._ext import _core
from reluscope.benchmarks import roofline
from reluscope.benchmarks.harness import Result


def macs_by_hand(widths, mode, K):
    """hessian_math.h's matrix products, layer by layer (l = 0 has no incoming R terms)."""
    total = 0
    for l, (i, o) in enumerate(zip(widths[:-1], widths[1:])):
        M = i * o
        total += M                                   # z = W a
        if mode == "loss":
            continue
        full = mode != "gnvp"
        if full and l > 0:
            total += M                               # W^T delta
        if mode == "grad":
            total += M                               # delta a^T
        if mode in ("hvp", "gnvp"):
            fwd = M + (M if l > 0 else 0)             # V a + W Ra
            dW = M + (M if full and l > 0 else 0)     # R delta a^T + delta Ra^T
            back = 0 if l == 0 else M + (M if full else 0)  # W^T R delta + V^T delta
            total += K * (fwd + dW + back)
    return 2 * total


@pytest.mark.parametrize("mode", ["loss", "grad", "hvp", "gnvp"])
@pytest.mark.parametrize("widths", [[2, 5, 1], [16, 64, 64, 1], [3, 1]])
def test_operation_count(widths, mode):
    spec = MLP(widths).spec
    for K in (0, 1, 8):
        got = _core.hess_flops(spec, getattr(_core.HessMode, mode), K)
        assert got == macs_by_hand(widths, mode, K)
    assert roofline.hess_flops(MLP(widths), mode, 10, 3, 2) == 30 * macs_by_hand(widths, mode, 2)


def unit_macs_by_hand(widths, mode):
    """A full Hessian's unit directions (theta = [W_0 (out x in, row-major), b_0, W_1, ...]): per
    neuron of layer lo one pass from lo up (R-forward: one column of W at lo + 1, then W Ra;
    R-backward: W^T R delta above lo); per column the slot products above lo (R delta a^T, and
    delta Ra^T with one column at lo + 1) and, at lo, the weight slots from p on."""
    full = mode != "gnvp"
    total = macs_by_hand(widths, mode, 0) // 2
    shapes = list(zip(widths[:-1], widths[1:]))
    for lo, (i, o) in enumerate(shapes):
        for layer in range(lo + 1, len(shapes)):
            M = shapes[layer][0] * shapes[layer][1]
            first = shapes[layer][1] if layer == lo + 1 else M
            total += o * (first + M)                          # the neurons' passes
            total += (i * o + o) * (M + (first if full else 0))  # the columns' products
        for p in range(i * o + o):                   # weights, then biases
            total += max(0, i * o - p)               # weight slots q >= p of layer lo
    return 2 * total


@pytest.mark.parametrize("mode", ["hvp", "gnvp"])
@pytest.mark.parametrize("widths", [[2, 5, 1], [3, 4, 6, 2], [3, 1]])
def test_unit_direction_count(widths, mode, monkeypatch):
    """The general tile's count (the students' [2,5,1] takes it with the small path off)."""
    monkeypatch.setenv("RELUSCOPE_CPU_SMALL_NETS", "0")
    net = MLP(widths)
    assert _core.hess_unit_flops(net.spec, getattr(_core.HessMode, mode), _core.Loss.mse) == \
        unit_macs_by_hand(widths, mode)
    assert roofline.hess_flops(net, mode, 10, 3, units=True) == \
        30 * unit_macs_by_hand(widths, mode)


def small_unit_macs_by_hand(d, h, act, mode):
    """The small-net path's unit directions (J's outer products, d inputs, h hidden neurons,
    biases): forward d h + h, J's products h (d + 1), the P factors c J_p and the triangle
    P (P + 1) / 2; in the full Hessian per first-layer column 2 for g sigma' x~_p and, with a
    sigma'', 3 per entry of its neuron's own triangle of (d + 1) (d + 2) / 2."""
    P = d * h + 2 * h + 1
    total = d * h + h + h * (d + 1) + P + P * (P + 1) / 2
    if mode == "hvp":
        total += h * (d + 1) * 2
        if act != "relu":
            total += h * (d + 1) * (d + 2) / 2 * 3
    return 2 * total


@pytest.mark.parametrize("mode", ["hvp", "gnvp"])
@pytest.mark.parametrize("act", ["relu", "sigmoid"])
def test_unit_direction_count_follows_the_cpu_path(act, mode, monkeypatch):
    """The students' shape with a loss of one output takes the small-net path, whose count is
    its own; with the path off, on a CPU without vector ISA or with a cross-entropy, the
    general tile's."""
    net, code = MLP([2, 5, 1], act), getattr(_core.HessMode, mode)
    small = small_unit_macs_by_hand(2, 5, act, mode)
    assert _core.hess_unit_flops(net.spec, code, _core.Loss.mse) == small
    assert roofline.hess_flops(net, mode, 10, 3, units=True) == 30 * small
    general = unit_macs_by_hand([2, 5, 1], mode)
    assert _core.hess_unit_flops(net.spec, code, _core.Loss.cross_entropy) == general
    if platform.machine() == "x86_64":   # elsewhere every CPU takes the small path
        monkeypatch.setenv("RELUSCOPE_CPU_ISA", "generic")
        assert _core.hess_unit_flops(net.spec, code, _core.Loss.mse) == general
        monkeypatch.setenv("RELUSCOPE_CPU_ISA", "avx2")
        assert _core.hess_unit_flops(net.spec, code, _core.Loss.mse) == small
    monkeypatch.setenv("RELUSCOPE_CPU_SMALL_NETS", "0")
    assert _core.hess_unit_flops(net.spec, code, _core.Loss.mse) == general


def test_tied_weights_count_both_layers():
    tms = TMS(5, 2)   # W (2 x 5) used twice: encoder and decoder, 10 weights each
    assert _core.hess_flops(tms.spec, _core.HessMode.loss, 0) == 2 * (10 + 10)


def test_peak_is_positive_and_scales_with_work():
    flops, seconds = _core.cpu_peak(8, 1000)
    big, big_s = _core.cpu_peak(8, 100000)
    assert flops > 0 and seconds > 0 and big == 100 * flops
    assert big / big_s > 0.1e9       # any CPU this runs on does 0.1 GFLOP/s
    assert roofline.peak_gflops(torch.float32) > 0
    for bad in ((2, 10), (8, 0)):
        with pytest.raises(ValueError):
            _core.cpu_peak(*bad)


def test_activation_rate_is_positive_and_counts_its_work():
    A = _core.Activation
    for act in (A.sigmoid, A.relu, A.identity):
        for size in (4, 8):
            for derivatives in (False, True):
                evals, seconds = _core.cpu_activation_rate(int(act), size, 5000, derivatives)
                # whole passes of 16 rows of kCpuLanes lanes (32 float64, 64 float32) per thread
                per_pass = 16 * (32 if size == 8 else 64)
                passes = -(-5000 // per_pass)
                assert evals == _core.max_threads() * passes * per_pass and seconds > 0
    assert roofline.activation_rate(int(A.tanh), torch.float32, True) > 1e6
    for bad in ((99, 8, 10), (-1, 8, 10), (int(A.relu), 2, 10), (int(A.relu), 8, 0)):
        with pytest.raises(ValueError):
            _core.cpu_activation_rate(*bad, True)


def test_layer_activations_and_activation_seconds(monkeypatch):
    A = _core.Activation
    net, tms = MLP([3, 7, 4, 2], "sigmoid"), TMS(5, 2)
    assert net.spec.layer_activations == [(int(A.sigmoid), 7), (int(A.sigmoid), 4),
                                          (int(A.identity), 2)]
    assert tms.spec.layer_activations == [(int(A.identity), 2), (int(A.relu), 5)]
    rates = {int(A.sigmoid): 1e9, int(A.relu): 4e9}
    monkeypatch.setattr(roofline, "activation_rate", lambda act, dtype, d: rates[act])
    # 1000 samples: 11000 sigmoids at 1e9/s; 5000 relus at 4e9/s; the identity costs none
    assert roofline.activation_seconds(net, 1000, torch.float64, True) == pytest.approx(1.1e-5)
    assert roofline.activation_seconds(tms, 1000, torch.float64, True) == pytest.approx(1.25e-6)


def test_annotate_adds_the_columns_on_cpu_only(monkeypatch):
    monkeypatch.setattr(roofline, "peak_gflops", lambda dtype: 50.0)
    seen = []
    monkeypatch.setattr(roofline, "activation_seconds",
                        lambda *args: seen.append(args) or 0.05)
    net = MLP([2, 5, 1], "sigmoid")
    r = roofline.annotate(Result("s", "c", "cpu", "float64", {}, 0.5, 1.0), 10e9, torch.float64,
                          net, 1000, False)
    assert seen == [(net, 1000, torch.float64, False)]
    # bound: 10 GFLOP at 50 GFLOP/s = 0.2 s, plus 0.05 s of activations
    assert r.extra == pytest.approx({"GFLOP/s": 20.0, "peak GFLOP/s": 50.0, "% of peak": 40.0,
                                     "bound s": 0.25, "% of bound": 50.0,
                                     "ratio at bound": 4.0})
    plain = roofline.annotate(Result("s", "c", "cpu", "float64", {}, 0.5, 1.0), 10e9,
                              torch.float64)
    assert plain.extra["bound s"] == pytest.approx(0.2) and len(seen) == 1
    g = roofline.annotate(Result("s", "c", "cuda", "float64", {}, 0.5, 1.0), 10e9, torch.float64,
                          net, 1000)
    assert g.extra == {} and len(seen) == 1
