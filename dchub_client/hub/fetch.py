"""Fetch a model's files into the cache: verified, over mirrors, in parallel.

Every byte is hashed once, as it arrives, and nothing enters the cache before its sha256 matched
the manifest:

* A small file (at most :data:`SMALL_BLOB_BYTES`) is received whole into memory, hashed there and
  written to the cache in one go (:meth:`Cache.put_blob`): no temp-file dance per file.
* A larger one streams into the blob's temp file, hashed meanwhile by a helper thread
  (:class:`_Pipeline`; hashlib and the system calls release the GIL), so the hash is overlapped
  with the network. From a plain HTTP connection on Linux the kernel puts the bytes into the file
  (``splice``, :meth:`~dchub_client.hub.http1.Connection.splice_into`) and the helper reads them
  back from there to hash them: the bytes are copied into the page cache and out of it once, and
  what is hashed is what the file holds. Otherwise the fetching thread receives into a ring of
  buffers (one copy out of the socket) and writes each at its offset while the helper hashes it.

A file stored in parts is fetched part by part into one temp file while the sha256 of the *whole
file* is computed in order. When it matches, every part is right too, so each byte is hashed once.
When it does not, each part is re-hashed from the temp file, and every wrong part is fetched
again, verified on its own, from the mirrors after the one that sent it; the whole file is then
checked again. Nothing is published before the whole-file check passed, so a cached blob's name is
always the sha256 of its bytes.

Files of a model download in parallel under one cache lock for the model (:func:`fetch_files`), so
concurrent pulls of the same model do not download it twice; blobs are published atomically, so the
lock is only about duplicate work. After the first file that every mirror failed, files not yet
started are not started. Threads are there to hide the network's round trips: from a far mirror
``constants.download_workers()`` of them (8 by default); from a near one (a local folder, or a
server that started answering within :data:`NEAR_SECONDS`) no more than the CPUs, as more would
only contend for the interpreter and the file system, and one fewer from a server on this machine's
loopback interface, whose own work needs a CPU too (one thread on two cores pulls 500 small files
~7% faster than two from the benchmarks' server); ``DEEPCHEM_HUB_WORKERS``, when set, is used as it is.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from dchub_client import constants
from dchub_client.errors import BadResponseError, ChecksumError, DigestMismatchError, MirrorError
from dchub_client.format.hashing import CHUNK_SIZE, sha256_bytes, shown_pair
from dchub_client.format.hubfiles import FileEntry, Part, blob_path
from dchub_client.hub.cache import Cache
from dchub_client.hub.mirrors import Mirror, describe, failure_types, try_mirrors
from dchub_client.humanize import counted, human_size

if TYPE_CHECKING:
    from dchub_client.hub.http import ReadInto, SpliceInto

log = logging.getLogger(__name__)

#: A mirror whose last answer started within this many seconds is near: no round trip for threads to hide.
NEAR_SECONDS = 0.002
#: Files up to this size are received into memory and written once; larger ones stream through a helper thread.
SMALL_BLOB_BYTES = 1 << 20
#: Blobs larger than SMALL_BLOB_BYTES are hashed on a helper thread (the name predates the in-memory path).
THREADED_HASH_BYTES = SMALL_BLOB_BYTES + 1
#: The receive buffers of one streamed file: small enough to stay in the CPU caches between the
#: receiving and the hashing thread, enough of them to keep both busy.
_BUFFER_SIZE = 512 << 10
_BUFFERS = 8
#: Bytes put into the file by the kernel per step of a spliced body (each step is then hashed from the file).
_SPLICE_STEP = 1 << 20


class _Pipeline:
    """Write what the fetching thread receives, and hash it on a helper thread.

    The fetching thread takes a free buffer (:meth:`buffer`), fills it and hands it over
    (:meth:`submit`, which writes it at its offset of *fd*); the helper hashes it and frees it.
    Bytes put into *fd* otherwise (spliced by the kernel) are announced with :meth:`written`; the
    helper reads them back from the file to hash them.
    :meth:`checkpoint` marks a point of the stream without waiting; :meth:`restart` rewinds the
    hash to a checkpoint (after a failed attempt); :meth:`digest` waits for the queued buffers;
    :meth:`close` stops the thread.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._digest = hashlib.sha256()
        self._error: BaseException | None = None
        self._reread: memoryview | None = None  # the helper's buffer for bytes hashed from the file
        self._free: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
        for _ in range(_BUFFERS):
            self._free.put(memoryview(bytearray(_BUFFER_SIZE)))
        self._todo: queue.Queue[tuple[memoryview | None, int, int] | list[Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="dchub-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            try:
                if isinstance(item, list):  # a checkpoint: keep a copy of the state here
                    item.append(self._digest.copy())
                else:
                    self._absorb(*item)
            finally:
                self._todo.task_done()
        self._todo.task_done()

    def _absorb(self, view: memoryview | None, n: int, offset: int) -> None:
        try:
            if self._error is None:
                if view is None:
                    self._hash_from_file(n, offset)
                else:
                    self._digest.update(view[:n])
        except BaseException as err:  # e.g. a read error: raised on the fetching thread
            self._error = err
        finally:
            if view is not None:
                self._free.put(view)

    def _hash_from_file(self, n: int, offset: int) -> None:
        """Hash *n* bytes of the file from *offset* (just put there by the kernel: read from the page cache)."""
        if self._reread is None:
            self._reread = memoryview(bytearray(_SPLICE_STEP))
        got = _hash_from(self.fd, offset, n, self._digest, self._reread)
        if got < n:
            raise OSError(f"the temp file ends at byte {offset + got}, before the {n} bytes just written to it")

    def buffer(self) -> memoryview:
        """A free buffer to receive into (waits while all are queued)."""
        view = self._free.get()
        if self._error is not None:
            self._free.put(view)
            raise self._error
        return view

    def release(self, view: memoryview) -> None:
        """Give back a buffer that received nothing."""
        self._free.put(view)

    def submit(self, view: memoryview, n: int, offset: int) -> None:
        """Write the first *n* bytes of *view* at *offset* (here), then have them hashed (on the helper);
        *view* is freed afterwards. Writing here and hashing there splits the work about evenly."""
        _pwrite_all(self.fd, view[:n], offset)
        self._todo.put((view, n, offset))

    def written(self, n: int, offset: int) -> None:
        """*n* bytes were put at *offset* of the file by someone else: have them hashed from there."""
        self._todo.put((None, n, offset))

    def checkpoint(self) -> list[Any]:
        """A handle on the hash state after everything submitted so far (filled in by the helper)."""
        mark: list[Any] = []
        self._todo.put(mark)
        return mark

    def restart(self, mark: list[Any]) -> None:
        """Continue from *mark* (a :meth:`checkpoint`), dropping what was submitted since."""
        self._todo.join()
        self._digest = mark[0].copy()

    def digest(self) -> Any:
        """The hash object, once every submitted buffer went into it (and was written)."""
        self._todo.join()
        if self._error is not None:
            raise self._error
        return self._digest

    def close(self) -> None:
        if self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _BlobSink:
    """Where a mirror's bytes for one blob go when they are streamed: size-checked, received into the
    pipeline's buffers, hashed and written at their place in the temp file, counted on the progress bar."""

    def __init__(self, pipeline: _Pipeline, offset: int, size: int, progress: Any = None) -> None:
        self.pipeline = pipeline
        self.offset = offset
        self.size = size
        self.progress = progress
        self.written = 0

    def consume(self, readinto: ReadInto) -> None:
        """Pull the body: ``readinto`` fills the pipeline's buffers until it returns 0."""
        while True:
            view = self.pipeline.buffer()
            try:
                n = readinto(view[:self.size - self.written + 1])
            except BaseException:
                self.pipeline.release(view)
                raise
            if not n:
                self.pipeline.release(view)
                return
            self._take(view, n)

    def consume_file(self, splice_into: SpliceInto) -> None:
        """Let the source put the body into the file itself (``splice_into(fd, offset, count)`` until
        it returns 0), each step hashed from the file; never past the expected size."""
        fd = self.pipeline.fd
        while self.written < self.size:
            n = splice_into(fd, self.offset + self.written, min(_SPLICE_STEP, self.size - self.written))
            if not n:
                return
            self.pipeline.written(n, self.offset + self.written)
            self.written += n
            if self.progress is not None:
                self.progress.update(n)

    def write(self, data: Any) -> int:
        """Take bytes pushed by a source that cannot ``readinto`` (copied into a buffer)."""
        data = memoryview(data).cast("B")
        for start in range(0, len(data), _BUFFER_SIZE):
            chunk = data[start:start + _BUFFER_SIZE]
            view = self.pipeline.buffer()
            view[:len(chunk)] = chunk
            self._take(view, len(chunk))
        return len(data)

    def _take(self, view: memoryview, n: int) -> None:
        if self.written + n > self.size:
            self.pipeline.release(view)
            raise BadResponseError(f"sent more than the {self.size} bytes expected")
        self.pipeline.submit(view, n, self.offset + self.written)
        self.written += n
        if self.progress is not None:
            self.progress.update(n)

    def flush(self) -> None:
        """Nothing to do: the real file flushes when it is closed."""

    def check_size(self) -> None:
        if self.written != self.size:
            raise BadResponseError(f"truncated: got {self.written} of {self.size} bytes")

    def abandon(self) -> None:
        """After a failure: take the bytes back off the progress bar."""
        if self.progress is not None and self.written:
            self.progress.update(-self.written)


class _MemorySink:
    """A small blob received whole into memory (one byte of room more, to notice a longer body)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buffer = memoryview(bytearray(size + 1))
        self.written = 0

    def consume(self, readinto: ReadInto) -> None:
        while self.written <= self.size and (n := readinto(self._buffer[self.written:])):
            self.written += n
        if self.written > self.size:
            raise BadResponseError(f"sent more than the {self.size} bytes expected")

    def write(self, data: Any) -> int:
        n = len(data)
        if self.written + n > self.size:
            raise BadResponseError(f"sent more than the {self.size} bytes expected")
        self._buffer[self.written:self.written + n] = data
        self.written += n
        return n

    def data(self) -> memoryview:
        """The bytes received, once all arrived (raises when some are missing)."""
        if self.written != self.size:
            raise BadResponseError(f"truncated: got {self.written} of {self.size} bytes")
        return self._buffer[:self.size]


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _mismatch(actual: str, expected: str) -> str:
    got, wanted = shown_pair(actual, expected)
    return f"sha256 mismatch (got {got}, expected {wanted})"


def _stream(mirror: Mirror, part: Part, sink: _BlobSink) -> None:
    """Fetch one blob from *mirror* into *sink*; on failure, undo its progress and re-raise."""
    try:
        mirror.fetch(blob_path(part.sha256), sink, limit=part.size)
        sink.check_size()
    except BaseException:
        sink.abandon()
        raise


def _fetch_small(mirrors: Sequence[Mirror], part: Part, *, what: str) -> memoryview:
    """The bytes of a small blob, verified by its sha256, from the first good mirror."""

    def attempt(mirror: Mirror) -> memoryview:
        sink = _MemorySink(part.size)
        mirror.fetch(blob_path(part.sha256), sink, limit=part.size)
        data = sink.data()
        actual = sha256_bytes(data)
        if actual != part.sha256:
            raise DigestMismatchError(_mismatch(actual, part.sha256))
        return data

    return try_mirrors(mirrors, what, attempt)


def _fetch_verified(mirrors: Sequence[Mirror], part: Part, fd: int, offset: int, *, what: str,
                    progress: Any = None) -> Mirror:
    """Write one blob, verified by its own sha256, at *offset* of *fd*, from the first good mirror (returned)."""
    with _Pipeline(fd) as pipeline:
        start = pipeline.checkpoint()

        def attempt(mirror: Mirror) -> Mirror:
            pipeline.restart(start)
            sink = _BlobSink(pipeline, offset, part.size, progress)
            _stream(mirror, part, sink)
            actual = pipeline.digest().hexdigest()
            if actual != part.sha256:
                sink.abandon()
                raise DigestMismatchError(_mismatch(actual, part.sha256))
            return mirror

        return try_mirrors(mirrors, what, attempt)


def _fetch_parts(mirrors: Sequence[Mirror], entry: FileEntry, fd: int, *, what: str, progress: Any) -> None:
    """Fetch the parts of *entry* into *fd*, hashing the whole file once, in order (see the module doc)."""
    served: list[tuple[Mirror, dict[str, str]]] = []
    with _Pipeline(fd) as pipeline:
        offset = 0
        for i, part in enumerate(entry.parts):
            served.append(_stream_part(mirrors, part, pipeline, offset, what=_part_what(what, entry, i),
                                       progress=progress))
            offset += part.size
        actual = pipeline.digest().hexdigest()
    if actual != entry.sha256:
        _repair_parts(mirrors, entry, fd, served, what=what, progress=progress)


def _stream_part(mirrors: Sequence[Mirror], part: Part, pipeline: _Pipeline, offset: int, *, what: str,
                 progress: Any) -> tuple[Mirror, dict[str, str]]:
    """Stream one part into its place and into the whole-file hash, from the first mirror that sends all of it.

    Its bytes are checked by the whole-file hash (or by :func:`_repair_parts`). Returns the mirror
    that served it and what the mirrors before it answered.
    """
    mark = pipeline.checkpoint()
    failed: dict[str, str] = {}

    def attempt(mirror: Mirror) -> Mirror:
        if failed:  # a failed attempt fed the hash: rewind it to the start of this part
            pipeline.restart(mark)
        try:
            _stream(mirror, part, _BlobSink(pipeline, offset, part.size, progress))
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
        used = _fetch_verified(rest, part, fd, offset, what=what, progress=progress)
    except MirrorError as err:
        raise MirrorError(err.what, {**failures, **err.failures}) from err
    log.warning("%s: refused what %s served (%s); used %s", what, bad.root, why, used.root)  # as try_mirrors does


def _hash_range(fd: int, offset: int, size: int) -> str:
    digest = hashlib.sha256()
    _hash_from(fd, offset, size, digest, memoryview(bytearray(max(1, min(CHUNK_SIZE, size)))))
    return digest.hexdigest()


def _hash_from(fd: int, offset: int, size: int, digest: Any, buffer: memoryview) -> int:
    """Feed *size* bytes of *fd* from *offset* into *digest*, read through *buffer*; the bytes read
    (fewer where the file ends first)."""
    done = 0
    while done < size:
        got = os.preadv(fd, [buffer[:min(len(buffer), size - done)]], offset + done)
        if not got:
            break
        digest.update(buffer[:got])
        done += got
    return done


def _fetch_one(cache: Cache, mirrors: Sequence[Mirror], entry: FileEntry, *, what: str, progress: Any) -> None:
    """Fetch one file into the cache (the caller checked it is missing)."""
    if not entry.parts and entry.size <= SMALL_BLOB_BYTES:
        data = _fetch_small(mirrors, Part(entry.sha256, entry.size), what=what)
        cache.put_blob(entry.sha256, data)
        if progress is not None:
            progress.update(entry.size)
        return
    with cache.blob_writer(entry.sha256) as handle:
        if entry.parts:
            _fetch_parts(mirrors, entry, handle.fileno(), what=what, progress=progress)
        else:
            _fetch_verified(mirrors, Part(entry.sha256, entry.size), handle.fileno(), 0, what=what,
                            progress=progress)


def fetch_file(cache: Cache, mirrors: Sequence[Mirror], entry: FileEntry, *, what: str = "",
               progress: Any = None) -> None:
    """Make sure the verified bytes of *entry* are in the cache (as the blob of its sha256)."""
    if cache.has_blob(entry.sha256):
        return
    with cache.locked(entry.sha256):
        if not cache.has_blob(entry.sha256):  # another process may have fetched it while we waited
            _fetch_one(cache, mirrors, entry, what=what or entry.path, progress=progress)


def fetch_files(cache: Cache, mirrors: Sequence[Mirror], entries: Sequence[FileEntry], *, label: str = "",
                progress: bool = False) -> None:
    """Fetch every missing file of *entries* into the cache, in parallel.

    One cache lock covers the whole set (another process pulling the same model waits, then finds
    the files there). Raises the first failure (a :class:`~dchub_client.errors.MirrorError` naming
    the file) once the downloads under way have finished, so what did arrive stays cached for the
    next attempt; files not yet started are then not started.
    """
    if all(cache.has_blob(e.sha256) for e in entries):  # stops at the first missing one
        return
    with cache.locked(_lock_key(entries)):
        missing = _missing(cache, entries)  # under the lock: another process may have fetched some meanwhile
        if not missing:
            return
        size = sum(e.size for e in missing)
        bar = _progress_bar(size, label) if progress else None
        start = time.monotonic()
        try:
            with _logging_above(bar):
                _fetch_all(cache, mirrors, missing, label, bar)
        finally:
            if bar is not None:
                bar.close()
        log.info("%s: fetched and verified %s (%s) of %s in %.2f s", label or "files", counted(len(missing), "file"),
                 human_size(size), counted(len(entries), "file"), time.monotonic() - start)


def _missing(cache: Cache, entries: Sequence[FileEntry]) -> list[FileEntry]:
    """The entries whose blob is not cached, one per sha256."""
    seen: set[str] = set()
    out = []
    for entry in entries:
        if entry.sha256 not in seen and not cache.has_blob(entry.sha256):
            seen.add(entry.sha256)
            out.append(entry)
    return out


def _lock_key(entries: Sequence[FileEntry]) -> str:
    """One lock per set of files (a model version): the sha256 of their sorted hashes."""
    return sha256_bytes("\n".join(sorted(e.sha256 for e in entries)).encode("ascii"))


def _fetch_all(cache: Cache, mirrors: Sequence[Mirror], missing: list[FileEntry], label: str, bar: Any) -> None:
    progress = _Stoppable(bar)

    def job(entry: FileEntry) -> None:
        _fetch_one(cache, mirrors, entry, what=f"{label}/{entry.path}" if label else entry.path, progress=progress)

    workers = min(download_threads(mirrors), len(missing))
    log.info("%s: fetching %s from %s, %s at a time", label or "files", counted(len(missing), "file"),
             mirrors[0].root if mirrors else "no mirror", workers)
    if workers == 1:
        for entry in missing:
            job(entry)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dchub-fetch") as pool:
        futures = [pool.submit(job, e) for e in missing]
        try:
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C: the downloads under way stop too (the pool waits for them)
            progress.stop.set()
            for future in futures:
                future.cancel()
            raise
        for future in pending:
            future.cancel()
    errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
    if errors:
        raise errors[0]


def download_threads(mirrors: Sequence[Mirror]) -> int:
    """How many files of a model download at once from *mirrors* (see the module doc)."""
    workers = constants.download_workers()
    if constants.download_workers_chosen() or not mirrors:
        return workers
    waited = mirrors[0].round_trip()
    if waited is not None and waited < NEAR_SECONDS:
        cpus = os.cpu_count() or 1
        return max(1, min(workers, cpus - 1 if mirrors[0].served_here() else cpus))  # leave its server a CPU
    return workers


class _Interrupted(KeyboardInterrupt):
    """Raised in a download thread once the user interrupted the process (no mirror's failure)."""


class _Stoppable:
    """The progress of a model's downloads (drawn on *bar*, if any), which also stops them: once :attr:`stop`
    is set (Ctrl-C in the main thread), the next bytes a download thread receives raise :class:`_Interrupted`,
    so the downloads under way end within a chunk instead of running to their end."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.stop = threading.Event()

    def update(self, n: int) -> None:
        if n > 0 and self.stop.is_set():
            raise _Interrupted
        if self.bar is not None:
            self.bar.update(n)


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


def _logging_above(bar: Any) -> Any:
    """While a progress bar is drawn, log lines (a skipped mirror) print above it, not into it."""
    if bar is None:
        return contextlib.nullcontext()
    from tqdm.contrib.logging import logging_redirect_tqdm  # tqdm: only with a progress bar

    return logging_redirect_tqdm()


def _progress_bar(total: int, label: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are a nicety
        return None
    return _LockedBar(tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label or None,
                           leave=True, **_bar_width()))


def _bar_width() -> dict[str, Any]:
    """The terminal's width as it changes; 80 columns and 24 lines where stderr's terminal reports no size
    (a new pseudo-terminal says 0 x 0 until it is sized, and tqdm would hide its bar below line 0)."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, ValueError, OSError):  # not a terminal (a notebook, a file)
        return {"ncols": 80}
    if size.columns > 0 and size.lines > 0:
        return {"dynamic_ncols": True}
    return {"ncols": size.columns or 80, "nrows": size.lines or 24}
