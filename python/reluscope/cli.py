"""The ``reluscope`` command: ``info``, ``bench``, ``reproduce``, ``sweep``."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .experiments import EXPERIMENTS


class _Parser(argparse.ArgumentParser):
    """Bad arguments give one line on stderr and exit code 2 (no usage dump, no traceback)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _Parser(prog="reluscope", description="reluscope command line")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("info", help="version, torch, compiled backends, CUDA architectures, threads")
    from .benchmarks import add_arguments as bench_arguments

    bench_arguments(sub.add_parser("bench", help="kernel vs torch reference microbenchmarks"))
    rep = sub.add_parser("reproduce", help="the seeds' experiments end to end: tables, plots, JSON")
    rep.add_argument("experiment", choices=["all", *EXPERIMENTS])
    rep.add_argument("--quick", action="store_true", help="small sizes (minutes on a CPU)")
    rep.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    rep.add_argument("--out", default="reluscope-out", help="output folder (default reluscope-out)")
    rep.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    from .sweep.cli import add_arguments as sweep_arguments

    sweep_arguments(sub.add_parser("sweep", help="a task over many networks in shards, on one "
                                                 "process or a Ray cluster, resumable"))
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            from .info import show_config

            show_config()
            return 0
        if args.command == "bench":
            from .benchmarks import main as bench_main

            return bench_main(args=args)
        if args.command == "reproduce":
            from .experiments import check_requirements, run

            check_requirements(args.device, args.out)
            names = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
            return 0 if run(names, args.quick, args.device, args.out, args.seed) else 1
        if args.command == "sweep":
            from .sweep.cli import main as sweep_main

            return sweep_main(args)
    except (ValueError, RuntimeError, OSError, ImportError) as e:
        print(f"reluscope {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
