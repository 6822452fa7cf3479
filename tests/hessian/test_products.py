"""reluscope.hessian.products vs the torch.func reference (every activation, TMS, both dtypes,
shared and per-model data, every CPU vector variant, CPU and CUDA), an exact TMS case, errors."""
import math

import pytest
import torch

from reluscope import ACTIVATIONS, MLP, TMS, Data, forward, tms_quadrature
from reluscope import hessian
from reluscope.reference import hessian as reference
from tests.utils import (CPU_ISAS, DEVICES, DTYPES, assert_matches_reference, data_on,
                         random_problem)

PRODUCTS = ("hvp", "gnvp")
DENSE = ("hessian", "gauss_newton")


def matches_reference(model, theta, data, Vs, *, dense=True, factor=1.0):
    """Every product of the engine (on theta's device) vs the reference (on the CPU)."""
    cpu_theta, cpu_data = theta.cpu(), data_on(data, "cpu")

    def check(name, *extra):
        got = getattr(hessian, name)(model, theta, data, *(e.to(theta.device) for e in extra))
        want = getattr(reference, name)(model, cpu_theta, cpu_data, *extra)
        assert_matches_reference(got, want, kind="reduction", factor=factor)

    check("loss")
    check("value_and_grad")
    for V in Vs:
        for name in PRODUCTS:
            check(name, V)
    if dense:
        for name in DENSE:
            check(name)


