"""Timing harness shared by every benchmark suite: warm-up, repeats, median; the torch reference
is always timed in the same run and the ratio reference/ours reported."""
from __future__ import annotations

import json
import math
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import torch


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time_once(fn: Callable[[], object], device: str, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / inner


#: A timing of a function whose warm-up call was shorter runs it several times in a row, this
#: long in all (``median_times``).
MIN_TIMING_S = 0.05


def _warm_up(fn: Callable[[], object], device: str, warmup: int) -> Optional[float]:
    """Calls fn() `warmup` times; the last call's wall time (None without warm-up)."""
    t = None
    for _ in range(warmup):
        t = _time_once(fn, device, 1)
    return t


def median_times(fns: list[Callable[[], object]], device: str, repeats: int = 7, warmup: int = 2,
                 inner: int = 1, min_time: float = MIN_TIMING_S) -> list[float]:
    """Median wall time in seconds of one call of each fn, over `repeats` timings. The
    functions take turns within each repeat, so slow phases of a shared machine hit all of them
    alike and their ratio stays meaningful. A timing runs `inner` calls in a row, or for a
    function whose last warm-up call took less than min_time / inner enough calls to last about
    min_time (timeit's practice): a short call is timed at the rate of calls in a row, as a loop
    of them runs. Timed alone right after a long torch reference, a call of a few ms ran
    10-80 % slower here (caches and an idle core after the reference; bench/results/NOTES.md),
    which is the machine's transient, not the call's speed. Without warm-up, `inner` calls."""
    inners = []
    for fn in fns:
        t = _warm_up(fn, device, warmup)
        inners.append(inner if t is None else max(inner, math.ceil(min_time / max(t, 1e-9))))
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, n, ts in zip(fns, inners, times):
            ts.append(_time_once(fn, device, n))
    return [statistics.median(ts) for ts in times]


def median_time(fn: Callable[[], object], device: str, repeats: int = 7, warmup: int = 2,
                inner: int = 1) -> float:
    """Median wall time of fn() in seconds over `repeats` timings of `inner` calls each."""
    return median_times([fn], device, repeats, warmup, inner)[0]


@dataclass
class Result:
    suite: str
    name: str
    device: str
    dtype: str
    sizes: dict
    ours_s: float
    reference_s: Optional[float]
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> Optional[float]:
        """How many times faster ours is than the reference (reference time / our time)."""
        return None if self.reference_s is None else self.reference_s / self.ours_s

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def compare(suite: str, name: str, ours: Callable, reference: Optional[Callable], device: str,
            dtype: torch.dtype, sizes: dict, repeats: int = 7, inner: int = 1,
            extra: Optional[dict] = None) -> Result:
    """Time ours() and reference() (None when the reference is infeasible at this size), taking
    turns."""
    fns = [ours] + ([reference] if reference else [])
    times = median_times(fns, device, repeats=repeats, inner=inner)
    return Result(suite, name, device, str(dtype).replace("torch.", ""), sizes, times[0],
                  times[1] if reference else None,
                  dict(extra or {}))


def fmt_time(s: Optional[float]) -> str:
    """Seconds in the unit that reads best, 3 significant digits; "—" for no time (the printed
    table's and the generated Markdown tables' one format, ``table.py``)."""
    if s is None:
        return "—"
    for unit, scale in (("h", 3600.0), ("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def print_table(results: list[Result]) -> None:
    rows = [("suite", "case", "device", "dtype", "ours", "reference", "ratio", "notes")]
    for r in results:
        notes = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in r.extra.items())
        rows.append((r.suite, r.name, r.device, r.dtype, fmt_time(r.ours_s),
                     fmt_time(r.reference_s), "-" if r.ratio is None else f"{r.ratio:.1f}x", notes))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
        if i == 0:
            print("  ".join("-" * w for w in widths) + "  -----")


def write_json(results: list[Result], path: str) -> None:
    from ..info import config

    meta = {"config": config(), "machine": platform.machine(), "processor": platform.processor(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with open(path, "w") as f:
        json.dump({"meta": meta, "results": [r.as_dict() for r in results]}, f, indent=2)
