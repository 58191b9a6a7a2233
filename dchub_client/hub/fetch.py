"""Fetch a model's files into the cache: verified, over mirrors, in parallel.

Each file is streamed from the first mirror that serves it correctly, written straight to its
place in the blob's temp file and hashed on the fly (one pass, no re-read; for large files on a
helper thread, overlapped with the network), and published into the cache only when its sha256
matches the manifest.

A file stored in parts is fetched part by part into one temp file while the sha256 of the *whole
file* is computed in order. When it matches, every part is right too, so each byte is hashed once.
When it does not, each part is re-hashed from the temp file, and every wrong part is fetched
again, verified on its own, from the mirrors after the one that sent it; the whole file is then
checked again. Nothing is published before the whole-file check passed, so a cached blob's name is
always the sha256 of its bytes. Files of a model download in parallel
(``constants.download_workers()`` threads).
"""
from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dchub_client import constants
from dchub_client.errors import BadResponseError, ChecksumError, MirrorError
from dchub_client.format.hashing import CHUNK_SIZE
from dchub_client.format.hubfiles import FileEntry, Part, blob_path
from dchub_client.hub.cache import Cache
from dchub_client.hub.mirrors import Mirror, describe, failure_types, try_mirrors

log = logging.getLogger(__name__)

#: Blobs at least this large are hashed on a helper thread (below it, a thread start costs more).
THREADED_HASH_BYTES = 8 << 20
#: Chunks (of up to 1 MiB) queued between the fetching and the hashing thread of one file.
_QUEUE_CHUNKS = 8


