"""The fuzz harness's surfaces beyond "one argument mutated" (tests/fuzz.py runs them in the same
child processes and classifies them with the same outcomes):

  transform.<call>   torch composition of a differentiable call: a forward-mode dual tensor in
                     one input (``fwd_ad:<input>``), torch.func.vmap over one input
                     (``vmap:<input>``), torch.compile(fullgraph=True) around torch.func.jvp
                     (``compile_jvp:<input>``), torch.func.hessian of the loss
                     (``func_hessian``). Compared with the same transform of the torch
                     reference; a tangent dropped (None, or zeros where the reference's are not)
                     is "wrong", a clear exception is "error".
  spectrum.degenerate  extreme_eigs on operators whose extreme eigenvalues repeat (``mult=m``
                     copies of the smallest and the largest), by every method and which:
                     the k values returned must be the k extreme ones, copies included.
  spectrum.index32   hessian.index of relu-net Hessians in float32 against the same Hessians in
                     float64: a count the float64 spectrum contradicts is "wrong".
  slt.runaway        slt.llc from a critical point with step sizes up to far too large: a chain
                     that ran away must be flagged diverged; an unflagged llc beyond any
                     learning coefficient's range (|llc| > P) is "wrong".
  sweep.<damage>     a finished local sweep, one file then damaged (a shard truncated, garbled,
                     emptied or deleted; the manifest truncated, garbled, of the wrong shape);
                     read_results, summarize and a resume must give every row or raise a clear
                     error (or warn) naming the damage: fewer rows without a word is "wrong".
"""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from typing import Callable, NamedTuple

import torch

#: The first part of the engine name of every surface case.
SURFACES = ("transform", "spectrum", "slt", "sweep")


class Diff(NamedTuple):
    """A differentiable call as a function of named tensors, and its reference."""
    engine: str
    fn: Callable   # fn(**tensors)
    ref: Callable  # the same with reluscope.reference
    inputs: dict


def _diff_calls(dtype: torch.dtype, g: torch.Generator) -> list[Diff]:
    import reluscope as rs
    from reluscope import hessian, reference as R

    net = rs.MLP([3, 4, 2], "tanh")
    B, N = 2, 7
    inputs = {"theta": net.init(B, generator=g, dtype=dtype, bias_std=0.3),
              "X": torch.randn(N, 3, generator=g, dtype=dtype),
              "T": torch.randn(N, 2, generator=g, dtype=dtype),
              "weights": torch.rand(N, generator=g, dtype=dtype) + 0.1,
              "importance": torch.rand(2, generator=g, dtype=dtype) + 0.5,
              "V": torch.randn(B, net.num_params, generator=g, dtype=dtype)}

    def data(X, T, weights, importance):
        return rs.Data(X, T, weights=weights, importance=importance)

    def make(name, engine_fn, ref_fn, keys):
        def fn(**t):
            return engine_fn(net, t["theta"], *_rest(t, keys))

        def ref(**t):
            return ref_fn(net, t["theta"], *_rest(t, keys))
        return Diff(name, fn, ref, {k: inputs[k] for k in ("theta",) + keys})

    def _rest(t, keys):
        if keys == ("X",):
            return (t["X"],)
        d = data(t["X"], t["T"], t["weights"], t["importance"])
        return (d, t["V"]) if "V" in keys else (d,)

    loss_keys = ("X", "T", "weights", "importance")
    return [
        make("forward", rs.forward, R.forward, ("X",)),
        make("hessian.loss", hessian.loss, R.hessian.loss, loss_keys),
        make("hessian.value_and_grad", hessian.value_and_grad, R.hessian.value_and_grad,
             loss_keys),
        make("hessian.hvp", hessian.hvp, R.hessian.hvp, loss_keys + ("V",)),
        make("hessian.gnvp", hessian.gnvp, R.hessian.gnvp, loss_keys + ("V",)),
    ]


def _transform_mutations(call: Diff) -> list[str]:
    names = list(call.inputs)
    out = [f"fwd_ad:{n}" for n in names] + [f"vmap:{n}" for n in names]
    out += [f"compile_jvp:{n}" for n in names if n in ("theta", "X", "weights")]
    if call.engine == "hessian.loss":
        out.append("func_hessian")
    return out


