"""A dependency-free progress bar for long loops, on stderr. On a terminal it redraws one line in
place. Anywhere else (a pipe, a log file, CI) it prints sparse lines: one at the start, one at the
end, and in between at most one per ``interval`` seconds (default 30), each only once a further
tenth of the work is done — at most 11 lines however many updates, so logs stay readable."""
from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")


class Progress:
    def __init__(self, total: int, desc: str = "", enabled: bool = True, interval: float = 30.0):
        self.total, self.desc, self.enabled, self.interval = int(total), desc, enabled, interval
        self.done, self.t0 = 0, time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._last_tenth, self._last_line, self._ended = 0, self.t0, False
        if enabled and not self.tty:
            print(f"{self.desc} started: {self.total} to do", file=sys.stderr, flush=True)

    def update(self, n: int = 1, info: str = "") -> None:
        self.done += n
        if not self.enabled or self._ended:
            return
        now = time.perf_counter()
        frac = min(self.done / self.total, 1.0) if self.total > 0 else 1.0
        tenth = int(frac * 10)
        end = self.done >= self.total
        if not self.tty and not end and (tenth == self._last_tenth or
                                         now - self._last_line < self.interval):
            return
        self._last_tenth, self._last_line, self._ended = tenth, now, end
        line = (f"{self.desc} [{'#' * int(frac * 24):<24}] {self.done}/{self.total} "
                f"{now - self.t0:.1f}s {info}")
        print(("\r" + line) if self.tty else line, end="\n" if end or not self.tty else "",
              file=sys.stderr, flush=True)


def track(items: Iterable[T], desc: str = "", total: Optional[int] = None,
          enabled: bool = True) -> Iterator[T]:
    """Iterate over items with a progress bar."""
    items = list(items) if total is None else items
    bar = Progress(total if total is not None else len(items), desc, enabled)
    for item in items:
        yield item
        bar.update()
