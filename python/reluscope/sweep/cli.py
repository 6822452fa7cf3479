"""``reluscope sweep TASK ...`` and ``reluscope sweep summarize DIR``."""
from __future__ import annotations

import argparse
import os
import sys

from .plan import ShardPlan
from .run import ENGINES, run_sweep
from .summary import draw, lines, summarize
from .tasks import TASKS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", choices=[*TASKS, "summarize"],
                   help="the sweep to run, or summarize a finished one")
    p.add_argument("path", nargs="?", help="summarize: the sweep's folder")
    p.add_argument("--items", "--students", dest="items", type=int, default=1000,
                   help="networks in the sweep (default 1000)")
    p.add_argument("--widths", help="comma-separated widths, cycled over the items")
    p.add_argument("--shards", type=int, default=None,
                   help="number of shards (default: one per 1000 items)")
    p.add_argument("--engine", choices=ENGINES, default="local")
    p.add_argument("--address", help="Ray cluster address ('auto': the running cluster)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--out", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    p.add_argument("--seed", type=int, default=0, help="root seed of the shards' seeds")
    p.add_argument("--steps", type=int, help="teacher-student: Adam steps (default 3000)")
    p.add_argument("--lm-steps", type=int, help="teacher-student: LM steps (default 300)")
    p.add_argument("--depth", type=int, help="regions: hidden layers (default 3)")


def main(args: argparse.Namespace) -> int:
    if args.task == "summarize":
        if not args.path:
            raise ValueError("summarize needs the sweep's folder: reluscope sweep summarize DIR")
        summary = summarize(args.path)
        print("\n".join(lines(summary)))
        figure = os.path.join(args.path, "summary.png")
        try:
            draw(summary, figure)
        except ImportError as e:  # the table above is the result; the figure is extra
            print(f"[sweep] no figure: {e}", file=sys.stderr)
            return 0
        print(f"[sweep] figure: {figure}")
        return 0
    if not args.out:
        raise ValueError("--out is required")
    if args.device not in ("cpu", "cuda"):
        raise ValueError(f"--device must be cpu or cuda, got {args.device!r}")
    params = {}
    if args.widths:
        params["widths"] = [int(w) for w in args.widths.split(",")]
    for name in ("steps", "lm_steps", "depth"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    shards = args.shards or -(-args.items // 1000)
    if shards < 1:
        raise ValueError(f"--shards must be >= 1, got {shards}")
    plan = ShardPlan(args.items, -(-args.items // shards), args.seed)
    manifest = run_sweep(TASKS[args.task], plan, args.out, params=params, engine=args.engine,
                         device=args.device, resume=args.resume, address=args.address)
    done = sum(1 for e in manifest["shards"].values() if e.get("status") == "done")
    print(f"[sweep] {done}/{plan.n_shards} shards done in {manifest['wall_s']:.1f} s -> "
          f"{args.out}")
    return 0
