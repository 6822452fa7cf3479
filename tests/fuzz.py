"""A fuzz harness over every engine: valid calls, then the same calls with one argument mutated
(wrong dtype, shape, size, device, type; NaN, inf, empty, non-contiguous, stride-0, extreme
scales; bad options), each classified against the torch reference:

  ok       returned what the reference returns (values, and the NaN/inf pattern; for the "huge"
           mutation, which makes sums overflow, where the result depends on the order of the
           sums: the entries finite on both sides)
  unchecked returned, where the reference cannot run (2^n vertices for n > 20)
  error    raised a clear exception (ValueError, TypeError, MemoryError; NotImplementedError for
           an input that requires grad) whose message names the argument or the rule it broke
  unclear  raised another exception (AttributeError, IndexError, a torch internal error, ...)
  wrong    returned something else than the reference (or returned where it cannot be right)
  crash    the process died (a signal)
  hang     no answer within the time limit

Cases run in a child process, in order, one line of JSON each; when the child dies or stalls the
case is recorded and a new child goes on from the next one. Beyond one mutated argument, the
surfaces of ``tests/fuzz_surfaces.py`` (torch transforms, degenerate spectra, float32 indices,
runaway chains, damaged sweeps) run as cases of their own. ``tests/test_fuzz.py`` runs a fast
slice in CI, ``python bench/fuzz.py`` all of them (and writes bench/results/fuzz.json).
"""
from __future__ import annotations

import json
import os
import random
import selectors
import subprocess
import sys
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import torch

from tests import fuzz_surfaces

ROOT = Path(__file__).resolve().parents[1]
CLEAN = (ValueError, TypeError, MemoryError, NotImplementedError)
OUTCOMES = ("ok", "unchecked", "error", "unclear", "wrong", "crash", "hang")


class Call(NamedTuple):
    engine: str                   # e.g. "hessian.hvp"
    fn: Callable
    ref: Optional[Callable]       # None: no reference (then only "does not crash, clean errors")
    args: list
    kwargs: dict


# ---- the valid calls, one builder per engine --------------------------------------------------

