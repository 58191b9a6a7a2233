"""Real HTTP servers on 127.0.0.1 for tests: a hub served from a folder, with faults to inject.

``faults`` maps a path prefix to one of:

``403``, ``404``, ``500``
    that status (403: what S3 answers for any file of a private bucket).
``corrupt``
    the first byte flipped.
``slow``
    64 KiB chunks 50 ms apart.
``hang``
    accept the request, answer nothing for 1.5 s, then close.
``truncated``
    announces the true Content-Length, sends half the body, closes the connection.
``short-length`` / ``long-length``
    a Content-Length smaller than the body (the rest is never read) / larger than it (then close).
``stall``
    sends half the body, then holds the connection open, silent, until the server closes.
``drip``
    the true Content-Length, then one byte every 0.1 s: never slow enough for a read timeout.
``redirect-loop``
    302 to the same path, forever.
``redirect:URL``
    302 to ``URL`` + the requested path (another mirror).
``endless``
    no Content-Length, 64 KiB chunks of junk until the client hangs up.
``gzip-bomb``
    ``Content-Encoding: gzip`` whatever was asked, a small body that inflates to 256 MiB.
``drip-no-length`` / ``drip-long-length``
    like ``drip``, with no Content-Length / with one claiming 64 MiB.
``drip-headers``
    ``HTTP/1.1 200 OK`` and the start of a header line, then one more header byte every 0.2 s, forever:
    never slow enough for a read timeout.
``continue-forever``
    ``HTTP/1.1 100 Continue`` (an interim answer) every 0.2 s, forever, never the real answer.

:class:`HubServer` knows the first five; :class:`FaultyServer` all of them. :class:`SilentServer` is
a TCP server that accepts connections and never answers at all.
"""
from __future__ import annotations

import collections
import functools
import gzip
import http.server
import socket
import threading
import time
from pathlib import Path

