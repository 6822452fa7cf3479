"""A dependency-free progress bar for long loops (stderr; redraws in place on a terminal, prints a
line every ~10% otherwise, e.g. in CI logs)."""
from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")


class Progress:
    def __init__(self, total: int, desc: str = "", enabled: bool = True):
        self.total, self.desc, self.enabled = max(int(total), 1), desc, enabled
        self.done, self.t0, self._last_decile = 0, time.perf_counter(), -1
        self.tty = sys.stderr.isatty()

    def update(self, n: int = 1, info: str = "") -> None:
        self.done += n
        if not self.enabled:
            return
        frac = min(self.done / self.total, 1.0)
        decile = int(frac * 10)
        if not self.tty and decile == self._last_decile and self.done < self.total:
            return
        self._last_decile = decile
        bar = "#" * int(frac * 24)
        line = (f"{self.desc} [{bar:<24}] {self.done}/{self.total} "
                f"{time.perf_counter() - self.t0:.1f}s {info}")
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr,
              flush=True)
        if self.tty and self.done >= self.total:
            print(file=sys.stderr)


def track(items: Iterable[T], desc: str = "", total: Optional[int] = None,
          enabled: bool = True) -> Iterator[T]:
    """Iterate over items with a progress bar."""
    items = list(items) if total is None else items
    bar = Progress(total if total is not None else len(items), desc, enabled)
    for item in items:
        yield item
        bar.update()