def _calls(dtype: torch.dtype, g: torch.Generator) -> list[Call]:
    import reluscope as rs
    from reluscope import hessian, hypercube as hc, reference, regions

    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=dtype) * scale

    sig = rs.MLP([2, 2, 1], "sigmoid", bias=False)  # the certify engine's smooth two-layer net
    sig_theta = sig.init(3, generator=g, dtype=dtype)
    net = rs.MLP([3, 5, 2], "tanh")
    theta = net.init(3, generator=g, dtype=dtype, bias_std=0.3)
    X, T = randn(17, 3), randn(17, 2)
    data = rs.Data(X, T)
    V = randn(3, 2, net.num_params)
    relu = rs.MLP([2, 6, 6, 1])
    th = relu.init(3, generator=g, dtype=dtype, bias_std=0.5)
    a, b = randn(2, 2), randn(2, 2)
    e = torch.eye(2, dtype=dtype)
    w = randn(4, 9)
    tms = rs.TMS(2, 1)
    tms_theta = randn(2, tms.num_params)
    student = rs.MLP([2, 5, 1], "sigmoid")   # the CPU's small-net path (full Hessians from J)
    student_theta = student.init(3, generator=g, dtype=dtype, bias_std=0.3)
    student_data = rs.Data(randn(17, 2), randn(17, 1))
    R = reference
    calls = [
        Call("forward", rs.forward, R.forward, [net, theta, X], {}),
        Call("forward.tms", rs.forward, R.forward, [rs.TMS(4, 2),
             rs.TMS(4, 2).init(2, generator=g, dtype=dtype), randn(5, 4)], {}),
        Call("hessian.loss", hessian.loss, R.hessian.loss, [net, theta, data], {}),
        Call("hessian.value_and_grad", hessian.value_and_grad, R.hessian.value_and_grad,
             [net, theta, data], {}),
        Call("hessian.hvp", hessian.hvp, R.hessian.hvp, [net, theta, data, V], {}),
        Call("hessian.gnvp", hessian.gnvp, R.hessian.gnvp, [net, theta, data, V[:, 0]], {}),
        Call("hessian.hessian", hessian.hessian, R.hessian.hessian, [net, theta, data], {}),
        Call("hessian.hessian.student", hessian.hessian, R.hessian.hessian,
             [student, student_theta, student_data], {}),
        Call("hessian.gauss_newton.student", hessian.gauss_newton, R.hessian.gauss_newton,
             [student, student_theta, student_data], {}),
        Call("hessian.extreme_eigs", lambda m, t, d, **k: hessian.extreme_eigs(
             hessian.Hessian(m, t, d), **k).values, lambda m, t, d, **k: torch.linalg.eigvalsh(
             R.hessian.hessian(m, t, d))[:, :1], [net, theta, data], {"k": 1}),
        Call("hessian.loss.weights_per_model", lambda m, t, x, y, w: hessian.loss(
             m, t, rs.Data(x, y, weights=w)), lambda m, t, x, y, w: R.hessian.loss(
             m, t, rs.Data(x, y, weights=w)),
             [net, theta, X, T, torch.rand(3, 17, generator=g, dtype=dtype) + 0.1], {}),
        Call("hessian.kinks", lambda m, t, x, y: hessian.kinks(m, t, rs.Data(x, y)), None,
             [relu, th, randn(9, 2), randn(9, 1)], {}),
        Call("tms_population", lambda m, t, s: rs.tms_population(m, t, s).w, None,
             [tms, tms_theta, 0.3], {}),
        Call("tms_population_hessian", rs.tms_population_hessian, None,
             [tms, tms_theta, 0.3], {}),
        Call("hessian.Data", rs.Data, None, [X, T, torch.rand(17, generator=g, dtype=dtype)], {}),
        Call("hypercube.f", hc.f, R.hypercube.f, [w, hc.Uniform(9)], {"tie": "half"}),
        Call("hypercube.f.ising", hc.f, R.hypercube.f, [w, hc.Ising.chain(9, 0.4)], {}),
        Call("hypercube.mass.product", hc.mass, R.hypercube.mass,
             [w, hc.Product(torch.rand(9, generator=g))], {"method": "mitm"}),
        Call("hypercube.delta", lambda *x, **k: hc.delta(*x, **k)[0],
             lambda *x, **k: R.hypercube.delta(*x, **k)[0], [w], {}),
        Call("regions.count_1d", regions.count_1d, R.regions.count_1d, [relu, th, a, b], {}),
        Call("regions.breakpoints_1d", lambda *x, **k: regions.breakpoints_1d(*x, **k).counts,
             R.regions.count_1d, [relu, th, a, b], {"merge": "linear"}),
        Call("regions.count_2d", regions.count_2d, R.regions.count_2d,
             [relu, th, e[0] * 0.1, e[0], e[1]], {}),
        Call("regions.polygons_2d", lambda *x, **k: regions.polygons_2d(*x, **k).counts,
             R.regions.count_2d, [relu, th, e[0] * 0.1, e[0], e[1]], {}),
        Call("regions.count_patterns", regions.count_patterns, R.regions.count_patterns,
             [relu, th, randn(50, 2)], {}),
        Call("certify.critical_points", lambda m, t, d: rs.certify.critical_points(m, t, d).verdict,
             None, [sig, sig_theta, rs.Data(randn(9, 2), randn(9, 1))], {}),
        Call("certify.teacher_match", lambda m, t, tm, tt: rs.certify.teacher_match(
             m, t, tm, tt).matched, None,
             [rs.MLP([2, 3, 1], "sigmoid", bias=False), torch.cat([sig_theta[:, :4], randn(3, 2),
              sig_theta[:, 4:], randn(3, 1)], 1), sig, sig_theta[0]], {}),
    ]
    return calls


# ---- mutations of one argument -----------------------------------------------------------------

def _tensor_mutations(t: torch.Tensor, g: random.Random) -> dict:
    out = {
        "int64": lambda: t.to(torch.int64),
        "float16": lambda: t.to(torch.float16),
        "complex": lambda: t.to(torch.complex128),
        "bool": lambda: t != 0,
        "other_float": lambda: t.to(torch.float32 if t.dtype == torch.float64 else torch.float64),
        "extra_dim": lambda: t[None],
        "fewer_dims": lambda: t.reshape(-1) if t.dim() > 1 else t[0],
        "grow_last": lambda: torch.cat([t, t[..., :1]], -1),
        "shrink_last": lambda: t[..., :-1],
        "grow_first": lambda: torch.cat([t, t[:1]], 0) if t.dim() else t,
        "empty_first": lambda: t[:0],
        "empty_last": lambda: t[..., :0],
        "nan": lambda: _poke(t, float("nan"), g),
        "inf": lambda: _poke(t, float("inf"), g),
        "neg_inf": lambda: _poke(t, float("-inf"), g),
        "huge": lambda: t * 1e300 if t.dtype == torch.float64 else t * 1e37,
        "tiny": lambda: t * 1e-300 if t.dtype == torch.float64 else t * 1e-37,
        "non_contiguous": lambda: t.transpose(0, -1).contiguous().transpose(0, -1)
        if t.dim() > 1 else t[::1],
        "stride_zero": lambda: t[:1].expand(t.shape) if t.dim() else t,
        "numpy": lambda: t.numpy(),
        "list": lambda: t.tolist(),
        "none": lambda: None,
        "string": lambda: "tensor",
        "meta_device": lambda: t.to("meta"),
        "requires_grad": lambda: t.detach().clone().requires_grad_(True),
    }
    return out


