"""Markdown tables from ``reluscope bench`` JSON records (``bench/results/*.json``), so no
benchmark number in the README or on the documentation site is copied by hand:

- ``markdown(paths)``: every case of every record, one table per record under a line naming its
  date, vector ISA and threads (the site's performance page, built from them at each docs build);
- ``headline(results_dir)``: the README's table — the cases named in ``HEADLINE``, each with
  the record it comes from;
- ``python -m reluscope.benchmarks.table --readme README.md`` rewrites the README's table between
  its two ``bench-table`` markers (a test checks it matches the records).
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Optional, Sequence

from .harness import fmt_time

#: The README's rows: (record file, case name, dtype). Each names one result of a committed
#: record in bench/results/; a case missing there is an error (the table never silently shrinks).
HEADLINE = (
    ("cpu_bench.json", "mlp[2, 5, 1] B=1000 N=1681", "float64"),
    ("cpu_bench.json", "mlp[16, 64, 64, 1] B=100 N=1681", "float64"),
    ("cpu_bench.json", "(a) hvp sigmoid [2,5,1] B=1000 N=1681", "float64"),
    ("cpu_bench.json", "(a) hvp relu [2,5,1] B=1000 N=1681", "float64"),
    ("cpu_bench.json", "(a) hvp sigmoid [2,5,1] B=1000 N=1681", "float32"),
    ("cpu_bench.json", "(a) hvp relu [2,5,1] B=1000 N=1681", "float32"),
    ("cpu_bench_avx2.json", "(a) hvp sigmoid [2,5,1] B=1000 N=1681", "float64"),
    ("cpu_bench_avx2.json", "(a) hvp relu [2,5,1] B=1000 N=1681", "float64"),
    ("cpu_bench.json", "(f) value_and_grad relu [2,5,1] B=1000 N=1681", "float64"),
    ("cpu_bench.json", "(f) value_and_grad relu [2,5,1] B=1000 N=1681", "float32"),
    ("cpu_bench.json", "(b) hessian sigmoid [2,5,1] B=1000 N=1681", "float64"),
    ("cpu_bench.json", "(b) hessian relu [2,5,1] B=1000 N=1681", "float64"),
    ("cpu_bench_avx2.json", "(b) hessian sigmoid [2,5,1] B=1000 N=1681", "float64"),
    ("cpu_bench.json", "(c) hvp K=8 relu [16,64,64,1] B=100 N=1681", "float64"),
    ("cpu_bench.json", "(d) hvp TMS n=20 m=5 B=1000 N=4096", "float64"),
    ("cpu_bench.json", "(f) loss backward sigmoid [2,5,1]", "float64"),
    ("cpu_bench.json", "(h) hvp cross_entropy tanh [2,16,3]", "float64"),
    ("cpu_bench_slt.json", None, None),
    ("cpu_bench_hypercube.json", "f brute uniform n=20 B=64", "float64"),
    ("cpu_bench_hypercube.json", "f mitm uniform n=48 B=64", "float64"),
    ("cpu_bench_hypercube.json", "delta mitm n=40 B=64", "float64"),
    ("cpu_bench_hypercube.json", "delta mitm n=48 B=64", "float64"),
    ("cpu_bench.json", "count_1d [2,32,32,32,1] 1 segment", "float64"),
    ("cpu_bench.json", "count_2d [2,16,16,1] [-1,1]^2", "float64"),
    ("cpu_bench.json", "count_patterns [2,16,16,1] N=100000", "float64"),
    ("cpu_bench_certify.json", "critical_points, width 7", "float64"),
    ("cpu_bench_critical_points.json", None, None),
    ("cpu_bench_ntk.json", None, None),
    ("cpu_bench_gd.json", None, None),
    ("cpu_bench_moments.json", None, None),
)
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def fmt_ratio(r: Optional[float]) -> str:
    if r is None:
        return "—"
    return f"{r:.3g}×" if r < 1000 else f"{r:,.0f}×"


def load(path: Path) -> dict:
    with open(path) as f:
        record = json.load(f)
    if not isinstance(record, dict) or "results" not in record or "meta" not in record:
        raise ValueError(f"{path} is not a reluscope bench record (no meta / results)")
    return record


def source(path: Path, record: dict) -> str:
    """`file`, date, vector ISA and threads of a record."""
    cfg = record["meta"].get("config", {})
    date = str(record["meta"].get("time", "?"))[:10]
    return (f"`{path.name}`, {date}, {cfg.get('cpu_vector_isa', '?')}, "
            f"{cfg.get('cpu_threads', '?')} threads")


def _roofline(r: dict) -> str:
    extra = r.get("extra", {})
    if "GFLOP/s" not in extra:
        return "—"
    peak = extra.get("% of peak")
    return f"{extra['GFLOP/s']:.3g}" + ("" if peak is None else f" ({peak:.2g} %)")


def _bound(r: dict) -> str:
    """% of the roofline bound and the torch ratio at the bound (roofline.annotate)."""
    extra = r.get("extra", {})
    if "% of bound" not in extra:
        return "—"
    return f"{extra['% of bound']:.2g} % ({fmt_ratio(extra['ratio at bound'])})"


def _notes(r: dict) -> str:
    ref = r.get("extra", {}).get("reference")
    return "" if ref is None else str(ref).replace("|", "/")


def markdown(paths: Sequence[Path]) -> str:
    """One table per record: suite, case, device, dtype, times, ratio, GFLOP/s (% of peak),
    % of the bound (ratio at the bound), and what the reference is where the record says."""
    out = []
    for path in paths:
        record = load(path)
        out.append(f"**{source(path, record)}**\n")
        out.append("| suite | case | device | dtype | reluscope | reference | ratio | "
                   "GFLOP/s (% of peak) | % of bound (ratio there) | reference is |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in record["results"]:
            out.append(f"| {r['suite']} | {r['name']} | {r['device']} | {r['dtype']} | "
                       f"{fmt_time(r['ours_s'])} | {fmt_time(r['reference_s'])} | "
                       f"{fmt_ratio(r.get('ratio'))} | {_roofline(r)} | {_bound(r)} | "
                       f"{_notes(r)} |")
        out.append("")
    return "\n".join(out)


def headline(results_dir: Path) -> str:
    """The README's table: the HEADLINE cases (a record named with no case: all its cases)."""
    rows = ["| workload | dtype | reluscope | torch reference | ratio | record |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name, case, dtype in HEADLINE:
        path = results_dir / name
        record = load(path)
        hits = [r for r in record["results"]
                if case is None or (r["name"] == case and r["dtype"] == dtype)]
        if not hits:
            raise ValueError(f"{path} has no case {case!r} ({dtype}) named in HEADLINE")
        for r in hits:
            rows.append(f"| {r['suite']}: {r['name']} | {r['dtype']} | {fmt_time(r['ours_s'])} | "
                        f"{fmt_time(r['reference_s'])} | {fmt_ratio(r.get('ratio'))} | "
                        f"{source(path, record)} |")
    return "\n".join(rows) + "\n"


def replace_block(text: str, table: str) -> str:
    """text with the part between START and END replaced by table (ValueError without both)."""
    pattern = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.S)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"expected exactly one {START} ... {END} block")
    return pattern.sub(lambda _: f"{START}\n{table}{END}", text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reluscope.benchmarks.table", description=__doc__)
    p.add_argument("--results", default="bench/results", help="the records' folder")
    p.add_argument("--readme", help="rewrite this file's bench-table block")
    args = p.parse_args(argv)
    results = Path(args.results)
    if args.readme:
        readme = Path(args.readme)
        readme.write_text(replace_block(readme.read_text(), headline(results)))
    else:
        print(markdown(sorted(results.glob("*bench*.json"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
