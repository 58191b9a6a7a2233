"""HTTP/1.1 as the client speaks it: framing, hostile heads, TLS and proxy tunnels, on real loopback servers.

A *scripted* server answers each request on a connection with the next canned bytes, so every
framing a server may choose (``Content-Length``, chunked, close-delimited, HTTP/1.0) and every
malformed head is tried byte for byte. TLS uses a CA made here (``cryptography``) and trusted
through ``SSL_CERT_FILE``; the https proxy is a real ``CONNECT`` relay.
"""
from __future__ import annotations

import datetime
import hashlib
import http.server as http_server
import ipaddress
import select
import socket
import ssl
import threading
from pathlib import Path

import pytest

from dchub_client.errors import BadResponseError, MirrorDownError
from dchub_client.hub import http, http1
from dchub_client.hub.mirrors import parse_mirror

BODY = bytes(range(256)) * 40  # 10 KiB


class Scripted:
    """A TCP server on 127.0.0.1: for each request on a connection, sends the next of *answers*
    (bytes), then closes the connection when they run out or after an answer marked ``close``."""

    def __init__(self, answers: list[bytes], *, close_after: bool = False) -> None:
        self.answers = answers
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def _serve(self) -> None:
        queue = list(self.answers)
        while queue:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                while queue:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        request += chunk
                    if not request:
                        break
                    self.requests.append(request)
                    conn.sendall(queue.pop(0))
                    if self.close_after:
                        break

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted():
    servers: list[Scripted] = []

    def make(answers: list[bytes], **kwargs: bool) -> Scripted:
        servers.append(Scripted(answers, **kwargs))
        return servers[-1]

    yield make
    http.close_connections()
    for server in servers:
        server.close()


def _fetch(url: str) -> bytes:
    return parse_mirror(url).read_bytes("f.bin")


def _limited(url: str, limit: int) -> bytes:
    out = bytearray()

    class Sink:
        def write(self, data: bytes) -> int:
            out.extend(data)
            return len(data)

    parse_mirror(url).fetch("f.bin", Sink(), limit=limit)
    return bytes(out)


def _chunked(data: bytes, size: int = 3000) -> bytes:
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\nX-Trailer: yes\r\n\r\n"


def test_content_length_answers_reuse_one_connection(scripted):
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    server = scripted([ok, ok, ok])
    assert [_fetch(server.url) for _ in range(3)] == [BODY] * 3
    assert server.connections == 1
    first = server.requests[0].decode("latin-1")
    assert first.startswith("GET /f.bin HTTP/1.1\r\n") and f"Host: 127.0.0.1:{server.url.split(':')[2][:-1]}" in first
    assert "Accept-Encoding: identity" in first and "User-Agent: dchub-client/" in first


def test_a_chunked_body_with_extensions_and_trailers_is_decoded_and_the_connection_kept(scripted):
    server = scripted([_chunked(BODY), _chunked(b"second")])
    assert _fetch(server.url) == BODY
    assert _fetch(server.url) == b"second"
    assert server.connections == 1


def test_an_http_1_0_answer_without_length_ends_with_the_connection(scripted):
    server = scripted([b"HTTP/1.0 200 OK\r\n\r\n" + BODY, b"HTTP/1.0 200 OK\r\n\r\nagain"], close_after=True)
    assert _fetch(server.url) == BODY
    assert _fetch(server.url) == b"again"
    assert server.connections == 2  # not reused: the body ended with the connection


