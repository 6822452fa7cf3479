"""The A/B table of README.md from the four records beside this file (old1, new1, old2, new2):
`python bench/results/ab-hessian-fold/table.py`."""
import json
from pathlib import Path

HERE = Path(__file__).parent
RUNS = ("old1", "new1", "old2", "new2")


def cell(case: dict) -> str:
    t, r = case["ours_s"], case.get("ratio")
    return (f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.2f} s") + (f" ({r:.1f}x)" if r else "")


def main() -> None:
    recs = {run: {(c["suite"], c["name"], c["dtype"]): c
                  for c in json.loads((HERE / f"{run}.json").read_text())["results"]}
            for run in RUNS}
    print("| suite | case | dtype | " + " | ".join(RUNS) + " |")
    print("|---|---|---|" + "---|" * len(RUNS))
    for key in recs[RUNS[0]]:
        print(f"| {key[0]} | {key[1]} | {key[2]} | "
              + " | ".join(cell(recs[r][key]) if key in recs[r] else "—" for r in RUNS) + " |")


if __name__ == "__main__":
    main()
