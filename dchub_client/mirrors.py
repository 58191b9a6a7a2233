"""Hub mirrors: where bytes come from, and trying the next mirror when one fails.

A mirror is one root of ``DEEPCHEM_MODEL_HUB``: an ``http(s)://`` URL (streamed with requests), a
``file://`` URL or a local path (copied). Every fetch streams into a *sink* (anything with
``write``); callers verify what arrived.

A mirror is not trusted to behave: an HTTP fetch asks for ``Accept-Encoding: identity`` and
decodes any compression in bounded steps (no gzip bomb), refuses a ``Content-Length`` above the
size expected, follows at most ``constants.MAX_REDIRECTS`` redirects, and gives up when a socket
read stalls for ``constants.timeout_seconds()`` or the whole file has not arrived within
``timeout + size / constants.min_rate_bytes()`` seconds (a slow drip). Sinks refuse bytes beyond
the expected size (an endless body).
:func:`try_mirrors` runs one attempt per mirror, in order, and raises
:class:`~dchub_client.errors.MirrorError` listing what each mirror answered when all fail.
"""
from __future__ import annotations

import io
import logging
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import constants
from .errors import BadResponseError, HubFormatError, MirrorError, TrustError
from .hashing import CHUNK_SIZE

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
        return self.kind != "local" or Path(self.base, "index.json").is_file()


def parse_mirror(root: str) -> Mirror:
    """Turn one ``DEEPCHEM_MODEL_HUB`` entry into a :class:`Mirror`."""
    scheme = urllib.parse.urlparse(root).scheme.lower()
    if scheme in ("http", "https"):
        return Mirror(root=root, kind="http", base=root if root.endswith("/") else root + "/")
    if scheme == "file":
        path = urllib.request.url2pathname(urllib.parse.urlparse(root).path)
        return Mirror(root=root, kind="local", base=str(Path(path)))
    if len(scheme) > 1:  # a one-letter scheme is a Windows drive
        raise HubFormatError(f"unsupported mirror {root!r}: use http(s)://, file:// or a local path",
                             source="DEEPCHEM_MODEL_HUB")
    return Mirror(root=root, kind="local", base=str(Path(root).expanduser()))


def parse_mirrors(roots: Iterable[str]) -> list[Mirror]:
    """Parse mirror roots, keeping their order."""
    return [parse_mirror(r) for r in roots]


def _http_fetch(url: str, sink: Any, limit: int) -> None:
    """GET *url* into *sink*: at most *limit* bytes, bounded in time, redirects and decompression."""
    import requests

    timeout = constants.timeout_seconds()
    with requests.Session() as session:
        session.max_redirects = constants.MAX_REDIRECTS
        with session.get(url, stream=True, timeout=timeout, headers={"Accept-Encoding": "identity"}) as response:
            response.raise_for_status()
            announced = _content_length(response, limit)
            deadline = time.monotonic() + timeout + (announced if announced is not None else limit) / \
                constants.min_rate_bytes()
            for chunk in _chunks(response.raw, deadline):
                sink.write(chunk)


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


def _chunks(raw: Any, deadline: float) -> Any:
    """The decoded body in pieces of at most CHUNK_SIZE bytes (decompression is bounded per call);
    abandoned once *deadline* (``time.monotonic()``) has passed."""
    while True:
        if time.monotonic() > deadline:
            raise BadResponseError("too slow: the file did not arrive in the time allowed "
                                   "(DEEPCHEM_HUB_TIMEOUT + size / DEEPCHEM_HUB_MIN_RATE)")
        chunk = _read1(raw)
        if not chunk:
            return
        yield chunk


def _read1(raw: Any) -> bytes:
    """One read of whatever has arrived (urllib3 errors become requests' or :class:`BadResponseError`)."""
    import requests
    import urllib3.exceptions as u3

    try:
        return raw.read1(CHUNK_SIZE, decode_content=True)
    except u3.ReadTimeoutError as err:
        raise requests.exceptions.ReadTimeout(str(err)) from err
    except (u3.ProtocolError, u3.DecodeError) as err:
        raise BadResponseError(f"broken response ({_root_cause(err)})") from err


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


__all__ = ["Mirror", "parse_mirror", "parse_mirrors", "try_mirrors", "describe", "MAX_METADATA_BYTES"]
