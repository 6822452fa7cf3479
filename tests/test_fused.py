"""reluscope._fused (the fused kernel driver) and the C++ launch plan it reads (_core.hess_plan)."""
import functools

import pytest
import torch

from reluscope import MLP, TMS, Data
from reluscope import hessian
from reluscope._ext import _core
from reluscope import _fused
from tests.hessian.test_products import matches_reference
from tests.utils import DEVICES, DTYPES, assert_matches_reference, random_problem

Mode = _core.HessMode


def test_plan_layout():
    """[loss | kinks | gradient | K products]: offsets and length follow the mode."""
    spec = MLP([2, 5, 1]).spec
    P = spec.n_params
    loss = _core.hess_plan(spec, 10, 100, 0, Mode.loss, False, 8)
    grad = _core.hess_plan(spec, 10, 100, 0, Mode.grad, False, 8)
    hvp = _core.hess_plan(spec, 10, 100, 3, Mode.hvp, False, 8)
    assert loss.length == 2 and loss.kinks_offset == 1 and loss.workspace == 0
    assert (grad.grad_offset, grad.length) == (2, 2 + P)
    assert (hvp.products_offset, hvp.length) == (2, 2 + 3 * P)
    with pytest.raises(ValueError, match="unknown mode"):
        _core.hess_plan(spec, 1, 1, 0, 7, False, 8)


def test_plan_chunks_and_workspace():
    spec = MLP([2, 5, 1]).spec
    assert _core.hess_plan(spec, 64, 10_000, 0, Mode.loss, False, 8).chunks == 1
    few = _core.hess_plan(spec, 1, 100_000, 0, Mode.loss, False, 8)
    assert few.chunks == 64  # never from the thread count: the same sums for any threads
    assert _core.hess_plan(spec, 1, 64, 0, Mode.loss, False, 8).chunks == 1
    # a call that runs on the calling thread (3e5 operations, hessian_flops.h): one chunk
    assert _core.hess_plan(spec, 1, 10_000, 0, Mode.loss, False, 8).chunks == 1
    assert _core.hess_plan(spec, 1, 10_000, 1, Mode.hvp, False, 8).chunks == 64
    assert few.partials == few.chunks  # the CPU writes one row per (model, chunk)
    cuda = _core.hess_plan(spec, 3, 2000, 1, Mode.hvp, True, 8)
    assert cuda.chunks == 4 and cuda.workspace > 0 and cuda.workspace % 128 == 0
    assert cuda.partials == 4 * 4  # one row per warp of the 128-thread blocks
    one_block = _core.hess_plan(spec, 3, 2000, 1, Mode.hvp, True, 8, max_workspace_bytes=1)
    assert one_block.workspace * 12 == cuda.workspace  # 3 models x 4 chunks: 12 blocks
    P = spec.n_params
    assert _core.hess_plan(spec, 1000, 100, 0, Mode.hvp, False, 8).max_directions == \
        (1 << 25) // (1000 * P)


def test_chunked_cpu_sums_equal_one_chunk():
    """Few models are split into data chunks on the CPU; summing the chunks gives the loss of
    the whole data (to rounding)."""
    net = MLP([2, 5, 1], "tanh")
    theta, data = random_problem(net, 1, 30_000, torch.float64)
    assert _fused.plan(net.spec, theta, data.N, Mode.loss).chunks > 1
    split = hessian.loss(net, theta, data)
    whole = hessian.loss(net, theta.expand(64, -1).contiguous(), data)
    torch.testing.assert_close(split.expand(64), whole, rtol=1e-14, atol=0)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_task_loop_and_small_workspace(dtype, monkeypatch):
    """More (model, chunk) tasks than blocks (grid-stride loop), then a workspace budget that
    allows a single block for everything."""
    net = MLP([2, 5, 1], "relu")
    theta, data = random_problem(net, 600, 2000, dtype, weighted=True, importance=True,
                                 device="cuda")
    V = torch.randn(600, net.num_params, dtype=dtype)
    matches_reference(net, theta, data, [V], dense=False, factor=10)
    monkeypatch.setattr(_core, "hess_plan", functools.partial(_core.hess_plan,
                                                              max_workspace_bytes=1))
    matches_reference(net, theta[:7], data, [V[:7]], factor=10)
    tms = TMS(6, 2)
    matches_reference(tms, *random_problem(tms, 3, 300, dtype, device="cuda"),
                      [torch.randn(3, tms.num_params, dtype=dtype)], factor=10)


