"""Fixtures used across test folders (loaded by ``tests/conftest.py`` as a plugin)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests._support.browser import chromium
from tests._support.folders import make_folder
from tests._support.hubs import build_hub
from tests._support.servers import FaultyServer, SilentServer
from tests._support.servers import dead_url as _dead_url


@pytest.fixture
def serve() -> Iterator[Callable[..., FaultyServer]]:
    """``serve(root, faults=None)``: a threaded HTTP server on 127.0.0.1 for *root*, closed after the test."""
    servers: list[FaultyServer] = []

    def start(root: Path, faults: dict[str, str] | None = None) -> FaultyServer:
        servers.append(FaultyServer(root, faults))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (closed after the test)."""
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    return _dead_url()


@pytest.fixture
def toy_hub(tmp_path: Path) -> Path:
    """A hub with esol-gc 1.0.0 and 1.1.0 and esol-mtr 0.1 (small weights, no parts)."""
    a = make_folder(tmp_path / "src" / "a", seed=1, n_weights=3, size=2000)
    b = make_folder(tmp_path / "src" / "b", seed=2, n_weights=3, size=2000)
    return build_hub(tmp_path, {("esol-gc", "1.0.0"): a, ("esol-gc", "1.1.0"): b, ("esol-mtr", "0.1"): a})


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """Two key pairs, ``old`` and ``new``: ``(private .pem, public .pub)``."""
    from hubgen.signing import generate_keypair

    return {name: generate_keypair(tmp_path / "keys", name) for name in ("old", "new")}


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    """Two small pretrained folders."""
    return {"a": make_folder(tmp_path / "src" / "a", seed=1, n_weights=2, size=2000),
            "b": make_folder(tmp_path / "src" / "b", seed=2, n_weights=2, size=2000)}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium (Debian's, see :mod:`tests._support.browser`) for one test module."""
    with chromium() as instance:
        yield instance
