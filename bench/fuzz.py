"""The long fuzz run (tests/fuzz.py): every case with 10 sets of random data (CI runs one), a table
of outcomes by engine, the failing cases, and bench/results/fuzz.json (or --json PATH).
   run: python bench/fuzz.py"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import fuzz  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--json", default=str(Path(__file__).parent / "results" / "fuzz.json"))
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before a case hangs")
    p.add_argument("--seeds", type=int, default=10, help="random data sets per case (default 10)")
    args = p.parse_args()
    cases = fuzz.cases(range(args.seeds))
    t0 = time.perf_counter()
    from reluscope.progress import Progress

    bar = Progress(len(cases), "fuzz")
    records = fuzz.run_all(cases, timeout=args.timeout, progress=lambda done, total: bar.update())
    s = fuzz.summary(records)
    s["seconds"] = time.perf_counter() - t0
    print(f"{'engine':12s} " + " ".join(f"{o:>8s}" for o in fuzz.OUTCOMES))
    for engine, counts in sorted(s["by_engine"].items()) + [("all", s["total"])]:
        print(f"{engine:12s} " + " ".join(f"{counts[o]:8d}" for o in fuzz.OUTCOMES))
    bad = fuzz.failures(records)
    for r in bad:
        print("FAIL", r["outcome"], r["case"], r["detail"])
    by_mutation: dict = {}
    for r in records:
        key = f"{r['case'][2]} {r['case'][3]}"
        by_mutation.setdefault(key, {}).setdefault(r["outcome"], 0)
        by_mutation[key][r["outcome"]] += 1
    with open(args.json, "w") as f:
        json.dump({"command": "python bench/fuzz.py", "summary": s, "failures": bad,
                   "outcomes_by_engine_and_mutation": by_mutation}, f, indent=1)
    print(f"{s['cases']} cases in {s['seconds']:.0f} s -> {args.json}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
