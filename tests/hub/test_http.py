"""The HTTP downloader: a pooch downloader that reuses connections and keeps every request within its deadlines.

Real servers on 127.0.0.1; connection counts come from the server side.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server as http_server
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pooch
import pytest

from dchub_client.errors import BadResponseError, HTTPStatusError, MirrorTimeoutError
from dchub_client.hub import http
from dchub_client.hub.mirrors import parse_mirror
from dchub_client.hub.resolve import resolve_pretrained
from tests._support.folders import make_folder, validate_folder
from tests._support.hubs import build_hub
from tests._support.servers import KeepAliveServer


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Ten small files in ``tmp_path/www``, by name -> sha256."""
    www = tmp_path / "www"
    www.mkdir()
    out = {}
    for i in range(10):
        data = bytes([i]) * (1000 + i)
        (www / f"f{i}.bin").write_bytes(data)
        out[f"f{i}.bin"] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture
def keep_alive(tmp_path: Path):
    server = KeepAliveServer(tmp_path / "www" if (tmp_path / "www").is_dir() else tmp_path)
    yield server
    http.close_connections()
    server.close()


def test_pooch_retrieve_with_our_downloader_verifies_and_reuses_one_connection(files, keep_alive, tmp_path):
    downloader = http.HTTPDownloader()
    for name, sha in files.items():
        path = pooch.retrieve(keep_alive.url + name, known_hash=f"sha256:{sha}", fname=name,
                              path=tmp_path / "pooch", downloader=downloader, progressbar=False)
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha
    assert keep_alive.connections == 1


def test_pooch_refuses_what_our_downloader_fetched_when_the_hash_differs(files, keep_alive, tmp_path):
    with pytest.raises(ValueError, match="SHA256 hash of downloaded file"):
        pooch.retrieve(keep_alive.url + "f1.bin", known_hash="sha256:" + "0" * 64, path=tmp_path / "pooch",
                       downloader=http.HTTPDownloader(), progressbar=False)


def test_check_only_answers_whether_the_file_is_there(files, keep_alive, tmp_path):
    store = pooch.create(path=tmp_path / "p", base_url=keep_alive.url, registry={"f1.bin": None, "nope.bin": None})
    assert store.is_available("f1.bin", downloader=http.HTTPDownloader())
    assert not store.is_available("nope.bin", downloader=http.HTTPDownloader())


@contextlib.contextmanager
def _pulled(tmp_path: Path, monkeypatch, server_class: type[KeepAliveServer], workers: int) -> Iterator:
    """A model of 42 files served by *server_class*, pulled with *workers* download threads; the server (its counts)."""
    folder = make_folder(tmp_path / "src", seed=1, n_weights=40, size=300)
    server = server_class(build_hub(tmp_path, {("many", "1.0"): folder}))
    try:
        monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
        monkeypatch.setenv("DEEPCHEM_HUB_WORKERS", str(workers))
        validate_folder(resolve_pretrained("many@1.0").path)
        yield server
    finally:
        http.close_connections()
        server.close()


def test_a_pull_reuses_connections(tmp_path, monkeypatch):
    with _pulled(tmp_path, monkeypatch, KeepAliveServer, 4) as server:
        assert server.hits["index.json"] == 1 and server.blob_hits() >= 42
        assert server.connections <= 4 + 1  # one per download thread (the first may be the index's)


def test_a_pooled_connection_the_server_closed_is_replaced(files, keep_alive, monkeypatch):
    monkeypatch.setattr(keep_alive.httpd.RequestHandlerClass.func, "timeout", 0.2)  # the server drops idle ones
    mirror = parse_mirror(keep_alive.url)
    assert mirror.read_bytes("f1.bin") == bytes([1]) * 1001
    assert mirror.read_bytes("f2.bin") == bytes([2]) * 1002  # the same connection
    time.sleep(0.6)
    assert mirror.read_bytes("f3.bin") == bytes([3]) * 1003  # a new one, transparently
    assert keep_alive.connections == 2


def test_an_error_status_names_the_status_and_the_next_request_works(files, keep_alive):
    mirror = parse_mirror(keep_alive.url)
    with pytest.raises(HTTPStatusError, match="HTTP 404") as info:
        mirror.read_bytes("missing.bin")
    assert info.value.status == 404 and info.value.url == keep_alive.url + "missing.bin"
    assert mirror.read_bytes("f4.bin") == bytes([4]) * 1004


@pytest.mark.parametrize("fault", ["drip-no-length", "drip-long-length"])
def test_a_metadata_file_dripped_without_a_true_length_gets_a_fixed_budget(tmp_path, serve, monkeypatch, fault):
    (tmp_path / "index.json").write_bytes(b"{" + b" " * 5000 + b"}")
    monkeypatch.setenv("DEEPCHEM_HUB_TIMEOUT", "1")
    mirror = parse_mirror(serve(tmp_path, {"index.json": fault}).url)
    start = time.monotonic()
    with pytest.raises(MirrorTimeoutError, match="too slow"):
        mirror.read_bytes("index.json")
    assert time.monotonic() - start < 2


def test_a_redirect_elsewhere_than_http_is_refused(tmp_path, serve):
    (tmp_path / "f.bin").write_bytes(b"x")
    mirror = parse_mirror(serve(tmp_path, {"f.bin": "redirect:file:///etc/"}).url)
    with pytest.raises(BadResponseError, match="only http"):
        mirror.read_bytes("f.bin")


