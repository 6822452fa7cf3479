"""How often torch's first parallel exp / log of a process errs (oneMKL's first-call kernel
choice, reluscope/_vml_warmup.py), with and without reluscope's warm-up: runs fresh processes,
alternating a bare ``import torch`` and ``import reluscope``, each computing torch.log and then
torch.exp of 65536 float64 values (two intra-op chunks, on two threads where torch has them),
and counts the processes with a value more than 1e-13 relative from Python's math module's.
Prints a table and writes JSON.

    python bench/vml_first_call.py --runs 120 --json bench/results/vml_first_call.json
"""
import argparse
import json
import platform
import subprocess
import sys
import time

CHILD = r"""
import math
import sys
import torch
if sys.argv[1] == "reluscope":
    import reluscope  # noqa: F401
x = torch.linspace(-25.6, -0.001, 65536, dtype=torch.float64)
bad = []
for fn, ref, arg in ((torch.log, math.log, -x), (torch.exp, math.exp, x)):
    # the reference first: the race showed with some Python work between torch's calls
    want = torch.tensor([ref(v) for v in arg.tolist()], dtype=torch.float64)
    bad.append(int(((fn(arg) - want).abs() > 1e-13 * want.abs()).sum()))
print(*bad)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100, help="processes per mode")
    ap.add_argument("--json", help="write the counts here")
    args = ap.parse_args()
    modes = ("torch", "reluscope")
    hits = {m: {"exp": 0, "log": 0, "either": 0} for m in modes}
    start = time.time()
    for _ in range(args.runs):
        for mode in modes:  # alternated: both see the same host over time
            out = subprocess.run([sys.executable, "-c", CHILD, mode], check=True,
                                 capture_output=True, text=True).stdout.split()
            log_bad, exp_bad = int(out[0]), int(out[1])
            hits[mode]["exp"] += exp_bad > 0
            hits[mode]["log"] += log_bad > 0
            hits[mode]["either"] += exp_bad > 0 or log_bad > 0
    print(f"{'import':<10} {'runs':>5} {'exp wrong':>10} {'log wrong':>10} {'either':>7}")
    for mode in modes:
        h = hits[mode]
        print(f"{mode:<10} {args.runs:>5} {h['exp']:>10} {h['log']:>10} {h['either']:>7}")
    if args.json:
        import torch
        record = {"runs_per_mode": args.runs, "threads": torch.get_num_threads(), "values": 65536,
                  "tolerance_relative": 1e-13, "processes_with_wrong_values": hits,
                  "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
                  "seconds": round(time.time() - start, 1)}
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
