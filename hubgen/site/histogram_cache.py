"""Histograms of weight values, kept between builds and keyed by the weights' sha256.

Blobs never change once written, so a layer whose weight files have the same hashes has the same
histogram: a rebuild reads and bins only the weights it has not seen before. The cache is a
private file of the hub folder (never listed in ``SHA256SUMS``, never published); a missing or
unreadable cache only costs time.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dchub_client.format.atomic import keep_private, write_if_changed
from hubgen.site import reader, svg

logger = logging.getLogger(__name__)

#: Changes whenever the sampling, the binning or the labels' number format (``svg.number``) changes, so old
#: entries are not reused (2: whole numbers from 100 up read ``1,883``, not ``1.88e+03``).
_VERSION = f"2:{reader.SAMPLE_ELEMENTS}:{reader.SAMPLE_CHUNKS}:{svg.histogram.__defaults__}"


class HistogramCache:
    """``get(shas, make)``: the cached histogram of the weights with these file hashes, or ``make()``'s."""

    def __init__(self, path: Path) -> None:
        self.path = path
        keep_private(path)  # it is saved only when a page is rendered: an older version's may be readable
        self._loaded: dict[str, Any] | None = None  # read on first use: a rebuild with no page to render never needs it
        self._used: dict[str, Any] = {}

    @property
    def _old(self) -> dict[str, Any]:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data.get("histograms", {}) if isinstance(data, dict) and data.get("version") == _VERSION else {}

    def get(self, shas: Iterable[str], make: Callable[[], svg.Histogram | None]) -> svg.Histogram | None:
        key = hashlib.sha256("\n".join(shas).encode()).hexdigest()
        if key in self._old:
            try:
                histogram = _decode(self._old[key])
            except (TypeError, KeyError, ValueError):
                pass
            else:
                self._used[key] = self._old[key]  # kept as it was read: it decodes to this histogram
                return histogram
        histogram = make()
        self._used[key] = None if histogram is None else dataclasses.asdict(histogram)
        return histogram

    def used(self) -> dict[str, Any]:
        """The entries this build used so far (a build worker hands them to :meth:`absorb`)."""
        return dict(self._used)

    def absorb(self, used: dict[str, Any]) -> None:
        """Count *used* (another cache's :meth:`used`) as used by this build too."""
        self._used.update(used)

    def save(self) -> None:
        """Keep the entries this build used (older ones are dropped)."""
        data = {"version": _VERSION, "histograms": self._used}
        write_if_changed(self.path, json.dumps(data, sort_keys=True).encode("utf-8"), private=True)


def _decode(data: dict[str, Any] | None) -> svg.Histogram | None:
    if data is None:
        return None
    return svg.Histogram(**{**data, "bars": tuple(svg.Bar(**bar) for bar in data["bars"])})
