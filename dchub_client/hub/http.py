"""HTTP(S) for mirrors: a pooch downloader that reuses connections and bounds every request in time.

pooch stays the fetching framework: :class:`HTTPDownloader` follows pooch's downloader protocol
(``downloader(url, output_file, pooch, check_only=False)``), so ``pooch.retrieve(url, known_hash,
downloader=HTTPDownloader())`` works, and every http(s) fetch of a mirror goes through it. Unlike
``pooch.HTTPDownloader`` (a new ``requests`` session per file) it speaks HTTP/1.1 itself
(:mod:`dchub_client.hub.http1`), for speed and for control over every read:

* Connections are kept alive and reused. Idle ones wait in a pool per host, shared by the download
  threads (each connection used by one thread at a time), so a model of 500 small files costs a
  handful of TCP handshakes, not 500. A pooled connection the server has closed is replaced. New
  connections to a server are opened at most four at a time until each is answered, so a small server's
  listen queue is not overflowed (:class:`_Openings`).
* A body is read straight into the caller's buffers (``output.consume(readinto)``), so each byte is
  copied once out of the socket and can be hashed and written from there. An output that writes to
  a file (``output.consume_file(splice_into)``) gets the body put into the file by the kernel where
  the connection allows (:meth:`~dchub_client.hub.http1.Response.splice_into`), and reads it back
  from there to hash it.
* Every request has deadlines counted from the moment it is sent: the answer must start within the
  connect timeout, the headers must be complete within the read timeout, and the whole body must
  arrive within the *budget* (``timeout + size / min_rate`` for a file of known size, the read
  timeout for a metadata file). No read waits longer than the read timeout or past the nearest
  deadline, so a server that drips header bytes, sends ``100 Continue`` forever or trickles the
  body cannot hold a download past its deadline.
* At most ``constants.MAX_REDIRECTS`` redirects, to http(s) URLs only; ``Accept-Encoding: identity``
  (a compressed answer is refused, never inflated); a ``Content-Length`` above the expected size
  is refused before the body, and a body is never read past the expected size.
* The standard proxy variables are honoured (a plain-http proxy is sent absolute URLs; https goes
  through a ``CONNECT`` tunnel); TLS checks certificates against the system's CAs and certifi's.

Failures raise :class:`~dchub_client.errors.MirrorDownError` (could not connect, no answer, a
stall: the mirror is down), :class:`~dchub_client.errors.HTTPStatusError` or
:class:`~dchub_client.errors.BadResponseError` (it answered wrongly).
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from dchub_client import __version__, constants
from dchub_client.errors import BadResponseError, HTTPStatusError, MirrorDownError
from dchub_client.format.hashing import CHUNK_SIZE
from dchub_client.hub.http1 import Clock, ClosedBeforeAnswer, Connection, Response, authority_of

#: ``readinto(buffer) -> bytes read`` (0 at the end of the body).
ReadInto = Callable[[memoryview], int]
#: ``splice_into(fd, offset, count) -> bytes written`` at *offset* of file *fd* (0 at the end of the body).
SpliceInto = Callable[[int, int, int], int]

USER_AGENT = f"dchub-client/{__version__}"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Idle connections kept per host.
_MAX_IDLE = 32
#: New connections to a host that may wait for their first answer at once (see :class:`_Openings`).
_MAX_OPENING = 4
#: An error answer whose body is at most this long is read to keep its connection; longer ones close it.
_DRAIN_BYTES = 64 << 10
#: Raised by a pooled connection the server had closed (retried once on a new connection).
_STALE = (ClosedBeforeAnswer, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
#: Characters a request target keeps as they are; others (spaces, control characters, non-ASCII) are %-encoded.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"


class HTTPDownloader:
    """A pooch downloader for hub files: connection reuse, large reads, deadlines, hostile-server limits.

    Args:
        limit: the most bytes the body may have (None: no limit); a larger ``Content-Length`` is
            refused before the body.
        budget: seconds the whole download may take from the moment the request is sent (default:
            ``timeout + limit / min_rate`` when *limit* is given, else only the stall timeout applies).
        headers: extra request headers.

    Example:
        >>> import pooch  # doctest: +SKIP
        >>> pooch.retrieve(url, known_hash=f"sha256:{sha}", downloader=HTTPDownloader())  # doctest: +SKIP
    """

    def __init__(self, *, limit: int | None = None, budget: float | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.limit = limit
        self.budget = budget
        self.headers = {"Accept-Encoding": "identity", "User-Agent": USER_AGENT, **(headers or {})}

    def __call__(self, url: str, output_file: Any, pooch: Any = None, check_only: bool = False) -> bool | None:
        """Download *url* into *output_file* (a path, or anything with ``write`` or ``consume``).

        With *check_only*, only ask (``HEAD``) whether the file is there and return True/False.
        """
        if check_only:
            return self._status(url, "HEAD") == 200
        if hasattr(output_file, "write") or hasattr(output_file, "consume"):
            self._download(url, output_file)
        else:
            with open(output_file, "w+b") as handle:
                self._download(url, handle)
        return None

    def _budget(self) -> float | None:
        if self.budget is not None:
            return self.budget
        if self.limit is None:
            return None
        return constants.timeout_seconds() + self.limit / constants.min_rate_bytes()

    def _download(self, url: str, output: Any) -> None:
        clock = Clock(self._budget())
        for _ in range(constants.MAX_REDIRECTS + 1):
            exchange = _Exchange.send(url, "GET", self.headers, clock)
            location = exchange.redirect()
            if location is None:
                exchange.read_body(output, self.limit)
                return
            url = _redirect_target(url, location)
        raise BadResponseError(f"more than {constants.MAX_REDIRECTS} redirects")

    def _status(self, url: str, method: str) -> int:
        clock = Clock(constants.timeout_seconds())
        for _ in range(constants.MAX_REDIRECTS + 1):
            exchange = _Exchange.send(url, method, self.headers, clock)
            try:
                location = exchange.redirect()
            except HTTPStatusError as err:
                return err.status
            exchange.discard()
            if location is None:
                return exchange.response.status
            url = _redirect_target(url, location)
        raise BadResponseError(f"more than {constants.MAX_REDIRECTS} redirects")


def _redirect_target(url: str, location: str) -> str:
    target = urllib.parse.urljoin(url, location)
    if urllib.parse.urlsplit(target).scheme.lower() not in ("http", "https"):
        raise BadResponseError(f"redirected to {target[:120]!r}: only http(s) redirects are followed")
    return target


# --- connections --------------------------------------------------------------------------


class _Route(NamedTuple):
    """Where the requests for one URL go: the server (or proxy) to connect to, and the request target."""

    scheme: str
    host: str
    port: int
    target: str
    proxy: tuple[str, int] | None = None
    auth: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.scheme, self.host, self.port, self.proxy)

    @property
    def authority(self) -> str:
        """The ``Host`` header: ``host[:port]``, the port only when it is not the scheme's default."""
        return authority_of(self.host, self.port, 443 if self.scheme == "https" else 80)

    def request_headers(self) -> dict[str, str]:
        """The credentials sent with each request: a proxy's only to a plain-http proxy (through an
        https tunnel they would reach the server; the tunnel gets them instead, :meth:`tunnel_headers`)."""
        tunnelled = self.proxy is not None and self.scheme == "https"
        return {k: v for k, v in self.auth if not (tunnelled and k == "Proxy-Authorization")}

    def tunnel_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.auth if k == "Proxy-Authorization"}

    @classmethod
    def of(cls, url: str) -> _Route:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise BadResponseError(f"not an http(s) URL: {url[:120]!r}")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as err:
            raise BadResponseError(f"not an http(s) URL: {url[:120]!r} ({err})") from None
        target = urllib.parse.quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), _TARGET_SAFE)
        auth = (("Authorization", _basic(parts.username, parts.password)),) if parts.username else ()
        proxy_url = _proxy_url(scheme, parts.hostname)
        if not proxy_url:
            return cls(scheme, parts.hostname, port, target, None, auth)
        proxy = urllib.parse.urlsplit(proxy_url if "://" in proxy_url else f"http://{proxy_url}")
        if proxy.username:
            auth += (("Proxy-Authorization", _basic(proxy.username, proxy.password)),)
        if scheme == "http":  # a plain proxy is sent the absolute URL
            target = urllib.parse.urlunsplit((scheme, parts.netloc.rpartition("@")[2], target, "", ""))
        return cls(scheme, parts.hostname, port, target, (proxy.hostname or "", proxy.port or 80), auth)


