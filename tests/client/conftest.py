"""Fixtures for the client tests: hubs built by hubgen, real HTTP servers on 127.0.0.1 with faults.

Every test gets its own cache (``DEEPCHEM_HUB_CACHE``) and a short HTTP timeout; each test sets
``DEEPCHEM_MODEL_HUB`` itself.
"""
from __future__ import annotations

import collections
import functools
import http.server
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hubutil import make_folder  # noqa: E402


@pytest.fixture(autouse=True)
def client_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DEEPCHEM_HUB_CACHE", str(cache))
    monkeypatch.setenv("DEEPCHEM_HUB_TIMEOUT", "5")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(tmp_path / "no-hub-configured"))
    for var in ("DEEPCHEM_HUB_OFFLINE", "DEEPCHEM_HUB_INDEX_TTL", "DEEPCHEM_HUB_WORKERS", "DCHUB_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    return cache


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``server.faults`` maps a path prefix to ``404``, ``corrupt``, ``slow`` or ``500``."""

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
        if fault in ("404", "500"):
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


class HubServer:
    """A threaded HTTP server on 127.0.0.1 serving *root*."""

    def __init__(self, root: Path, faults: dict[str, str] | None = None) -> None:
        handler = functools.partial(_Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
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

    def blob_hits(self) -> int:
        return sum(n for p, n in self.hits.items() if p.startswith("blobs/"))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., HubServer]]:
    servers: list[HubServer] = []

    def start(root: Path, faults: dict[str, str] | None = None) -> HubServer:
        servers.append(HubServer(root, faults))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub/"


def build_hub(tmp_path: Path, models: dict[tuple[str, str], Path], *, part_size: int | None = None,
              out: str = "hub") -> Path:
    """Build a hub with hubgen from pretrained folders (``models[(name, version)] = folder``)."""
    from hubgen.build import build_hub as hubgen_build

    lines = ["name: test-hub", "title: Test hub", "models:"]
    for (name, version), folder in models.items():
        lines += [f"  - name: {name}", f'    version: "{version}"', f"    path: {folder}",
                  "    card:", f"      description: toy model {name}", "      license: MIT"]
    yaml_path = tmp_path / f"{out}.yaml"
    yaml_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    hubgen_build(yaml_path, tmp_path / out, part_size=part_size)
    return tmp_path / out


@pytest.fixture
def toy_hub(tmp_path: Path) -> Path:
    """A hub with esol-gc 1.0.0 and 1.1.0 and esol-mtr 0.1 (small weights, no parts)."""
    a = make_folder(tmp_path / "src" / "a", seed=1, n_weights=3, size=2000)
    b = make_folder(tmp_path / "src" / "b", seed=2, n_weights=3, size=2000)
    return build_hub(tmp_path, {("esol-gc", "1.0.0"): a, ("esol-gc", "1.1.0"): b, ("esol-mtr", "0.1"): a})