def cases(seed: int, dtype: str) -> list[tuple[int, str, str, str]]:
    """The surface cases for one seed and dtype, as (seed, dtype, engine, mutation)."""
    out = []
    g = torch.Generator().manual_seed(seed)
    for c in _diff_calls(getattr(torch, dtype), g):
        out.extend((seed, dtype, f"transform.{c.engine}", m) for m in _transform_mutations(c))
    for mult in (1, 2, 5):
        for which in ("smallest", "largest", "both"):
            for method in ("dense", "lanczos", "auto"):
                out.append((seed, dtype, "spectrum.degenerate",
                            f"mult={mult}:which={which}:method={method}"))
    if dtype == "float32":
        out.append((seed, dtype, "spectrum.index32", "relu_nets"))
    for step in ("1e-4", "1e-2", "1", "1e3"):
        for pre in ("none", "rmsprop"):
            out.append((seed, dtype, "slt.runaway", f"step_size={step}:preconditioner={pre}"))
    if dtype == "float64":
        for damage in SWEEP_DAMAGES:
            for action in ("read_results", "summarize", "resume"):
                out.append((seed, dtype, f"sweep.{damage}", action))
    return out


# ---- transforms ------------------------------------------------------------------------------

def _leaves(x) -> list:
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _tangent_dropped(got, want) -> bool:
    """A tangent of None, or of zeros where the reference's is not."""
    for a, b in zip(_leaves(got), _leaves(want)):
        if a is None:
            return True
        if isinstance(b, torch.Tensor) and bool((b != 0).any()) and not bool((a != 0).any()):
            return True
    return False


def run_transform(case, same: Callable) -> tuple[str, str]:
    seed, dtype, engine, mutation = case
    g = torch.Generator().manual_seed(seed)
    call = next(c for c in _diff_calls(getattr(torch, dtype), g)
                if f"transform.{c.engine}" == engine)
    kind, _, name = mutation.partition(":")
    t = dict(call.inputs)
    tangent = torch.randn(t[name].shape, generator=g, dtype=t[name].dtype) if name else None

    def partial(f):
        return lambda x: f(**{**t, name: x})

    if kind == "func_hessian":
        got = lambda: torch.func.hessian(lambda th: call.fn(**{**t, "theta": th})[0])(t["theta"])  # noqa: E731
        want = lambda: torch.func.hessian(lambda th: call.ref(**{**t, "theta": th})[0])(t["theta"])  # noqa: E731
    elif kind == "fwd_ad":
        import torch.autograd.forward_ad as fwAD

        def got():
            with fwAD.dual_level():
                out = call.fn(**{**t, name: fwAD.make_dual(t[name], tangent)})
                return tuple(fwAD.unpack_dual(o).tangent for o in _leaves(out))
        want = lambda: _leaves(torch.func.jvp(partial(call.ref), (t[name],), (tangent,))[1])  # noqa: E731
    elif kind == "vmap":
        stacked = torch.stack([t[name], t[name] * 0.9 + 0.05])
        got = lambda: torch.func.vmap(partial(call.fn))(stacked)  # noqa: E731

        def want():
            outs = [partial(call.ref)(x) for x in stacked]
            if isinstance(outs[0], (tuple, list)):
                return tuple(torch.stack(o) for o in zip(*outs))
            return torch.stack(outs)
    elif kind == "compile_jvp":
        torch._dynamo.reset()
        jvp = torch.compile(lambda x, v: torch.func.jvp(partial(call.fn), (x,), (v,))[1],
                            fullgraph=True, backend="aot_eager")
        got = lambda: _leaves(jvp(t[name], tangent))  # noqa: E731
        want = lambda: _leaves(torch.func.jvp(partial(call.ref), (t[name],), (tangent,))[1])  # noqa: E731
    else:
        raise ValueError(f"unknown transform {mutation!r}")
    outcome = _call(got)
    if outcome[0] != "returned":
        return outcome
    result = outcome[1]
    expected = want()
    if kind in ("fwd_ad", "compile_jvp") and _tangent_dropped(result, expected):
        return "wrong", "the tangent was dropped"
    if kind in ("fwd_ad", "compile_jvp"):
        result, expected = tuple(result), tuple(expected)
    return ("ok", "") if same(result, expected) else ("wrong", "differs from the reference")