@functools.lru_cache(maxsize=256)
def _proxy_url(scheme: str, host: str) -> str | None:
    """The proxy for *host*, looked up once per process (the environment is scanned on each lookup)."""
    return constants.proxy_url(scheme, host)


def _basic(user: str | None, password: str | None) -> str:
    import base64  # on first use: most mirrors need no credentials (start-up, docs/benchmarks.md)

    raw = f"{urllib.parse.unquote(user or '')}:{urllib.parse.unquote(password or '')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class _Pool:
    """Idle keep-alive connections by route, shared by threads (a connection serves one request at a time)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a child must not share its parent's sockets

    def _reset(self) -> None:
        self._idle: dict[tuple[Any, ...], list[Connection]] = {}
        self._lock = threading.Lock()

    def take(self, route: _Route) -> Connection | None:
        """An idle connection for *route* that the server has not closed, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(route.key)
                conn = idle.pop() if idle else None
            if conn is None or not conn.idle_broken():
                return conn
            conn.close()

    def give(self, route: _Route, conn: Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(route.key, [])
            if len(idle) < _MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def clear(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


_POOL = _Pool()


class _Openings:
    """New connections to a server, at most :data:`_MAX_OPENING` at a time until each is answered.

    A burst of connection attempts overflows a small server's listen queue (``python -m http.server``
    queues 5; eight download threads open eight connections at once), and the kernel drops the attempts
    it has no room for: each is sent again a second later, and the whole pull waits for it. Once its
    first answer has started, a connection has been accepted, so the next one may be opened. A thread
    that waited while an attempt failed fails the same way at once (the server did not take a
    connection a moment ago) rather than after a timeout of its own.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[tuple[Any, ...], threading.Semaphore] = {}
        self._failed: dict[tuple[Any, ...], tuple[float, str]] = {}

    @contextlib.contextmanager
    def slot(self, route: _Route) -> Iterator[None]:
        with self._lock:
            slots = self._slots.setdefault(route.key, threading.Semaphore(_MAX_OPENING))
        asked = time.monotonic()
        with slots:
            failed = self._failed.get(route.key)
            if failed is not None and failed[0] >= asked:
                raise MirrorDownError(failed[1])
            try:
                yield
            except MirrorDownError as err:
                self._failed[route.key] = (time.monotonic(), str(err))
                raise


_OPENINGS = _Openings()


def close_connections() -> None:
    """Close the idle connections kept for reuse (they are also closed at exit)."""
    _POOL.clear()


def _open(route: _Route) -> Connection:
    """A new connection for *route* (through its proxy, with TLS for https), within the connect timeout."""
    timeout = constants.connect_timeout_seconds()
    host, port = route.proxy or (route.host, route.port)
    tunnelled = route.proxy is not None and route.scheme == "https"
    tunnel = (route.host, route.port, route.tunnel_headers().items()) if tunnelled else None
    try:
        return Connection.open(host, port, timeout=timeout, tunnel=tunnel,
                               tls_host=route.host if route.scheme == "https" else None)
    except TimeoutError:
        raise MirrorDownError(f"connection error (no connection within {timeout:g} s)") from None
    except OSError as err:
        raise MirrorDownError(f"connection error ({_reason(err)})") from err


def _reason(err: BaseException) -> str:
    if type(err).__module__ == "ssl":  # ssl.SSLError and its kin (ssl is imported only for https)
        return f"TLS: {getattr(err, 'verify_message', None) or getattr(err, 'reason', None) or err}"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


# --- one request --------------------------------------------------------------------------


class _Exchange:
    """One request and its response, on a pooled or new connection."""

    def __init__(self, url: str, route: _Route, conn: Connection, response: Response, clock: Clock) -> None:
        self.url, self.route, self.conn, self.response, self.clock = url, route, conn, response, clock

    @classmethod
    def send(cls, url: str, method: str, headers: Mapping[str, str], clock: Clock) -> _Exchange:
        """Send the request and read the response's headers (a stale pooled connection is retried once)."""
        route = _Route.of(url)
        headers = {"Host": route.authority, **headers, **(route.request_headers() if route.auth else {})}
        conn = _POOL.take(route)
        if conn is not None:
            try:
                return cls._on(conn, url, route, method, headers, clock, pooled=True)
            except _StaleConnection:
                pass  # the server closed it while it was idle: once more, on a new connection
        with _OPENINGS.slot(route):
            return cls._on(_open(route), url, route, method, headers, clock, pooled=False)

    @classmethod
    def _on(cls, conn: Connection, url: str, route: _Route, method: str, headers: Mapping[str, str], clock: Clock,
            *, pooled: bool) -> _Exchange:
        try:
            conn.request(method, route.target, headers.items())
            exchange = cls(url, route, conn, conn.response(clock, method), clock)
            if clock.first_byte is not None:
                _WAITED[route.key] = clock.first_byte
            return exchange
        except BaseException as err:
            conn.close()
            if pooled and isinstance(err, _STALE) and not clock.answered:
                raise _StaleConnection from err
            mapped = _as_mirror_error(err)
            if mapped is err:
                raise
            raise mapped from err

    def redirect(self) -> str | None:
        """The ``Location`` of a redirect (its connection is released), else None; an error status raises."""
        status = self.response.status
        if status in _REDIRECTS:
            location = self.response.header("Location")
            self.discard()
            if not location:
                raise BadResponseError(f"HTTP {status} redirect without a Location")
            return location
        if status >= 400:
            self.discard()
            raise HTTPStatusError(status, self.response.reason, self.url)
        return None

    def read_body(self, output: Any, limit: int | None) -> None:
        """Stream the body into *output* (``consume(readinto)`` or ``write``), within *limit* bytes."""
        response = self.response
        try:
            if response.status != 200:
                raise BadResponseError(f"HTTP {response.status} {response.reason}: expected 200")
            _check_headers(response, limit)
            self.clock.in_body = True
            body = _Body(response, limit)
            consume = getattr(output, "consume", None)
            consume_file = getattr(output, "consume_file", None)
            if consume_file is not None and response.can_splice:
                consume_file(body.splice_into)
            elif consume is not None:
                consume(body.readinto)
            else:
                _copy(body.readinto, output)
            body.check_complete()
        except BaseException as err:
            self.conn.close()
            mapped = _as_mirror_error(err)
            if mapped is err:
                raise
            raise mapped from err
        self._release()

    def discard(self) -> None:
        """Drop the body (read when short, so the connection can be reused) and release the connection."""
        try:
            self.response.drain(_DRAIN_BYTES)
        except (OSError, BadResponseError):
            self.conn.close()
            return
        self._release()

    def _release(self) -> None:
        if self.response.reusable():
            _POOL.give(self.route, self.conn)
        else:
            self.conn.close()


#: The last time-to-first-byte seen per route (seconds): how near a mirror is (see :func:`round_trip`).
_WAITED: dict[tuple[Any, ...], float] = {}


def round_trip(url: str) -> float | None:
    """Seconds the last request to *url*'s server waited for the first byte of its answer (None: no
    request yet). Tells a near mirror (loopback, LAN: well under a millisecond) from a far one."""
    try:
        return _WAITED.get(_Route.of(url).key)
    except BadResponseError:
        return None


class _StaleConnection(Exception):
    """A pooled connection turned out closed before the server answered."""


def _as_mirror_error(err: BaseException) -> BaseException:
    """*err* as this module's errors: an unexpected answer is a bad response, a socket error a down mirror."""
    if isinstance(err, (MirrorDownError, BadResponseError)):
        return err
    if isinstance(err, OSError):
        return MirrorDownError(f"connection error ({_reason(err)})")
    return err


def _check_headers(response: Response, limit: int | None) -> None:
    encoding = (response.header("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise BadResponseError(f"sent Content-Encoding {encoding[:40]!r} although identity was asked (dchub "
                               "never decompresses: serve the files as they are)")
    if limit is not None and response.length is not None and response.length > limit:
        raise BadResponseError(f"announces {response.length} bytes (Content-Length), more than the {limit} expected")


class _Body:
    """``readinto`` over a response body that refuses bytes past *limit* (reading at most one more)."""

    def __init__(self, response: Response, limit: int | None) -> None:
        self.response = response
        self.limit = limit
        self.announced = response.length
        self.got = 0

    def readinto(self, buffer: memoryview) -> int:
        if self.limit is not None and len(buffer) > self.limit - self.got + 1:
            buffer = buffer[:self.limit - self.got + 1]
        n = self.response.readinto(buffer)
        self.got += n
        if self.limit is not None and self.got > self.limit:
            raise BadResponseError(f"sent more than the {self.limit} bytes expected")
        return n

    def splice_into(self, fd: int, offset: int, count: int) -> int:
        """Like :meth:`readinto`, into file *fd* at *offset*: never past *limit* (a longer
        ``Content-Length`` was refused before the body)."""
        if self.limit is not None:
            count = min(count, self.limit - self.got)
        n = self.response.splice_into(fd, offset, count)
        self.got += n
        return n

    def check_complete(self) -> None:
        """Raise when the connection closed before the announced ``Content-Length``."""
        if self.announced is not None and self.got < self.announced:
            raise BadResponseError(f"truncated: the connection closed after {self.got} of {self.announced} "
                                   "bytes (Content-Length)")


def _copy(readinto: ReadInto, output: Any) -> None:
    view = memoryview(bytearray(CHUNK_SIZE))
    while n := readinto(view):
        output.write(view[:n])


__all__ = ["HTTPDownloader", "ReadInto", "SpliceInto", "USER_AGENT", "close_connections", "round_trip"]
