"""pooch as a client of a hub: ``registry.txt`` (pooch's registry format) lets plain pooch fetch and verify
every file of a hub served over HTTP."""
from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path

import pooch
import pytest

from dchub_client.format import layout
from tests._support.folders import make_folder
from tests._support.hubs import build_hub


def _registry(url: str) -> io.StringIO:
    with urllib.request.urlopen(url + layout.REGISTRY_FILE, timeout=10) as response:
        return io.StringIO(response.read().decode())


def test_pooch_fetches_and_verifies_every_file_of_a_hub(tmp_path: Path, serve) -> None:
    hub = build_hub(tmp_path, {("toy", "1.0"): make_folder(tmp_path / "src", seed=1, n_weights=3, size=300)})
    server = serve(hub)
    fetcher = pooch.create(path=tmp_path / "pooch-cache", base_url=server.url, registry=None)
    fetcher.load_registry(_registry(server.url))
    sums = dict(reversed(line.split("  ", 1)) for line in (hub / layout.SUMS_FILE).read_text().splitlines())
    assert set(fetcher.registry) == set(sums) - {layout.REGISTRY_FILE}  # every file but the checksum files
    for rel in fetcher.registry:
        assert Path(fetcher.fetch(rel)).read_bytes() == (hub / rel).read_bytes()
    manifest = json.loads(Path(fetcher.fetch(layout.manifest_path("toy", "1.0"))).read_text())
    assert {f["path"] for f in manifest["files"]} == {"params.json", "README.md", "toy-dense.0-0.npy",
                                                      "toy-dense.1-0.npy", "toy-dense.2-0.npy"}


def test_pooch_refuses_a_corrupted_file(tmp_path: Path, serve) -> None:
    hub = build_hub(tmp_path, {("toy", "1.0"): make_folder(tmp_path / "src", seed=2)})
    server = serve(hub)
    fetcher = pooch.create(path=tmp_path / "pooch-cache", base_url=server.url, registry=None)
    fetcher.load_registry(_registry(server.url))
    blob = next(rel for rel in fetcher.registry if rel.startswith(layout.BLOB_PREFIX))
    server.faults[blob] = "corrupt"
    with pytest.raises(ValueError, match="SHA256 hash of downloaded file"):
        fetcher.fetch(blob)
    assert not (tmp_path / "pooch-cache" / blob).exists()