def _call(f: Callable):
    from tests.fuzz import CLEAN
    try:
        return "returned", f()
    except CLEAN as e:
        return "error", f"{type(e).__name__}: {e}"[:300]
    except Exception as e:  # noqa: BLE001 - any other type is what the harness looks for
        inner = _compiled_error(e)
        if inner:  # torch.compile wraps what an op raised while tracing: clean if that was
            return "error", f"{type(e).__name__} around {inner}"[:300]
        return "unclear", f"{type(e).__name__}: {e}"[:300]


def _compiled_error(e: Exception) -> str:
    """The clean exception (tests.fuzz.CLEAN) that torch.compile reports it got from an op while
    tracing ("... got NotImplementedError('...')"), or ""."""
    from tests.fuzz import CLEAN
    if not isinstance(e, torch._dynamo.exc.TorchDynamoException):
        return ""
    text = str(e)
    for cls in CLEAN:
        at = text.find(f"got {cls.__name__}(")
        if at >= 0:
            return text[at + 4:].split("\n")[0]
    return ""


# ---- degenerate spectra and float32 indices --------------------------------------------------

def run_degenerate(case) -> tuple[str, str]:
    """Eigenvalues {-1 x m, 0 x ..., 2 x m} in a random orthogonal basis, P = 60 (method auto is
    dense there; lanczos is forced by method)."""
    from reluscope import hessian
    seed, dtype, _, mutation = case
    opts = dict(kv.split("=") for kv in mutation.split(":"))
    m = int(opts["mult"])
    dt = getattr(torch, dtype)
    g = torch.Generator().manual_seed(seed)
    P, B, k = 60, 2, 6
    lam = torch.cat([-torch.ones(m), torch.zeros(P - 2 * m), 2 * torch.ones(m)]).to(torch.float64)
    Q = torch.linalg.qr(torch.randn(B, P, P, generator=g, dtype=torch.float64))[0]
    A = (Q * lam) @ Q.mT
    op = hessian.DenseOperator(A.to(dt))
    status, got = _call(lambda: hessian.extreme_eigs(op, k=k, which=opts["which"],
                                                     method=opts["method"],
                                                     generator=g).values)
    if status != "returned":
        return status, got
    want = {"smallest": lam[:k], "largest": lam[-k:], "both": torch.cat([lam[:k], lam[-k:]])}
    want = want[opts["which"]].expand(B, -1)
    tol = 1e-6 if dt == torch.float64 else 1e-3
    if got.shape != want.shape or not bool(((got.double() - want).abs() <= tol).all()):
        return "wrong", f"values {got.tolist()} but the extreme ones are {want[0].tolist()}"
    return "ok", ""


def run_index32(case) -> tuple[str, str]:
    """index of 40 relu-net Hessians in float32 against the Hessians of the same (float32)
    numbers computed in float64. The float64 index counts the eigenvalues below
    -10 P eps64 ||H|| (Weyl: what float64's assembly and eigensolver move; structurally zero
    eigenvalues of relu nets land inside that band): a float32 count must equal it, and a
    result with unresolved eigenvalues must bracket it."""
    import reluscope as rs
    from reluscope import hessian
    seed = case[0]
    g = torch.Generator().manual_seed(seed)
    net = rs.MLP([3, 6, 6, 1], "relu")
    theta = net.init(40, generator=g, dtype=torch.float32, bias_std=0.5)
    X, T = torch.randn(30, 3, generator=g), torch.randn(30, 1, generator=g)
    H64 = hessian.hessian(net, theta.double(), rs.Data(X.double(), T.double()))
    ev64 = torch.linalg.eigvalsh(H64)
    band = 10 * H64.shape[-1] * torch.finfo(torch.float64).eps * ev64.abs().amax(1)
    want = (ev64 < -band[:, None]).sum(1)
    status, got = _call(lambda: hessian.index(hessian.Hessian(net, theta, rs.Data(X, T))))
    if status != "returned":
        return status, got
    lo, hi = _index_bounds(got)
    bad = (lo > want) | (hi < want)
    if bool(bad.any()):
        b = int(bad.nonzero()[0])
        return "wrong", (f"{int(bad.sum())} of 40 models: e.g. model {b}: float32 index in "
                         f"[{int(lo[b])}, {int(hi[b])}] but float64's is {int(want[b])}")
    return "ok", ""


def _index_bounds(result):
    """(certainly negative, at most negative) from hessian.index's result: a tensor of counts,
    or a NamedTuple with the count and the unresolved eigenvalues beside it."""
    if isinstance(result, torch.Tensor):
        return result, result
    neg = result[0]
    return neg, neg + result.unresolved


