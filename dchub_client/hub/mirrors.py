"""Hub mirrors: where bytes come from, and trying the next mirror when one fails.

A mirror is one root of ``DEEPCHEM_MODEL_HUB``: an ``http(s)://`` URL (fetched by pooch's
``HTTPDownloader``, which streams with requests in 1 MiB chunks), a ``file://`` URL or a local path
(copied). Every fetch streams into a *sink* (anything with ``write``); callers verify what arrived.

A mirror is not trusted to behave. pooch writes into a guard around the sink, and requests calls
the guard's response hook as each response's headers arrive: an HTTP fetch asks for
``Accept-Encoding: identity`` (any compression sent anyway is decoded by urllib3 at most one chunk
at a time: no gzip bomb), refuses a ``Content-Length`` above the size expected, follows at most
``constants.MAX_REDIRECTS`` redirects, and gives up when a socket read stalls for
``constants.timeout_seconds()`` or the whole file has not arrived within
``timeout + size / constants.min_rate_bytes()`` seconds (a slow drip: a watchdog shuts the socket
down one read timeout after the deadline). The guard refuses bytes beyond the expected size (an endless body).
:func:`try_mirrors` runs one attempt per mirror, in order, and raises
:class:`~dchub_client.errors.MirrorError` listing what each mirror answered when all fail.
"""
from __future__ import annotations

import contextlib
import heapq
import io
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dchub_client import constants
from dchub_client.errors import BadResponseError, HubFormatError, MirrorError, TrustError
from dchub_client.format import layout
from dchub_client.format.hashing import CHUNK_SIZE
from dchub_client.hub.roots import normalize_root, root_kind

log = logging.getLogger(__name__)
T = TypeVar("T")

#: ``index.json`` and manifests larger than this are refused.
MAX_METADATA_BYTES = 64 << 20


@dataclass(frozen=True)
class Mirror:
    """One hub root. ``base`` is a URL ending in ``/`` (http) or a local folder path (local)."""

    root: str
    kind: str  # "http" or "local"
    base: str

    @property
    def path(self) -> Path | None:
        """The local folder of a local mirror, else None."""
        return Path(self.base) if self.kind == "local" else None

    def locate(self, relpath: str) -> str:
        """The URL or local path of *relpath* (``/``-separated, relative to the root)."""
        if self.kind == "local":
            return str(Path(self.base, *relpath.split("/")))
        return urllib.parse.urljoin(self.base, urllib.parse.quote(relpath))

    def fetch(self, relpath: str, sink: Any, *, limit: int | None = None) -> None:
        """Stream the file at *relpath* into *sink*; raise on any failure (see :func:`describe`).

        *limit* is the most bytes the file may have (it also sets the time allowed, for http).
        """
        if self.kind == "local":
            _copy_local(self.locate(relpath), sink)
        else:
            _http_fetch(self.locate(relpath), sink, MAX_METADATA_BYTES if limit is None else limit)

    def read_bytes(self, relpath: str, max_bytes: int = MAX_METADATA_BYTES) -> bytes:
        """The whole (small) file at *relpath*, refusing more than *max_bytes*."""
        buffer = _LimitedBuffer(max_bytes)
        self.fetch(relpath, buffer, limit=max_bytes)
        return buffer.getvalue()

    def has_index(self) -> bool:
        """For a local mirror: whether it holds ``index.json`` (else it may be a plain folder of models)."""
        return self.kind != "local" or Path(self.base, layout.INDEX_FILE).is_file()


def parse_mirror(root: str) -> Mirror:
    """Turn one ``DEEPCHEM_MODEL_HUB`` entry into a :class:`Mirror` (its root normalized: see :mod:`.roots`)."""
    root = normalize_root(root)
    if root_kind(root) == "http":
        return Mirror(root=root, kind="http", base=root)
    return Mirror(root=root, kind="local", base=root)


def parse_mirrors(roots: Iterable[str]) -> list[Mirror]:
    """Parse mirror roots, keeping their order."""
    return [parse_mirror(r) for r in roots]


