"""HTTP(S) for mirrors: a pooch downloader that reuses connections and bounds every request in time.

pooch stays the fetching framework: :class:`HTTPDownloader` follows pooch's downloader protocol
(``downloader(url, output_file, pooch, check_only=False)``), so ``pooch.retrieve(url, known_hash,
downloader=HTTPDownloader())`` works, and every http(s) fetch of a mirror goes through it. Unlike
``pooch.HTTPDownloader`` (a new ``requests`` session per file) it is built on :mod:`http.client`,
for speed and for control over every read:

* Connections are kept alive and reused. Idle ones wait in a pool per host, shared by the download
  threads (each connection used by one thread at a time), so a model of 500 small files costs a
  handful of TCP handshakes, not 500. A pooled connection the server has closed is replaced.
* A body is read straight into the caller's buffers (``output.consume(readinto)``), so each byte is
  copied once out of the socket and can be hashed and written from there.
* Every request has deadlines counted from the moment it is sent: the answer must start within the
  connect timeout, the headers must be complete within the read timeout, and the whole body must
  arrive within the *budget* (``timeout + size / min_rate`` for a file of known size, the read
  timeout for a metadata file). No read waits longer than the read timeout or past the nearest
  deadline, so a server that drips header bytes, sends ``100 Continue`` forever or trickles the
  body cannot hold a download past its deadline.
* At most ``constants.MAX_REDIRECTS`` redirects, to http(s) URLs only; ``Accept-Encoding: identity``
  (a compressed answer is refused, never inflated); a ``Content-Length`` above the expected size
  is refused before the body, and a body is never read past the expected size.

Failures raise :class:`~dchub_client.errors.MirrorDownError` (could not connect, no answer, a
stall: the mirror is down), :class:`~dchub_client.errors.HTTPStatusError` or
:class:`~dchub_client.errors.BadResponseError` (it answered wrongly).
"""
from __future__ import annotations

import base64
import functools
import http.client
import io
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dchub_client import constants
from dchub_client.errors import BadResponseError, HTTPStatusError, MirrorDownError, MirrorTimeoutError
from dchub_client.format.hashing import CHUNK_SIZE

#: ``readinto(buffer) -> bytes read`` (0 at the end of the body).
ReadInto = Callable[[memoryview], int]

USER_AGENT = "dchub-client (http.client)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Idle connections kept per host.
_MAX_IDLE = 32
#: An error answer whose body is at most this long is read to keep its connection; longer ones close it.
_DRAIN_BYTES = 64 << 10
#: Raised by a pooled connection the server had closed (retried once on a new connection).
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


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
        clock = _Clock(self._budget())
        for _ in range(constants.MAX_REDIRECTS + 1):
            exchange = _Exchange.send(url, "GET", self.headers, clock)
            location = exchange.redirect()
            if location is None:
                exchange.read_body(output, self.limit)
                return
            url = _redirect_target(url, location)
        raise BadResponseError(f"more than {constants.MAX_REDIRECTS} redirects")

    def _status(self, url: str, method: str) -> int:
        clock = _Clock(constants.timeout_seconds())
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


# --- deadlines ----------------------------------------------------------------------------


