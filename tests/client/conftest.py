"""Fixtures for the client tests: hubs built by hubgen, real HTTP servers on 127.0.0.1 with faults.

Every test gets its own cache (``DEEPCHEM_HUB_CACHE``) and a short HTTP timeout; each test sets
``DEEPCHEM_MODEL_HUB`` itself.
"""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.client.hubutil import HubServer, build_hub, make_folder


@pytest.fixture(autouse=True)
def client_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DEEPCHEM_HUB_CACHE", str(cache))
    monkeypatch.setenv("DEEPCHEM_HUB_TIMEOUT", "5")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(tmp_path / "no-hub-configured"))
    for var in ("DEEPCHEM_HUB_OFFLINE", "DEEPCHEM_HUB_INDEX_TTL", "DEEPCHEM_HUB_WORKERS", "DCHUB_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    return cache


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


@pytest.fixture
def toy_hub(tmp_path: Path) -> Path:
    """A hub with esol-gc 1.0.0 and 1.1.0 and esol-mtr 0.1 (small weights, no parts)."""
    a = make_folder(tmp_path / "src" / "a", seed=1, n_weights=3, size=2000)
    b = make_folder(tmp_path / "src" / "b", seed=2, n_weights=3, size=2000)
    return build_hub(tmp_path, {("esol-gc", "1.0.0"): a, ("esol-gc", "1.1.0"): b, ("esol-mtr", "0.1"): a})
