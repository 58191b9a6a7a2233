"""Offline mode, an unreachable network with a cached model, index TTL, and re-verification."""
from __future__ import annotations

import os
import stat

import pytest

from dchub_client.errors import CachedIndexWarning, MirrorError, OfflineError
from dchub_client.hub.cache import Cache
from dchub_client.hub.resolve import resolve_pretrained
from tests._support.folders import validate_folder


def test_offline_mode_loads_cached_model_without_network(toy_hub, serve, dead_url, monkeypatch):
    server = serve(toy_hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    pulled = resolve_pretrained("esol-gc")
    server.close()
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")  # offline uses the cached index whatever its age
    assert resolve_pretrained("esol-gc") == pulled
    assert resolve_pretrained("esol-gc", refresh=True) == pulled
    with pytest.raises(OfflineError, match="esol-mtr@0.1 is not in the cache"):
        resolve_pretrained("esol-mtr")


def test_offline_without_cached_index_says_so(dead_url, monkeypatch):
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", dead_url)
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="esol-gc is not in the cache .* from any hub .*run `dchub pull esol-gc`"):
        resolve_pretrained("esol-gc")


def test_unreachable_network_falls_back_to_cache_with_warning(toy_hub, serve, monkeypatch):
    server = serve(toy_hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    pulled = resolve_pretrained("esol-gc@1.0.0")
    server.close()
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")  # the cached index is stale: a refresh is tried
    with pytest.warns(CachedIndexWarning, match="using the cached copy") as caught:
        assert resolve_pretrained("esol-gc@1.0.0") == pulled
    assert [w.filename for w in caught] == [__file__]  # points at the caller's line, not inside dchub
    with pytest.warns(RuntimeWarning), pytest.raises(MirrorError, match="connection error"):
        resolve_pretrained("esol-mtr")  # not cached: the real failure surfaces


def test_index_ttl_and_refresh(toy_hub, serve, monkeypatch):
    server = serve(toy_hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "3600")
    resolve_pretrained("esol-gc")
    resolve_pretrained("esol-mtr")
    assert server.hits["index.json"] == 1
    resolve_pretrained("esol-mtr", refresh=True)
    assert server.hits["index.json"] == 2
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")
    resolve_pretrained("esol-mtr")
    assert server.hits["index.json"] == 3


def _corrupt_in_place(path):
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))  # same inode: the snapshot's hard link sees it too


def test_verify_true_refetches_corrupt_cached_file(toy_hub, serve, monkeypatch):
    server = serve(toy_hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    folder = resolve_pretrained("esol-gc@1.0.0").path
    _corrupt_in_place(folder / "toy-dense.1-0.npy")
    hits = server.blob_hits()
    assert resolve_pretrained("esol-gc@1.0.0").path == folder  # trusted without re-hashing
    resolved = resolve_pretrained("esol-gc@1.0.0", verify=True)
    assert resolved.verified and server.blob_hits() == hits + 1
    validate_folder(resolved.path)


def test_cache_verify_removes_corrupt_blobs_and_snapshots(toy_hub, serve, monkeypatch):
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(toy_hub).url)
    folder = resolve_pretrained("esol-gc@1.0.0").path
    resolve_pretrained("esol-mtr")
    cache = Cache()
    assert cache.verify().bad_blobs == ()
    _corrupt_in_place(folder / "params.json")
    report = cache.verify()
    assert len(report.bad_blobs) == 1 and set(report.bad_snapshots) == {"test-hub:esol-gc@1.0.0", "test-hub:esol-mtr@0.1"}
    assert not folder.exists()
    validate_folder(resolve_pretrained("esol-gc@1.0.0").path)