def test_interim_answers_are_skipped(scripted):
    server = scripted([b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                       b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    assert _fetch(server.url) == b"ok"


def test_bare_line_feeds_and_folded_headers_are_understood(scripted):
    server = scripted([b"HTTP/1.1 200 OK\nX-Long: a\n  b\nContent-Length: 2\n\nok"])
    assert _fetch(server.url) == b"ok"


@pytest.mark.parametrize(("answer", "error"), [
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", r"broken response \(not an HTTP/1.x status line: 'SSH-2.0"),
    (b"HTTP/1.1 2OO OK\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line: 'no colon here'"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n", "Content-Length '12abc' is not a number"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "two different Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "only chunked is understood"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size b'zz'"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 5000, "chunk-size or trailer line longer"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n", "not followed by a line break"),
    (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", "more than 100 header lines"),
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (70 << 10) + b"\r\n\r\n", "headers longer than 64 KiB"),
    (b"HTTP/1.1 200 OK\r\nContent-Le", "closed in the middle of the headers"),
    (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101 Switching Protocols"),
])
def test_a_malformed_answer_is_a_precise_broken_response(scripted, answer, error):
    server = scripted([answer], close_after=True)
    with pytest.raises(BadResponseError, match=error):
        _fetch(server.url)


def test_a_body_shorter_than_announced_is_truncated_and_its_connection_dropped(scripted):
    server = scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"], close_after=True)
    with pytest.raises(BadResponseError, match="truncated: the connection closed after 9 of 100 bytes"):
        _fetch(server.url)


def test_a_server_that_hangs_up_without_answering_is_down(scripted):
    server = scripted([b""], close_after=True)
    with pytest.raises(MirrorDownError, match="closed the connection without answering"):
        _fetch(server.url)


def test_a_redirect_target_with_spaces_and_non_ascii_is_percent_encoded(scripted):
    target = scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    first = scripted([b"HTTP/1.1 302 Found\r\nLocation: %sa b/\xe9\r\nContent-Length: 0\r\n\r\n" % target.url.encode()])
    assert _fetch(first.url) == b"ok"
    assert target.requests[0].decode("latin-1").startswith("GET /a%20b/%C3%A9 HTTP/1.1\r\n")


def test_a_url_cannot_inject_request_lines():
    route = http._Route.of("http://127.0.0.1:9/a\r\nX-Injected: 1\x00")
    assert route.target == "/aX-Injected:%201%00"  # line breaks dropped (urlsplit), the rest %-encoded


def test_an_announced_length_above_the_limit_is_refused_before_the_body(scripted):
    server = scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n"], close_after=True)
    with pytest.raises(BadResponseError, match="announces 999999999 bytes"):
        _limited(server.url, 100)


# --- TLS ------------------------------------------------------------------------------------


def _tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A CA (``ca.pem``) and a certificate for 127.0.0.1 it signed (``cert.pem``, ``key.pem``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dchub test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class _Files(http_server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https_hub(tmp_path, monkeypatch):
    """An HTTPS server on 127.0.0.1 serving ``www/f.bin``; its CA trusted through ``SSL_CERT_FILE``."""
    ca, cert, key = _tls_files(tmp_path)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "f.bin").write_bytes(BODY)
    server = http_server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Files(*a, directory=str(tmp_path / "www")))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    http1.tls_context.cache_clear()
    yield f"https://127.0.0.1:{server.server_address[1]}/"
    http.close_connections()
    http1.tls_context.cache_clear()
    server.shutdown()
    server.server_close()


def test_https_with_a_trusted_certificate(https_hub):
    assert hashlib.sha256(_fetch(https_hub)).digest() == hashlib.sha256(BODY).digest()
    assert _fetch(https_hub) == BODY  # the pooled TLS connection again


def test_https_with_an_untrusted_certificate_is_refused(https_hub, monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # not the CA: nothing vouches for it
    http1.tls_context.cache_clear()
    with pytest.raises(MirrorDownError, match="connection error \\(TLS: .*certificate"):
        _fetch(https_hub)


class _Tunnel(http_server.BaseHTTPRequestHandler):
    """A forward proxy that only relays ``CONNECT`` tunnels, and records what it was asked."""

    seen: list[tuple[str, str | None]] = []
    refuse = False

    def log_message(self, *args: object) -> None:
        pass

    def do_CONNECT(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Proxy-Authorization")))
        if self.refuse:
            self.send_response(407)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        host, port = self.path.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        self.send_response(200)
        self.end_headers()
        self.wfile.flush()
        pair = {self.connection: upstream, upstream: self.connection}
        try:
            while True:
                for side in select.select(list(pair), [], [], 5)[0]:
                    data = side.recv(65536)
                    if not data:
                        return
                    pair[side].sendall(data)
        except OSError:
            return
        finally:
            upstream.close()


@pytest.fixture
def tunnel_proxy(monkeypatch):
    proxy = http_server.ThreadingHTTPServer(("127.0.0.1", 0), _Tunnel)
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("https_proxy", f"http://user:secret@127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    http._proxy_url.cache_clear()
    _Tunnel.seen.clear()
    yield _Tunnel
    _Tunnel.refuse = False
    http._proxy_url.cache_clear()
    proxy.shutdown()
    proxy.server_close()


def test_https_through_a_connect_tunnel_gives_the_proxy_its_credentials_only(https_hub, tunnel_proxy):
    assert _fetch(https_hub) == BODY
    authority = https_hub.removeprefix("https://").rstrip("/")
    assert tunnel_proxy.seen == [(authority, "Basic dXNlcjpzZWNyZXQ=")]  # user:secret, on CONNECT


def test_a_proxy_that_refuses_the_tunnel_is_a_precise_connection_error(https_hub, tunnel_proxy):
    tunnel_proxy.refuse = True
    with pytest.raises(MirrorDownError, match="the proxy refused the tunnel to 127.0.0.1:\\d+: HTTP 407 .*check the user:password in https_proxy"):
        _fetch(https_hub)
