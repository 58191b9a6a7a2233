"""Worker processes for the parts of a build that are interpreter-bound: publishing many small versions
and rendering many model pages.

A build of thousands of small models spends most of its time in the interpreter (checking, hashing and
writing a few small files per model, rendering a page), which one process runs on one core whatever
its threads do. :class:`Workers` is a pool of ``spawn``-ed processes, started only when a build has
enough of that work to repay the start-up (:data:`MIN_VERSIONS`), and shared by the build's phases.
The work is cut into contiguous chunks (:func:`chunks`), so results come back in the build's order.

Only hubgen's own functions and data cross between the processes (``multiprocessing`` pickles them);
nothing from a hub or a pretrained folder is ever unpickled.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, wait
from typing import TYPE_CHECKING, Any, TypeVar

from dchub_client import quiet

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: The fewest new versions (or model pages) for which a build starts worker processes. Each worker
#: costs ~0.3 s of CPU to start (importing hubgen); a tiny model is ~3-5 ms of work. On 2 cores,
#: workers break even at about 1,000 tiny models and save ~20% at 10,000 (``docs/benchmarks.md``).
MIN_VERSIONS = 1000
#: Chunks per worker: a few, so a slow chunk does not leave a core idle and progress moves.
CHUNKS_PER_WORKER = 4


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def chunks(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    """*items* cut into at most *parts* contiguous runs of near-equal length, in order."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (i < extra)
        out.append(items[start:end])
        start = end
    return [c for c in out if len(c)]


class Workers:
    """A lazily started pool of worker processes (``spawn``: no fork of a process holding threads)."""

    def __init__(self, count: int) -> None:
        if count < 2:
            raise ValueError(f"a worker pool needs at least 2 processes, got {count}")
        self.count = count
        self._pool: ProcessPoolExecutor | None = None

    def map_chunks(self, function: Callable[[Sequence[T]], R], items: Sequence[T], *,
                   done: Callable[[Sequence[T], R], None] | None = None,
                   meanwhile: Callable[[], None] | None = None) -> list[R]:
        """``function(chunk)`` for contiguous chunks of *items* in the workers, results in order.

        *meanwhile* runs in this process once the chunks are handed out. *done* is called in this
        process with each chunk and its result as chunks finish. When a chunk fails, the chunks
        already running finish (their results still reach *done*, so the caller can undo their
        work), none is started, and the first failure is raised.
        """
        parts = chunks(items, self.count * CHUNKS_PER_WORKER)
        with _main_module_hidden():  # the workers start as these are submitted
            futures = [self._executor().submit(function, part) for part in parts]
        results: list[Any] = [None] * len(futures)
        failure: BaseException | None = None
        try:
            if meanwhile is not None:
                meanwhile()
        except BaseException as err:
            failure = err
            for future in futures:
                future.cancel()
        for i, future in _in_completion_order(futures):
            error = future.exception()
            if error is not None:
                failure = failure or error
                for other in futures:
                    other.cancel()
                continue
            results[i] = future.result()
            if done is not None:
                done(parts[i], results[i])
        if failure is not None:
            raise failure
        return results

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing  # only a build that uses workers pays for these imports
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.count, mp_context=context, initializer=_start,
                                             initargs=(logging.getLogger().getEffectiveLevel(), not quiet.enabled()))
            logger.info("building in %d worker processes", self.count)
        return self._pool

    def close(self) -> None:
        """Stop the workers (waits for none still queued: they were cancelled or finished)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While workers start, ``__main__`` is an empty module.

    A ``spawn``-ed process re-imports the main script of the process that starts it (so that
    functions defined there can be unpickled), and so runs its top-level code again: a script that
    calls :func:`hubgen.build.build_hub` without an ``if __name__ == "__main__":`` guard would build
    again in every worker, which then fails to start its own. The workers run only hubgen's own
    functions, so they need nothing from the main script.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _in_completion_order(futures: list[Future[Any]]) -> Iterator[tuple[int, Future[Any]]]:
    position = {id(f): i for i, f in enumerate(futures)}
    pending = set(futures)
    while pending:
        finished, pending = wait(pending, return_when="FIRST_COMPLETED")
        for future in sorted(finished, key=lambda f: position[id(f)]):
            if not future.cancelled():
                yield position[id(future)], future


def _start(log_level: int, verbose: bool) -> None:
    """A worker logs as the process that started it."""
    logging.basicConfig(level=log_level, format="%(message)s", handlers=[quiet.StderrHandler()])
    quiet.set_verbose(verbose)
    quiet.silence_frameworks()


def pool_for(work: int, requested: int | None) -> Workers | None:
    """The pool a build uses for *work* new versions: *requested* processes (1: none), or by default one
    per core when there is enough work (:data:`MIN_VERSIONS`) and more than one core."""
    count = requested if requested is not None else (cores() if work >= MIN_VERSIONS else 1)
    if count < 1:
        raise ValueError(f"workers must be at least 1, got {count}")
    return Workers(count) if count > 1 else None


__all__ = ["CHUNKS_PER_WORKER", "MIN_VERSIONS", "Workers", "chunks", "cores", "pool_for"]
