"""The content-addressed blob store of a hub, and the hash cache that keeps rebuilds cheap.

Each byte is hashed once: a file that fits in one part has one digest, which is both its own and
its blob's; only a file split into parts also gets a digest per part. A small file (up to
:data:`SMALL_FILE_BYTES`) is read whole, hashed, and written only if its blob is not already there.
A larger one is hashed in one pass, then each of its blobs that is new is copied by the kernel
(``copy_file_range``, from the page cache the hash pass filled): a blob the hub already has (a
fine-tuned model's frozen weights) is never written. :meth:`BlobStore.digest_all` works on two
files at once, so one file's hashing overlaps another's copying. Each temp file is moved to
``blobs/sha256/<xx>/<sha>`` unless that blob is already there.

The hash cache (``<hub>/.hubgen-cache.json``, never published, readable by its owner only) maps a source file's
``(absolute path, size, mtime_ns, inode)`` to its sha256 and parts, so an unchanged file is never
read again.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dchub_client.format import hubfiles, layout
from dchub_client.format.atomic import atomic_write_bytes, keep_private, publish_unnamed
from dchub_client.format.hashing import sha256_bytes, sha256_file

logger = logging.getLogger(__name__)

_CACHE_VERSION = 1
#: Read buffer of a streamed file: large, so per-call overhead vanishes.
BUFFER_SIZE = 1 << 20
#: Files up to this size are read whole into memory (and written only when their blob is new).
SMALL_FILE_BYTES = 4 << 20
#: Files hashed (and copied) at once by :meth:`BlobStore.digest_all`: hashing and copying release the
#: GIL, and so does creating files, which is most of the cost for many small ones.
WORKERS = 2

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
    """``(path, size, mtime_ns, inode, part_size)`` → :class:`FileDigest`, stored as JSON (mode ``0600``: it
    names the builder's own files, which a web server serving the hub must not show)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, dict] = self._load(path) if path is not None else {}
        self._dirty = False
        if path is not None:
            keep_private(path)  # written readable by an older version

    @classmethod
    def of(cls, entries: dict[str, dict]) -> HashCache:
        """A cache held in memory only (a build worker's), starting with *entries* (see :meth:`entries`)."""
        cache = cls(None)
        cache._entries = dict(entries)
        return cache

    def entries(self) -> dict[str, dict]:
        """The raw entries, to hand to :meth:`update` (a worker's) or :meth:`of`."""
        return dict(self._entries)

    def entries_under(self, folders: set[str]) -> dict[str, dict]:
        """The raw entries of files in *folders* or (up to two levels) below them: a composite model's
        ``members/<i>/`` files."""
        def within(path: str) -> bool:
            for _ in range(3):
                path = os.path.dirname(path)
                if path in folders:
                    return True
            return False
        return {key: entry for key, entry in self._entries.items() if within(key)}

    def update(self, entries: dict[str, dict]) -> None:
        """Take over *entries* (a worker's :meth:`entries`): they are newer than this cache's."""
        if entries:
            self._entries.update(entries)
            self._dirty = True

    @staticmethod
    def _load(path: Path) -> dict[str, dict]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            logger.warning("%s: unreadable hash cache, starting afresh (%s)", path, err)
            return {}
        if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    @staticmethod
    def _key(st: os.stat_result, part_size: int) -> list[int]:
        return [st.st_size, st.st_mtime_ns, st.st_ino, part_size]

    def knows(self, source: Path) -> bool:
        """Whether *source* has an entry at all (current or not)."""
        return str(source) in self._entries

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

    def sha256(self, path: Path) -> str:
        """The sha256 of a hub file (a manifest, a page), from the cache while its stat is unchanged."""
        st = path.stat()
        cached = self.get(path, st, 0)
        if cached is not None:
            return cached.sha256
        digest = sha256_file(path)
        self.put(path, st, 0, FileDigest(digest, st.st_size))
        return digest

    def note(self, path: Path, data: bytes, sha256: str | None = None) -> None:
        """Remember the digest of *data* (*sha256*, if the caller has it), just written to the hub file
        *path*: the checksum files then need not read it back."""
        st = path.stat()
        if st.st_size == len(data):
            self.put(path, st, 0, FileDigest(sha256 or sha256_bytes(data), st.st_size))

    def save(self) -> None:
        """Write the cache atomically if anything changed (an in-memory cache is never written)."""
        if self._dirty and self.path is not None:
            data = {"version": _CACHE_VERSION, "entries": dict(sorted(self._entries.items()))}
            atomic_write_bytes(self.path, json.dumps(data, separators=(",", ":")).encode(),  # C encoder: fast
                               private=True)  # it names the builder's own files: never for a web server
            self._dirty = False


#: A worker's :class:`StoreStats`, as it crosses processes: bytes hashed, new, reused, and the new blobs.
StoreTotals = tuple[int, int, int, list[str]]


@dataclass
class StoreStats:
    """What a store did: bytes hashed (read), blobs and bytes written, bytes already present."""

    bytes_hashed: int = 0
    bytes_new: int = 0
    bytes_reused: int = 0
    blobs_new: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, hashed: int = 0, new: int = 0, reused: int = 0, blob: str | None = None) -> None:
        with self.lock:
            self.bytes_hashed += hashed
            self.bytes_new += new
            self.bytes_reused += reused
            if blob is not None:
                self.blobs_new.append(blob)

    def totals(self) -> StoreTotals:
        with self.lock:
            return self.bytes_hashed, self.bytes_new, self.bytes_reused, list(self.blobs_new)

    def absorb(self, totals: StoreTotals) -> None:
        """Add another store's :meth:`totals` (a build worker's) to these."""
        hashed, new, reused, blobs = totals
        with self.lock:
            self.bytes_hashed += hashed
            self.bytes_new += new
            self.bytes_reused += reused
            self.blobs_new += blobs


