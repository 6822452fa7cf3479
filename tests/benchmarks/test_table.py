"""The benchmark tables are generated from the committed records: the README's table matches
bench/results, every case of a record becomes a row, and the formatting and errors."""
import json
from pathlib import Path

import pytest

from reluscope.benchmarks import table

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def test_the_readme_table_is_the_generated_one():
    text = (ROOT / "README.md").read_text()
    assert table.replace_block(text, table.headline(RESULTS)) == text, (
        "README.md's benchmark table differs from bench/results: run "
        "python -m reluscope.benchmarks.table --readme README.md")
    assert text.count("| float") == table.headline(RESULTS).count("| float") > 20


def test_every_case_of_a_record_is_a_row(tmp_path):
    records = sorted(RESULTS.glob("*bench*.json"))
    assert len(records) >= 10
    out = table.markdown(records)
    for path in records:
        results = json.loads(path.read_text())["results"]
        block = out.split(f"`{path.name}`")[1].split("**`")[0]
        rows = [line for line in block.splitlines() if line.startswith("| ") and
                not line.startswith("| suite") and not line.startswith("| ---")]
        assert len(rows) == len(results)
        assert [r.split(" | ")[1] for r in rows] == [r["name"] for r in results]


def test_formats():
    assert table.fmt_time(None) == "—"
    assert table.fmt_time(2.5e-6) == "2.5 µs"
    assert table.fmt_time(0.0123) == "12.3 ms"
    assert table.fmt_time(7200.0) == "2 h"
    assert table.fmt_time(3e-10) == "0.3 ns"
    assert table.fmt_ratio(None) == "—" and table.fmt_ratio(35.77) == "35.8×"
    assert table.fmt_ratio(1606.2) == "1,606×"
    roof = {"extra": {"GFLOP/s": 4.31, "% of peak": 4.2}}
    assert table._roofline(roof) == "4.31 (4.2 %)" and table._roofline({}) == "—"
    bound = {"extra": {"% of bound": 23.4, "ratio at bound": 81.96}}
    assert table._bound(bound) == "23 % (82×)" and table._bound(roof) == "—"


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="exactly one"):
        table.replace_block("no markers", "x")
    twice = f"{table.START}\n{table.END}\n{table.START}\n{table.END}"
    with pytest.raises(ValueError, match="exactly one"):
        table.replace_block(twice, "x")
    bad = tmp_path / "cpu_bench.json"
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="not a reluscope bench record"):
        table.load(bad)
    monkeypatch.setattr(table, "HEADLINE", (("cpu_bench.json", "no such case", "float64"),))
    with pytest.raises(ValueError, match="no case 'no such case'"):
        table.headline(RESULTS)


def test_the_readme_block_is_rewritten(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{table.START}\nold rows\n{table.END}\nafter\n")
    assert table.main(["--results", str(RESULTS), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old rows" not in text and text.startswith("intro\n") and text.endswith("after\n")
    assert table.headline(RESULTS) in text
