"""What an experiment produces: rows of "ours vs reference" with a tolerance and PASS/FAIL, info
rows, figures and a JSON record, written to DIR/<experiment>/ as report.md and results.json."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Any, Optional


@dataclass
class Row:
    """One comparison. kind: "abs" |ours-ref| <= tol, "rel" |ours-ref| <= tol*|ref|,
    "ge"/"le" ours >= / <= ref, "eq" exact equality, "info" (reported, never fails)."""

    name: str
    ours: Any
    reference: Any
    tol: Optional[float] = None
    kind: str = "abs"
    note: str = ""

    @property
    def status(self) -> str:
        if self.kind == "info":
            return "info"
        o, r = self.ours, self.reference
        if isinstance(o, float) and not math.isfinite(o):
            return "FAIL"
        ok = {
            "abs": lambda: abs(o - r) <= self.tol,
            "rel": lambda: abs(o - r) <= self.tol * abs(r),
            "ge": lambda: o >= r,
            "le": lambda: o <= r,
            "eq": lambda: o == r,
        }[self.kind]()
        return "PASS" if ok else "FAIL"

    def tolerance_text(self) -> str:
        if self.kind in ("abs", "rel"):
            return f"{'±' if self.kind == 'abs' else 'rel '}{self.tol:.1e}"
        return {"ge": ">=", "le": "<=", "eq": "exact", "info": ""}[self.kind]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


class Report:
    def __init__(self, experiment: str, out_dir: str, settings: dict):
        self.experiment = experiment
        self.dir = os.path.join(out_dir, experiment)
        os.makedirs(self.dir, exist_ok=True)
        self.settings = settings
        self.rows: list[Row] = []
        self.figures: list[str] = []
        self.data: dict = {}
        self.sections: list[str] = []

    def check(self, name: str, ours, reference, tol: Optional[float] = None, kind: str = "abs",
              note: str = "") -> Row:
        row = Row(name, _plain(ours), _plain(reference), tol, kind, note)
        self.rows.append(row)
        return row

    def info(self, name: str, value, note: str = "") -> Row:
        return self.check(name, value, "", None, "info", note)

    def text(self, markdown: str) -> None:
        self.sections.append(markdown)

    def figure(self, fig, name: str, caption: str) -> str:
        """Saves fig as name (a .png, for the report and the README) and beside it as a PDF
        (vector, for a paper); returns the PNG's path."""
        path = os.path.join(self.dir, name)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        fig.savefig(os.path.splitext(path)[0] + ".pdf", bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        self.figures.append((name, caption))
        return path

    @property
    def passed(self) -> bool:
        return all(r.status != "FAIL" for r in self.rows)

    def table_lines(self) -> list[str]:
        head = ("check", "ours", "reference", "tolerance", "status")
        rows = [head] + [(r.name, _fmt(r.ours), _fmt(r.reference), r.tolerance_text(), r.status)
                         for r in self.rows]
        w = [max(len(x[i]) for x in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(x)) for x in rows]
        lines.insert(1, "  ".join("-" * k for k in w))
        return lines

    def write(self, wall_s: float) -> None:
        md = [f"# reluscope reproduce {self.experiment}", "",
              "Settings: " + ", ".join(f"{k}={v}" for k, v in self.settings.items()),
              f"Wall time: {wall_s:.1f} s", "",
              "| check | ours | reference | tolerance | status | note |", "|---|---|---|---|---|---|"]
        md += ["| " + " | ".join(_cell(x) for x in (r.name, _fmt(r.ours), _fmt(r.reference),
                                                     r.tolerance_text(), r.status, r.note)) + " |"
               for r in self.rows]
        md += [""] + self.sections
        for name, caption in self.figures:
            md += ["", f"![{caption}]({name})", "", f"*{caption}*"]
        with open(os.path.join(self.dir, "report.md"), "w") as f:
            f.write("\n".join(md) + "\n")
        record = {"experiment": self.experiment, "settings": self.settings, "wall_s": wall_s,
                  "passed": self.passed, "rows": [{**asdict(r), "status": r.status} for r in self.rows],
                  "figures": [n for n, _ in self.figures], "data": self.data}
        with open(os.path.join(self.dir, "results.json"), "w") as f:
            json.dump(record, f, indent=1, default=_plain)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a literal | (as in |λ_min|) would end the cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _plain(v):
    """Tensors/numpy scalars -> Python numbers or lists (for tables and JSON)."""
    if hasattr(v, "tolist"):
        v = v.tolist()
    return v
