"""Sweep engines measured on this machine: Ray's fixed costs (start of a local cluster, a task's
round trip on a new and on a warm worker), the cost of writing one shard, and the same sweeps
with the local engine and with Ray (2 workers), timed in one run and checked equal bit for bit.
Prints a table and writes bench/results/sweep.json (or --json PATH).

    python bench/sweep.py [--networks 20000] [--students 1000] [--steps S --lm-steps M]
                          [--json PATH]

--networks 0 leaves out the regions sweep; --steps / --lm-steps set the teacher-student training
(default: reproduce's, 3000 Adam and 300 LM steps).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _noop(x):
    return x


def ray_overheads(ray) -> dict:
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    start = time.perf_counter() - t0
    task = ray.remote(num_cpus=1)(_noop)
    t0 = time.perf_counter()
    ray.get(task.remote(0))
    first = time.perf_counter() - t0
    warm = []
    for i in range(20):
        t0 = time.perf_counter()
        ray.get(task.remote(i))
        warm.append(time.perf_counter() - t0)
    return {"ray_init_s": start, "first_task_s": first, "warm_task_s": statistics.median(warm)}


def shard_write_s(rows: int) -> float:
    from reluscope.sweep import ShardPlan
    from reluscope.sweep.store import write_shard

    shard = ShardPlan(rows, rows).shard(0)
    columns = {"width": np.full(rows, 4), "loss": np.random.rand(rows),
               "class": np.array(["local minimum"] * rows)}
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        write_shard(d, shard, columns, sweep="bench")
        return time.perf_counter() - t0


def compare(task, plan, params, workdir) -> dict:
    from reluscope.sweep import read_results, run_sweep

    row = {"items": plan.items, "shards": plan.n_shards, "params": params}
    for engine in ("local", "ray"):
        out = os.path.join(workdir, f"{task.__name__}-{engine}")
        t0 = time.perf_counter()
        manifest = run_sweep(task, plan, out, params=params, engine=engine, progress=False)
        row[f"{engine}_s"] = time.perf_counter() - t0
        row[f"{engine}_shard_s"] = [e["seconds"] for e in manifest["shards"].values()]
    a = read_results(os.path.join(workdir, f"{task.__name__}-local")).to_pydict()
    b = read_results(os.path.join(workdir, f"{task.__name__}-ray")).to_pydict()
    row["identical"] = a == b
    row["items_per_s_local"] = plan.items / row["local_s"]
    row["items_per_s_ray"] = plan.items / row["ray_s"]
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--networks", type=int, default=20000, help="regions sweep size")
    p.add_argument("--students", type=int, default=1000, help="teacher-student sweep size")
    p.add_argument("--steps", type=int, help="teacher-student Adam steps")
    p.add_argument("--lm-steps", type=int, help="teacher-student LM steps")
    p.add_argument("--json", default=str(Path(__file__).parent / "results" / "sweep.json"))
    args = p.parse_args()
    import ray

    from reluscope.sweep import ShardPlan
    from reluscope.sweep.tasks import regions, teacher_student
    from reluscope.sweep.store import versions

    record = {"versions": versions(), "cpus": os.cpu_count(), "ray": ray.__version__,
              "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    record["overheads"] = ray_overheads(ray)
    record["overheads"]["write_shard_2500_rows_s"] = shard_write_s(2500)
    with tempfile.TemporaryDirectory() as work:
        if args.networks:
            record["regions"] = compare(regions, ShardPlan(args.networks,
                                                           -(-args.networks // 8)), {}, work)
        params = {k: v for k, v in (("steps", args.steps), ("lm_steps", args.lm_steps)) if v}
        shards = max(4, -(-args.students // 1250))
        record["teacher_student"] = compare(teacher_student, ShardPlan(
            args.students, -(-args.students // shards)), params, work)
    ray.shutdown()
    o = record["overheads"]
    print(f"ray.init (local, 2 CPUs) {o['ray_init_s']:.2f} s; a task's round trip: first "
          f"{o['first_task_s']:.2f} s (worker start), warm {o['warm_task_s'] * 1e3:.2f} ms; "
          f"writing a 2500-row shard {o['write_shard_2500_rows_s'] * 1e3:.1f} ms")
    print("sweep            items  shards  local s  ray (2 workers) s  identical")
    for name in [n for n in ("regions", "teacher_student") if n in record]:
        r = record[name]
        print(f"{name:<16} {r['items']:>5}  {r['shards']:>6}  {r['local_s']:>7.1f}  "
              f"{r['ray_s']:>17.1f}  {r['identical']}")
    with open(args.json, "w") as f:
        json.dump(record, f, indent=1)
    print(f"[sweep bench] wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
