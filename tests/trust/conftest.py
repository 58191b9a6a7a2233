"""Fixtures for the trust tests: an isolated cache, a short HTTP timeout, key pairs, signed hubs,
and hostile mirrors (:class:`tests.trust.faulty_server.FaultyServer`) on 127.0.0.1."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dchub_client.hub import trust
from hubgen.signing import generate_keypair
from tests.client.hubutil import make_folder
from tests.trust.faulty_server import FaultyServer


@pytest.fixture(autouse=True)
def trust_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DEEPCHEM_HUB_CACHE", str(cache))
    monkeypatch.setenv("DEEPCHEM_HUB_TIMEOUT", "1")
    for var in ("DEEPCHEM_HUB_OFFLINE", "DEEPCHEM_HUB_INDEX_TTL", "DEEPCHEM_HUB_WORKERS", "DCHUB_DEBUG",
                "DEEPCHEM_HUB_ALLOW_EXPIRED", "DEEPCHEM_HUB_MIN_RATE", "DEEPCHEM_HUB_TRUSTED_KEYS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(trust, "_notice_given", False)
    return cache


@pytest.fixture
def serve() -> Iterator[Callable[..., FaultyServer]]:
    servers: list[FaultyServer] = []

    def start(root: Path, faults: dict[str, str] | None = None) -> FaultyServer:
        servers.append(FaultyServer(root, faults))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """Two key pairs, ``old`` and ``new``: ``(private .pem, public .pub)``."""
    return {name: generate_keypair(tmp_path / "keys", name) for name in ("old", "new")}


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    """Two small pretrained folders."""
    return {"a": make_folder(tmp_path / "src" / "a", seed=1, n_weights=2, size=2000),
            "b": make_folder(tmp_path / "src" / "b", seed=2, n_weights=2, size=2000)}
