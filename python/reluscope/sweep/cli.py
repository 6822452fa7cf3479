"""``reluscope sweep TASK ...`` and ``reluscope sweep summarize DIR``."""
from __future__ import annotations

import argparse
import os
import sys

from .plan import ShardPlan
from .run import ENGINES, run_sweep
from .summary import draw, lines, summarize
from .tasks import TASKS


def _int_at_least(low: int):
    """argparse type: an integer >= low."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value
    return parse


def _widths(text: str) -> list[int]:
    """argparse type: comma-separated widths >= 1."""
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers >= 1, got {text!r}")
    return widths


def add_arguments(p: argparse.ArgumentParser) -> None:
    count, non_negative = _int_at_least(1), _int_at_least(0)
    p.add_argument("task", choices=[*TASKS, "summarize"],
                   help="the sweep to run, or summarize a finished one")
    p.add_argument("path", nargs="?", help="summarize: the sweep's folder")
    p.add_argument("--items", "--students", dest="items", type=count, default=1000,
                   help="networks in the sweep (default 1000)")
    p.add_argument("--widths", type=_widths, help="comma-separated widths, cycled over the items")
    p.add_argument("--shards", type=count, default=None,
                   help="number of shards (default: one per 1000 items)")
    p.add_argument("--engine", choices=ENGINES, default="local")
    p.add_argument("--address", help="Ray cluster address ('auto': the running cluster)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cpu (default) or cuda")
    p.add_argument("--out", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    p.add_argument("--partial", action="store_true",
                   help="summarize: the intact shards of an unfinished or damaged sweep only "
                        "(says how many items are missing)")
    p.add_argument("--seed", type=non_negative, default=0, help="root seed of the shards' seeds")
    p.add_argument("--steps", type=non_negative,
                   help="teacher-student: Adam steps (default 3000)")
    p.add_argument("--lm-steps", type=non_negative,
                   help="teacher-student: LM steps (default 300)")
    p.add_argument("--depth", type=count, help="regions: hidden layers (default 3)")


def main(args: argparse.Namespace) -> int:
    if args.task == "summarize":
        if not args.path:
            raise ValueError("summarize needs the sweep's folder: reluscope sweep summarize DIR")
        summary = summarize(args.path, partial=args.partial)
        print("\n".join(lines(summary)))
        figure = os.path.join(args.path, "summary.png")
        try:
            draw(summary, figure)
        except ImportError as e:  # the table above is the result; the figure is extra
            print(f"[sweep] no figure: {e}", file=sys.stderr)
            return 0
        print(f"[sweep] figure: {figure}")
        return 0
    if args.partial:
        raise ValueError("--partial is for summarize: reluscope sweep summarize DIR --partial")
    if not args.out:
        raise ValueError("--out is required")
    params = {name: getattr(args, name) for name in ("widths", "steps", "lm_steps", "depth")
              if getattr(args, name) is not None}
    shards = args.shards or -(-args.items // 1000)
    plan = ShardPlan(args.items, -(-args.items // shards), args.seed)
    manifest = run_sweep(TASKS[args.task], plan, args.out, params=params, engine=args.engine,
                         device=args.device, resume=args.resume, address=args.address)
    done = sum(1 for e in manifest["shards"].values() if e.get("status") == "done")
    print(f"[sweep] {done}/{plan.n_shards} shards done in {manifest['wall_s']:.1f} s -> "
          f"{args.out}")
    return 0
