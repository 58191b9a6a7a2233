"""A static file server for the benchmarks that is not the bottleneck: HTTP/1.1 keep-alive, ``sendfile``.

Python's ``http.server`` spends ~150 µs of CPU per request parsing headers with the email package
and copies bodies through user space; on two cores shared with the client that is what a benchmark
of small files would measure. This server parses only the request line and the header lines it
needs, answers ``GET``/``HEAD`` (and single ``Range: bytes=a-b`` requests) with one ``send`` of the
headers and ``os.sendfile`` of the body, keeps connections alive, and serves each connection on
its own thread (listen backlog 1024, ``TCP_NODELAY``). It runs in its own process:

    with BenchServer(root) as server:
        server.url  # http://127.0.0.1:PORT/
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


def _answer(conn: socket.socket, root: str, method: str, target: str, headers: dict[str, str]) -> bool:
    """Answer one request; return whether the connection stays open."""
    path = os.path.normpath(os.path.join(root, urllib.parse.unquote(urllib.parse.urlsplit(target).path).lstrip("/")))
    keep = headers.get("connection", "").lower() != "close"
    if not path.startswith(root) or not os.path.isfile(path):
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return keep
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        start, end, status = 0, size, "200 OK"
        match = _RANGE.match(headers.get("range", ""))
        if match:
            start = int(match.group(1))
            end = min(size, int(match.group(2)) + 1) if match.group(2) else size
            status = "206 Partial Content"
        head = (f"HTTP/1.1 {status}\r\nContent-Length: {end - start}\r\nAccept-Ranges: bytes\r\n"
                f"Content-Type: application/octet-stream\r\n")
        if match:
            head += f"Content-Range: bytes {start}-{end - 1}/{size}\r\n"
        conn.sendall((head + "\r\n").encode("latin-1"))
        if method == "GET":
            offset = start
            while offset < end:
                sent = os.sendfile(conn.fileno(), handle.fileno(), offset, end - offset)
                if not sent:
                    return False
                offset += sent
    return keep


def _serve_connection(conn: socket.socket, root: str) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = conn.makefile("rb", buffering=64 << 10)
    try:
        while True:
            line = reader.readline(65537)
            if not line:
                return
            method, target, _version = line.decode("latin-1").split(" ", 2)
            headers = {}
            while (header := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
                key, _, value = header.decode("latin-1").partition(":")
                headers[key.strip().lower()] = value.strip()
            if not _answer(conn, root, method, target, headers):
                return
    except (OSError, ValueError):
        return
    finally:
        reader.close()
        conn.close()


def serve_forever(root: str, port: int) -> None:
    """Serve *root* on 127.0.0.1:*port* until killed."""
    root = os.path.realpath(root)
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve_connection, args=(conn, root), daemon=True).start()


class BenchServer:
    """:func:`serve_forever` in a subprocess on a free loopback port."""

    def __init__(self, root: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, __file__, str(root), str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve_forever(sys.argv[1], int(sys.argv[2]))