class _Clock:
    """The deadlines of one download, each counted from the moment its request is sent.

    Until the first byte of the answer: the connect timeout; until the end of the headers: the read
    timeout; until the end of the body: the *budget* (from the first request, redirects included).
    No single read waits longer than the read timeout.
    """

    def __init__(self, budget: float | None) -> None:
        self.stall = constants.timeout_seconds()
        self.connect = constants.connect_timeout_seconds()
        self.budget = budget
        self.end = float("inf")
        self.first = self.head = float("inf")
        self.answered = False
        self.in_body = False
        self.last = time.monotonic()

    def sent(self) -> None:
        """A request has just been sent: start its deadlines."""
        now = time.monotonic()
        if self.budget is not None and self.end == float("inf"):
            self.end = now + self.budget
        self.first, self.head = now + min(self.connect, self.stall), now + self.stall
        self.answered = self.in_body = False
        self.last = now

    def wait(self) -> float:
        """Seconds the next read may wait; raises :class:`MirrorTimeoutError` once a deadline has passed."""
        now = time.monotonic()
        deadline = self._deadline()
        if now >= deadline:
            raise self._expired()
        return min(self.stall, deadline - now)

    def _deadline(self) -> float:
        if self.in_body:
            return self.end
        return min(self.end, self.head if self.answered else min(self.first, self.head))

    def timed_out(self) -> MirrorTimeoutError:
        """The error for a read that waited as long as :meth:`wait` allowed: a stall (nothing for a
        good while), else a deadline passed while bytes were still coming."""
        silent = time.monotonic() - self.last
        if self.answered and silent >= self.stall / 2:
            return MirrorTimeoutError(f"timeout: no data for {silent:.2g} s")
        return self._expired()

    def received(self) -> None:
        """Bytes just arrived."""
        self.answered = True
        self.last = time.monotonic()

    def _expired(self) -> MirrorTimeoutError:
        if self.in_body:
            return MirrorTimeoutError(f"too slow: the file did not arrive in the time allowed ({self.budget:.3g} s: "
                                      "DEEPCHEM_HUB_TIMEOUT + size / DEEPCHEM_HUB_MIN_RATE, DEEPCHEM_HUB_TIMEOUT "
                                      "for index, manifest and params.json)")
        if not self.answered:
            return MirrorTimeoutError(f"timeout: no answer within {min(self.connect, self.stall):g} s")
        return MirrorTimeoutError(f"timeout: the headers did not arrive within {self.stall:g} s")


class _SocketReader(io.RawIOBase):
    """The raw stream under a response: every ``recv`` waits at most until the clock's nearest deadline."""

    def __init__(self, sock: socket.socket, clock: _Clock, socket_file: Any) -> None:
        super().__init__()
        self.sock = sock
        self.clock = clock
        self._socket_file = socket_file  # holds the socket open, as socket.makefile() does, until closed

    def close(self) -> None:
        self._socket_file.close()
        super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.sock.settimeout(self.clock.wait())
        try:
            n = self.sock.recv_into(buffer)
        except TimeoutError:
            raise self.clock.timed_out() from None
        if n:
            self.clock.received()
        return n