# ---- runaway chains --------------------------------------------------------------------------

def run_runaway(case) -> tuple[str, str]:
    """llc of a deep linear network at its global minimum (slt.deep_linear_problem) with
    step sizes from sensible to absurd: flagged diverged, or |llc| <= P (no learning coefficient
    exceeds P/2; noise does not double it on 50 draws of a localised chain)."""
    from reluscope import slt
    seed, dtype, _, mutation = case
    opts = dict(kv.split("=") for kv in mutation.split(":"))
    problem = slt.deep_linear_problem([2, 2, 2], 1, dtype=getattr(torch, dtype))
    model, theta, data = problem[:3]
    g = torch.Generator().manual_seed(seed)
    pre = None if opts["preconditioner"] == "none" else opts["preconditioner"]
    status, r = _call(lambda: slt.llc(model, theta, data, chains=2, draws=50,
                                      step_size=float(opts["step_size"]), n_beta=100.0,
                                      preconditioner=pre, generator=g))
    if status != "returned":
        return status, r
    P = theta.shape[-1]
    unflagged = ~r.diverged & ~(r.llc.abs() <= P)
    if bool(unflagged.any()):
        return "wrong", f"llc {r.llc.tolist()} with diverged {r.diverged.tolist()}"
    return "ok", ""


# ---- damaged sweeps --------------------------------------------------------------------------

SWEEP_DAMAGES = ("shard_truncated", "shard_garbled", "shard_empty", "shard_deleted",
                 "manifest_truncated", "manifest_garbled", "manifest_not_a_dict",
                 "manifest_shards_missing")


def _damage(folder: str, damage: str) -> None:
    shard = os.path.join(folder, sorted(f for f in os.listdir(folder) if f.endswith(".parquet"))[1])
    manifest = os.path.join(folder, "manifest.json")
    target = shard if damage.startswith("shard") else manifest
    data = open(target, "rb").read()
    if damage == "shard_deleted":
        os.remove(target)
        return
    new = {"shard_truncated": data[:len(data) // 2], "shard_garbled": data[:8] + b"\0" * 64 +
           data[72:], "shard_empty": b"", "manifest_truncated": data[:len(data) // 2],
           "manifest_garbled": b"{\"shards\": [1, 2", "manifest_not_a_dict": b"[1, 2, 3]",
           "manifest_shards_missing": data.replace(b'"shards"', b'"sherds"')}[damage]
    with open(target, "wb") as f:
        f.write(new)


def run_sweep_damage(case) -> tuple[str, str]:
    from reluscope import sweep
    _, _, engine, action = case
    damage = engine.split(".", 1)[1]
    from tests.sweep.tasks_for_tests import noisy
    folder = tempfile.mkdtemp(prefix="fuzz-sweep-")
    try:
        plan = sweep.ShardPlan(items=20, shard_size=5, seed=1)
        sweep.run_sweep(noisy, plan, folder, progress=False)
        rows = sweep.read_results(folder).num_rows
        _damage(folder, damage)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if action == "read_results":
                status, got = _call(lambda: sweep.read_results(folder).num_rows)
            elif action == "summarize":
                status, got = _call(lambda: sum(per["n"] for per in sweep.summarize(folder).values()))
            else:
                status, got = _call(lambda: (sweep.run_sweep(noisy, plan, folder, resume=True,
                                                             progress=False),
                                             sweep.read_results(folder).num_rows)[1])
        if status == "error" and not any(n in got for n in ("manifest.json", ".parquet")):
            return "unclear", f"the error names no file: {got}"
        if status != "returned":
            return status, got
        if got == rows:
            return "ok", ""
        if caught:
            return "error", f"{got} of {rows} rows, with a warning: {caught[0].message}"[:300]
        return "wrong", f"{got} of {rows} rows without an error or a warning"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_case(case, same: Callable) -> tuple[str, str]:
    engine = case[2]
    if engine.startswith("transform."):
        return run_transform(case, same)
    if engine == "spectrum.degenerate":
        return run_degenerate(case)
    if engine == "spectrum.index32":
        return run_index32(case)
    if engine == "slt.runaway":
        return run_runaway(case)
    if engine.startswith("sweep."):
        return run_sweep_damage(case)
    raise ValueError(f"unknown surface {engine!r}")