class _Hasher:
    """A sha256 fed from the fetching thread and computed on a helper thread (hashlib releases the GIL).

    :meth:`checkpoint` marks a point of the stream without waiting; :meth:`restart` rewinds to a
    checkpoint (after a failed attempt); :meth:`digest` waits for the queued chunks; :meth:`close`
    stops the thread.
    """

    def __init__(self, digest: Any) -> None:
        self._digest = digest
        self._queue: queue.Queue[bytes | list[Any] | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self._thread = threading.Thread(target=self._run, name="dchub-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, list):  # a checkpoint: keep a copy of the state here
                item.append(self._digest.copy())
            else:
                self._digest.update(item)
            self._queue.task_done()
        self._queue.task_done()

    def update(self, data: bytes) -> None:
        self._queue.put(data)

    def checkpoint(self) -> list[Any]:
        """A handle on the state after everything fed so far (filled in by the helper thread)."""
        mark: list[Any] = []
        self._queue.put(mark)
        return mark

    def restart(self, mark: list[Any]) -> None:
        """Continue from *mark* (a :meth:`checkpoint`), dropping what was fed since."""
        self._queue.join()
        self._digest = mark[0].copy()

    def digest(self) -> Any:
        """The hash object, once every queued chunk went into it."""
        self._queue.join()
        return self._digest

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class _BlobSink:
    """Where a mirror's bytes go (over http, pooch's downloader writes them here through the
    mirror's guard): size-checked, written at their place in the temp file, hashed into *digest*
    (a hashlib object or a :class:`_Hasher`), counted on the progress bar."""

    def __init__(self, fd: int, offset: int, size: int, digest: Any, progress: Any = None) -> None:
        self.fd = fd
        self.offset = offset
        self.size = size
        self.digest = digest
        self.progress = progress
        self.written = 0

    def write(self, data: Any) -> int:
        n = len(data)
        if self.written + n > self.size:
            raise BadResponseError(f"sent more than the {self.size} bytes expected")
        data = data if isinstance(data, bytes) else bytes(data)
        _pwrite_all(self.fd, data, self.offset + self.written)
        self.digest.update(data)
        self.written += n
        if self.progress is not None:
            self.progress.update(n)
        return n

    def flush(self) -> None:
        """Nothing to do: the real file flushes when it is closed."""

    def check_size(self) -> None:
        if self.written != self.size:
            raise BadResponseError(f"truncated: got {self.written} of {self.size} bytes")

    def abandon(self) -> None:
        """After a failure: take the bytes back off the progress bar."""
        if self.progress is not None and self.written:
            self.progress.update(-self.written)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _mismatch(actual: str, expected: str) -> str:
    return f"sha256 mismatch (got {actual[:12]}…, expected {expected[:12]}…)"


def _stream(mirror: Mirror, part: Part, sink: _BlobSink) -> None:
    """Fetch one blob from *mirror* into *sink*; on failure, undo its progress and re-raise."""
    try:
        mirror.fetch(blob_path(part.sha256), sink, limit=part.size)
        sink.check_size()
    except BaseException:
        sink.abandon()
        raise


def _fetch_verified(mirrors: Sequence[Mirror], part: Part, fd: int, offset: int, *, what: str,
                    progress: Any = None) -> None:
    """Write one blob, verified by its own sha256, at *offset* of *fd*, from the first good mirror."""

    def attempt(mirror: Mirror) -> None:
        threaded = part.size >= THREADED_HASH_BYTES
        digest = _Hasher(hashlib.sha256()) if threaded else hashlib.sha256()
        sink = _BlobSink(fd, offset, part.size, digest, progress)
        try:
            _stream(mirror, part, sink)
            actual = (digest.digest() if threaded else digest).hexdigest()
        finally:
            if threaded:
                digest.close()
        if actual != part.sha256:
            sink.abandon()
            raise BadResponseError(_mismatch(actual, part.sha256))

    try_mirrors(mirrors, what, attempt)


def _fetch_parts(mirrors: Sequence[Mirror], entry: FileEntry, fd: int, *, what: str, progress: Any) -> None:
    """Fetch the parts of *entry* into *fd*, hashing the whole file once, in order (see the module doc)."""
    hasher = _Hasher(hashlib.sha256())
    served: list[tuple[Mirror, dict[str, str]]] = []
    try:
        offset = 0
        for i, part in enumerate(entry.parts):
            served.append(_stream_part(mirrors, part, fd, offset, hasher, what=_part_what(what, entry, i),
                                       progress=progress))
            offset += part.size
        actual = hasher.digest().hexdigest()
    finally:
        hasher.close()
    if actual != entry.sha256:
        _repair_parts(mirrors, entry, fd, served, what=what, progress=progress)


def _stream_part(mirrors: Sequence[Mirror], part: Part, fd: int, offset: int, hasher: _Hasher, *, what: str,
                 progress: Any) -> tuple[Mirror, dict[str, str]]:
    """Stream one part into *fd* and *hasher* from the first mirror that sends all of it.

    Its bytes are checked by the whole-file hash (or by :func:`_repair_parts`). Returns the mirror
    that served it and what the mirrors before it answered.
    """
    mark = hasher.checkpoint()
    failed: dict[str, str] = {}

    def attempt(mirror: Mirror) -> Mirror:
        if failed:  # a failed attempt fed the hash: rewind it to the start of this part
            hasher.restart(mark)
        try:
            _stream(mirror, part, _BlobSink(fd, offset, part.size, hasher, progress))
        except failure_types() as err:
            failed[mirror.root] = describe(err)
            raise
        return mirror

    return try_mirrors(mirrors, what, attempt), failed


def _part_what(what: str, entry: FileEntry, i: int) -> str:
    return f"{what} (part {i + 1}/{len(entry.parts)})"


def _repair_parts(mirrors: Sequence[Mirror], entry: FileEntry, fd: int, served: list[tuple[Mirror, dict[str, str]]],
                  *, what: str, progress: Any) -> None:
    """The whole file is wrong: find the wrong parts, fetch them again verified, check the whole again."""
    offset = 0
    for i, part in enumerate(entry.parts):
        actual = _hash_range(fd, offset, part.size)
        if actual != part.sha256:
            _refetch_part(mirrors, part, fd, offset, served[i], actual, what=_part_what(what, entry, i),
                          progress=progress)
        offset += part.size
    whole = _hash_range(fd, 0, entry.size)
    if whole != entry.sha256:  # every part verified, yet the whole differs: the manifest is inconsistent
        raise ChecksumError(what, expected=entry.sha256, actual=whole)


def _refetch_part(mirrors: Sequence[Mirror], part: Part, fd: int, offset: int,
                  served: tuple[Mirror, dict[str, str]], actual: str, *, what: str, progress: Any) -> None:
    """Fetch a wrong part again, verified on its own, from the mirrors after the one that sent it."""
    bad, failures = served
    why = _mismatch(actual, part.sha256)
    log.info("%s: %s failed: %s", what, bad.root, why)
    failures = {**failures, bad.root: why}
    if progress is not None:
        progress.update(-part.size)  # its bytes come again
    rest = list(mirrors)[list(mirrors).index(bad) + 1:]
    if not rest:
        raise MirrorError(what, failures)
    try:
        _fetch_verified(rest, part, fd, offset, what=what, progress=progress)
    except MirrorError as err:
        raise MirrorError(err.what, {**failures, **err.failures}) from err


def _hash_range(fd: int, offset: int, size: int) -> str:
    digest = hashlib.sha256()
    end = offset + size
    while offset < end:
        chunk = os.pread(fd, min(CHUNK_SIZE, end - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def fetch_file(cache: Cache, mirrors: Sequence[Mirror], entry: FileEntry, *, what: str = "",
               progress: Any = None) -> None:
    """Make sure the verified bytes of *entry* are in the cache (as the blob of its sha256)."""
    what = what or entry.path
    if cache.has_blob(entry.sha256):
        return
    with cache.locked(entry.sha256):
        if cache.has_blob(entry.sha256):  # another process fetched it while we waited
            return
        with cache.blob_writer(entry.sha256) as handle:
            if entry.parts:
                _fetch_parts(mirrors, entry, handle.fileno(), what=what, progress=progress)
            else:
                _fetch_verified(mirrors, Part(entry.sha256, entry.size), handle.fileno(), 0, what=what,
                                progress=progress)


def fetch_files(cache: Cache, mirrors: Sequence[Mirror], entries: Sequence[FileEntry], *, label: str = "",
                progress: bool = False) -> None:
    """Fetch every missing file of *entries* into the cache, in parallel.

    Raises the first failure (a :class:`~dchub_client.errors.MirrorError` naming the file) after
    the other downloads finished, so what did arrive stays cached for the next attempt.
    """
    missing = [e for e in entries if not cache.has_blob(e.sha256)]
    if not missing:
        return
    bar = _progress_bar(sum(e.size for e in missing), label) if progress else None
    try:
        workers = min(constants.download_workers(), len(missing))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dchub-fetch") as pool:
            futures = [pool.submit(fetch_file, cache, mirrors, e, what=f"{label}/{e.path}" if label else e.path,
                                   progress=bar) for e in missing]
        errors = [f.exception() for f in futures if f.exception() is not None]
    finally:
        if bar is not None:
            bar.close()
    if errors:
        raise errors[0]


class _LockedBar:
    """A thread-safe front for a tqdm bar (updates come from the download threads)."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._lock = threading.Lock()

    def update(self, n: int) -> None:
        with self._lock:
            self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def _progress_bar(total: int, label: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are a nicety
        return None
    return _LockedBar(tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label or None,
                           leave=True, dynamic_ncols=True))
