"""HTTP/1.1 on one socket: connect, send a request, read the answer, every read within its deadlines.

Just what fetching static files from a mirror needs, and lean enough that a model of 500 small
files is not bound by the client's own parsing (``http.client`` parses each answer's headers with
the ``email`` package and wraps the socket in two buffered layers: about three times the CPU per
request of this module, measured in ``docs/benchmarks.md``):

* :meth:`Connection.open` connects within the connect timeout, tunnels through an http proxy
  (``CONNECT``) and speaks TLS with certificate and host name checks (``ssl`` is imported only for
  an https mirror);
* :meth:`Connection.request` sends one request; :meth:`Connection.response` reads the status line
  and headers (interim ``1xx`` answers skipped) into a :class:`Response`, whose
  :meth:`Response.readinto` streams the body, framed by ``Content-Length``, chunked encoding or the
  end of the connection, into the caller's buffer (received there directly once the bytes read
  with the headers are used up), or, for a ``Content-Length`` body on a plain TCP connection on
  Linux, straight into a file with :meth:`Response.splice_into` (``splice(2)``: socket to pipe to
  file in the kernel, never copied through Python);
* every read waits at most as long as the request's :class:`Clock` allows.

Against hostile servers: a head of at most :data:`MAX_HEAD` bytes and :data:`MAX_HEADERS` header
lines, chunk-size lines of at most 4 KiB, and precise errors for anything malformed
(:class:`~dchub_client.errors.BadResponseError`, ``broken response (...)``).
"""
from __future__ import annotations

import contextlib
import errno
import functools
import os
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dchub_client import constants
from dchub_client.errors import BadResponseError, MirrorTimeoutError

if TYPE_CHECKING:
    import ssl

#: The most bytes a status line and its headers may take.
MAX_HEAD = 64 << 10
#: The most header lines one answer may have.
MAX_HEADERS = 100
#: The longest chunk-size or trailer line of a chunked body.
_MAX_LINE = 4096
#: Bytes asked of the socket at a time while reading a head or framing lines.
_RECV = 64 << 10
#: Whether bodies may be spliced into files (Linux): see :meth:`Connection.splice_into`.
_CAN_SPLICE = hasattr(os, "splice")
#: The pipe a spliced body passes through holds this much (the most an unprivileged process may ask
#: for by default: ``/proc/sys/fs/pipe-max-size``); a smaller default pipe only means more calls.
PIPE_BYTES = 1 << 20


class ClosedBeforeAnswer(ConnectionResetError):
    """The server closed the connection before the first byte of an answer (an idle kept-alive
    connection it had dropped, or a server that hangs up on requests)."""


def _broken(why: str) -> BadResponseError:
    return BadResponseError(f"broken response ({why})")


# --- deadlines ----------------------------------------------------------------------------


class Clock:
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
        self.last = self.sent_at = time.monotonic()
        #: seconds from sending the request to the first byte of its answer (None before that byte)
        self.first_byte: float | None = None

    def sent(self) -> None:
        """A request has just been sent: start its deadlines."""
        now = time.monotonic()
        if self.budget is not None and self.end == float("inf"):
            self.end = now + self.budget
        self.first, self.head = now + min(self.connect, self.stall), now + self.stall
        self.answered = self.in_body = False
        self.last = self.sent_at = now
        self.first_byte = None

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
        if self.first_byte is None:
            self.first_byte = self.last - self.sent_at

    def _expired(self) -> MirrorTimeoutError:
        if self.in_body:
            return MirrorTimeoutError(f"too slow: the file did not arrive in the time allowed ({self.budget:.3g} s: "
                                      "DEEPCHEM_HUB_TIMEOUT + size / DEEPCHEM_HUB_MIN_RATE, DEEPCHEM_HUB_TIMEOUT "
                                      "for index, manifest and params.json)")
        if not self.answered:
            return MirrorTimeoutError(f"timeout: no answer within {min(self.connect, self.stall):g} s")
        return MirrorTimeoutError(f"timeout: the headers did not arrive within {self.stall:g} s")