def _http_fetch(url: str, sink: Any, limit: int) -> None:
    """GET *url* into *sink* with pooch: at most *limit* bytes, bounded in time, redirects and decompression."""
    import pooch
    import requests

    guard = _GuardedSink(sink, limit)
    download = pooch.HTTPDownloader(progressbar=False, chunk_size=CHUNK_SIZE, timeout=constants.timeout_seconds(),
                                    headers={"Accept-Encoding": "identity"}, hooks={"response": guard.on_response})
    try:
        download(url, guard, None)
    except requests.ConnectionError as err:
        if _is_read_timeout(err):  # requests reports a stall mid-body as a ConnectionError
            raise requests.exceptions.ReadTimeout(str(err)) from err
        guard.raise_if_cut()
        raise
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as err:
        guard.raise_if_cut()  # a body cut by the watchdog is "too slow", not "broken"
        raise BadResponseError(f"broken response ({_root_cause(err)})") from err
    finally:
        guard.close()


def _is_read_timeout(err: BaseException) -> bool:
    import urllib3.exceptions as u3

    return bool(err.args) and isinstance(err.args[0], u3.ReadTimeoutError)


class _GuardedSink:
    """What pooch writes into: passes the body on to *sink* while enforcing the mirror's limits.

    Its :meth:`on_response` (a requests response hook, called for every response, redirects
    included) bounds redirects, refuses a ``Content-Length`` above *limit* before the body, and
    starts the whole-file deadline ``timeout + size / min_rate`` once the headers arrived. Every
    :meth:`write` checks the deadline; a watchdog timer also shuts the socket down one read
    timeout after it, because pooch reads 1 MiB chunks and a read of a dripping body would
    otherwise block until the chunk (or the body) is complete.
    """

    def __init__(self, sink: Any, limit: int) -> None:
        self.sink = sink
        self.limit = limit
        self.written = 0
        self.redirects = 0
        self.deadline = float("inf")
        self.expired = False
        self.response: Any = None
        self._watch: list[Any] | None = None

    def on_response(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """The requests hook: check each response as its headers arrive."""
        import requests

        if response.is_redirect:
            self.redirects += 1
            if self.redirects > constants.MAX_REDIRECTS:
                response.close()
                raise requests.TooManyRedirects(f"more than {constants.MAX_REDIRECTS} redirects", response=response)
            return response
        self.response = response
        if response.ok:
            announced = _content_length(response, self.limit)
            allowed = constants.timeout_seconds() + \
                (announced if announced is not None else self.limit) / constants.min_rate_bytes()
            self.deadline = time.monotonic() + allowed
            # one read timeout of grace, as a blocking read had before: a stall stays a "timeout"
            self._watch = _WATCHDOG.watch(allowed + constants.timeout_seconds(), self._expire)
        return response

    def _expire(self) -> None:
        self.expired = True
        with contextlib.suppress(Exception):  # already closed or released: nothing left to cut
            self.response.raw.shutdown()

    def check_deadline(self) -> None:
        """Raise :class:`BadResponseError` once the whole-file deadline has passed."""
        if time.monotonic() > self.deadline:
            self.expired = True
        self.raise_if_cut()

    def raise_if_cut(self) -> None:
        """Raise :class:`BadResponseError` if the deadline cut this download short."""
        if self.expired:
            raise BadResponseError("too slow: the file did not arrive in the time allowed "
                                   "(DEEPCHEM_HUB_TIMEOUT + size / DEEPCHEM_HUB_MIN_RATE)")

    def write(self, data: bytes) -> int:
        self.check_deadline()
        if self.written + len(data) > self.limit:
            raise BadResponseError(f"sent more than the {self.limit} bytes expected")
        self.written += len(data)
        self.sink.write(data)
        return len(data)

    def flush(self) -> None:
        """pooch flushes after every chunk; the sink decides when its bytes reach the disk."""

    def close(self) -> None:
        """Stop the watchdog and release the connection (pooch leaves the response open on errors)."""
        if self._watch is not None:
            _WATCHDOG.cancel(self._watch)
        if self.response is not None:
            self.response.close()


class _Watchdog:
    """One daemon thread that calls each watched function when its time comes, unless cancelled
    (a thread per download would cost a thread start per file)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked child has no watchdog thread

    def _reset(self) -> None:
        self._heap: list[list[Any]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._count = 0

    def watch(self, seconds: float, expire: Callable[[], None]) -> list[Any]:
        """Call *expire* (on the watchdog thread) in *seconds*; return a handle for :meth:`cancel`."""
        with self._wake:
            self._count += 1
            entry = [time.monotonic() + seconds, self._count, expire]
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dchub-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:
                self._wake.notify()
        return entry

    def cancel(self, entry: list[Any]) -> None:
        """Forget *entry* (it stays in the heap, inert, until its time)."""
        entry[2] = None

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wake.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                expire = heapq.heappop(self._heap)[2]
            if expire is not None:
                try:
                    expire()
                except Exception:  # the watchdog must outlive any one download
                    log.exception("watchdog: cutting a download short failed")


_WATCHDOG = _Watchdog()


def _content_length(response: Any, limit: int) -> int | None:
    """The announced body size (refused when above *limit*), or None when not announced."""
    value = response.headers.get("Content-Length")
    if value is None or response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return None
    if not value.strip().isdigit():
        raise BadResponseError(f"invalid Content-Length {value[:40]!r}")
    if int(value) > limit:
        raise BadResponseError(f"announces {int(value)} bytes (Content-Length), more than the {limit} expected")
    return int(value)


def _copy_local(path: str, sink: Any) -> None:
    """Copy the local file *path* into *sink* in large chunks."""
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK_SIZE):
            sink.write(chunk)


class _LimitedBuffer(io.BytesIO):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def write(self, data: Any) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self._limit:
            raise BadResponseError(f"sent more than the {self._limit} bytes expected")
        return super().write(data)


def describe(err: BaseException) -> str:
    """A short account of why one mirror failed: ``HTTP 404``, ``timeout``, ``sha256 mismatch`` ..."""
    import requests

    if isinstance(err, requests.HTTPError) and err.response is not None:
        return f"HTTP {err.response.status_code} {err.response.reason or ''}".strip()
    if isinstance(err, requests.Timeout):
        return f"timeout after {constants.timeout_seconds():g} s"
    if isinstance(err, requests.ConnectionError):
        return f"connection error ({_root_cause(err)})"
    if isinstance(err, FileNotFoundError):
        return "not found"
    if isinstance(err, (BadResponseError, HubFormatError, TrustError)):
        return str(err)
    return f"{type(err).__name__}: {err}"


def _root_cause(err: BaseException) -> str:
    while err.__context__ is not None and err.__context__ is not err:
        err = err.__context__
    text = str(err)
    return text.split(": ", 1)[-1][:120] if text else type(err).__name__


def is_missing(err: BaseException) -> bool:
    """True when a mirror's failure says the file is not there: HTTP 404, 410 or 403 (what S3 answers
    for a missing key when listing is not allowed), or a missing local file."""
    status = getattr(err, "status", None) or getattr(getattr(err, "response", None), "status_code", None)
    return status in (403, 404, 410) or isinstance(err, (FileNotFoundError, NotADirectoryError))


def failure_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this mirror failed, try the next one"."""
    import requests

    return (requests.RequestException, OSError, BadResponseError, HubFormatError)


def try_mirrors(mirrors: Iterable[Mirror], what: str, attempt: Callable[[Mirror], T]) -> T:
    """Run ``attempt(mirror)`` on each mirror in order; return the first success.

    Raises:
        MirrorError: every mirror failed; ``failures`` maps each mirror to what it answered.
        HubFormatError: every mirror answered, and every answer was malformed.
        TrustError: every mirror answered, and every answer failed the trust checks.
    """
    failures: dict[str, str] = {}
    errors: list[BaseException] = []
    for mirror in mirrors:
        try:
            return attempt(mirror)
        except failure_types() as err:
            log.info("%s: %s failed: %s", what, mirror.root, describe(err))
            failures[mirror.root] = describe(err)
            errors.append(err)
    for kind in (HubFormatError, TrustError):  # every mirror answered, and every answer was refused
        if errors and all(isinstance(e, kind) for e in errors):
            raise errors[0]
    if not failures:
        raise MirrorError(what, {"(none)": "no mirror configured; set DEEPCHEM_MODEL_HUB"})
    raise MirrorError(what, failures) from errors[-1]


__all__ = ["MAX_METADATA_BYTES", "Mirror", "describe", "is_missing", "parse_mirror", "parse_mirrors", "try_mirrors"]
