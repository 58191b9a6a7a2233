"""Hub mirrors: where bytes come from, and trying the next mirror when one fails.

A mirror is one root of ``DEEPCHEM_MODEL_HUB``: an ``http(s)://`` URL (fetched by
:class:`~dchub_client.hub.http.HTTPDownloader`, a pooch downloader that reuses connections and bounds
every request in time), a ``file://`` URL or a local path (copied). Every fetch streams into a
*sink*: anything with ``consume(readinto)`` (it pulls the bytes into its own buffers) or ``write``;
callers verify what arrived.

:func:`try_mirrors` runs one attempt per mirror, in order, and raises
:class:`~dchub_client.errors.MirrorError` listing what each mirror answered when all fail. A mirror
that could not be reached or timed out is *down* (:mod:`dchub_client.hub.health`): it is then tried
only after every other mirror failed, for the rest of the process and, for a while, by later processes.
"""
from __future__ import annotations

import ipaddress
import logging
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from dchub_client import constants
from dchub_client.errors import (
    BadResponseError,
    CacheError,
    DigestMismatchError,
    HubFormatError,
    MirrorDownError,
    MirrorError,
    StaleIndexError,
    TrustError,
)
from dchub_client.format import layout
from dchub_client.format.hashing import CHUNK_SIZE
from dchub_client.hub import health
from dchub_client.hub.roots import normalize_root, root_kind

if TYPE_CHECKING:
    from dchub_client.hub.http import ReadInto

log = logging.getLogger(__name__)
T = TypeVar("T")

#: ``index.json`` and manifests larger than this are refused.
MAX_METADATA_BYTES = 64 << 20


class Mirror(NamedTuple):
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
        return self.base + urllib.parse.quote(relpath)  # base ends in "/"; hub paths are validated relative

    def fetch(self, relpath: str, sink: Any, *, limit: int | None = None, budget: float | None = None) -> None:
        """Stream the file at *relpath* into *sink*; raise on any failure (see :func:`describe`).

        *limit* is the most bytes the file may have; over http it also sets the time allowed
        (``timeout + limit / min_rate`` from the moment the request is sent) unless *budget* (seconds) is given.
        """
        if self.kind == "local":
            _copy_local(self.locate(relpath), sink)
        else:
            # Imported on first use: a command that reaches no mirror (a no-op pull) never needs it.
            from dchub_client.hub.http import HTTPDownloader

            HTTPDownloader(limit=MAX_METADATA_BYTES if limit is None else limit, budget=budget)(
                self.locate(relpath), sink, None)

    def read_bytes(self, relpath: str, max_bytes: int = MAX_METADATA_BYTES) -> bytes:
        """The whole (small) file at *relpath*, refusing more than *max_bytes*.

        Over http, the whole file must arrive within ``constants.timeout_seconds()`` of the request
        (metadata files get a small fixed budget, whatever their announced size).
        """
        buffer = _LimitedBuffer(max_bytes)
        self.fetch(relpath, buffer, limit=max_bytes, budget=constants.timeout_seconds())
        return buffer.getvalue()

    def round_trip(self) -> float | None:
        """Seconds this mirror last took to start answering a request (0 for a local folder; None
        when no request was made to it in this process)."""
        if self.kind == "local":
            return 0.0
        from dchub_client.hub.http import round_trip  # with the downloader: only once a mirror is reached

        return round_trip(self.base)

    def served_here(self) -> bool:
        """Whether this is an http mirror on the loopback interface: its server runs on this machine's CPUs."""
        if self.kind != "http":
            return False
        host = urllib.parse.urlsplit(self.base).hostname or ""
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

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


def _copy_local(path: str, sink: Any) -> None:
    """Copy the local file *path* into *sink* in large chunks."""
    with open(path, "rb", buffering=0) as handle:
        consume = getattr(sink, "consume", None)
        if consume is not None:
            consume(handle.readinto)
            return
        while chunk := handle.read(CHUNK_SIZE):
            sink.write(chunk)


