"""Byte progress on stderr: a tqdm bar on a terminal, otherwise a log line every 10%."""
from __future__ import annotations

import logging
import sys
from typing import Any

logger = logging.getLogger("hubgen")
#: Below this, no progress lines (they would be noise).
_LOG_MIN_BYTES = 32 << 20


class ByteProgress:
    """Callable ``(done, total)`` (or ``(n)`` with :meth:`add`) that reports read progress."""

    def __init__(self, label: str, total: int = 0) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._bar: Any = None
        self._next_log = 0.1
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total or None, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                             file=sys.stderr, leave=False)

    def __call__(self, done: int, total: int) -> None:
        self.total = total
        self.add(done - self.done)

    def add(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            if self._bar.total != (self.total or None):
                self._bar.total = self.total or None
            self._bar.update(n)
        elif self.total >= _LOG_MIN_BYTES and self.done / self.total >= self._next_log:
            logger.info("%s: %d%% (%.0f of %.0f MiB)", self.label, 100 * self.done // self.total,
                        self.done / 2**20, self.total / 2**20)
            while self._next_log <= self.done / self.total:
                self._next_log += 0.1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