# --- the connection -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """The system's CA certificates (``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured), plus certifi's
    when installed (what ``requests`` trusted)."""
    import ssl  # only for an https mirror: a fifth of a no-op command's imports

    context = ssl.create_default_context()
    with contextlib.suppress(ImportError):
        import certifi

        context.load_verify_locations(certifi.where())
    return context


class Connection:
    """One HTTP/1.1 connection (plain or TLS), used by one thread at a time.

    Bytes received past what has been parsed wait in a small buffer (``_buf[_start:_end]``) for
    the next read; a body is otherwise received straight into the caller's buffer.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray(_RECV)
        self._view = memoryview(self._buf)
        self._start = self._end = 0
        self.clock: Clock | None = None
        self._pipe: tuple[int, int] | None = None  # (read end, write end) of the splice pipe, made on first use
        self._splice = _CAN_SPLICE and type(sock) is socket.socket  # not through TLS

    @classmethod
    def open(cls, host: str, port: int, *, timeout: float, tls_host: str | None = None,
             tunnel: tuple[str, int, Iterable[tuple[str, str]]] | None = None) -> Connection:
        """Connect to *host*:*port* within *timeout*; through it, ``CONNECT`` to *tunnel* (host, port,
        headers for the proxy) when given; then TLS for *tls_host* when given."""
        # an ASCII name goes as bytes: a str is IDNA-encoded first, and that codec is a slow import
        sock = socket.create_connection((host.encode("ascii") if host.isascii() else host, port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = cls(sock)
            if tunnel is not None:
                conn._connect_tunnel(*tunnel)
            if tls_host is not None:
                conn.sock = tls_context().wrap_socket(sock, server_hostname=tls_host)
        except BaseException:
            sock.close()
            raise
        return conn

    def _connect_tunnel(self, host: str, port: int, headers: Iterable[tuple[str, str]]) -> None:
        authority = authority_of(host, port, 443)
        self.request("CONNECT", authority, [("Host", authority), *headers])
        answer = self.response(Clock(None), "CONNECT")
        if answer.status != 200:
            hint = " (check the user:password in https_proxy)" if answer.status == 407 else ""
            raise ConnectionRefusedError(f"the proxy refused the tunnel to {authority}: HTTP {answer.status} "
                                         f"{answer.reason}".rstrip() + hint)
        if self._end > self._start:
            raise _broken("the proxy sent bytes before the tunnel was used")

    def close(self) -> None:
        """Shut the socket at once (a thread blocked reading it wakes up) and close it."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        if self._pipe is not None:
            for end in self._pipe:
                os.close(end)
            self._pipe = None

    def idle_broken(self) -> bool:
        """For an idle connection: True when it is readable (closed by the server, or holding bytes
        nobody asked for) or closed here."""
        if self._end > self._start or self.sock.fileno() < 0:
            return True
        import select  # only when a kept-alive connection is reused

        try:
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    # --- sending ------------------------------------------------------------------------

    def request(self, method: str, target: str, headers: Iterable[tuple[str, str]]) -> None:
        """Send one request (no body); the clock of its answer starts when :meth:`response` is called."""
        lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
        if any(c in line for line in lines for c in "\r\n\0"):
            raise BadResponseError(f"refusing to send a request with a line break or NUL inside: {target[:80]!r}")
        data = "\r\n".join([*lines, "", ""])
        self.sock.settimeout(constants.connect_timeout_seconds())
        self.sock.sendall(data.encode("latin-1"))

    # --- receiving ----------------------------------------------------------------------

    def response(self, clock: Clock, method: str) -> Response:
        """Read the answer to the request just sent (its deadlines start now), up to its body."""
        self.clock = clock
        clock.sent()
        while True:
            version, status, reason, headers = self._head()
            if status >= 200:
                return Response(self, version, status, reason, headers, method)
            if status == 101:
                raise _broken("101 Switching Protocols, which was not asked for")
            # an interim answer (100 Continue, 103 Early Hints): the real one follows

    def _recv_into(self, view: memoryview) -> int:
        clock = self.clock
        assert clock is not None
        self.sock.settimeout(clock.wait())
        try:
            n = self.sock.recv_into(view)
        except TimeoutError:
            raise clock.timed_out() from None
        if n:
            clock.received()
        return n

    def _fill(self) -> int:
        """Receive more bytes into the buffer (moving what is unread to its front first)."""
        if self._start:
            unread = self._end - self._start
            self._view[:unread] = self._view[self._start:self._end]
            self._start, self._end = 0, unread
        if self._end == len(self._buf):
            return -1  # full
        n = self._recv_into(self._view[self._end:])
        self._end += n
        return n

    def _head(self) -> tuple[str, int, str, dict[str, str]]:
        got_any = self._end > self._start
        while True:
            end = self._buf.find(b"\n\r\n", self._start, self._end)
            lf = self._buf.find(b"\n\n", self._start, self._end)
            if end < 0 or 0 <= lf < end:
                end, skip = lf, 2
            else:
                skip = 3
            if end >= 0:
                raw = bytes(self._view[self._start:end + 1])
                self._start = end + skip
                return _parse_head(raw)
            n = self._fill()
            if n < 0:
                raise _broken(f"headers longer than {MAX_HEAD >> 10} KiB")
            if n == 0:
                if not got_any and self._end == self._start:
                    raise ClosedBeforeAnswer("the server closed the connection without answering")
                raise _broken("the connection closed in the middle of the headers")
            got_any = True

    def read_line(self) -> bytes:
        """One ``\\n``-terminated line of a chunked body's framing (without its line break)."""
        while True:
            end = self._buf.find(b"\n", self._start, self._end)
            if end >= 0:
                line = bytes(self._view[self._start:end]).rstrip(b"\r")
                self._start = end + 1
                return line
            if self._end - self._start >= _MAX_LINE:
                raise _broken(f"a chunk-size or trailer line longer than {_MAX_LINE} bytes")
            if self._fill() <= 0:
                raise _broken("the connection closed in the middle of a chunked body")

    def readinto(self, view: memoryview) -> int:
        """Body bytes: first those received with the headers, then straight from the socket (0 at its end)."""
        buffered = self._end - self._start
        if buffered:
            n = min(buffered, len(view))
            view[:n] = self._view[self._start:self._start + n]
            self._start += n
            return n
        return self._recv_into(view)

    @property
    def can_splice(self) -> bool:
        """Whether :meth:`splice_into` moves bytes in the kernel here (a plain TCP socket, on Linux)."""
        return self._splice

    def splice_into(self, fd: int, offset: int, count: int) -> int:
        """Write up to *count* body bytes at *offset* of file *fd*; return how many (0: the connection closed).

        Bytes received with the headers are written first. The rest go socket → pipe → file inside
        the kernel (``splice(2)``): nothing is copied through Python, and the only copy is the one
        into the page cache. Where a file system or socket refuses splicing, the bytes go through a
        buffer instead (:meth:`readinto`, then ``pwrite``), on this connection from then on.
        """
        buffered = self._end - self._start
        if buffered or not self._splice:
            view = self._view[self._start:self._end] if buffered else memoryview(bytearray(min(count, PIPE_BYTES)))
            n = min(len(view), count) if buffered else self.readinto(view)
            _pwrite_all(fd, view[:n], offset)
            if buffered:
                self._start += n
            return n
        read_end, write_end = self._pipe or self._make_pipe()
        try:
            n = self._splice_from_socket(write_end, min(count, PIPE_BYTES))
        except OSError as err:
            if err.errno != errno.EINVAL:
                raise
            self._splice = False  # this socket cannot be spliced from: buffered from now on
            return self.splice_into(fd, offset, count)
        try:
            moved = 0
            while moved < n:
                moved += os.splice(read_end, fd, n - moved, offset_dst=offset + moved)
        except OSError as err:
            if err.errno != errno.EINVAL or moved:
                raise
            self._splice = False  # this file system cannot take spliced bytes: read what the pipe holds
            _pwrite_all(fd, _read_exactly(read_end, n), offset)
        return n

    def _make_pipe(self) -> tuple[int, int]:
        import fcntl  # only when a body is spliced

        read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        with contextlib.suppress(OSError):  # above the system's limit: the default size works too
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._pipe = (read_end, write_end)
        return self._pipe

    def _splice_from_socket(self, pipe: int, count: int) -> int:
        """Move up to *count* bytes from the socket into the (empty) *pipe*, waiting within the clock's deadlines."""
        clock = self.clock
        assert clock is not None
        self.sock.settimeout(clock.wait())  # non-blocking underneath: the wait is done here
        while True:
            try:
                n = os.splice(self.sock.fileno(), pipe, count, flags=os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK)
            except BlockingIOError:
                if not _readable(self.sock, clock.wait()):
                    raise clock.timed_out() from None
                continue
            if n:
                clock.received()
            return n


def _readable(sock: socket.socket, timeout: float) -> bool:
    """Wait up to *timeout* seconds for *sock* to have bytes (or an end) to read."""
    import select  # only when a body is spliced

    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def _read_exactly(fd: int, n: int) -> memoryview:
    """The next *n* bytes of a pipe that holds them."""
    buffer = memoryview(bytearray(n))
    got = 0
    while got < n:
        got += os.readv(fd, [buffer[got:]])
    return buffer


def authority_of(host: str, port: int, default_port: int) -> str:
    """``host[:port]`` for a Host header or a CONNECT target (IPv6 literals bracketed)."""
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return host if port == default_port else f"{host}:{port}"


def _parse_head(raw: bytes) -> tuple[str, int, str, dict[str, str]]:
    """Status line and headers (names lower-cased; repeated headers joined by ``, ``)."""
    lines = raw.decode("latin-1").split("\n")
    status_line = lines[0].rstrip("\r")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise _broken(f"not an HTTP/1.x status line: {status_line[:60]!r}")
    if len(lines) - 1 > MAX_HEADERS + 1:
        raise _broken(f"more than {MAX_HEADERS} header lines")
    headers: dict[str, str] = {}
    name = ""
    for line in lines[1:]:
        line = line.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t":  # an obsolete folded continuation of the previous header
            if not name:
                raise _broken(f"a header continuation without a header: {line[:60]!r}")
            headers[name] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        name = name.lower()
        if not sep or not name or name != name.strip() or " " in name:
            raise _broken(f"malformed header line: {line[:60]!r}")
        value = value.strip()
        if name in headers:
            if name == "content-length" and headers[name] != value:
                raise _broken(f"two different Content-Length headers ({headers[name][:20]!r}, {value[:20]!r})")
            if name != "content-length":
                headers[name] += ", " + value
        else:
            headers[name] = value
    return version, int(code), reason.strip(), headers


class Response:
    """An answer's status, headers and body (read with :meth:`readinto` until it returns 0).

    ``length`` is the ``Content-Length`` (None when the body is chunked or ends with the
    connection); ``will_close`` says the connection cannot serve another request afterwards.
    """

    def __init__(self, conn: Connection, version: str, status: int, reason: str, headers: dict[str, str],
                 method: str) -> None:
        self.conn = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        self.will_close = "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)
        self.length: int | None = None
        self.chunked = False
        self._left = 0  # of the body (mode "length"), or of the current chunk (chunked)
        self.done = False
        if method == "HEAD" or status in (204, 304) or (method == "CONNECT" and 200 <= status < 300):
            self.length, self.done = 0, True
        elif "transfer-encoding" in headers:
            codings = [c.strip().lower() for c in headers["transfer-encoding"].split(",")]
            if codings != ["chunked"]:
                raise _broken(f"Transfer-Encoding {headers['transfer-encoding'][:40]!r}: only chunked is understood")
            self.chunked = True
        elif "content-length" in headers:
            value = headers["content-length"]
            if not value.isdigit():
                raise _broken(f"Content-Length {value[:20]!r} is not a number")
            self.length = self._left = int(value)
            self.done = self._left == 0
        else:
            self.will_close = True  # the body ends with the connection

    def header(self, name: str) -> str | None:
        """The value of header *name* (any letter case), or None."""
        return self.headers.get(name.lower())

    def readinto(self, view: memoryview) -> int:
        """Fill the start of *view* with body bytes; 0 once the body is complete (or the connection
        closed early: :attr:`length` tells how much was announced)."""
        if self.done or not len(view):
            return 0
        if self.chunked:
            return self._read_chunked(view)
        if self.length is not None:
            return self._counted(self.conn.readinto(view[:self._left]))
        n = self.conn.readinto(view)
        self.done = n == 0
        return n

    @property
    def can_splice(self) -> bool:
        """Whether :meth:`splice_into` can take this body: framed by ``Content-Length`` on a plain connection."""
        return self.length is not None and self.conn.can_splice

    def splice_into(self, fd: int, offset: int, count: int) -> int:
        """Like :meth:`readinto`, but into file *fd* at *offset* (see :meth:`Connection.splice_into`);
        for a body :attr:`can_splice` allows."""
        if self.done or not count:
            return 0
        return self._counted(self.conn.splice_into(fd, offset, min(count, self._left)))

    def _counted(self, n: int) -> int:
        """Count *n* bytes of a ``Content-Length`` body just received; 0 means the connection closed
        before the announced length (the caller reports it as truncated)."""
        if not n:
            self.done = self.will_close = True
            return 0
        self._left -= n
        self.done = self._left == 0
        return n

    def _read_chunked(self, view: memoryview) -> int:
        if self._left == 0:
            self._left = self._chunk_size()
            if self._left == 0:
                while self.conn.read_line():  # trailers, up to the empty line
                    pass
                self.done = True
                return 0
        n = self.conn.readinto(view[:self._left])
        if not n:
            raise _broken("the connection closed in the middle of a chunk")
        self._left -= n
        if self._left == 0 and self.conn.read_line():
            raise _broken("a chunk not followed by a line break")
        return n

    def _chunk_size(self) -> int:
        line = self.conn.read_line().split(b";", 1)[0].strip()
        try:
            if not line or len(line) > 16:
                raise ValueError
            return int(line, 16)
        except ValueError:
            raise _broken(f"bad chunk size {line[:20]!r}") from None

    def drain(self, max_bytes: int) -> bool:
        """Read and drop the rest of a body of at most *max_bytes* announced bytes; True when it was
        read to its end (so the connection can serve another request)."""
        if not self.done and (self.length is None or self._left > max_bytes):
            return False
        sink = memoryview(bytearray(min(self._left, _RECV) or 1))
        while self.readinto(sink):
            pass
        return self.done

    def reusable(self) -> bool:
        """True when the body was read to its end and the connection stays open."""
        return self.done and not self.will_close


__all__ = ["MAX_HEAD", "MAX_HEADERS", "ClosedBeforeAnswer", "Clock", "Connection", "Response", "authority_of",
           "tls_context"]