def _gathered(t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """t's rows rows[b] for each network b: t (D, k) shared or (B, D, k) per network."""
    if t.dim() == 2:
        return t[rows]
    return torch.gather(t, 1, rows[..., None].expand(-1, -1, t.shape[2]))


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_model", [False, True])
def test_rows_read_in_place_equal_the_gathered_minibatch(per_model, dtype, device):
    """rows (B, m): the kernel reads the samples rows[b] of X and T in place. Every mode (loss,
    gradient with input gradients, hvp with its kink count) gives the same bits as the call on
    the gathered copies X[rows], T[rows] (the same samples in the same order), with weights per
    minibatch sample shared or per network, and with repeated rows and fewer or more samples
    than the data has."""
    net = MLP([3, 6, 2], "relu")
    theta, data = random_problem(net, 5, 40, dtype, per_model=per_model, device=device)
    inp = _fused.check_inputs(net, theta, data)
    g = torch.Generator().manual_seed(1)
    V = torch.randn(5, 2, net.num_params, generator=g, dtype=dtype).to(device)
    for m in (7, 33, 100):
        rows = torch.randint(40, (5, m), generator=g).to(device)
        for w in (torch.rand(m, generator=g, dtype=dtype).to(device),
                  torch.rand(5, m, generator=g, dtype=dtype).to(device)):
            Xg, Tg = _gathered(inp.X, rows), _gathered(inp.T, rows)
            for mode, extra in ((Mode.loss, {}), (Mode.grad, {"dx": True}),
                                (Mode.hvp, {"V": V, "kinks": dtype == torch.float64})):
                ours = _fused.run(inp._replace(w=w), mode, rows=rows, **extra)
                want = _fused.run(inp._replace(X=Xg, T=Tg, w=w), mode, **extra)
                for a, b in zip(ours, want):
                    assert (a is None) == (b is None) and (a is None or torch.equal(a, b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_shared_data_read_feature_major_equal_per_network_copies(dtype):
    """Data shared by all networks are copied feature-major once per call (CPU launcher), per
    network data are read in place: both give the same bits in every mode, with one and several
    input and target features, and with fewer samples than a tile."""
    for widths in ([3, 6, 2], [1, 4, 1], [5, 3, 3]):
        net = MLP(widths, "tanh")
        for N in (40, 7):
            theta, data = random_problem(net, 4, N, dtype)
            inp = _fused.check_inputs(net, theta, data)
            assert inp.X.dim() == 2 and inp.T.dim() == 2
            per_net = inp._replace(X=inp.X.expand(4, -1, -1).contiguous(),
                                   T=inp.T.expand(4, -1, -1).contiguous())
            V = torch.randn(4, 3, net.num_params, dtype=dtype)
            for mode, extra in ((Mode.loss, {}), (Mode.grad, {"dx": True}),
                                (Mode.hvp, {"V": V})):
                ours, want = _fused.run(inp, mode, **extra), _fused.run(per_net, mode, **extra)
                for a, b in zip(ours, want):
                    assert (a is None) == (b is None) and (a is None or torch.equal(a, b))


def test_rows_errors():
    """A row outside the data, a row table of the wrong shape or dtype, and float32 kink counts
    of a minibatch are errors, never a read past X."""
    net = MLP([3, 6, 2], "relu")
    theta, data = random_problem(net, 2, 10, torch.float32)
    inp = _fused.check_inputs(net, theta, data)
    w = torch.ones(4)
    run = functools.partial(_fused.run, inp._replace(w=w), Mode.grad)
    for bad in (10, -1):
        rows = torch.zeros(2, 4, dtype=torch.int64)
        rows[1, 3] = bad
        with pytest.raises(ValueError, match="outside the 10 rows"):
            run(rows=rows)
    with pytest.raises(ValueError, match="rows has size|rows must be"):
        run(rows=torch.zeros(3, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="rows must be"):
        run(rows=torch.zeros(8, dtype=torch.int64))
    with pytest.raises(ValueError, match="wrong dtype"):
        run(rows=torch.zeros(2, 4, dtype=torch.int32))
    with pytest.raises(ValueError, match="weights"):
        _fused.run(inp._replace(w=torch.ones(5)), Mode.grad,
                   rows=torch.zeros(2, 4, dtype=torch.int64))
    empty = _fused.run(inp._replace(w=torch.ones(0)), Mode.grad,
                       rows=torch.zeros(2, 0, dtype=torch.int64))   # no sample
    assert (empty.loss == 0).all() and (empty.grad == 0).all()
    with pytest.raises(ValueError, match="float64 only"):
        _fused.run(inp._replace(w=w), Mode.hvp, V=torch.ones(2, 1, net.num_params),
                   rows=torch.zeros(2, 4, dtype=torch.int64))


def test_param_layers():
    """The layer of each parameter (theta = [W_0, b_0, W_1, b_1, ...]); None with tied weights."""
    assert _fused.param_layers(MLP([2, 5, 1]).spec) == [0] * 15 + [1] * 6
    assert _fused.param_layers(MLP([3, 4, 2], bias=False).spec) == [0] * 12 + [1] * 8
    assert _fused.param_layers(TMS(4, 2).spec) is None   # W and W^T read the same parameters


UNIT_MODELS = [([2, 5, 1], "sigmoid", {}), ([2, 6, 3], "relu", {}),
               ([3, 9, 10, 2], "softplus", {"bias": False}),          # 2 x 2 slot blocks (>= 8 in)
               ([3, 4, 6, 2], "tanh", {"parameterization": "ntk"})]   # scaled weights


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("widths,act,kw", UNIT_MODELS, ids=lambda a: str(a))
def test_unit_directions_give_the_upper_triangle_of_the_products(widths, act, kw, dtype, device):
    """run(units=(first, K)) = the products with e_first ... e_{first+K-1}, but each column p
    holds only the entries q of layers above p's, or of p's with q >= p (the rest exactly 0).
    The entries it holds are the general products' sums over the data with each sample's term
    associated differently (s_p times the neuron's pass instead of the pass from s_p): the
    tolerance of sums over the data ("reduction")."""
    model = MLP(widths, act, **kw)
    theta, data = random_problem(model, 3, 40, dtype, device=device, weighted=True)
    inp = _fused.check_inputs(model, theta, data)
    P = model.num_params
    layer = torch.tensor(_fused.param_layers(model.spec), device=device)
    idx = torch.arange(P, device=device)
    kept = (layer > layer[:, None]) | ((layer == layer[:, None]) & (idx >= idx[:, None]))
    for mode in (Mode.hvp, Mode.gnvp):
        eye = torch.eye(P, dtype=dtype, device=device)
        general = _fused.run(inp, mode, eye, kinks=False).products
        units = _fused.run(inp, mode, None, units=(0, P), kinks=False).products
        assert bool((units[:, ~kept] == 0).all())
        assert_matches_reference(units[:, kept], general[:, kept], kind="reduction")
        part = _fused.run(inp, mode, None, units=(2, P - 3), kinks=False).products
        assert torch.equal(part, units[:, 2:P - 1])


def test_unit_direction_errors():
    """Unit directions with tied weights, beside V, past P or outside the product modes are
    errors."""
    net = MLP([2, 3, 1])
    theta, data = random_problem(net, 2, 10, torch.float64)
    inp = _fused.check_inputs(net, theta, data)
    P = net.num_params
    with pytest.raises(ValueError, match="no tied weights"):
        tms = TMS(4, 2)
        t_theta, t_data = random_problem(tms, 2, 10, torch.float64)
        _fused.run(_fused.check_inputs(tms, t_theta, t_data), Mode.hvp, units=(0, 1))
    with pytest.raises(ValueError, match="take no V"):
        _fused.run(inp, Mode.hvp, torch.zeros(2, 1, P, dtype=torch.float64), units=(0, 1))
    with pytest.raises(ValueError, match="past the"):
        _fused.run(inp, Mode.hvp, units=(P - 1, 2))
    with pytest.raises(ValueError, match="negative sizes"):
        _fused.run(inp, Mode.hvp, units=(0, -1))
    with pytest.raises(ValueError, match="needed exactly in the hvp/gnvp modes"):
        _fused.run(inp, Mode.grad, units=(0, 1))


def test_one_inputs_object_in_and_owned_tensors_out():
    """run takes the Inputs of check_inputs (a call at other parameters is inp._replace), nothing
    else; every tensor it returns owns its storage (no caller must clone)."""
    net = MLP([3, 6, 2], "tanh")
    theta, data = random_problem(net, 3, 20, torch.float64)
    inp = _fused.check_inputs(net, theta, data)
    assert inp.spec is net.spec and inp.model is net and not inp.single
    with pytest.raises(TypeError, match="validated Inputs"):
        _fused.run(tuple(inp), Mode.grad)
    moved = _fused.run(inp._replace(theta=2 * theta), Mode.grad)
    assert torch.equal(moved.loss, hessian.loss(net, 2 * theta, data))
    V = torch.randn(3, 2, net.num_params, dtype=torch.float64)
    sums = _fused.run(inp, Mode.hvp, V)
    tensors = [t for t in (sums.loss, sums.grad, sums.products, sums.kinks) if t is not None]
    assert len(tensors) == 3
    for t in tensors:
        assert t._base is None and t.untyped_storage().nbytes() == t.numel() * t.element_size()


@pytest.mark.parametrize("act, calls", [("sigmoid", [False]), ("relu", [True])])
def test_kink_counts_take_a_pass_only_where_a_kink_exists(monkeypatch, act, calls):
    """A float32 HVP flags the samples near a kink in its own pass, and would confirm them by a
    float64 loss pass (kink_counts) for the models it flags — none here; a smooth network's
    counts are zeros without any flags."""
    seen = []
    real = _core.hess
    monkeypatch.setattr(_core, "hess", lambda *a, **k: seen.append(k["kinks"]) or real(*a, **k))
    model = MLP([3, 4, 2], act)
    theta, data = random_problem(model, 5, 7, torch.float32)
    inp = _fused.check_inputs(model, theta, data)
    V = torch.randn(5, 2, model.num_params)
    sums = _fused.run(inp, Mode.hvp, V)
    assert seen == calls and sums.kinks.tolist() == [0] * 5
    assert _fused.kink_counts(inp).tolist() == [0] * 5


@pytest.mark.parametrize("small", ["0", "1"])
def test_float32_kink_screen_gives_the_float64_counts(small, monkeypatch):
    """A float32 HVP's kink counts are the float64 pass's (kink_counts on every model): on the
    general tile (RELUSCOPE_CPU_SMALL_NETS=0, and CUDA) the float32 flags screen, and only the
    flagged models get the float64 pass; the CPU's small-net path decides its flags in float64
    itself (its plan's kinks_float64), with no pass. Model m's hidden neuron 0 is put within
    float32 rounding of its kink at sample m (its bias rounded from -W_0 x_m: |z| ~ 1e-8, flagged
    in float32, not in float64); model 4 has an exact kink (x = 0, bias 0); model 5 none."""
    monkeypatch.setenv("RELUSCOPE_CPU_SMALL_NETS", small)
    net = MLP([2, 4, 1], "relu")
    theta = net.init(6, dtype=torch.float32, generator=torch.Generator().manual_seed(3))
    X = torch.randn(20, 2, generator=torch.Generator().manual_seed(4))
    X[4] = 0
    theta[:, 8:12] = torch.randn(6, 4, generator=torch.Generator().manual_seed(5))  # biases
    W = theta[:, :8].reshape(6, 4, 2)   # layer 0's weights, then its biases
    for m in range(4):
        theta[m, 8] = -(W[m, 0].double() @ X[m].double()).float()
    theta[4, 8] = 0
    data = Data(X, X[:, :1].sin())
    inp = _fused.check_inputs(net, theta, data)
    real, seen = _fused.kink_counts, []
    monkeypatch.setattr(_fused, "kink_counts", lambda i: seen.append(i.theta.shape[0]) or real(i))
    with pytest.warns(_fused.KinkWarning):
        counts = _fused.run(inp, Mode.hvp, torch.randn(6, 1, net.num_params)).kinks
    want = real(inp)
    assert torch.equal(counts, want) and want.tolist()[4:] == [1, 0]
    in_float64 = _fused.plan(net.spec, theta, 20, Mode.hvp, 1, inp.loss).kinks_float64
    assert small == "1" or not in_float64
    assert seen == ([] if in_float64 else [5])  # else models 0-4 screened, 0-3 cleared
