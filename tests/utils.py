"""Helpers shared by the tests: device and dtype lists, the tolerance table and the one comparison
every kernel-vs-reference test uses (``assert_matches_reference``). Exact identities are checked
with ``torch.equal`` (bitwise) or ``torch.testing.assert_close`` with the bound derived beside
them."""
from __future__ import annotations

import signal

import pytest
import torch
import torch.autograd.forward_ad as fwAD

DTYPES = [torch.float32, torch.float64]


def default_sigint() -> None:
    """preexec_fn of the children that Ctrl-C tests interrupt: SIGINT back to its default, so
    Python installs its KeyboardInterrupt handler there even when the test run itself was
    started in the background of a shell without job control (which sets SIGINT to ignored for
    everything it starts, children included)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: Devices a test runs on; the CUDA case carries the ``cuda`` marker (skipped without a GPU).
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
#: Values of RELUSCOPE_CPU_ISA: each caps the compiled vector variant the lane-tiled CPU launchers
#: run (csrc/common/cpu_isa.h), so one machine tests every variant it can execute.
CPU_ISAS = ["generic", "avx2", "avx512"]

#: Largest max|got - want| / max(1, max|want|) allowed, by kind of computation and dtype.
TOLERANCE = {
    # forward passes: a few operations per output
    "elementwise": {torch.float32: 1e-5, torch.float64: 1e-12},
    # exact hypercube sums: accumulated in float64, probabilities and w in the call's dtype
    "hypercube": {torch.float32: 2e-5, torch.float64: 1e-12},
    # sums over the data: losses, gradients, curvature products, Hessians
    "reduction": {torch.float32: 1e-4, torch.float64: 1e-10},
}


def max_rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got - want| / max(1, max |want|) (0 for empty tensors)."""
    if want.numel() == 0:
        return 0.0
    scale = max(1.0, want.abs().max().item())
    return (got.to(want.device, want.dtype) - want).abs().max().item() / scale


def assert_matches_reference(got, want, *, kind: str = "elementwise", factor: float = 1.0):
    """Kernel result vs reference. Floating tensors: shapes equal and max_rel_err within
    factor * TOLERANCE[kind][dtype] (the dtype of ``want``); integer and bool tensors: equal;
    tuples and lists: element by element."""
    if isinstance(got, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_matches_reference(g, w, kind=kind, factor=factor)
        return
    assert tuple(got.shape) == tuple(want.shape), (tuple(got.shape), tuple(want.shape))
    if not want.is_floating_point():
        assert torch.equal(got.cpu(), want.cpu())
        return
    err, tol = max_rel_err(got, want), factor * TOLERANCE[kind][want.dtype]
    assert err <= tol, f"max relative error {err:.3g} > {tol:.3g}"


def to_device(device: str, *tensors):
    """The tensors (None kept) on device."""
    return tuple(None if t is None else t.to(device) for t in tensors)


def random_problem(model, B: int, N: int, dtype: torch.dtype, *, per_model: bool = False,
                   weighted: bool = False, importance: bool = False, seed: int = 0,
                   device: str = "cpu", loss: str = "mse", labels: bool = False):
    """theta (B, P) and a random ``reluscope.Data`` (shared or per-model inputs and targets,
    optional sample weights — weighted="per_model": (B, N), one row per model — and output
    importance) for model, on device. Targets by loss: normal
    (mse), probabilities (cross_entropy; integer class labels when ``labels``), uniform in
    [0, 1] (bce_with_logits)."""
    import reluscope as rs

    g = torch.Generator().manual_seed(seed)
    theta = model.init(B, generator=g, dtype=dtype, bias_std=0.3)
    shape = (B, N) if per_model else (N,)
    X = torch.randn(*shape, model.d_in, generator=g, dtype=dtype)
    if loss == "cross_entropy" and labels:
        T = torch.randint(0, model.d_out, shape, generator=g)
    elif loss == "cross_entropy":
        T = torch.softmax(2 * torch.randn(*shape, model.d_out, generator=g, dtype=dtype), -1)
    elif loss == "bce_with_logits":
        T = torch.rand(*shape, model.d_out, generator=g, dtype=dtype)
    else:
        T = torch.randn(*shape, model.d_out, generator=g, dtype=dtype)
    w = (torch.rand(B, N, generator=g, dtype=dtype) if weighted == "per_model" else
         torch.rand(N, generator=g, dtype=dtype) if weighted else None)
    u = torch.rand(model.d_out, generator=g, dtype=dtype) + 0.5 if importance else None
    theta, X, T, w, u = to_device(device, theta, X, T, w, u)
    return theta, rs.Data(X, T, w, u, loss=loss)


def data_on(data, device: str):
    """A copy of a ``reluscope.Data`` on another device."""
    import reluscope as rs

    return rs.Data(*to_device(device, data.X, data.T, data.weights, data.importance),
                   loss=data.loss)


def jvp_ways(fn, primals, tangents):
    """Two ways to fn's tangent (callables): forward_ad dual tensors, and torch.func.jvp."""
    def by_func():
        return torch.func.jvp(fn, primals, tangents)[1]

    def by_dual():
        with fwAD.dual_level():
            out = fn(*(fwAD.make_dual(p, t) for p, t in zip(primals, tangents)))
            outs = out if isinstance(out, tuple) else (out,)
            dual = tuple(fwAD.unpack_dual(o).tangent for o in outs)
        return dual if isinstance(out, tuple) else dual[0]

    return by_dual, by_func