CASES = [(act, per, flags) for act in ACTIVATIONS
         for per, flags in ((False, (False, False)), (True, (True, True)),
                            (False, ("per_model", False)))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act,per_model,flags", CASES)
def test_mlp_matches_reference(act, per_model, flags, dtype, device):
    net = MLP([3, 4, 3, 2], act)
    theta, data = random_problem(net, 3, 19, dtype, per_model=per_model, weighted=flags[0],
                                 importance=flags[1], device=device)
    g = torch.Generator().manual_seed(1)
    Vs = (torch.randn(3, net.num_params, generator=g, dtype=dtype),
          torch.randn(3, 4, net.num_params, generator=g, dtype=dtype))
    matches_reference(net, theta, data, Vs)


LOSS_CASES = [("cross_entropy", False), ("cross_entropy", True), ("bce_with_logits", False)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_model", [False, True])
@pytest.mark.parametrize("loss,labels", LOSS_CASES, ids=["ce-probs", "ce-labels", "bce"])
@pytest.mark.parametrize("act", ["tanh", "relu", "softplus"])
def test_classification_losses_match_reference(act, loss, labels, per_model, dtype, device):
    """Cross-entropy (probability targets and integer labels) and binary cross-entropy with
    logits: loss, gradient, Hessian and Gauss-Newton products and matrices equal torch.func's
    on torch.nn.functional's losses (1e-10 in float64), with sample weights and importance (class
    weights)."""
    net = MLP([3, 5, 4], act)
    theta, data = random_problem(net, 3, 23, dtype, per_model=per_model, weighted=True,
                                 importance=True, device=device, loss=loss, labels=labels)
    V = torch.randn(3, 2, net.num_params, generator=torch.Generator().manual_seed(1), dtype=dtype)
    matches_reference(net, theta, data, [V])
    tms = TMS(5, 2)
    theta, data = random_problem(tms, 2, 17, dtype, per_model=per_model, device=device,
                                 loss=loss, labels=labels)
    matches_reference(tms, theta, data, [])


def test_softmax_regression_hessian_at_zero_is_exact():
    """A linear classifier y = W x + b at W = 0, b = 0 has p = 1/C for every sample, so its
    cross-entropy Hessian is sum_n w_n (I/C - 11^T/C^2) kron [x_n; 1][x_n; 1]^T in the layout
    (W rows, then b), and equals its Gauss-Newton matrix (the residual term vanishes)."""
    C, d, N = 3, 2, 6
    net = MLP([d, C], "identity")
    X = torch.randn(N, d, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    data = Data(X, torch.arange(N) % C, loss="cross_entropy")
    theta = torch.zeros(net.num_params, dtype=torch.float64)
    A = torch.eye(C, dtype=torch.float64) / C - 1.0 / C**2
    Z = torch.cat([X, torch.ones(N, 1, dtype=torch.float64)], 1)  # [x; 1]
    M = (Z.T @ Z) / N
    # theta = (W (C x d) row-major, b (C,)): index of W[i, k] is i*d + k, of b[i] is C*d + i
    idx = [[i * d + k for k in range(d)] + [C * d + i] for i in range(C)]
    expected = torch.zeros(net.num_params, net.num_params, dtype=torch.float64)
    for i in range(C):
        for j in range(C):
            expected[torch.tensor(idx[i])[:, None], torch.tensor(idx[j])] = A[i, j] * M
    assert_matches_reference(hessian.dense_hessian(net, theta, data), expected, kind="reduction")
    assert hessian.hessian is hessian.dense_hessian     # the earlier name, kept as an alias
    assert_matches_reference(hessian.gauss_newton(net, theta, data), expected, kind="reduction")
    assert math.isclose(hessian.loss(net, theta, data).item(), math.log(C), rel_tol=1e-15)


def test_importance_weighs_squared_errors_linearly():
    """L = sum_n w_n sum_i I_i (y_i - t_i)^2: importance I, as in the toy-models papers."""
    net = MLP([2, 3, 2], "tanh")
    theta, data = random_problem(net, 2, 9, torch.float64)
    imp = torch.tensor([0.25, 4.0], dtype=torch.float64)
    y = forward(net, theta, data.X)
    want = (imp * (y - data.T) ** 2).sum(-1).mean(-1)
    weighted = Data(data.X, data.T, importance=imp)
    assert_matches_reference(hessian.loss(net, theta, weighted), want, kind="reduction")


@pytest.mark.parametrize("per_model_x", [False, True])
def test_per_model_weights_equal_one_call_per_model(per_model_x):
    """Data with weights (B, N): model b's loss, gradient and Hessian are those of model b alone
    on its row of weights; B must match theta."""
    net = MLP([2, 3, 1], "tanh")
    theta, data = random_problem(net, 3, 11, torch.float64, per_model=per_model_x,
                                 weighted="per_model")
    L, G = hessian.value_and_grad(net, theta, data)
    H = hessian.hessian(net, theta, data)
    for b in range(3):
        one = Data(data.X[b] if per_model_x else data.X, data.T[b] if per_model_x else data.T,
                   weights=data.w[b])
        Lb, Gb = hessian.value_and_grad(net, theta[b], one)
        assert_matches_reference((L[b], G[b], H[b]), (Lb, Gb, hessian.hessian(net, theta[b], one)),
                                 kind="reduction")
    with pytest.raises(ValueError, match="is per model with 3 models but theta has B=2"):
        hessian.loss(net, theta[:2], data)


def test_one_model_drops_the_model_dimension():
    net = MLP([2, 3, 2], "tanh")
    theta, data = random_problem(net, 1, 9, torch.float64)
    one = theta[0]
    V = torch.randn(4, net.num_params, dtype=torch.float64)
    assert torch.equal(hessian.loss(net, one, data), hessian.loss(net, theta, data)[0])
    L, G = hessian.value_and_grad(net, one, data)
    assert L.shape == () and torch.equal(G, hessian.value_and_grad(net, theta, data)[1][0])
    assert torch.equal(hessian.hvp(net, one, data, V[0]), hessian.hvp(net, theta, data, V[:1])[0])
    assert torch.equal(hessian.hvp(net, one, data, V), hessian.hvp(net, theta, data, V[None])[0])
    assert torch.equal(hessian.hessian(net, one.tolist(), data),
                       hessian.hessian(net, theta, data)[0])
    with pytest.raises(ValueError, match=r"V must be \(17,\) or \(K, 17\)"):
        hessian.hvp(net, one, data, V[None])


def test_single_output_targets_and_errors_of_the_losses():
    net = MLP([2, 3, 1], "tanh")
    theta, data = random_problem(net, 2, 9, torch.float64)
    flat = Data(data.X, data.T[:, 0])
    assert torch.equal(hessian.loss(net, theta, flat), hessian.loss(net, theta, data))
    with pytest.raises(ValueError, match="at least two outputs"):
        hessian.loss(net, theta, Data(data.X, torch.zeros(9, 1, dtype=torch.float64),
                                      loss="cross_entropy"))
    with pytest.raises(ValueError, match="labels must be < d_out"):
        hessian.loss(MLP([2, 3, 2]), MLP([2, 3, 2]).init(1, dtype=torch.float64),
                     Data(data.X, torch.full((9,), 2), loss="cross_entropy"))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_wide_layers_match_reference(act, dtype, device):
    """Sums of >= 8 terms run in register blocks of 4 outputs plus a remainder (widths 10 and 9):
    the forward, backward, R-forward and R-backward sums of the middle layers take that path."""
    net = MLP([9, 10, 9, 2], act)
    theta, data = random_problem(net, 3, 40, dtype, weighted=True, device=device)
    V = torch.randn(3, 2, net.num_params, generator=torch.Generator().manual_seed(2), dtype=dtype)
    matches_reference(net, theta, data, [V], dense=False, factor=10 if device == "cuda" else 1)


@pytest.mark.parametrize("isa", CPU_ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_outer_product_blocks_match_reference(isa, dtype, monkeypatch):
    """The weight slots of unscaled layers with >= 8 inputs (gradient, R-backward) go through
    acc.add_outer: on the CPU, blocks of 4 outputs x 2 vectors of inputs (16 float64, 32
    float32), lane-major copies by square shuffles, and the remainder one slot at a time. Widths
    33 and 37 give both blocks and remainders in j and k; N = 45 a whole float64 tile and a
    partial one (lanes past the last whole square copied one by one); every vector variant."""
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    for act in ("tanh", "relu"):
        net = MLP([33, 37, 5, 2], act)
        theta, data = random_problem(net, 2, 45, dtype, weighted=True)
        V = torch.randn(2, 2, net.num_params, generator=torch.Generator().manual_seed(3),
                        dtype=dtype)
        matches_reference(net, theta, data, [V], dense=False)


SMALL_NETS = [(MLP([1, 1, 1], "tanh"), "mse"), (MLP([2, 5, 1], "relu"), "bce_with_logits"),
              (MLP([3, 7, 1], "leaky_relu", bias=False), "mse"),
              (MLP([4, 8, 1], "sigmoid"), "bce_with_logits")]


@pytest.mark.parametrize("small", ["1", "0"])
@pytest.mark.parametrize("isa", CPU_ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_small_nets_match_reference_on_both_cpu_paths(small, isa, dtype, monkeypatch):
    """Two layers, <= 4 inputs, <= 8 hidden neurons, one output: the CPU runs each vector of
    samples through all passes on its own (csrc/hessian/small_net_cpu.h), except on the
    generic ISA; RELUSCOPE_CPU_SMALL_NETS=0 runs the general tile instead (what CUDA runs).
    Widths at both bounds and below, no bias, both losses of one output; N = 45 leaves a
    partial vector and an empty one in the last tile, N = 173 adds full tiles of both dtypes
    (read in place); every activation on [4, 8, 1]; every vector variant. Products, and the
    full Hessians and Gauss-Newton matrices (on the small path from J's outer products and
    the second derivatives of y: csrc/hessian/small_net_columns.h)."""
    monkeypatch.setenv("RELUSCOPE_CPU_SMALL_NETS", small)
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    nets = SMALL_NETS + [(MLP([4, 8, 1], act), "mse") for act in ACTIVATIONS]
    for i, (net, loss) in enumerate(nets):
        theta, data = random_problem(net, 2, 173 if i % 3 == 2 else 45, dtype, weighted=True,
                                     importance=True, per_model=i % 2 == 1, loss=loss, seed=i)
        V = torch.randn(2, 3, net.num_params, generator=torch.Generator().manual_seed(i),
                        dtype=dtype)
        matches_reference(net, theta, data, [V])


@pytest.mark.parametrize("isa", CPU_ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_small_nets_whole_tiles_in_pairs_then_alone_then_partial(isa, dtype, monkeypatch):
    """The small path's task loop: B = 64 models make one data chunk per model (hess_plan), so
    N = 237 samples give, per model, pairs of whole tiles in one call of the tile kernel (AVX-512:
    small_net_launcher.h's kSpan), then one whole tile alone, then a partial one, in both dtypes
    (float32: 128 + 64 + 45 lanes; float64: 3 x 64 + 32 + 13)."""
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    for i, net in enumerate([MLP([2, 5, 1], "relu"), MLP([4, 8, 1], "sigmoid")]):
        theta, data = random_problem(net, 64, 237, dtype, weighted=True, seed=i)
        V = torch.randn(64, 2, net.num_params, generator=torch.Generator().manual_seed(i),
                        dtype=dtype)
        matches_reference(net, theta, data, [V])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_tms_matches_reference(bias, dtype, device):
    tms = TMS(5, 2, bias=bias)
    theta, data = random_problem(tms, 4, 23, dtype, importance=True, device=device)
    V = torch.randn(4, 3, tms.num_params, generator=torch.Generator().manual_seed(2), dtype=dtype)
    matches_reference(tms, theta, data, [V])


@pytest.mark.cuda
@pytest.mark.parametrize("per_model", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", [MLP([3, 5, 4, 2], a) for a in ACTIVATIONS] + [TMS(6, 2)],
                         ids=repr)
def test_cuda_two_chunks_and_a_partial_block(model, dtype, per_model):
    """N = 700: two data chunks per model and a partial block of the CUDA launcher (per-model
    inputs come with per-model sample weights)."""
    theta, data = random_problem(model, 5, 700, dtype, per_model=per_model,
                                 weighted="per_model" if per_model else True, importance=True,
                                 device="cuda")
    V = torch.randn(5, 3, model.num_params, dtype=dtype)
    matches_reference(model, theta, data, [V], factor=10)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_benchmark_sizes_match_reference(dtype):
    """The benchmark's shapes, fewer models: [16,64,64,1] relu with K = 8 directions (register
    blocks, long sums) and TMS n = 20, m = 5 with sparse data."""
    net = MLP([16, 64, 64, 1], "relu")
    theta, data = random_problem(net, 4, 300, dtype, device="cuda")
    V = torch.randn(4, 8, net.num_params, dtype=dtype)
    matches_reference(net, theta, data, [V], dense=False, factor=10)
    tms = TMS(20, 5)
    theta, data = random_problem(tms, 4, 500, dtype, importance=True, device="cuda")
    V = torch.randn(4, 2, tms.num_params, dtype=dtype)
    matches_reference(tms, theta, data, [V], factor=10)


@pytest.mark.cuda
@pytest.mark.sanitize
def test_cuda_small_case_every_mode():
    """One small call per mode and dtype for compute-sanitizer (bench/gpu_check.sh)."""
    for dtype in DTYPES:
        net = MLP([3, 5, 2], "sigmoid")
        theta, data = random_problem(net, 3, 200, dtype, weighted=True, device="cuda")
        matches_reference(net, theta, data, [torch.randn(3, 2, net.num_params, dtype=dtype)],
                          factor=10)


@pytest.mark.cuda
def test_cuda_results_are_reproducible_and_follow_the_stream():
    """Same call, same bits (no atomics in the reduction), also on a side stream interleaved
    with torch ops."""
    net = MLP([2, 5, 1], "tanh")
    theta, data = random_problem(net, 50, 3000, torch.float32, device="cuda")
    V = torch.randn(50, 3, net.num_params, device="cuda")
    first = hessian.hvp(net, theta, data, V)
    for _ in range(3):
        assert torch.equal(hessian.hvp(net, theta, data, V), first)
    side = torch.cuda.Stream()
    torch.cuda.synchronize()
    with torch.cuda.stream(side):
        big = torch.randn(4096, 4096, device="cuda")
        delay = (big @ big).sum() * 0
        got = hessian.hvp(net, theta + delay, data, V) * 1
    side.synchronize()
    assert torch.equal(got, first)


@pytest.mark.parametrize("isa", CPU_ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_cpu_vector_variant_matches_reference(isa, dtype, monkeypatch):
    """RELUSCOPE_CPU_ISA caps the compiled variant the CPU launcher runs; N = 150 gives whole
    tiles and a partial one, with shared and per-model data, MLP and tied-weight TMS."""
    from reluscope.info import config

    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    assert CPU_ISAS.index(config()["cpu_vector_isa"]) <= CPU_ISAS.index(isa)
    for model in (MLP([3, 6, 2], "sigmoid"), MLP([2, 5, 1], "relu"), TMS(5, 2)):
        for per_model in (False, True):
            theta, data = random_problem(model, 3, 150, dtype, per_model=per_model,
                                         weighted=True, importance=True)
            V = torch.randn(3, 2, model.num_params, generator=torch.Generator().manual_seed(2),
                            dtype=dtype)
            matches_reference(model, theta, data, [V], dense=False)


@pytest.mark.parametrize("s", [0.1, 0.4, 0.75])
def test_tms_two_features_closed_form(s):
    # Seed 000: L(w) = E ||x - relu(W^T W x)||^2 (no factor 1/2), features 0 w.p. s else U[0,1].
    # At W = (1/sqrt2, 1/sqrt2) the Hessian is (s-1)/6 [[9s-17, 3s-11], [3s-11, 9s-17]] and the
    # gradient vanishes (derived by hand: same-sign region, where L is a polynomial in w).
    tms = TMS(2, 1, bias=False)
    data = tms_quadrature(s, n_nodes=6)
    theta = torch.full((1, 2), 2 ** -0.5, dtype=torch.float64)
    a, b = 9 * s - 17, 3 * s - 11
    expected = (s - 1) / 6 * torch.tensor([[a, b], [b, a]], dtype=torch.float64)
    assert_matches_reference(hessian.hessian(tms, theta, data)[0], expected, kind="reduction")
    assert hessian.value_and_grad(tms, theta, data)[1].abs().max() < 1e-12
    # loss in the same-sign region, from the seed's polynomial at w1 = w2 = 1/sqrt2
    w1 = w2 = 2 ** -0.5
    L = s * (1 - s) / 3 * (w1**4 + 2 * w1**2 * w2**2 - 2 * w1**2 + w2**4 - 2 * w2**2 + 2) + \
        (1 - s) ** 2 / 6 * (2 * w1**4 + 3 * w1**3 * w2 + 4 * w1**2 * (w2**2 - 1)
                            + 3 * w1 * w2 * (w2**2 - 2) + 2 * (w2**4 - 2 * w2**2 + 2))
    assert math.isclose(hessian.loss(tms, theta, data).item(), L, rel_tol=1e-12)


def test_zero_residual_loss_and_gradient():
    """At the teacher on its own outputs the loss and gradient are exactly what forward says."""
    net = MLP([2, 4, 1], "sigmoid", bias=False)
    g = torch.Generator().manual_seed(5)
    X = torch.randn(80, 2, generator=g, dtype=torch.float64)
    teacher = net.init(1, generator=g, dtype=torch.float64)
    value, grad = hessian.value_and_grad(net, teacher, Data(X, forward(net, teacher, X)[0]))
    assert value.item() == 0.0 and grad.abs().max().item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_batch_gives_empty_results(dtype):
    net = MLP([2, 3, 1], "sigmoid")
    theta, data = random_problem(net, 0, 10, dtype)
    assert hessian.loss(net, theta, data).shape == (0,)
    value, grad = hessian.value_and_grad(net, theta, data)
    assert value.shape == (0,) and grad.shape == (0, net.num_params)
    V = torch.zeros(0, 2, net.num_params, dtype=dtype)
    assert hessian.hvp(net, theta, data, V).shape == (0, 2, net.num_params)
    assert hessian.hessian(net, theta, data).shape == (0, net.num_params, net.num_params)


@pytest.mark.parametrize("name", PRODUCTS)
def test_no_directions_give_an_empty_result(name):
    """V with K = 0 directions: an empty (B, 0, P) result from every path (eager, one model, the
    operator, autograd through theta and V), not an AttributeError."""
    net = MLP([2, 3, 1], "tanh")
    theta, data = random_problem(net, 2, 10, torch.float64)
    P = net.num_params
    f = getattr(hessian, name)
    V = torch.zeros(2, 0, P, dtype=torch.float64)
    assert f(net, theta, data, V).shape == (2, 0, P)
    assert f(net, theta[0], data, V[0]).shape == (0, P)
    op = getattr(hessian, "Hessian" if name == "hvp" else "GaussNewton")(net, theta, data)
    assert op.matmat(V).shape == (2, 0, P)
    th, Vg = theta.clone().requires_grad_(), V.clone().requires_grad_()
    out = f(net, th, data, Vg)
    (out.sum() + hessian.loss(net, th, data).sum()).backward()
    assert out.shape == (2, 0, P) and Vg.grad.shape == (2, 0, P)
    assert_matches_reference(th.grad, hessian.value_and_grad(net, theta, data)[1],
                             kind="reduction")


def test_errors():
    net = MLP([2, 3, 1])
    theta, data = random_problem(net, 2, 10, torch.float64)
    P = net.num_params
    with pytest.raises(ValueError, match="V must be"):
        hessian.hvp(net, theta, data, torch.zeros(2, P + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="V must be"):
        hessian.gnvp(net, theta, data, torch.zeros(3, P, dtype=torch.float64))
    with pytest.raises(TypeError):
        hessian.hvp(net, theta, data, torch.zeros(2, P))
    with pytest.raises(ValueError, match="outputs"):
        hessian.loss(net, theta, Data(torch.zeros(5, 2, dtype=torch.float64),
                                      torch.zeros(5, 2, dtype=torch.float64)))
    with pytest.raises(ValueError, match="features"):
        hessian.loss(net, theta, Data(torch.zeros(5, 3, dtype=torch.float64),
                                      torch.zeros(5, 1, dtype=torch.float64)))
    with pytest.raises(ValueError, match="per model"):
        hessian.loss(net, theta, Data(torch.zeros(3, 5, 2, dtype=torch.float64),
                                      torch.zeros(3, 5, 1, dtype=torch.float64)))
    with pytest.raises(TypeError, match="float32"):
        hessian.loss(net, theta.float(), data)
    bad = theta.clone()
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        hessian.value_and_grad(net, bad, data)
    with pytest.raises(ValueError, match="theta must have shape"):
        hessian.loss(net, theta[:, :-1], data)
    with pytest.raises(ValueError, match="HESSIAN_MAX_BYTES"):
        big = MLP([2, 200, 200, 1])
        hessian.hessian(big, big.init(20, dtype=torch.float64), data)
    with pytest.raises(TypeError, match="reluscope.Data"):
        hessian.loss(net, theta, (data.X, data.T))
    with pytest.raises(TypeError, match="reluscope.MLP"):
        hessian.loss("net", theta, data)


@pytest.mark.parametrize("small", ["1", "0"])
@pytest.mark.parametrize("N", [31, 32, 33, 70])
def test_overflow_gives_inf_like_torch_whatever_the_tile_padding(N, small, monkeypatch):
    """Outputs that overflow to inf give an inf loss, and the same inf/NaN pattern in the
    gradient as torch, also when N leaves padding lanes in the last tile (their weight-0
    products with inf are left out, not added as NaN); on both CPU paths of this small net."""
    monkeypatch.setenv("RELUSCOPE_CPU_SMALL_NETS", small)
    net = MLP([2, 3, 1], "identity")
    theta = torch.full((2, net.num_params), 1e120, dtype=torch.float64)
    theta[1] = 0.5
    g = torch.Generator().manual_seed(3)
    X = torch.randn(N, 2, generator=g, dtype=torch.float64) * 1e100
    data = Data(X, torch.zeros(N, 1, dtype=torch.float64))
    for got, want in zip(hessian.value_and_grad(net, theta, data),
                         reference.value_and_grad(net, theta, data)):
        assert torch.equal(got.isnan(), want.isnan()) and torch.equal(got.isinf(), want.isinf())
    assert torch.isinf(hessian.loss(net, theta, data)[0])


# ---- samples on a kink (hessian.kinks, the KinkWarning of hvp and hessian) ---------------------
def family_b(s: float) -> torch.Tensor:
    """The seed's family-B critical point a(s) (-1, 1) of TMS(2, 1, bias=False), whose kink
    w1 x1 + w2 x2 = 0 is the diagonal x1 = x2."""
    a = math.sqrt((3 + 5 * s) / (2 * (1 + 3 * s)))
    return torch.tensor([[-a, a]], dtype=torch.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tms_quadrature_at_family_b_is_on_a_kink(dtype):
    """The issue's reproducer: tms_quadrature's tensor grid has n_nodes nodes on the diagonal,
    where y = relu(W^T W x) has pre-activations 0 (exactly, or the rounding of -a t + a t), and
    the kink moves with W: the Hessian is not defined there. Flagged (in float32 too), with a
    KinkWarning from hvp and hessian; a generic theta and the x = 0 atom (z = 0 for every W)
    are not flagged."""
    tms, data = TMS(2, 1, bias=False), tms_quadrature(0.5, n_nodes=16, dtype=dtype)
    theta = torch.cat([family_b(0.5), torch.tensor([[0.3, 0.8]], dtype=torch.float64)]).to(dtype)
    assert hessian.kinks(tms, theta, data).tolist() == [16, 0]
    assert hessian.kinks(tms, theta[1], data).item() == 0  # the x = 0 atom has weight s^2
    with pytest.warns(hessian.KinkWarning, match=r"1 of 2 models .*models 0\)"):
        hessian.hvp(tms, theta, data, torch.ones_like(theta))
    with pytest.warns(hessian.KinkWarning):
        hessian.hessian(tms, theta[0], data)


def test_kinks_with_a_bias_at_the_atom_and_zero_weights():
    """With a bias, x = 0 has z = b: b_1 = 0 is a kink that moves (with b_1). A sample on a kink
    with weight 0 is not counted."""
    tms, data = TMS(2, 1), tms_quadrature(0.5, n_nodes=4)
    theta = torch.tensor([[0.3, 0.8, 0.0, 0.1], [0.3, 0.8, 0.2, 0.1]], dtype=torch.float64)
    assert hessian.kinks(tms, theta, data).tolist() == [1, 0]
    zero_w = Data(data.X, data.T, weights=torch.where(data.X.sum(1) == 0, 0.0, data.w))
    assert hessian.kinks(tms, theta, zero_w).tolist() == [0, 0]


@pytest.mark.parametrize("small", ["1", "0"])
@pytest.mark.parametrize("isa", CPU_ISAS)
@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_kinks_of_an_mlp_with_samples_exactly_on_a_kink(act, isa, small, monkeypatch):
    """Integer weights put samples exactly on the kinks of the first hidden layer: z1 = x1 - x2
    at x = (1, 1) (and z2 = 2 x1 + x2 - 3 there too: one sample, counted once), z = b = 0 at
    x = 0 (the bias moves it); x = (3, 3) is on the kink with weight 0. Without a bias, x = 0
    gives z = 0 for every theta: no kink. Both CPU paths of this small net, in every vector
    variant (the small path's vectors are 32 bytes under AVX2, 64 under AVX-512); the full
    Hessian's own pass counts the same."""
    monkeypatch.setenv("RELUSCOPE_CPU_SMALL_NETS", small)
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    net = MLP([2, 2, 1], act)
    W1 = torch.tensor([[[1.0, -1.0], [2.0, 1.0]]], dtype=torch.float64)
    b1 = torch.tensor([[0.0, -3.0]], dtype=torch.float64)
    W2, b2 = torch.ones(1, 1, 2, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    theta = net.flatten([(W1, b1), (W2, b2)])
    X = torch.tensor([[1.0, 1.0], [2.0, 1.0], [0.0, 0.0], [-1.0, 0.0], [3.0, 3.0]],
                     dtype=torch.float64)
    data = Data(X, torch.zeros(5, 1, dtype=torch.float64),
                weights=torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0], dtype=torch.float64))
    assert hessian.kinks(net, theta, data).tolist() == [2]
    assert hessian.kinks(net, theta, Data(X[1:2], torch.zeros(1, 1, dtype=torch.float64))) == 0
    H = hessian.Hessian(net, theta, data)
    with pytest.warns(hessian.KinkWarning):
        H.to_dense()                     # counted in the pass of the full Hessian's columns
    assert H.kinks.tolist() == [2]
    free = MLP([2, 2, 1], act, bias=False)
    theta_free = free.flatten([(W1, None), (W2, None)])
    assert hessian.kinks(free, theta_free, data).tolist() == [1]  # x = (1, 1) only


@pytest.mark.parametrize("B", [16, 40])
@pytest.mark.parametrize("isa", CPU_ISAS)
@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_small_path_kink_screen_flags_what_the_general_tile_flags(act, isa, B, monkeypatch):
    """The small path screens a call's samples with one bound per neuron (from the largest input
    bound of the call's samples for B >= 32, else from the sum of the input bounds of a tile
    kernel call's samples) before it takes the exact kink steps (csrc/hessian/small_net_tile.h,
    small_kink_flags); it must flag what the general tile flags. The inputs are 0 but for one
    sample per neuron, x_m_j (one in 50 samples, so that it makes its call's bound nearly alone
    and a screen any tighter than a sample's own bound would miss it); dyadic weights and inputs
    make neuron j's z = k 2^-49 there exact, |k| <= 16, around the float64 bound (~2 gamma_4
    (max|W_j| sum|x| + |b_j|), ~7 2^-49 here). Shared inputs, N = 300: pairs of whole tiles in
    one call, a whole tile, a partial one. Per model, both paths count the same samples, and
    some near ones are flagged while others are not."""
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    g = torch.Generator().manual_seed(7)
    d, h, N = 3, 6, 300
    net = MLP([d, h, 1], act)
    f64 = dict(dtype=torch.float64)
    X = torch.zeros(N, d, **f64)
    m = 50 * torch.arange(h) + torch.randint(0, 50, (h,), generator=g)
    X[m] = torch.randint(-16, 17, (h, d), generator=g).to(**f64) / 8
    layers = []
    for _ in range(B):
        W1 = torch.randint(-8, 9, (1, h, d), generator=g).to(**f64) / 4
        k = torch.randint(-16, 17, (h,), generator=g).to(**f64)
        b1 = k * 2.0 ** -49 - (W1[0] * X[m]).sum(1)  # |b1| < 16: exact in 53 bits
        layers.append([(W1, b1[None]), (torch.randn(1, 1, h, generator=g, **f64),
                                        torch.zeros(1, 1, **f64))])
    theta = torch.cat([net.flatten(ls) for ls in layers])
    data = Data(X, torch.zeros(N, 1, **f64))
    counts = {}
    for small in ("1", "0"):
        monkeypatch.setenv("RELUSCOPE_CPU_SMALL_NETS", small)
        counts[small] = hessian.kinks(net, theta, data)
    assert torch.equal(counts["1"], counts["0"])
    assert 0 < int(counts["1"].sum()) < B * h


@pytest.mark.parametrize("B", [16, 40])
@pytest.mark.parametrize("isa", CPU_ISAS)
@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_float32_small_path_decides_its_kink_flags_in_float64(act, isa, B, monkeypatch):
    """The small path's float32 kernel decides each sample its float32 steps flag again in
    float64 (csrc/hessian/small_net_tile.h, small_kink_count_f64), and its plan says so
    (kinks_float64), so no float64 pass confirms its counts. Neuron j's z = k_j 2^-20 at one
    sample, exact in both dtypes (inputs in 1/8, weights in 1/4, the bias a multiple of 2^-20
    below 16: 24 bits): the float32 bound (~6 2^-20 here) flags |k| <= ~6, float64's k = 0 only.
    The kernel's own counts (no confirmation): the small path's equal float64's, the general
    tile's (a screen, confirmed in Python) exceed them; after ``run`` both equal float64's."""
    from reluscope import _fused
    from reluscope._ext import _core
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    g = torch.Generator().manual_seed(11)
    d, h, N = 2, 5, 300
    net = MLP([d, h, 1], act)
    X = torch.zeros(N, d, dtype=torch.float64)
    m = 50 * torch.arange(h) + torch.randint(0, 50, (h,), generator=g)
    X[m] = torch.randint(-16, 17, (h, d), generator=g).double() / 8
    thetas = []
    for b in range(B):
        W1 = torch.randint(-8, 9, (1, h, d), generator=g).double() / 4
        k = torch.randint(-8, 9, (h,), generator=g).double()
        k[b % h] = 0.0  # one sample on a kink in every model
        b1 = k * 2.0 ** -20 - (W1[0] * X[m]).sum(1)
        thetas.append(net.flatten([(W1, b1[None]), (torch.randn(1, 1, h, generator=g).double(),
                                                    torch.zeros(1, 1, dtype=torch.float64))]))
    theta = torch.cat(thetas)
    data = Data(X, torch.zeros(N, 1, dtype=torch.float64))
    want = hessian.kinks(net, theta, data)
    assert torch.equal(theta.float().double(), theta) and torch.equal(X.float().double(), X)
    theta32, data32 = theta.float(), Data(X.float(), torch.zeros(N, 1))
    V = torch.randn(B, 1, theta.shape[1])

    def kernel_counts():
        inp = _fused.check_inputs(net, theta32, data32)
        p = _fused.plan(inp.spec, inp.theta, N, _fused.Mode.loss, loss=inp.loss)
        part = torch.zeros(B, p.partials, p.length)
        _core.hess(inp.spec, inp.theta, inp.X, inp.T, inp.w, inp.imp, part=part,
                   mode=_fused.Mode.loss, loss=inp.loss, kinks=True)
        return p.kinks_float64, part.sum(1)[:, p.kinks_offset].round().long()

    confirm = _fused.kink_counts
    for small in ("1", "0"):
        monkeypatch.setenv("RELUSCOPE_CPU_SMALL_NETS", small)
        small_path = small == "1" and isa != "generic"  # (no small path without AVX2)
        float64, counts = kernel_counts()
        assert float64 == small_path
        assert torch.equal(counts, want) if float64 else bool((counts > want).any())
        passes = []
        monkeypatch.setattr(_fused, "kink_counts", lambda i: passes.append(1) or confirm(i))
        inp = _fused.check_inputs(net, theta32, data32)
        with pytest.warns(hessian.KinkWarning):
            assert torch.equal(_fused.run(inp, _fused.Mode.hvp, V, kinks=True).kinks, want)
        assert bool(passes) != small_path
    assert int(want.min()) >= 1
    plan = _core.hess_plan(net.spec, B, N, 1, _fused.Mode.hvp, True, 4, loss=0)
    assert not plan.kinks_float64  # CUDA runs the general tile: a screen
    assert _core.hess_plan(net.spec, B, N, 1, _fused.Mode.hvp, False, 8).kinks_float64


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_kinks_of_a_deeper_layer(act):
    """[1, 2, 1, 1]: at x = 1, h = (1.5, 2) and the second layer's z = 2 h1 - 1.5 h2 = 0, a kink
    (flagged at that layer). Without biases: x = -1 gives z1 = (-1, -2), so for relu h = 0 for
    every theta nearby and z2 = W2 h = 0 is fixed (no kink), while leaky_relu's h != 0 makes z2
    move (z2 = 2 h1 - h2 = -0.02 + 0.02 = 0 exactly); W1 = (0, 1) at x = 1 puts the first
    layer on a kink (one sample, counted once)."""
    net = MLP([1, 2, 1, 1], act)
    f64 = dict(dtype=torch.float64)
    W = [torch.tensor([[[1.0], [2.0]]], **f64), torch.tensor([[[2.0, -1.5]]], **f64),
         torch.ones(1, 1, 1, **f64)]
    b = [torch.tensor([[0.5, 0.0]], **f64), torch.zeros(1, 1, **f64), torch.zeros(1, 1, **f64)]
    one = Data(torch.ones(1, 1, **f64), torch.zeros(1, 1, **f64))
    assert hessian.kinks(net, net.flatten(list(zip(W, b))), one).item() == 1
    free = MLP([1, 2, 1, 1], act, bias=False)
    minus = Data(-torch.ones(1, 1, **f64), torch.zeros(1, 1, **f64))
    W2 = [W[0], torch.tensor([[[2.0, -1.0]]], **f64), W[2]]
    theta = free.flatten([(w, None) for w in W2])
    assert hessian.kinks(free, theta, minus).item() == (0 if act == "relu" else 1)
    W1 = [torch.tensor([[[0.0], [1.0]]], **f64), W2[1], W2[2]]
    assert hessian.kinks(free, free.flatten([(w, None) for w in W1]), one).item() == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_kinks_are_decided_to_float64_rounding(dtype):
    """z = (1 + 2^-22) x1 - x2 = 2^-22 (2.4e-7, exact in both dtypes) at x = (1, 1) is not on the
    kink — in float32 too, whose own rounding bound (2 gamma_3 (|W| |x|) ~ 7e-7) could not tell
    the side: the flags are decided in float64, where that bound is ~1.3e-15. The same sample
    with z = 0 is."""
    net = MLP([2, 1, 1], "relu")
    x = torch.tensor([[1.0, 1.0]], dtype=dtype)
    for offset, flagged in ((2.0 ** -22, 0), (0.0, 1)):
        W1 = torch.tensor([[[1.0 + offset, -1.0]]], dtype=torch.float64)
        theta = net.flatten([(W1, torch.zeros(1, 1, dtype=torch.float64)),
                             (torch.ones(1, 1, 1, dtype=torch.float64),
                              torch.zeros(1, 1, dtype=torch.float64))]).to(dtype)
        assert hessian.kinks(net, theta, Data(x, torch.zeros(1, 1, dtype=dtype))).item() == flagged
