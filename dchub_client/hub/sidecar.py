"""The lookup file of a cached hub index: validated once, then one model found by bisection.

An ``index.json`` of 10,000 models is ~1.5 MB; parsing and validating all of it on every
``from_pretrained`` would cost more than the rest of a warm load. When an index enters the cache it
is validated whole (:func:`dchub_client.format.hubfiles.parse_index` and the trust checks), and
this file is written next to it::

    dchub-index-lookup 1\\n
    {"hub": ..., "index_sha256": ..., "version": ..., "expires": ..., "title": ..., ...}\\n   (the header)
    <model name>\\t<compact JSON of its entry>\\n                                             (sorted by name)
    ...

Finding a name reads the file and bisects its lines (names are ASCII, so byte order is name
order); only the line found is parsed, and it is validated again (cheap) so a damaged cache file
cannot smuggle in a bad path.

Example:
    >>> lookup = read_lookup(path)  # doctest: +SKIP
    >>> lookup.models.get("esol-mtr").latest  # doctest: +SKIP
    '1.0.0'
"""
from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dchub_client.errors import HubFormatError
from dchub_client.format import hubfiles
from dchub_client.format.atomic import atomic_write_bytes
from dchub_client.format.hubfiles import Index, ModelEntry

MAGIC = b"dchub-index-lookup 1\n"
#: Below this many bytes, the remaining lines are scanned instead of bisected.
_SCAN_BYTES = 2048


def write_lookup(path: Path, index: Index, header: dict[str, Any]) -> None:
    """Write the lookup file of a validated *index* (atomically); *header* is stored as its second line."""
    lines = [MAGIC, _compact(header) + b"\n"]
    for name in sorted(index.models):
        lines.append(name.encode("ascii") + b"\t" + _compact(hubfiles.model_entry_to_json(index.models[name])) + b"\n")
    atomic_write_bytes(path, b"".join(lines))


def _compact(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Lookup:
    """A lookup file in memory: its :attr:`header` and :attr:`models` (a lazy, read-only mapping)."""

    def __init__(self, data: bytes | mmap.mmap, source: str) -> None:
        end = data.find(b"\n", len(MAGIC))
        if data[:len(MAGIC)] != MAGIC or end < 0:
            raise HubFormatError("not a dchub index lookup file", source=source)
        try:
            self.header: dict[str, Any] = json.loads(data[len(MAGIC):end])
        except ValueError as err:
            raise HubFormatError(f"damaged lookup file header ({err})", source=source) from err
        self.source = source
        self.models = _LazyModels(data, end + 1, source, int(self.header.get("count", 0)))

    def index(self) -> Index:
        """The :class:`~dchub_client.format.hubfiles.Index` it describes, its models read on demand."""
        h = self.header
        return Index(name=h["hub"], models=self.models, title=h.get("title", ""),  # type: ignore[arg-type]
                     description=h.get("description", ""), mirrors=tuple(h.get("mirrors", ())),
                     generated=h.get("generated"), format_version=h.get("format_version", ""),
                     extra=dict(h.get("extra", {})), version=h.get("version"), expires=h.get("expires"))


class _LazyModels(Mapping[str, ModelEntry]):
    """The models of a lookup file: ``get``/``[]`` bisect and parse one line; iteration reads every name."""

    def __init__(self, data: bytes | mmap.mmap, start: int, source: str, count: int) -> None:
        self._data = data
        self._start = start
        self._source = source
        self._count = count
        self._parsed: dict[str, ModelEntry] = {}

    def __getitem__(self, name: str) -> ModelEntry:
        entry = self._parsed.get(name)
        if entry is None:
            line = self._find(name)
            if line is None:
                raise KeyError(name)
            entry = self._parsed[name] = self._parse(name, line)
        return entry

    def __iter__(self) -> Iterator[str]:
        data, pos = self._data, self._start
        while pos < len(data):
            tab = data.find(b"\t", pos)
            yield data[pos:tab].decode("ascii")
            pos = data.find(b"\n", tab) + 1

    def __len__(self) -> int:
        return self._count

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._parsed or self._find(name) is not None)

    def _find(self, name: str) -> bytes | None:
        """The JSON of *name*'s line, or None: bisect the lines, then scan the last few."""
        try:
            key = name.encode("ascii")
        except UnicodeEncodeError:
            return None
        data, lo, hi = self._data, self._start, len(self._data)
        while hi - lo > _SCAN_BYTES:  # invariant: lo starts a line; the line sought starts in [lo, hi)
            mid = data.find(b"\n", (lo + hi) // 2, hi) + 1
            if mid <= 0 or mid >= hi:
                break
            tab = data.find(b"\t", mid)
            probe = data[mid:tab]
            if probe == key:
                return data[tab + 1:data.find(b"\n", tab)]
            if probe < key:
                lo = mid
            else:
                hi = mid
        return self._scan(key, lo, hi)

    def _scan(self, key: bytes, lo: int, hi: int) -> bytes | None:
        data, pos = self._data, lo
        while pos < hi:
            tab = data.find(b"\t", pos)
            end = data.find(b"\n", tab)
            if tab < 0 or end < 0:
                return None
            if data[pos:tab] == key:
                return data[tab + 1:end]
            pos = end + 1
        return None

    def _parse(self, name: str, line: bytes) -> ModelEntry:
        try:
            obj = json.loads(line)
        except ValueError as err:
            raise HubFormatError(f"damaged line for model {name!r} ({err})", source=self._source) from err
        return hubfiles.parse_model_entry(name, obj, self._source)


def read_lookup(path: Path) -> Lookup | None:
    """The lookup file at *path*, or None when it is missing or unreadable as one (rebuild it then).

    The file is memory-mapped (read as a whole on Windows, where a mapped file cannot be replaced), so
    finding one name reads a few pages, not the whole file.
    """
    try:
        data = _map(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return Lookup(data, str(path))
    except HubFormatError:
        return None


def _map(path: Path) -> Any:
    if os.name == "nt":  # pragma: no cover - a mapped file could not be replaced by the next fetch
        return path.read_bytes()
    with open(path, "rb") as handle:
        try:
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file
            return b""


__all__ = ["MAGIC", "Lookup", "read_lookup", "write_lookup"]