BOMB_SIZE = 256 << 20


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``server.faults`` maps a path prefix to ``403``, ``404``, ``500``, ``corrupt``, ``slow`` or
    ``hang``."""

    def log_message(self, *args: object) -> None:
        pass

    def _fault(self) -> str | None:
        path = self.path.lstrip("/")
        self.server.hits[path] += 1  # type: ignore[attr-defined]
        for prefix, fault in self.server.faults.items():  # type: ignore[attr-defined]
            if path.startswith(prefix):
                return fault
        return None

    def do_GET(self) -> None:
        fault = self._fault()
        if fault == "hang":  # accept the request, answer nothing until the client has given up
            time.sleep(1.5)
            return
        if fault in ("403", "404", "500"):
            self.send_error(int(fault))
            return
        if fault is None:
            super().do_GET()
            return
        source = self.translate_path(self.path)
        data = Path(source).read_bytes()
        if fault == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:] if data else b"x"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        step = 64 << 10
        for i in range(0, len(data), step):
            if fault == "slow":
                time.sleep(0.05)
            try:
                self.wfile.write(data[i:i + step])
            except OSError:
                return


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops SYNs of parallel clients (a 1 s retry each)
    connections = 0

    def process_request(self, request: object, client_address: object) -> None:
        self.connections += 1  # one per TCP connection (a kept-alive one serves many requests)
        super().process_request(request, client_address)  # type: ignore[arg-type]


class HubServer:
    """A threaded HTTP server on 127.0.0.1 serving *root* (subclasses may set another ``handler_class``)."""

    handler_class: type[http.server.SimpleHTTPRequestHandler] = _Handler

    def __init__(self, root: Path, faults: dict[str, str] | None = None) -> None:
        handler = functools.partial(self.handler_class, directory=str(root))
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.faults = dict(faults or {})  # type: ignore[attr-defined]
        self.httpd.hits = collections.Counter()  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    @property
    def faults(self) -> dict[str, str]:
        return self.httpd.faults  # type: ignore[attr-defined]

    @property
    def hits(self) -> collections.Counter:
        return self.httpd.hits  # type: ignore[attr-defined]

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        return self.httpd.connections  # type: ignore[attr-defined]

    def blob_hits(self) -> int:
        return sum(n for p, n in self.hits.items() if p.startswith("blobs/"))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@functools.lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """gzip of BOMB_SIZE zero bytes (about 250 KiB)."""
    return gzip.compress(bytes(BOMB_SIZE), compresslevel=9, mtime=0)


class _FaultyHandler(_Handler):
    def do_GET(self) -> None:
        fault = self._fault()
        if fault is None or fault in ("corrupt", "slow", "hang", "403", "404", "500"):
            self.server.hits[self.path.lstrip("/")] -= 1  # type: ignore[attr-defined]  # counted again below
            self.close_connection = True
            super().do_GET()
            return
        try:
            self._hostile(fault)
        except OSError:  # the client hung up: that is what we wanted
            pass
        self.close_connection = True

    def _body(self) -> bytes:
        return Path(self.translate_path(self.path)).read_bytes()

    def _start(self, length: int | None, **headers: str) -> None:
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.send_header("Connection", "close")
        self.end_headers()

    def _hostile(self, fault: str) -> None:
        if fault.startswith("redirect"):
            target = self.path if fault == "redirect-loop" else fault.split(":", 1)[1] + self.path.lstrip("/")
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "gzip-bomb":
            bomb = gzip_bomb()
            self._start(len(bomb), Content_Encoding="gzip")
            self.wfile.write(bomb)
            return
        if fault == "endless":
            self._start(None)
            junk = b"\xa5" * (64 << 10)
            for _ in range(100_000):  # 6 GiB: far more than any client should read
                self.wfile.write(junk)
            return
        getattr(self, "_" + fault.replace("-", "_"))(self._body())

    def _drip_no_length(self, data: bytes) -> None:
        self._drip(data, None)

    def _drip_long_length(self, data: bytes) -> None:
        self._drip(data, 64 << 20)

    def _drip_headers(self, data: bytes) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
        while not self.server.closing.wait(0.2):  # type: ignore[attr-defined]
            self.wfile.write(b"a")
            self.wfile.flush()

    def _continue_forever(self, data: bytes) -> None:
        while True:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
            if self.server.closing.wait(0.2):  # type: ignore[attr-defined]
                return

    def _truncated(self, data: bytes) -> None:
        self._start(len(data))
        self.wfile.write(data[: len(data) // 2])

    def _short_length(self, data: bytes) -> None:
        self._start(len(data) // 2)
        self.wfile.write(data)

    def _long_length(self, data: bytes) -> None:
        self._start(len(data) + 1000)
        self.wfile.write(data)

    def _stall(self, data: bytes) -> None:
        self._start(len(data))
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.server.closing.wait(30)  # type: ignore[attr-defined]

    def _drip(self, data: bytes, length: int | None = -1) -> None:
        self._start(len(data) if length == -1 else length)
        for i in range(len(data)):
            if self.server.closing.is_set():  # type: ignore[attr-defined]
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(0.1)


class FaultyServer(HubServer):
    """A hub on 127.0.0.1 whose ``faults`` may be any of the module docstring's."""

    handler_class = _FaultyHandler

    def __init__(self, root: Path, faults: dict[str, str] | None = None) -> None:
        if "gzip-bomb" in (faults or {}).values():
            gzip_bomb()  # compress it now, not while a client waits
        super().__init__(root, faults)
        self.httpd.closing = threading.Event()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.httpd.closing.set()  # type: ignore[attr-defined]
        super().close()


class _KeepAliveHandler(_Handler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True


class KeepAliveServer(HubServer):
    """A :class:`HubServer` speaking HTTP/1.1 with keep-alive (``connections`` shows the reuse)."""

    handler_class = _KeepAliveHandler


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte (a hung mirror).

    ``connections`` counts the connections accepted; :meth:`close` closes them all.
    """

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.held: list[socket.socket] = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    @property
    def connections(self) -> int:
        return len(self.held)

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:  # the timeout, or the listening socket closed
                continue
            self.held.append(conn)  # kept open, never read, never answered

    def close(self) -> None:
        self.closing.set()
        self.thread.join()
        for conn in [*self.held, self.sock]:
            conn.close()


def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub/"