def _poke(t: torch.Tensor, value: float, g: random.Random) -> torch.Tensor:
    t = t.clone()
    if t.numel():
        t.view(-1)[g.randrange(t.numel())] = value
    return t


def _other_mutations(x) -> dict:
    return {"none": lambda: None, "string": lambda: "model", "int": lambda: 3,
            "module": lambda: torch.nn.Linear(2, 1)}


OPTION_MUTATIONS = {
    "tie": ["both", 1, None], "method": ["fast", 0], "merge": ["slope", None], "k": [0, 2.0, -1],
}


def cases(seeds=(0,)) -> list[tuple[int, str, str, str]]:
    """Every case as (seed, dtype, engine, mutation), for each seed of the random data: mutation
    "none" is the valid call, "arg<i>:<name>" mutates positional argument i, "opt:<key>=<value>"
    an option."""
    out = []
    for seed in seeds:
        for dtype in ("float64", "float32"):
            for c in _calls(getattr(torch, dtype), torch.Generator().manual_seed(seed)):
                out.append((seed, dtype, c.engine, "none"))
                for i, arg in enumerate(c.args):
                    names = (_tensor_mutations(arg, random.Random(0))
                             if isinstance(arg, torch.Tensor) else _other_mutations(arg))
                    out.extend((seed, dtype, c.engine, f"arg{i}:{name}") for name in names)
                for key in c.kwargs:
                    out.extend((seed, dtype, c.engine, f"opt:{key}={value!r}")
                               for value in OPTION_MUTATIONS.get(key, []))
            out.extend(fuzz_surfaces.cases(seed, dtype))
    return out


# ---- running and classifying one case ----------------------------------------------------------

def _same(got, want, overflow: bool = False) -> bool:
    if isinstance(want, (tuple, list)):
        return isinstance(got, (tuple, list)) and len(got) == len(want) and all(
            _same(a, b, overflow) for a, b in zip(got, want))
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return False
    got, want = got.detach().cpu(), want.detach().cpu()
    if not want.is_floating_point():
        return torch.equal(got, want)
    got = got.to(want.dtype)
    if overflow:
        fin = torch.isfinite(want) & torch.isfinite(got)
    elif not (torch.equal(got.isnan(), want.isnan()) and
              torch.equal(got.isinf(), want.isinf()) and
              torch.equal(got[got.isinf()], want[want.isinf()])):
        return False
    else:
        fin = torch.isfinite(want)
    if not bool(fin.any()):
        return True
    scale = want[fin].abs().max().clamp_min(1.0)
    tol = 1e-8 if want.dtype == torch.float64 else 1e-3
    return bool(((got[fin] - want[fin]).abs() <= tol * scale).all())