class _Proxy(http_server.BaseHTTPRequestHandler):
    """A forward proxy for plain http: relays ``GET http://host/path`` and records what it was sent."""

    seen: list[tuple[str, str | None]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Proxy-Authorization")))
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(self.path, timeout=5) as upstream:
            body = upstream.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_the_standard_proxy_variables_are_honoured(files, keep_alive, monkeypatch):
    proxy = http_server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("http_proxy", f"http://user:secret@127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        http._proxy_url.cache_clear()
        assert parse_mirror(keep_alive.url).read_bytes("f5.bin") == bytes([5]) * 1005
        path, credentials = _Proxy.seen[-1]
        assert path == keep_alive.url + "f5.bin" and credentials == "Basic " + base64.b64encode(b"user:secret").decode()
    finally:
        http._proxy_url.cache_clear()
        proxy.shutdown()
        proxy.server_close()


def test_proxy_credentials_never_travel_through_an_https_tunnel(monkeypatch):
    monkeypatch.setenv("https_proxy", "http://user:secret@proxy.invalid:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    http._proxy_url.cache_clear()
    try:
        route = http._Route.of("https://me:pw@hub.invalid/models/x")
    finally:
        http._proxy_url.cache_clear()
    assert route.proxy == ("proxy.invalid", 3128) and route.target == "/models/x"
    assert list(route.request_headers()) == ["Authorization"]  # for the hub, inside the tunnel
    assert list(route.tunnel_headers()) == ["Proxy-Authorization"]  # for the proxy, on CONNECT


_PROXY_ENVS = [
    {}, {"http_proxy": "http://p:1"}, {"HTTP_PROXY": "http://P:1"}, {"HTTP_PROXY": "http://P:1", "http_proxy": "http://p:1"},
    {"HTTP_PROXY": "http://P:1", "REQUEST_METHOD": "GET"}, {"https_proxy": "http://s:2", "no_proxy": "example.com"},
    {"https_proxy": "http://s:2", "no_proxy": ".example.com, other"}, {"https_proxy": "http://s:2", "NO_PROXY": "*"},
    {"HTTPS_PROXY": "http://S:2", "https_proxy": ""}, {"http_proxy": "http://p:1", "no_proxy": "127.0.0.1,LOCALHOST"},
]


@pytest.mark.parametrize("env", _PROXY_ENVS)
def test_proxy_variables_are_read_as_urllib_reads_them(env, monkeypatch):
    """constants.proxy_url re-implements urllib.request's rules (to keep that 35 ms import out of a pull)."""
    import os
    import urllib.request

    from dchub_client import constants

    for name in [n for n in os.environ if n.lower().endswith("_proxy") or n == "REQUEST_METHOD"]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for scheme in ("http", "https"):
        for host in ("example.com", "a.example.com", "notexample.com", "other", "127.0.0.1", "localhost"):
            proxy = urllib.request.getproxies_environment().get(scheme)
            expected = None if not proxy or urllib.request.proxy_bypass_environment(host) else proxy
            assert constants.proxy_url(scheme, host) == expected, (scheme, host)


class _SlowToAnswerHandler(http_server.SimpleHTTPRequestHandler):
    """HTTP/1.1 keep-alive; the first answer on each connection starts 50 ms late. The server records how many
    connections were waiting for their first answer at once (``opening``, ``most_opening``)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.answered = False
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.opening += 1  # type: ignore[attr-defined]
            self.server.most_opening = max(self.server.most_opening, self.server.opening)  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        if not self.answered:
            time.sleep(0.05)
            self.answered = True
            with self.server.lock:  # type: ignore[attr-defined]
                self.server.opening -= 1  # type: ignore[attr-defined]
        super().do_GET()


class _SlowToAnswerServer(KeepAliveServer):
    handler_class = _SlowToAnswerHandler

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.httpd.lock, self.httpd.opening, self.httpd.most_opening = threading.Lock(), 0, 0


def test_new_connections_to_a_server_wait_for_its_answer_four_at_a_time(tmp_path, monkeypatch):
    """Eight download threads do not open eight connections at once: a small server's listen queue
    (``python -m http.server`` queues 5) would drop the excess, each dropped one retried a second later."""
    with _pulled(tmp_path, monkeypatch, _SlowToAnswerServer, 8) as server:
        assert server.httpd.most_opening <= http._MAX_OPENING == 4
        assert 4 <= server.connections <= 8 + 1  # the threads still got connections of their own


def test_threads_waiting_to_connect_fail_with_the_attempts_before_them(monkeypatch):
    """When the connections being opened fail (a mirror that never answers), the threads waiting for
    their turn fail at once with the same reason, instead of each waiting out a timeout of its own."""
    from dchub_client.errors import MirrorDownError
    from tests._support.servers import SilentServer

    monkeypatch.setenv("DEEPCHEM_HUB_CONNECT_TIMEOUT", "0.5")
    silent = SilentServer()
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            parse_mirror(silent.url).read_bytes("index.json")
        except MirrorDownError as err:
            errors.append(err)

    try:
        start = time.monotonic()
        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(errors) == 8 and all("no answer within 0.5 s" in str(e) for e in errors), errors
        assert silent.connections == 4  # the four waiting threads never connected
        assert time.monotonic() - start < 2 * 0.5  # one timeout, not two in a row
    finally:
        silent.close()
