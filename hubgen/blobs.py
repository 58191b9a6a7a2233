"""The content-addressed blob store of a hub, and the hash cache that keeps rebuilds cheap.

Each source file is read once: its bytes are hashed while they are copied into temp files, one
per part when the file is larger than the part size; each temp file is then moved to
``blobs/sha256/<xx>/<sha>`` unless that blob is already there.

The hash cache (``<hub>/.hubgen-cache.json``, never published) maps a source file's
``(absolute path, size, mtime_ns, inode)`` to its sha256 and parts, so an unchanged file is never
read again.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dchub_client.format import hubfiles, layout
from dchub_client.format.atomic import atomic_write_bytes, shared_file_mode

logger = logging.getLogger(__name__)

_CACHE_VERSION = 1
#: Copy/hash buffer: large, so per-call overhead vanishes.
BUFFER_SIZE = 4 << 20

Progress = Callable[[int], None]


@dataclass(frozen=True)
class FileDigest:
    """A source file's sha256, size, and its parts when it is stored split."""

    sha256: str
    size: int
    parts: tuple[hubfiles.Part, ...] = ()

    @property
    def blobs(self) -> tuple[hubfiles.Part, ...]:
        return self.parts or (hubfiles.Part(self.sha256, self.size),)


class HashCache:
    """``(path, size, mtime_ns, inode, part_size)`` → :class:`FileDigest`, stored as JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, dict] = self._load()
        self._dirty = False

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            logger.warning("%s: unreadable hash cache, starting afresh (%s)", self.path, err)
            return {}
        if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    @staticmethod
    def _key(st: os.stat_result, part_size: int) -> list[int]:
        return [st.st_size, st.st_mtime_ns, st.st_ino, part_size]

    def get(self, source: Path, st: os.stat_result, part_size: int) -> FileDigest | None:
        """The cached digest of *source*, if its stat (and the part size) are unchanged."""
        entry = self._entries.get(str(source))
        if not entry or entry.get("key") != self._key(st, part_size):
            return None
        try:
            parts = tuple(hubfiles.Part(p[0], p[1]) for p in entry.get("parts", []))
            return FileDigest(entry["sha256"], st.st_size, parts)
        except (KeyError, IndexError, TypeError):
            return None

    def put(self, source: Path, st: os.stat_result, part_size: int, digest: FileDigest) -> None:
        self._entries[str(source)] = {"key": self._key(st, part_size), "sha256": digest.sha256,
                                      "parts": [[p.sha256, p.size] for p in digest.parts]}
        self._dirty = True

    def save(self) -> None:
        """Write the cache atomically if anything changed."""
        if self._dirty:
            data = {"version": _CACHE_VERSION, "entries": dict(sorted(self._entries.items()))}
            atomic_write_bytes(self.path, json.dumps(data, indent=0).encode())
            self._dirty = False


@dataclass
class StoreStats:
    """What a store did: bytes hashed (read), blobs and bytes written, bytes already present."""

    bytes_hashed: int = 0
    bytes_new: int = 0
    bytes_reused: int = 0
    blobs_new: list[str] = field(default_factory=list)


class BlobStore:
    """The ``blobs/`` tree of a hub folder."""

    def __init__(self, root: Path, *, part_size: int, cache: HashCache) -> None:
        self.root = root
        self.part_size = part_size
        self.cache = cache
        self.stats = StoreStats()
        self.tmp = root / layout.BUILD_TMP_DIR

    def path(self, sha256: str) -> Path:
        return self.root / hubfiles.blob_path(sha256)

    def has(self, blob: hubfiles.Part) -> bool:
        try:
            return self.path(blob.sha256).stat().st_size == blob.size
        except FileNotFoundError:
            return False

    def digest(self, source: Path, *, store: bool, progress: Progress | None = None) -> FileDigest:
        """Hash *source* (through the cache); with *store*, also make sure its blobs are in the hub."""
        st = source.stat()
        cached = self.cache.get(source, st, self.part_size)
        if cached is not None and (not store or all(self.has(b) for b in cached.blobs)):
            if store:
                self.stats.bytes_reused += cached.size
            if progress:
                progress(cached.size)
            return cached
        digest = self._read(source, store=store, progress=progress)
        self.cache.put(source, st, self.part_size, digest)
        return digest

    def _read(self, source: Path, *, store: bool, progress: Progress | None) -> FileDigest:
        self.tmp.mkdir(parents=True, exist_ok=True)
        temps: list[Path] = []
        try:
            whole, parts = self._copy(source, temps if store else None, progress)
            digest = FileDigest(whole, sum(p.size for p in parts), parts if len(parts) > 1 else ())
            if store:
                for blob, temp in zip(digest.blobs, temps):
                    self._commit(blob, temp)
            return digest
        finally:
            for temp in temps:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()

    def _copy(self, source: Path, temps: list[Path] | None,
              progress: Progress | None) -> tuple[str, tuple[hubfiles.Part, ...]]:
        whole = hashlib.sha256()
        parts: list[hubfiles.Part] = []
        buffer = bytearray(BUFFER_SIZE)
        with open(source, "rb", buffering=0) as src:
            while True:
                part, size, done = self._copy_part(src, buffer, whole, temps, progress)
                if size or not parts:
                    parts.append(hubfiles.Part(part, size))
                if done:
                    break
        self.stats.bytes_hashed += sum(p.size for p in parts)
        return whole.hexdigest(), tuple(parts)

    def _copy_part(self, src: object, buffer: bytearray, whole: "hashlib._Hash", temps: list[Path] | None,
                   progress: Progress | None) -> tuple[str, int, bool]:
        """Copy up to one part from *src*; return (sha256, size, reached end of file)."""
        part = hashlib.sha256()
        view = memoryview(buffer)
        out_fd = None
        if temps is not None:
            out_fd, name = tempfile.mkstemp(prefix="blob.", dir=self.tmp)
            temps.append(Path(name))
        size = 0
        try:
            while size < self.part_size:
                n = src.readinto(view[:min(len(buffer), self.part_size - size)])  # type: ignore[attr-defined]
                if not n:
                    return part.hexdigest(), size, True
                chunk = view[:n]
                whole.update(chunk)
                part.update(chunk)
                if out_fd is not None:
                    _write_all(out_fd, chunk)
                size += n
                if progress:
                    progress(n)
            return part.hexdigest(), size, _at_eof(src)
        finally:
            if out_fd is not None:
                os.close(out_fd)

    def _commit(self, blob: hubfiles.Part, temp: Path) -> None:
        """Move a verified temp file to its blob path, unless the blob is already there."""
        if temp.stat().st_size != blob.size:
            raise OSError(f"{temp}: wrote {temp.stat().st_size} bytes, expected {blob.size}")
        if self.has(blob):
            self.stats.bytes_reused += blob.size
            return
        target = self.path(blob.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp, shared_file_mode())  # mkstemp made it 0600
        os.replace(temp, target)
        self.stats.bytes_new += blob.size
        self.stats.blobs_new.append(blob.sha256)

    def discard_new(self) -> None:
        """Remove the blobs this store created (after a failed build: nothing references them)."""
        for sha in self.stats.blobs_new:
            with contextlib.suppress(FileNotFoundError):
                self.path(sha).unlink()
        self.stats.blobs_new.clear()

    def clean_tmp(self) -> None:
        """Remove temp files left by an interrupted build."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _at_eof(src: object) -> bool:
    """True when *src* has nothing left (peeks one byte and steps back)."""
    pos = src.tell()  # type: ignore[attr-defined]
    if src.read(1):  # type: ignore[attr-defined]
        src.seek(pos)  # type: ignore[attr-defined]
        return False
    return True