class BlobStore:
    """The ``blobs/`` tree of a hub folder."""

    def __init__(self, root: Path, *, part_size: int, cache: HashCache) -> None:
        self.root = root
        self.part_size = part_size
        self.cache = cache
        self.stats = StoreStats()
        self.tmp = root / layout.BUILD_TMP_DIR
        self._names = itertools.count()
        self._folders: set[str] = set()

    def path(self, sha256: str) -> Path:
        return self.root / hubfiles.blob_path(sha256)

    def has(self, blob: hubfiles.Part) -> bool:
        try:
            return os.stat(os.path.join(self.root, hubfiles.blob_path(blob.sha256))).st_size == blob.size
        except FileNotFoundError:
            return False

    def digest_all(self, sources: Sequence[Path], *, store: bool,
                   progress: Progress | None = None) -> list[FileDigest]:
        """:meth:`digest` of each of *sources* (in that order), :data:`WORKERS` files at a time; a file
        listed twice (a folder published as two versions) is read once."""
        unique = list(dict.fromkeys(sources))
        if len(unique) < len(sources):
            found = dict(zip(unique, self.digest_all(unique, store=store, progress=progress)))
            for path in _repeats(sources):  # their blobs are there now
                if store:
                    self.stats.add(reused=found[path].size)
                if progress:
                    progress(found[path].size)
            return [found[p] for p in sources]
        todo = [p for p in sources if not self._cached(p)]
        if len(todo) < 2 or (len(todo) < 8 and sum(_size(p) for p in todo) < 2 * SMALL_FILE_BYTES):
            return [self.digest(path, store=store, progress=progress) for path in sources]
        lock = threading.Lock()

        def tick(n: int) -> None:
            with lock:
                progress(n)  # type: ignore[misc]

        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="hubgen-hash") as pool:
            return list(pool.map(lambda p: self.digest(p, store=store, progress=tick if progress else None),
                                 sources))

    def _cached(self, source: Path) -> bool:
        if not self.cache.knows(source):  # a first build: no stat needed to know
            return False
        try:
            return self.cache.get(source, source.stat(), self.part_size) is not None
        except OSError:
            return False

    def digest(self, source: Path, *, store: bool, progress: Progress | None = None) -> FileDigest:
        """Hash *source* (through the cache); with *store*, also make sure its blobs are in the hub."""
        st = source.stat()
        cached = self.cache.get(source, st, self.part_size)
        if cached is not None and (not store or all(self.has(b) for b in cached.blobs)):
            if store:
                self.stats.add(reused=cached.size)
            if progress:
                progress(cached.size)
            return cached
        digest = self._read(source, size=st.st_size, store=store)
        if progress:
            progress(digest.size)
        self.stats.add(hashed=digest.size)
        self.cache.put(source, st, self.part_size, digest)
        return digest

    def _read(self, source: Path, *, size: int, store: bool) -> FileDigest:
        """Read and hash *source* (the only place source bytes are read)."""
        if size <= SMALL_FILE_BYTES:
            return self._small(source, size, store=store)
        return self._stream(source, store=store)

    # --- small files: read whole, hash, write only new blobs ----------------------------------

    def _small(self, source: Path, size: int, *, store: bool) -> FileDigest:
        with open(source, "rb", buffering=0) as handle:
            data = memoryview(handle.read())
        if len(data) != size:
            raise OSError(f"{source}: changed while being read ({len(data)} bytes, expected {size})")
        whole = hashlib.sha256(data).hexdigest()
        chunks = [data[i:i + self.part_size] for i in range(0, len(data), self.part_size)] or [data]
        parts = tuple(hubfiles.Part(hashlib.sha256(c).hexdigest(), len(c)) for c in chunks) \
            if len(chunks) > 1 else ()
        digest = FileDigest(whole, size, parts)
        if store:
            for blob, chunk in zip(digest.blobs, chunks):
                self._put_small(blob, chunk)
        return digest

    def _put_small(self, blob: hubfiles.Part, data: memoryview) -> None:
        """Publish a small blob unless it is there: as an unnamed file linked into place where the system
        has them (no temp name to create and rename: most of a tiny model's build is creating names),
        else through a named temp file. No stat first: linking a blob that exists just fails."""
        created = publish_unnamed(os.path.join(self.root, hubfiles.blob_path(blob.sha256)), data,
                                  mode=0o666)  # under the umask, like cp
        if created is None:
            self._commit(blob, self._write_temp(data))
        elif created:
            self.stats.add(new=blob.size, blob=blob.sha256)
        else:
            self.stats.add(reused=blob.size)

    def _write_temp(self, data: memoryview) -> str:
        fd, name = self._temp()
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return name

    def _temp(self) -> tuple[int, str]:
        """A new temp file in the store's private temp folder, created with its final mode
        (``0o666`` under the umask: :func:`~dchub_client.format.atomic.shared_file_mode`, like ``cp``)."""
        name = os.path.join(self.tmp, f"blob.{os.getpid()}.{next(self._names)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            return os.open(name, flags, 0o666), name
        except FileNotFoundError:
            os.makedirs(self.tmp, exist_ok=True)
            return os.open(name, flags, 0o666), name

    # --- large files: hash first, then copy only the blobs that are new -----------------------

    def _stream(self, source: Path, *, store: bool) -> FileDigest:
        """Hash a large file in one pass; then copy each new blob's byte range in the kernel.

        Hashing first means a blob already in the hub (a fine-tuned model's frozen weights) is
        never written at all; the copy (``copy_file_range``) reads the page cache the hash pass
        just filled. The file must not change between the two passes (checked by its status).
        """
        with open(source, "rb", buffering=0) as src:
            before = os.fstat(src.fileno())
            whole, parts = self._hash_parts(src)
            digest = FileDigest(whole, sum(p.size for p in parts), parts if len(parts) > 1 else ())
            offset = 0
            for blob in digest.blobs if store else ():
                if self.has(blob):
                    self.stats.add(reused=blob.size)
                else:
                    temp = self._copy_range(src.fileno(), offset, blob.size)
                    _check_unchanged(source, before, os.fstat(src.fileno()), temp)
                    self._commit(blob, temp)
                offset += blob.size
        return digest

    def _hash_parts(self, src: Any) -> tuple[str, tuple[hubfiles.Part, ...]]:
        """Read *src* to the end; return the whole-file digest and the parts.

        While the file fits in one part, its whole digest is the part's; from the second part on,
        each part also gets a digest of its own (the first part's is the whole digest at its end).
        """
        whole = hashlib.sha256()
        part_hash: Any = None
        parts: list[hubfiles.Part] = []
        size = 0
        view = memoryview(bytearray(BUFFER_SIZE))
        while n := src.readinto(view[:min(BUFFER_SIZE, self.part_size - size or self.part_size)]):
            if size == self.part_size:  # the current part is full: a new one starts here
                parts.append(hubfiles.Part((part_hash or whole.copy()).hexdigest(), size))
                part_hash, size = hashlib.sha256(), 0
            chunk = view[:n]
            whole.update(chunk)
            if part_hash is not None:
                part_hash.update(chunk)
            size += n
        parts.append(hubfiles.Part((part_hash or whole).hexdigest(), size))
        return whole.hexdigest(), tuple(parts)

    def _copy_range(self, src_fd: int, offset: int, size: int) -> str:
        """A temp file holding bytes ``offset:offset + size`` of *src_fd*, copied by the kernel when it can."""
        fd, name = self._temp()
        try:
            _copy_fd_range(src_fd, fd, offset, size)
        except BaseException:
            os.close(fd)
            os.unlink(name)
            raise
        os.close(fd)
        return name

    def _commit(self, blob: hubfiles.Part, temp: str) -> None:
        """Move a complete temp file to its blob path, unless the blob is already there."""
        written = os.stat(temp).st_size
        if written != blob.size:
            raise OSError(f"{temp}: wrote {written} bytes, expected {blob.size}")
        if self.has(blob):
            self.stats.add(reused=blob.size)
            return
        target = os.path.join(self.root, hubfiles.blob_path(blob.sha256))
        folder = os.path.dirname(target)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        os.replace(temp, target)
        self.stats.add(new=blob.size, blob=blob.sha256)

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


def _repeats(paths: Sequence[Path]) -> list[Path]:
    """Every occurrence of a path after its first."""
    seen: set[Path] = set()
    out = []
    for path in paths:
        if path in seen:
            out.append(path)
        seen.add(path)
    return out


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _copy_fd_range(src: int, dst: int, offset: int, size: int) -> None:
    """Copy *size* bytes from *offset* of *src* to the start of *dst*: ``copy_file_range`` (no trip through
    user space), else ``pread``/``write``."""
    done = 0
    copy = getattr(os, "copy_file_range", None)
    while done < size and copy is not None:
        try:
            n = copy(src, dst, size - done, offset + done, done)
        except OSError:  # not supported here (another file system, an old kernel): copy the plain way
            break
        if not n:
            raise OSError("the source file ended early while being copied")
        done += n
    while done < size:
        chunk = os.pread(src, min(BUFFER_SIZE, size - done), offset + done)
        if not chunk:
            raise OSError("the source file ended early while being copied")
        os.pwrite(dst, chunk, done)
        done += len(chunk)


def _check_unchanged(source: Path, before: os.stat_result, after: os.stat_result, temp: str) -> None:
    """Refuse a copy if *source* changed since it was hashed (its blob would not match its name)."""
    keys = ("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")
    if any(getattr(before, k) != getattr(after, k) for k in keys):
        os.unlink(temp)
        raise OSError(f"{source}: changed while the build was reading it; run the build again")
