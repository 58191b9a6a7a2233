"""Several processes pulling at once, and a pull killed halfway (real subprocesses, real servers)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dchub_client.hub.cache import Cache
from tests._support.folders import make_folder, validate_folder
from tests._support.hubs import build_hub

PULL = "import sys; from dchub_client.hub.resolve import download; print(download(sys.argv[1]))"


def _pull(spec: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PULL, spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))


def _temp_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob(".*") if p.name.endswith((".tmp", ".old"))]


def test_eight_processes_pulling_the_same_model(tmp_path, serve, monkeypatch, isolated_environment):
    folder = make_folder(tmp_path / "src", seed=4, n_weights=6, size=50_000)
    hub = build_hub(tmp_path, {("shared", "1.0"): folder}, part_size=64 << 10)
    server = serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    procs = [_pull("shared@1.0") for _ in range(8)]
    results = [(p.wait(timeout=60), p.stdout.read().strip(), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _, _ in results), [err for _, _, err in results]
    paths = {out for _, out, _ in results}
    assert paths == {str(Cache().snapshot("shared", "1.0", hub="test-hub"))}
    validate_folder(paths.pop())
    n_files = sum(1 for p in folder.iterdir())
    assert len(list(Cache().blobs())) == n_files + 1  # one copy of each file, plus the manifest
    assert _temp_files(isolated_environment) == []
    hub_blobs = sum(1 for _ in (hub / "blobs").rglob("*") if _.is_file())
    assert server.blob_hits() == hub_blobs  # the per-model lock avoided duplicate downloads


def test_pull_killed_halfway_leaves_nothing_trusted(tmp_path, serve, monkeypatch, isolated_environment):
    folder = make_folder(tmp_path / "src", seed=5, n_weights=1, size=1_000_000)  # a 4 MB weight
    hub = build_hub(tmp_path, {("big", "1.0"): folder})
    server = serve(hub, {"blobs/": "slow"})  # ~1.3 MB/s
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    proc = _pull("big@1.0")
    deadline = time.monotonic() + 30
    while not any(p.stat().st_size > 100_000 for p in _temp_files(isolated_environment)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cache = Cache()
    weight = folder / "toy-dense.0-0.npy"
    from dchub_client.format.hashing import sha256_file
    assert not cache.has_blob(sha256_file(weight))
    assert cache.snapshot_manifest("big", "1.0", hub="test-hub") is None
    assert not cache.snapshot("big", "1.0", hub="test-hub").exists()
    server.faults.clear()
    second = _pull("big@1.0")
    assert second.wait(timeout=60) == 0, second.stderr.read()
    path = Path(second.stdout.read().strip())
    validate_folder(path)
    assert (path / weight.name).read_bytes() == weight.read_bytes()


def test_small_blobs_are_published_whole_into_one_flat_folder(tmp_path):
    import hashlib

    cache = Cache(tmp_path / "cache")
    data = {hashlib.sha256(bytes([i]) * 100).hexdigest(): bytes([i]) * 100 for i in range(20)}
    for sha, raw in data.items():
        cache.put_blob(sha, raw)
        cache.put_blob(sha, raw)  # a second writer: the first one's file stays
    base = tmp_path / "cache" / "blobs" / "sha256"
    assert sorted(p.name for p in base.iterdir()) == sorted(data)  # no shard folders, no temp files left
    for sha, raw in data.items():
        blob = cache.blob(sha)
        assert blob.read_bytes() == raw and blob.stat().st_mode & 0o222 == 0  # whole, read-only
    assert [p.name for p in cache.blobs()] == sorted(data)


def test_a_cache_from_before_the_flat_store_still_loads_and_prune_moves_its_blobs(tmp_path, serve, monkeypatch,
                                                                                    isolated_environment):
    from dchub_client.hub.resolve import download

    hub = build_hub(tmp_path, {("m", "1.0"): make_folder(tmp_path / "src")})
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    folder = download("m@1.0")
    cache = Cache()
    base = cache.root / "blobs" / "sha256"
    for blob in list(base.iterdir()):  # as an older dchub left it: blobs/sha256/ab/abcdef…
        (base / blob.name[:2]).mkdir(exist_ok=True)
        os.rename(blob, base / blob.name[:2] / blob.name)
    old = sorted(p.name for p in base.glob("??/*"))
    assert old and not cache.has_blob(old[0])
    assert download("m@1.0") == folder  # the snapshot (hard links) still serves; its manifest is fetched again
    validate_folder(folder)
    assert {p.name for p in cache.blobs()} == set(old)  # verify and prune see the old blobs too
    assert cache.verify().bad_blobs == ()
    cache.prune()
    assert sorted(p.name for p in base.iterdir()) == old  # moved into the flat store, shard folders gone
    assert all(cache.has_blob(sha) for sha in old)
    validate_folder(folder)
