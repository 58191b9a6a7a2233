"""Which mirrors are down: skipped for the rest of the process and, for a while, by later processes.

A mirror that could not be reached, did not answer in time or stalled (a
:class:`~dchub_client.errors.MirrorDownError`) is *down*. :func:`~dchub_client.hub.mirrors.try_mirrors`
then tries it only after every other mirror failed for the same file, so one dead mirror costs one
connect timeout per process instead of one per file. The fact is also written to a small record in the
cache (``<cache>/mirror-health.json``: mirror, when, why) that later processes honour for
``constants.mirror_backoff_seconds()``. A down mirror that answers again is forgotten. The record is
advisory: an unreadable or unwritable one only costs time.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

from dchub_client import constants

log = logging.getLogger(__name__)

#: The record's file name, at the root of the cache.
RECORD_FILE = "mirror-health.json"
_VERSION = 1


class Down(NamedTuple):
    """A mirror found down: when (seconds since the epoch) and why (what the failed request met)."""

    at: float
    why: str


class MirrorHealth:
    """The down mirrors of one cache, for this process (all of them) and from the record (recent ones)."""

    def __init__(self, cache_root: Path) -> None:
        self.path = cache_root / RECORD_FILE
        self._lock = threading.Lock()
        self._here: dict[str, Down] = {}
        self._recorded: dict[str, Down] | None = None
        self._announced: set[str] = set()

    def down(self, root: str) -> Down | None:
        """Why *root* is to be skipped, or None when it is not known to be down."""
        with self._lock:
            if root in self._here:
                return self._here[root]
            if self._recorded is None:
                self._recorded = self._read()
            seen = self._recorded.get(root)
        if seen is not None and time.time() - seen.at < constants.mirror_backoff_seconds():
            return seen
        return None

    def mark_down(self, root: str, why: str) -> None:
        """Remember that *root* failed to connect or timed out (here, and in the record)."""
        with self._lock:
            new = root not in self._here
            self._here[root] = state = Down(time.time(), why)
        if new:  # the download threads that met the same failure write the record once
            self._update(root, state)

    def mark_up(self, root: str) -> None:
        """Forget that *root* was down (it just answered)."""
        with self._lock:
            was_down = self._here.pop(root, None) is not None or root in (self._recorded or {})
            if self._recorded is not None:
                self._recorded.pop(root, None)
            self._announced.discard(root)
        if was_down:
            self._update(root, None)

    def announce_skip(self, root: str, down: Down) -> None:
        """Say once per process that *root* is skipped (the CLI prints warnings as one line each)."""
        with self._lock:
            if root in self._announced:
                return
            self._announced.add(root)
            found_here = root in self._here
        if found_here:  # by this process, a moment ago
            log.warning("skipping mirror %s for the rest of this run (%s); it is tried again only if every other "
                        "mirror fails", root, down.why)
            return
        ago = max(0.0, time.time() - down.at)
        log.warning("skipping mirror %s (found down %s ago: %s); it is tried again only if every other mirror "
                    "fails", root, _ago(ago), down.why)

    def _read(self) -> dict[str, Down]:
        try:
            data = json.loads(self.path.read_bytes())
            entries = data["down"] if data.get("version") == _VERSION else {}
            return {str(root): Down(float(e["at"]), str(e["why"])) for root, e in entries.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
            log.debug("%s: unreadable mirror health record (%s); ignoring it", self.path, err)
            return {}

    def _update(self, root: str, down: Down | None) -> None:
        """Write *root*'s state into the record (read again first: other processes write it too)."""
        from dchub_client.format.atomic import atomic_write_bytes  # only when a mirror changes state

        if constants.mirror_backoff_seconds() <= 0:
            return
        with self._lock:
            entries = self._read()
            if down is None:
                entries.pop(root, None)
            else:
                entries[root] = down
            horizon = time.time() - constants.mirror_backoff_seconds()
            entries = {r: d for r, d in entries.items() if d.at > horizon}
            data = {"version": _VERSION, "down": {r: {"at": d.at, "why": d.why} for r, d in sorted(entries.items())}}
            try:
                atomic_write_bytes(self.path, json.dumps(data, indent=1).encode("utf-8"))
            except OSError as err:
                log.debug("%s: cannot write the mirror health record (%s)", self.path, err)


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


_REGISTRY: dict[str, MirrorHealth] = {}
_REGISTRY_LOCK = threading.Lock()


def for_cache(cache_root: Path | None = None) -> MirrorHealth:
    """The :class:`MirrorHealth` of the cache at *cache_root* (default ``constants.cache_dir()``), one per process."""
    root = Path(cache_root) if cache_root is not None else constants.cache_dir()
    key = os.fspath(root)
    with _REGISTRY_LOCK:
        health = _REGISTRY.get(key)
        if health is None:
            health = _REGISTRY[key] = MirrorHealth(root)
        return health


def _forget_all() -> None:
    with contextlib.suppress(Exception):
        _REGISTRY.clear()


os.register_at_fork(after_in_child=_forget_all)  # a forked child starts from the record alone


__all__ = ["Down", "MirrorHealth", "RECORD_FILE", "for_cache"]
