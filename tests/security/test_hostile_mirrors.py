"""Hostile mirrors: for every fault, the client falls back to a good mirror or fails within a bounded
time with a clear error, and the cache holds only verified bytes afterwards."""
from __future__ import annotations

import re
import resource
import time
from pathlib import Path

import pytest

from dchub_client.errors import MirrorError
from dchub_client.format.hashing import sha256_file
from dchub_client.hub.cache import Cache
from dchub_client.hub.resolve import resolve_pretrained
from tests._support.hubs import build_hub

#: Seconds any single case may take (DEEPCHEM_HUB_TIMEOUT is 1 s in these tests).
BOUND = 6.0

#: fault -> what the error names when it is the only mirror.
FAULTS = {
    "corrupt": "sha256 mismatch",
    "truncated": "broken response|truncated",
    "short-length": "truncated",
    "long-length": "announces .* more than the|broken response",
    "500": "HTTP 500",
    "404": "HTTP 404",
    "stall": "timeout",
    "drip": "too slow",
    "redirect-loop": "TooManyRedirects|redirects",
    "endless": "more than the",
    "gzip-bomb": "Content-Encoding 'gzip' although identity was asked",
    "hang": "timeout|connection error",
    "drip-headers": "timeout: the headers did not arrive within 1 s",
    "continue-forever": "timeout: the headers did not arrive within 1 s",
}


@pytest.fixture
def hub(tmp_path, sources) -> Path:
    return build_hub(tmp_path, {("esol-gc", "1.0.0"): sources["a"]})


def _assert_cache_trusted(cache_root: Path) -> None:
    """Every blob is named by its own sha256; no temp file or half-built snapshot remains."""
    cache = Cache(cache_root)
    for blob in cache.blobs():
        assert sha256_file(blob) == blob.name, blob
    leftovers = [p for p in cache_root.rglob("*") if p.name.endswith((".tmp", ".old"))]
    assert not leftovers, leftovers
    report = cache.verify()
    assert not report.bad_blobs and not report.bad_snapshots


def _timed(fn):
    start = time.monotonic()
    try:
        return fn(), time.monotonic() - start
    except Exception as err:  # noqa: BLE001 - returned for the caller's assertions
        return err, time.monotonic() - start


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_blob_fault_falls_back_to_the_next_mirror(hub, serve, monkeypatch, isolated_environment, fault):
    bad, good = serve(hub, {"blobs/": fault}), serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{bad.url} {good.url}")
    result, elapsed = _timed(lambda: resolve_pretrained("esol-gc"))
    assert not isinstance(result, Exception), result
    assert elapsed < BOUND, f"{fault}: {elapsed:.1f} s"
    assert bad.blob_hits() >= 1 and good.blob_hits() >= 1
    _assert_cache_trusted(isolated_environment)
    assert (result.path / "params.json").is_file()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_blob_fault_on_the_only_mirror_fails_clearly_and_caches_nothing(hub, serve, monkeypatch, isolated_environment,
                                                                        fault):
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub, {"blobs/": fault}).url)
    monkeypatch.setenv("DEEPCHEM_HUB_WORKERS", "4")
    result, elapsed = _timed(lambda: resolve_pretrained("esol-gc"))
    assert isinstance(result, MirrorError), result
    assert elapsed < BOUND, f"{fault}: {elapsed:.1f} s"
    assert re.search(FAULTS[fault], str(result)), str(result)
    assert "could not fetch" in str(result)
    _assert_cache_trusted(isolated_environment)
    assert not list(isolated_environment.glob("snapshots/*/*/*"))


@pytest.mark.parametrize("fault", ["corrupt", "truncated", "endless", "gzip-bomb", "drip", "redirect-loop", "500",
                                   "drip-headers", "continue-forever"])
def test_index_fault_falls_back_or_fails_clearly(hub, serve, monkeypatch, isolated_environment, fault):
    bad, good = serve(hub, {"index.json": fault}), serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{bad.url} {good.url}")
    result, elapsed = _timed(lambda: resolve_pretrained("esol-gc"))
    assert not isinstance(result, Exception), result
    assert elapsed < BOUND
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", bad.url)
    result, elapsed = _timed(lambda: resolve_pretrained("esol-gc", refresh=True))
    # a broken index on a new mirror list: no cached copy for it, so the failure surfaces
    assert isinstance(result, Exception) and elapsed < BOUND + 2, (result, elapsed)
    assert type(result).__module__ == "dchub_client.errors", repr(result)
    _assert_cache_trusted(isolated_environment)


def test_redirect_to_another_mirror_is_followed_and_verified(hub, serve, monkeypatch, isolated_environment):
    good = serve(hub)
    redirecting = serve(hub, {"blobs/": f"redirect:{good.url}"})
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", redirecting.url)
    folder = resolve_pretrained("esol-gc").path
    assert good.blob_hits() >= 1 and (folder / "params.json").is_file()
    _assert_cache_trusted(isolated_environment)


def test_gzip_bomb_is_never_inflated_in_memory(hub, serve, monkeypatch):
    from tests._support.servers import BOMB_SIZE, gzip_bomb

    gzip_bomb()  # build it before measuring
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub, {"blobs/": "gzip-bomb"}).url)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with pytest.raises(MirrorError):
        resolve_pretrained("esol-gc")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown < BOMB_SIZE // 4, f"peak memory grew by {grown >> 20} MiB"


def test_endless_body_reads_little_more_than_the_expected_size(hub, serve, monkeypatch):
    server = serve(hub, {"blobs/": "endless"})
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    start = time.monotonic()
    with pytest.raises(MirrorError, match="sent more than the"):
        resolve_pretrained("esol-gc")
    assert time.monotonic() - start < 3


def test_content_length_above_the_manifest_size_is_refused_before_the_body(hub, serve, monkeypatch, tmp_path):
    from dchub_client.errors import BadResponseError
    from dchub_client.hub.mirrors import parse_mirror

    mirror = parse_mirror(serve(hub).url)
    with pytest.raises(BadResponseError, match="announces .* more than the 10 expected"):
        mirror.read_bytes("index.json", 10)
