"""Hypercube benchmarks: brute-force f vs the torch enumeration reference; meet in the middle and
delta at sizes where brute force is infeasible (reference None there, said in extra)."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import hypercube as hc
from .. import reference
from ..info import config
from .harness import Result, compare, median_time


def _rate(r: Result, key: str, count: float, device: str) -> Result:
    """extra[key] = count / time, and per core on the CPU (the pool's threads)."""
    r.extra[key] = count / r.ours_s
    if not device.startswith("cuda"):
        r.extra[key + "_per_core"] = count / r.ours_s / config()["cpu_threads"]
    return r


def _infeasible(name: str, fn, device: str, sizes: dict, repeats: int, why: str) -> Result:
    """Our time only (one warm-up-free series): the reference cannot run at this size."""
    t = median_time(fn, device, repeats=repeats, warmup=0)
    return Result("hypercube", name, device, "float64", sizes, t, None, {"reference": why})


def run(device: str, quick: bool) -> Iterator[Result]:
    g = torch.Generator().manual_seed(0)
    reps = 3 if quick else 5
    cuda = device.startswith("cuda")
    # brute force, every vertex visited: n=20 B=64 (CPU), n=30 B=16 (CUDA)
    for n, B in ([(20, 64)] + ([(30, 16)] if cuda else [])):
        w = torch.randn(B, n, generator=g, dtype=torch.float64).to(device)
        for name, p in (("uniform", hc.Uniform(n)), ("ising-chain", hc.Ising.chain(n, 0.5))):
            ref = (lambda p=p, w=w: reference.hypercube.f(w, p)) if n <= 20 else None
            r = compare("hypercube", f"f brute {name} n={n} B={B}",
                        lambda p=p, w=w: hc.f(w, p, method="brute"), ref, device, torch.float64,
                        {"n": n, "B": B}, repeats=reps)
            if ref is None:
                r.extra["reference"] = "torch enumeration infeasible at this n"
            yield _rate(r, "vertex_w_per_s", B * 2.0 ** n, device)
    # meet in the middle, uniform weights: brute force infeasible (2^40, 2^48 vertices per w)
    sizes = [(40, 64), (48, 64)] + ([(48, 1024)] if cuda else [])
    for n, B in sizes:
        if quick and n == 48 and not cuda:
            B = 8
        w = torch.randn(B, n, generator=g, dtype=torch.float64).to(device)
        r = _infeasible(f"f mitm uniform n={n} B={B}",
                        lambda w=w, n=n: hc.f(w, hc.Uniform(n), method="mitm"), device,
                        {"n": n, "B": B}, 1 if n >= 48 else reps,
                        f"brute force and torch enumeration infeasible: 2^{n} vertices per w")
        _rate(r, "half_sums_w_per_s", B * 2.0 ** (n // 2 + 1), device)
        yield _rate(r, "equiv_vertex_w_per_s", B * 2.0 ** n, device)
    for n, B in ((40, 64), (48, 8 if quick and not cuda else 64)):
        w = torch.randn(B, n, generator=g, dtype=torch.float64).to(device)
        r = _infeasible(f"delta mitm n={n} B={B}", lambda w=w: hc.delta(w, method="mitm"),
                        device, {"n": n, "B": B}, 1 if n >= 48 else reps,
                        f"brute force and torch enumeration infeasible: 2^{n} vertices per w")
        yield _rate(r, "half_sums_w_per_s", B * 2.0 ** (n // 2 + 1), device)
