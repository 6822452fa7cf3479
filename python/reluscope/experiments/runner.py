"""Runs the experiments of ``reluscope reproduce``: their registry, the context each gets, the
output folder check, and the loop that prints and writes every report."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from importlib import import_module

import torch

from .report import Report

#: Experiment name -> module.
EXPERIMENTS = {"tms": "tms", "teacher-student": "teacher_student",
               "localization": "localization", "regions": "regions", "llc": "llc",
               "critical-points": "critical_points", "ntk": "ntk",
               "criticality": "criticality", "catapult": "catapult",
               "edge-of-stability": "edge_of_stability", "outliers": "outliers"}


@dataclass
class Context:
    quick: bool
    device: torch.device
    seed: int
    report: Report

    def generator(self, offset: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed + offset)


def run(names: list[str], quick: bool, device: str, out_dir: str, seed: int) -> bool:
    """Run experiments, print their tables, write their outputs; True when every row passed."""
    import matplotlib

    matplotlib.use("Agg")
    all_passed = True
    for name in names:
        module = import_module(f"{__package__}.{EXPERIMENTS[name]}")
        settings = {"quick": quick, "device": device, "seed": seed}
        report = Report(name, out_dir, settings)
        print(f"== reproduce {name} ({'quick' if quick else 'full'}, {device}) ==", flush=True)
        t0 = time.perf_counter()
        module.run(Context(quick, torch.device(device), seed, report))
        wall = time.perf_counter() - t0
        report.write(wall)
        print("\n".join(report.table_lines()))
        print(f"-- {name}: {'all rows PASS' if report.passed else 'SOME ROWS FAIL'} "
              f"({wall:.1f} s) -> {os.path.join(report.dir, 'report.md')}\n", flush=True)
        all_passed &= report.passed
    return all_passed


def check_requirements(device: str, out_dir: str) -> None:
    """Raise ValueError with a one-line reason when reproduce cannot run as asked."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError("reproduce draws figures with matplotlib, which is not installed: "
                         "pip install 'reluscope[plot]'") from None
    if device not in ("cpu", "cuda"):
        raise ValueError(f"--device must be cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA GPU")
    try:
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, ".reluscope-write-test")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"cannot write to --out {out_dir!r}: {e.strerror}") from None
    print(f"[reproduce] outputs go to {os.path.abspath(out_dir)}", file=sys.stderr)
