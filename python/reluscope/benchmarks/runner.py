"""Runs the benchmark suites (``reluscope bench``, ``bench/run.py``): their registry, the command
line arguments, and ``main``, which runs the chosen suites, prints a table and writes JSON."""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from typing import Optional, Sequence

from .harness import Result, fmt_time, print_table, write_json

#: Suite name -> module under reluscope.benchmarks.
SUITES = {"forward": "forward", "hessian": "hessian", "autograd": "autograd", "slt": "slt",
          "hypercube": "hypercube", "regions": "regions", "certify": "certify",
          "critical-points": "critical_points", "ntk": "ntk", "gd": "gd", "moments": "moments",
          "cpu_sharing": "cpu_sharing"}


def run_suites(names: Sequence[str], device: str, quick: bool) -> list[Result]:
    """Every case of the named suites; a line on stderr as each suite starts and each case ends
    (its times and the seconds since the suite started), so a long run shows where it is."""
    results: list[Result] = []
    for name in names:
        module = importlib.import_module(f"{__package__}.{SUITES[name]}")
        print(f"[bench] {name} on {device}{' (quick)' if quick else ''} ...", file=sys.stderr,
              flush=True)
        t0 = time.perf_counter()
        for r in module.run(device, quick):
            results.append(r)
            print(f"[bench]   {r.name} ({r.dtype}): ours {fmt_time(r.ours_s)}, reference "
                  f"{fmt_time(r.reference_s)} [{time.perf_counter() - t0:.0f} s]",
                  file=sys.stderr, flush=True)
    return results


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suites", nargs="*", metavar="SUITE", default=[],
                   help=f"suites to run: {', '.join(SUITES)} (default: all)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--quick", action="store_true", help="fewer repeats, smaller sizes")
    p.add_argument("--json", default="bench-results.json", help="where to write the JSON record")


def main(argv: Optional[Sequence[str]] = None, args: Optional[argparse.Namespace] = None) -> int:
    if args is None:
        p = argparse.ArgumentParser(prog="reluscope bench", description=__doc__)
        add_arguments(p)
        args = p.parse_args(argv)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        raise ValueError(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    if args.device not in ("cpu", "cuda"):
        raise ValueError(f"--device must be cpu or cuda, got {args.device!r}")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA GPU")
    results = run_suites(args.suites or list(SUITES), args.device, args.quick)
    print_table(results)
    write_json(results, args.json)
    print(f"[bench] wrote {args.json}", file=sys.stderr)
    return 0
