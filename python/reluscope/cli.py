"""The ``reluscope`` command: ``info``, ``bench``, ``reproduce``, ``sweep``."""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Optional, Sequence

from .experiments import EXPERIMENTS


class _Parser(argparse.ArgumentParser):
    """Bad arguments give one line on stderr and exit code 2 (no usage dump, no traceback)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command's exit code: 0 done, 1 failed checks, 2 an error (one line on stderr), 130
    interrupted (Ctrl-C: one line saying whether --resume continues it), 141 stdout closed by its
    reader (``reluscope info | head``: no traceback, the rest of the output dropped)."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here at the latest
        return code
    except BrokenPipeError:
        # the Python docs' recipe: stdout to /dev/null, so the flush at exit raises nothing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader left


def _compact_warnings(show):
    """warnings.showwarning: reluscope's own warnings as one line ('reluscope: warning: ...', not
    the source line that raised them); other packages' as ``show`` prints them."""
    here = os.path.dirname(os.path.abspath(__file__))

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        if os.path.abspath(filename).startswith(here + os.sep):
            print(f"reluscope: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)
    return show_warning


def _main(argv: Optional[Sequence[str]]) -> int:
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
        with warnings.catch_warnings():
            warnings.showwarning = _compact_warnings(warnings.showwarning)
            return _run(args)
    except BrokenPipeError:
        raise  # not an error of the command: main says nothing
    except (ValueError, RuntimeError, OSError, ImportError) as e:
        print(f"reluscope {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resumable = args.command == "sweep" and args.task != "summarize"
        print(("\n" if sys.stderr.isatty() else "") + f"reluscope {args.command}: interrupted"
              + (" — rerun the same command with --resume to continue (finished shards are "
                 "kept)" if resumable else ""), file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
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
    return 1


if __name__ == "__main__":
    sys.exit(main())