class _LimitedBuffer:
    """A small file in memory, refusing more than *limit* bytes."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._data = bytearray()

    def consume(self, readinto: ReadInto) -> None:
        chunk = memoryview(bytearray(min(self._limit + 1, 64 << 10)))
        while n := readinto(chunk):
            self.write(chunk[:n])

    def write(self, data: Any) -> int:
        if len(self._data) + len(data) > self._limit:
            raise BadResponseError(f"sent more than the {self._limit} bytes expected")
        self._data += data
        return len(data)

    def getvalue(self) -> bytes:
        return bytes(self._data)


def describe(err: BaseException) -> str:
    """A short account of why one mirror failed: ``HTTP 404``, ``timeout``, ``sha256 mismatch`` ..."""
    if isinstance(err, (BadResponseError, MirrorDownError, HubFormatError, TrustError)):
        return str(err)
    if isinstance(err, FileNotFoundError):
        return "not found"
    return f"{type(err).__name__}: {err}"


def is_missing(err: BaseException) -> bool:
    """True when a mirror's failure says the file is not there: HTTP 404, 410 or 403 (what S3 answers
    for a missing key when listing is not allowed), or a missing local file."""
    status = getattr(err, "status", None) or getattr(getattr(err, "response", None), "status_code", None)
    return status in (403, 404, 410) or isinstance(err, (FileNotFoundError, NotADirectoryError))


def failure_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this mirror failed, try the next one"."""
    return (OSError, BadResponseError, HubFormatError)


def try_mirrors(mirrors: Iterable[Mirror], what: str, attempt: Callable[[Mirror], T]) -> T:
    """Run ``attempt(mirror)`` on each mirror in order; return the first success.

    Mirrors known to be down (:mod:`dchub_client.hub.health`) are tried last, only when every
    other mirror failed; a mirror that fails to connect or times out is marked down.

    Raises:
        MirrorError: every mirror failed; ``failures`` maps each mirror (in the configured order)
            to what it answered.
        HubFormatError: every mirror answered, and every answer was malformed.
        TrustError: every mirror answered, and every answer failed the trust checks.
    """
    mirrors = list(mirrors)
    record = health.for_cache()
    down = {m.root: d for m in mirrors if m.kind == "http" and (d := record.down(m.root)) is not None}
    if down and len(down) < len(mirrors):
        for root, state in down.items():
            record.announce_skip(root, state)
    order = [m for m in mirrors if m.root not in down] + [m for m in mirrors if m.root in down]
    failures: dict[str, str] = {}
    errors: list[BaseException] = []
    for mirror in order:
        try:
            result = attempt(mirror)
        except CacheError:  # this machine's cache refused a write: no other mirror would do better
            raise
        except failure_types() as err:
            _failed(record, mirror, what, err)
            failures[mirror.root] = describe(err)
            errors.append(err)
            continue
        if mirror.root in down:
            record.mark_up(mirror.root)
        _warn_refused(what, mirror, failures, errors)
        return result
    for kind in (HubFormatError, TrustError):  # every mirror answered, and every answer was refused
        if errors and all(isinstance(e, kind) for e in errors):
            raise errors[0]
    if not failures:
        raise MirrorError(what, {"(none)": "no mirror configured; set DEEPCHEM_MODEL_HUB"})
    raise MirrorError(what, {m.root: failures[m.root] for m in mirrors if m.root in failures}) from errors[-1]


def _warn_refused(what: str, used: Mirror, failures: dict[str, str], errors: list[BaseException]) -> None:
    """Say which mirrors were passed over because what they served was refused (forged, tampered or
    malformed: worth knowing even though another mirror served it); plain failures and mirrors that are
    only behind (a stale index) stay at INFO."""
    for (root, why), err in zip(failures.items(), errors):
        if isinstance(err, (TrustError, HubFormatError, DigestMismatchError)) and not isinstance(err, StaleIndexError):
            log.warning("%s: refused what %s served (%s); used %s", what, root, why, used.root)


def _failed(record: health.MirrorHealth, mirror: Mirror, what: str, err: BaseException) -> None:
    log.info("%s: %s failed: %s", what, mirror.root, describe(err))
    if isinstance(err, MirrorDownError) and mirror.kind == "http":
        record.mark_down(mirror.root, describe(err))


__all__ = ["MAX_METADATA_BYTES", "Mirror", "describe", "failure_types", "is_missing", "parse_mirror", "parse_mirrors",
           "try_mirrors"]