class _Response(http.client.HTTPResponse):
    """An ``http.client`` response that reads its socket through a :class:`_SocketReader`."""

    def __init__(self, sock: socket.socket, *args: Any, clock: _Clock, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = io.BufferedReader(_SocketReader(sock, clock, self.fp), 64 << 10)


# --- connections --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
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
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
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
    raw = f"{urllib.parse.unquote(user or '')}:{urllib.parse.unquote(password or '')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class _Pool:
    """Idle keep-alive connections by route, shared by threads (a connection serves one request at a time)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a child must not share its parent's sockets

    def _reset(self) -> None:
        self._idle: dict[tuple[Any, ...], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def take(self, route: _Route) -> http.client.HTTPConnection | None:
        """An idle connection for *route* that the server has not closed, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(route.key)
                conn = idle.pop() if idle else None
            if conn is None or not _dropped(conn):
                return conn
            conn.close()

    def give(self, route: _Route, conn: http.client.HTTPConnection) -> None:
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


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """True when an idle connection is readable: closed by the server, or holding bytes nobody asked for."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


_POOL = _Pool()


def close_connections() -> None:
    """Close the idle connections kept for reuse (they are also closed at exit)."""
    _POOL.clear()


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """The system's CA certificates, plus certifi's when installed (what ``requests`` trusted)."""
    context = ssl.create_default_context()
    try:
        import certifi
    except ImportError:
        return context
    context.load_verify_locations(certifi.where())
    return context


def _open(route: _Route) -> http.client.HTTPConnection:
    """A new connection for *route*, connected within the connect timeout."""
    timeout = constants.connect_timeout_seconds()
    host, port = route.proxy or (route.host, route.port)
    if route.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                                       context=_tls_context())
        if route.proxy:
            conn.set_tunnel(route.host, route.port, headers=route.tunnel_headers())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.connect()
    except TimeoutError:
        conn.close()
        raise MirrorDownError(f"connection error (no connection within {timeout:g} s)") from None
    except (OSError, http.client.HTTPException) as err:
        conn.close()
        raise MirrorDownError(f"connection error ({_reason(err)})") from err
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _reason(err: BaseException) -> str:
    if isinstance(err, ssl.SSLError):
        return f"TLS: {err.reason or err}"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


# --- one request --------------------------------------------------------------------------


class _Exchange:
    """One request and its response, on a pooled or new connection."""

    def __init__(self, url: str, route: _Route, conn: http.client.HTTPConnection,
                 response: http.client.HTTPResponse, clock: _Clock) -> None:
        self.url, self.route, self.conn, self.response, self.clock = url, route, conn, response, clock

    @classmethod
    def send(cls, url: str, method: str, headers: Mapping[str, str], clock: _Clock) -> _Exchange:
        """Send the request and read the response's headers (a stale pooled connection is retried once)."""
        route = _Route.of(url)
        headers = {**headers, **route.request_headers()} if route.auth else headers
        conn = _POOL.take(route)
        if conn is not None:
            try:
                return cls._on(conn, url, route, method, headers, clock, pooled=True)
            except _StaleConnection:
                pass  # the server closed it while it was idle: once more, on a new connection
        return cls._on(_open(route), url, route, method, headers, clock, pooled=False)

    @classmethod
    def _on(cls, conn: http.client.HTTPConnection, url: str, route: _Route, method: str,
            headers: Mapping[str, str], clock: _Clock, *, pooled: bool) -> _Exchange:
        try:
            return cls(url, route, conn, _request(conn, route, method, headers, clock), clock)
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
            location = self.response.getheader("Location")
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
            if consume is not None:
                consume(body.readinto)
            else:
                _copy(body.readinto, output)
            body.check_complete()
        except BaseException as err:
            self.abort()
            mapped = _as_mirror_error(err)
            if mapped is err:
                raise
            raise mapped from err
        self._release()

    def abort(self) -> None:
        """Close the response and its connection (the socket is shut at once, whoever holds the response)."""
        self.response.close()
        self.conn.close()

    def discard(self) -> None:
        """Drop the body (read when short, so the connection can be reused) and release the connection."""
        response = self.response
        try:
            if response.length is not None and response.length <= _DRAIN_BYTES and not response.chunked:
                response.read()
        except (OSError, http.client.HTTPException):
            self.abort()
            return
        self._release()

    def _release(self) -> None:
        if self.response.isclosed() and not self.response.will_close:
            _POOL.give(self.route, self.conn)
        else:
            self.abort()


class _StaleConnection(Exception):
    """A pooled connection turned out closed before the server answered."""


def _as_mirror_error(err: BaseException) -> BaseException:
    """*err* as this module's errors: an unexpected answer is a bad response, a socket error a down mirror."""
    if isinstance(err, (MirrorDownError, BadResponseError)):
        return err
    if isinstance(err, http.client.HTTPException):
        return BadResponseError(f"broken response ({_reason(err)})")
    if isinstance(err, OSError):
        return MirrorDownError(f"connection error ({_reason(err)})")
    return err


def _request(conn: http.client.HTTPConnection, route: _Route, method: str, headers: Mapping[str, str],
             clock: _Clock) -> http.client.HTTPResponse:
    conn.response_class = functools.partial(_Response, clock=clock)  # type: ignore[assignment]
    conn.sock.settimeout(constants.connect_timeout_seconds())  # type: ignore[union-attr]
    conn.request(method, route.target, headers=dict(headers))
    clock.sent()
    return conn.getresponse()


def _check_headers(response: http.client.HTTPResponse, limit: int | None) -> None:
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise BadResponseError(f"sent Content-Encoding {encoding[:40]!r} although identity was asked (dchub "
                               "never decompresses: serve the files as they are)")
    if limit is not None and response.length is not None and response.length > limit:
        raise BadResponseError(f"announces {response.length} bytes (Content-Length), more than the {limit} expected")


class _Body:
    """``readinto`` over a response body that refuses bytes past *limit* (reading at most one more)."""

    def __init__(self, response: http.client.HTTPResponse, limit: int | None) -> None:
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

    def check_complete(self) -> None:
        """Raise when the connection closed before the announced ``Content-Length``."""
        if self.announced is not None and self.got < self.announced:
            raise BadResponseError(f"truncated: the connection closed after {self.got} of {self.announced} "
                                   "bytes (Content-Length)")


def _copy(readinto: ReadInto, output: Any) -> None:
    view = memoryview(bytearray(CHUNK_SIZE))
    while n := readinto(view):
        output.write(view[:n])


__all__ = ["HTTPDownloader", "ReadInto", "USER_AGENT", "close_connections"]
