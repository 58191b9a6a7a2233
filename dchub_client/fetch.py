"""Fetch a model's files into the cache: verified, over mirrors, in parallel.

Each file is streamed from the first mirror that serves it correctly, hashed on the fly (one
pass, no re-read) and published into the cache only when its sha256 matches the manifest. A file
stored in parts is fetched part by part into one temp file; every part and the whole file are
checked. Files of a model download in parallel (``constants.download_workers()`` threads).
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

from . import constants
from .cache import Cache
from .errors import BadResponseError, ChecksumError
from .hubformat import FileEntry, Part, blob_path
from .mirrors import Mirror, try_mirrors

log = logging.getLogger(__name__)

#: Chunks (of up to 1 MiB) queued between the fetching and the writing thread of one file.
_QUEUE_CHUNKS = 8


class _Writer(threading.Thread):
    """Writes (and hashes into *outer*) chunks on a helper thread, so disk writes overlap the network."""

    def __init__(self, handle: BinaryIO, outer: Any) -> None:
        super().__init__(name="dchub-write", daemon=True)
        self.handle = handle
        self.outer = outer
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.error is None:
                try:
                    if self.outer is not None:
                        self.outer.update(data)
                    self.handle.write(data)
                except BaseException as err:  # noqa: BLE001 - re-raised in the fetching thread
                    self.error = err

    def put(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(data)

    def close(self) -> None:
        if self.is_alive():
            self.queue.put(None)
            self.join()
        if self.error is not None:
            raise self.error


class _HashingSink:
    """Where a mirror's bytes go (over http, pooch's downloader writes them here through the
    mirror's guard): hashes and counts each chunk, hands it to a :class:`_Writer`.

    Refuses more than *size* bytes; *outer* (a hash of the whole file, for files stored in
    parts) is updated by the writer thread.
    """

    def __init__(self, handle: BinaryIO, size: int, outer: Any = None, progress: Any = None) -> None:
        self.size = size
        self.digest = hashlib.sha256()
        self.writer = _Writer(handle, outer)
        self.progress = progress
        self.written = 0

    @property
    def outer(self) -> Any:
        return self.writer.outer

    def write(self, data: Any) -> int:
        n = len(data)
        if self.written + n > self.size:
            raise BadResponseError(f"sent more than the {self.size} bytes expected")
        data = data if isinstance(data, bytes) else bytes(data)
        self.digest.update(data)
        self.writer.put(data)
        self.written += n
        if self.progress is not None:
            self.progress.update(n)
        return n

    def flush(self) -> None:
        """Nothing to do: the real file flushes when it is closed."""

    def finish(self, sha256: str) -> None:
        """Wait for the writer, then check size and digest."""
        self.writer.close()
        if self.written != self.size:
            raise BadResponseError(f"truncated: got {self.written} of {self.size} bytes")
        actual = self.digest.hexdigest()
        if actual != sha256:
            raise BadResponseError(f"sha256 mismatch (got {actual[:12]}…, expected {sha256[:12]}…)")

    def abandon(self) -> None:
        """After a failure: stop the writer and take the bytes back off the progress bar."""
        with contextlib.suppress(BaseException):
            self.writer.close()
        if self.progress is not None and self.written:
            self.progress.update(-self.written)


def _fetch_blob_into(mirrors: Sequence[Mirror], part: Part, handle: BinaryIO, *, what: str,
                     outer: Any = None, progress: Any = None) -> Any:
    """Append one verified blob to *handle* from the first good mirror; return the updated *outer* hash."""
    start = handle.tell()

    def attempt(mirror: Mirror) -> Any:
        handle.seek(start)
        handle.truncate()
        sink = _HashingSink(handle, part.size, outer.copy() if outer is not None else None, progress)
        try:
            mirror.fetch(blob_path(part.sha256), sink, limit=part.size)
            sink.finish(part.sha256)
        except BaseException:
            sink.abandon()
            raise
        return sink.outer

    return try_mirrors(mirrors, what, attempt)


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
            if not entry.parts:
                _fetch_blob_into(mirrors, Part(entry.sha256, entry.size), handle, what=what, progress=progress)
                return
            whole = hashlib.sha256()
            for i, part in enumerate(entry.parts):
                whole = _fetch_blob_into(mirrors, part, handle, what=f"{what} (part {i + 1}/{len(entry.parts)})",
                                         outer=whole, progress=progress)
            if whole.hexdigest() != entry.sha256:
                raise ChecksumError(what, expected=entry.sha256, actual=whole.hexdigest())


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
        import threading

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
