"""``hubgen serve``: a real subprocess on a free loopback port, fetched over HTTP."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from hubgen.cli.serve import _banner
from hubgen.errors import HubgenError
from hubgen.serve import make_server, normalize_base
from tests._support.folders import make_folder
from tests.hubgen.site.support import build_site_hub


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _get(url: str) -> tuple[int, bytes, Message]:
    try:
        with _OPENER.open(url, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site_hub(tmp_path_factory.mktemp("serve"))


@contextlib.contextmanager
def _serve(folder: Path, base: str = "/myhub/") -> Iterator[str]:
    """``hubgen serve FOLDER --port 0 --base BASE`` in a subprocess; yields the hub's URL."""
    with _server_process(folder, base) as (_, url):
        yield url


@contextlib.contextmanager
def _server_process(folder: Path, base: str = "/myhub/") -> Iterator[tuple[subprocess.Popen, str]]:
    """:func:`_serve`, yielding the process too."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from hubgen.cli import main; sys.exit(main())",
                             "serve", str(folder), "--port", "0", "--base", base],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        match = re.search(rf"at (http://127\.0\.0\.1:\d+{re.escape(base)})index\.html", line)
        assert match, f"unexpected first line {line!r}; stderr: {proc.stderr.read() if proc.poll() else ''}"
        yield proc, match.group(1)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def served(hub: Path) -> Iterator[str]:
    """``hubgen serve HUB --port 0 --base /myhub/`` in a subprocess; yields the hub's URL."""
    with _serve(hub) as url:
        yield url


def test_serves_the_site_under_the_base_path(served: str, hub: Path) -> None:
    status, body, headers = _get(served + "index.html")
    assert status == 200 and body == (hub / "index.html").read_bytes()
    assert headers["Content-Type"].startswith("text/html")
    status, body, _ = _get(served + "models/esol-mtr/")  # a folder serves its index.html
    assert status == 200 and body == (hub / "models/esol-mtr/index.html").read_bytes()
    status, body, _ = _get(served + "index.json")
    assert status == 200 and body == (hub / "index.json").read_bytes()


def test_redirects_the_bare_base_and_hides_the_rest(served: str) -> None:
    status, _, headers = _get(served.rstrip("/"))
    assert status == 301 and headers["Location"] == "/myhub/"
    root = served.replace("/myhub/", "/")
    assert _get(root + "index.html")[0] == 404  # outside the base path
    assert _get(served + "models/")[0] == 404  # no directory listings
    assert _get(served + ".hubgen-cache.json")[0] == 404  # private build files
    assert _get(served + "%2Ehubgen-cache.json")[0] == 404
    assert _get(served + "../index.html")[0] == 404
    assert _get(served + "no-such-page.html")[0] == 404


def test_hidden_files_of_a_gh_pages_clone_are_not_served(hub: Path, tmp_path: Path) -> None:
    """A clone of the gh-pages branch served as is: its ``.git`` (remote URLs, maybe a token) and any other
    hidden file are 404; the hub itself (``.nojekyll`` included) is served and the client pulls from it."""
    clone = tmp_path / "gh-pages"
    shutil.copytree(hub, clone, ignore=shutil.ignore_patterns(".hubgen*"))
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    (clone / ".env").write_text("TOKEN=secret\n")
    (clone / "models" / ".notes").write_text("draft\n")
    with _serve(clone, "/") as url:
        for hidden in (".git/config", ".git/HEAD", ".git/", ".env", "%2Egit/config", "models/.notes",
                       "models/%2enotes", "models/../.git/config"):
            assert _get(url + hidden)[0] == 404, hidden
        assert _get(url + ".nojekyll")[0] == 200
        assert _get(url + "index.json")[1] == (clone / "index.json").read_bytes()
        env = dict(os.environ, DEEPCHEM_MODEL_HUB=url)
        pulled = subprocess.run([str(Path(sys.executable).parent / "dchub"), "pull", "-q", "esol-mtr"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr


def test_a_burst_of_connections_waits_for_a_busy_server(hub: Path) -> None:
    """dchub opens up to 8 connections at once (one per file); while the server is busy (here: stopped)
    the kernel must queue them all. With the standard library's backlog of 5 only 6 connected, and each
    other client's SYN was dropped and retried 1 s later: a 1 s stall in a ``dchub pull`` after ``dchub ls``."""
    with _server_process(hub) as (proc, url):
        os.kill(proc.pid, signal.SIGSTOP)
        connected = []
        try:
            for _ in range(16):
                with contextlib.suppress(OSError):
                    connected.append(socket.create_connection(("127.0.0.1", urllib.parse.urlsplit(url).port),
                                                              timeout=0.5))
        finally:
            os.kill(proc.pid, signal.SIGCONT)
            for sock in connected:
                sock.close()
    assert len(connected) == 16


def test_binds_loopback_only(hub: Path) -> None:
    server = make_server(hub, port=0, base="sub")
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/sub/")
    finally:
        server.server_close()


def test_bad_arguments(tmp_path: Path) -> None:
    assert normalize_base("") == "/" and normalize_base("/a/b") == "/a/b/"
    with pytest.raises(HubgenError, match="invalid base path '/a/../b'"):
        normalize_base("/a/../b")
    with pytest.raises(HubgenError, match=f"{tmp_path / 'missing'}: no such folder to serve"):
        make_server(tmp_path / "missing", port=0)
    blocker = make_server(tmp_path, port=0)
    try:
        with pytest.raises(HubgenError, match=f"cannot listen on 127.0.0.1:{blocker.server_address[1]}"):
            make_server(tmp_path, port=blocker.server_address[1])
    finally:
        blocker.server_close()


def test_the_banner_says_what_the_folder_is(hub: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A hub: its catalogue page and the line to load from it. A plain folder of models: no catalogue, load by
    name. Anything else (a typo'd folder, the recipes' build folder's parent): a warning that dchub cannot load
    from it, rather than a promise of an index.html that is not there."""
    plain = tmp_path / "plain"
    make_folder(plain / "m", seed=1)
    other = tmp_path / "other"
    (other / "notes").mkdir(parents=True)
    banners = {}
    for name, folder in (("hub", hub), ("plain", plain), ("other", other)):
        server = make_server(folder, port=0)
        try:
            caplog.clear()
            banners[name] = (_banner(server), caplog.text, server.url)
        finally:
            server.server_close()
    text, log, url = banners["hub"]
    assert text == f"Serving {hub} at {url}index.html (Ctrl+C to stop)\nLoad its models with: export DEEPCHEM_MODEL_HUB={url}"
    assert log == ""
    text, log, url = banners["plain"]
    assert "plain folder of models" in text and "index.html" not in text and f"DEEPCHEM_MODEL_HUB={url} (by name)" in text
    assert log == ""
    text, log, url = banners["other"]
    assert text == f"Serving {other} at {url} (Ctrl+C to stop)"
    assert f"{other} holds no index.json, so it is not a hub" in log and "dchub cannot load models from it" in log
