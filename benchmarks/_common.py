"""Shared helpers for the benchmarks: rows of ratios against a peer measured in the same run."""
from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: The shared data sets (a ``shared/data`` folder beside the checkout or above it, as for a git worktree;
#: never copied into the project).
SHARED_DATA = next((p / "shared" / "data" for p in Path(__file__).resolve().parents[1:]
                    if (p / "shared" / "data").is_dir()), Path(__file__).resolve().parents[2] / "shared" / "data")


@dataclass(frozen=True)
class Row:
    """One benchmark result: ours against a peer, as a ratio with a target.

    ``ratio`` is ``ours / peer`` for times (lower is better) unless ``higher_is_better``, in
    which case it is a throughput ratio ``ours / peer`` (higher is better).
    """

    benchmark: str
    ours: float
    peer_name: str
    peer: float
    unit: str = "s"
    target: float | None = 1.0
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.peer if self.peer else float("inf")

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target


def best_of(fn: Callable[[], object], repeat: int = 3, setup: Callable[[], object] | None = None) -> float:
    """Best wall time of *repeat* calls of *fn* (seconds); *setup* runs untimed before each call."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved(contenders: dict[str, Callable[[], object]], repeat: int = 3,
                setup: dict[str, Callable[[], object]] | None = None) -> dict[str, list[float]]:
    """Wall times of each contender, measured in turns (A, B, C, A, B, C, ...) so that a burst of load
    from elsewhere on the machine hits them alike; *setup* (per contender) runs untimed before each call.

    Before each call the file system settles (``os.sync``, untimed): no contender pays for the writes
    and deletions of the one before, or of its own setup. Here that matters: on this machine's ext4
    (mounted ``discard``), creating a file right after a few hundred were deleted takes ~0.5 ms instead
    of ~0.03 ms until the journal has committed, which would time the setup rather than the contender.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            if setup and name in setup:
                setup[name]()
            os.sync()
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def warm_page_cache(paths: list[str] | list[Path]) -> None:
    """Read every file once, so a measurement starts with them in the page cache (as its peer does)."""
    buffer = bytearray(4 << 20)
    for path in paths:
        with open(path, "rb", buffering=0) as handle:
            while handle.readinto(buffer):
                pass


def spread(times: list[float]) -> str:
    """``best 0.21 s, median 0.25 s`` (how noisy the machine was for these repeats)."""
    return f"best {min(times):.3g} s, median {statistics.median(times):.3g} s over {len(times)}"


def median_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of *repeat* calls of *fn* (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
