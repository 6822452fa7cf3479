"""The ``reluscope`` command: ``info``, ``bench``, ``reproduce``."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="reluscope", description="reluscope command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, torch, compiled backends, CUDA architectures, threads")
    from .benchmarks import add_arguments as bench_arguments

    bench_arguments(sub.add_parser("bench", help="kernel vs torch reference microbenchmarks"))
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            from .info import show_config

            show_config()
            return 0
        if args.command == "bench":
            from .benchmarks import main as bench_main

            return bench_main(args=args)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"reluscope {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