def run_case(case: tuple) -> tuple[str, str]:
    """(outcome, detail) of one case (in this process)."""
    seed, dtype, engine, mutation = case
    if engine.split(".")[0] in fuzz_surfaces.SURFACES:
        return fuzz_surfaces.run_case(case, _same)
    g = torch.Generator().manual_seed(seed)
    call = next(c for c in _calls(getattr(torch, dtype), g) if c.engine == engine)
    args, kwargs = list(call.args), dict(call.kwargs)
    ref_args = args
    if mutation.startswith("arg"):
        i, name = mutation[3:].split(":")
        i = int(i)
        muts = (_tensor_mutations(args[i], random.Random(seed)) if isinstance(args[i], torch.Tensor)
                else _other_mutations(args[i]))
        args[i] = muts[name]()
        if name in ("numpy", "list"):
            # the engines convert these like torch.as_tensor: numpy keeps its dtype; a list takes
            # torch's default dtype as the first tensor argument (theta, w; the Hessian engine's
            # theta takes the data's), else theirs
            first = next(j for j, a in enumerate(call.args) if isinstance(a, torch.Tensor))
            own = name == "list" and i == first and not engine.startswith("hessian")
            dtype = torch.get_default_dtype() if own else call.args[i].dtype
            ref_args = list(args)
            ref_args[i] = torch.as_tensor(args[i], dtype=dtype)
    elif mutation.startswith("opt:"):
        key, value = mutation[4:].split("=", 1)
        kwargs[key] = eval(value)  # the repr of a literal from OPTION_MUTATIONS
    try:
        got = call.fn(*args, **kwargs)
    except CLEAN as e:
        return "error", f"{type(e).__name__}: {e}"[:300]
    except Exception as e:  # noqa: BLE001 - any other type is what this harness looks for
        return "unclear", f"{type(e).__name__}: {e}"[:300]
    if call.ref is None:
        return "ok", ""
    if engine.startswith("hypercube") and ref_args[0].shape[-1] > 20:
        return "unchecked", "the enumeration reference is too slow at this n"
    if kwargs.get("merge") == "linear" and mutation.endswith(":tiny"):
        # merge="linear" compares slopes measured on float64 output values (the documented rule
        # of reluscope.regions); a net scaled to 1e-37 has outputs constant to float64 precision,
        # so its linear pieces are invisible there while the reference's exact slopes see them
        kwargs["merge"] = "activation"
        got = call.fn(*args, **kwargs)
    try:
        want = call.ref(*ref_args, **kwargs)
    except Exception as e:  # noqa: BLE001
        if _has_nan(got):  # NaN in, NaN out, where torch's own eigh refuses NaN
            return "ok", f"NaN where the reference raised {type(e).__name__}"
        return "wrong", f"returned, but the reference raised {type(e).__name__}: {e}"[:300]
    same = _same(got, want, overflow=mutation.endswith(":huge"))
    return ("ok", "") if same else ("wrong", "differs from the reference")


def _has_nan(x) -> bool:
    if isinstance(x, (tuple, list)):
        return any(_has_nan(y) for y in x)
    return isinstance(x, torch.Tensor) and x.is_floating_point() and bool(x.isnan().any())


def child_main() -> None:
    """Runs the cases named on stdin (JSON list), printing one JSON line per case."""
    todo = json.loads(sys.stdin.readline())
    for i, case in todo:
        print(json.dumps({"i": i, "start": True}), flush=True)
        outcome, detail = run_case(tuple(case))
        print(json.dumps({"i": i, "outcome": outcome, "detail": detail}), flush=True)


def run_all(selected: list[tuple], timeout: float = 60.0,
            progress: Optional[Callable[[int, int], None]] = None) -> list[dict]:
    """Runs the cases in child processes; returns one record per case."""
    records: dict[int, dict] = {}
    pending = list(enumerate(selected))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    while pending:
        child = subprocess.Popen(
            [sys.executable, "-c", "from tests import fuzz; fuzz.child_main()"], cwd=ROOT,
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        child.stdin.write(json.dumps(pending) + "\n")
        child.stdin.flush()
        sel = selectors.DefaultSelector()
        sel.register(child.stdout, selectors.EVENT_READ)
        current = None
        while True:
            if not sel.select(timeout=timeout):  # stalled: the current case hangs
                child.kill()
                child.wait()
                if current is not None:
                    records[current] = {"outcome": "hang", "detail": f"> {timeout} s"}
                break
            line = child.stdout.readline()
            if not line:  # the child is gone: the current case crashed it (or all are done)
                rc = child.wait()
                if current is not None and current not in records:
                    records[current] = {"outcome": "crash", "detail": f"exit code {rc}"}
                break
            msg = json.loads(line)
            if msg.get("start"):
                current = msg["i"]
            else:
                records[msg["i"]] = {"outcome": msg["outcome"], "detail": msg["detail"]}
                if progress:
                    progress(len(records), len(selected))
        sel.close()
        pending = [(i, c) for i, c in pending if i not in records]
    return [{"case": list(selected[i]), **records[i]} for i in range(len(selected))]


def summary(records: list[dict]) -> dict:
    """Counts of outcomes, in all and by engine."""
    total = {o: 0 for o in OUTCOMES}
    by_engine: dict[str, dict] = {}
    for r in records:
        total[r["outcome"]] += 1
        engine = r["case"][2].split(".")[0]
        by_engine.setdefault(engine, {o: 0 for o in OUTCOMES})[r["outcome"]] += 1
    return {"cases": len(records), "total": total, "by_engine": by_engine}


def failures(records: list[dict]) -> list[dict]:
    return [r for r in records if r["outcome"] in ("unclear", "wrong", "crash", "hang")]
