"""Faults on single parts of a split file, and on one large blob, over real HTTP mirrors on 127.0.0.1.

A split file is hashed once, whole, in order; a part that fails over to the next mirror rewinds
that hash to the part's start, so a fallback alone never takes the repair path (re-hashing every
part and refetching the wrong ones). The repair path is watched with a spy that calls the real
function, because its absence is otherwise visible only as time. After every case the cache holds
only blobs named by their own sha256, no temp files, and no client thread is left running.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dchub_client.errors import MirrorError
from dchub_client.format import hubfiles, jsonstrict
from dchub_client.format.hashing import CHUNK_SIZE
from dchub_client.hub import fetch, http, http1
from dchub_client.hub.cache import Cache
from dchub_client.hub.resolve import download, resolve_pretrained
from tests._support.folders import make_folder
from tests._support.hubs import build_hub
from tests._support.servers import FaultyServer
from tests.security.test_hostile_mirrors import _assert_cache_trusted

WEIGHT = "toy-dense.0-0.npy"


@dataclass(frozen=True)
class _Hub:
    root: Path
    entry: hubfiles.FileEntry  # the weight file
    expected: np.ndarray

    def blob(self, i: int | None = None) -> str:
        """The hub path of part *i* (or of the whole file when None)."""
        return hubfiles.blob_path(self.entry.sha256 if i is None else self.entry.parts[i].sha256)


def _hub(tmp_path: Path, *, size: int, part_size: int | None = None) -> _Hub:
    folder = make_folder(tmp_path / "src", seed=3, n_weights=1, size=size)
    root = build_hub(tmp_path, {("big", "1.0"): folder}, part_size=part_size)
    manifest = hubfiles.parse_manifest(jsonstrict.loads((root / hubfiles.manifest_path("big", "1.0")).read_bytes()))
    entry = next(e for e in manifest.files if e.path == WEIGHT)
    return _Hub(root, entry, np.load(folder / WEIGHT))


@pytest.fixture
def split(tmp_path: Path) -> _Hub:
    """A ~40 kB weight stored in 10 parts of 4 KiB."""
    hub = _hub(tmp_path, size=10_000, part_size=4096)
    assert len(hub.entry.parts) == 10
    return hub


@pytest.fixture
def wide(tmp_path: Path) -> _Hub:
    """A ~5.6 MB weight in parts of 2.5 MiB: a bad answer on a part feeds whole 1 MiB reads into the
    hash before it fails (on 4 KiB parts, only short-length does)."""
    hub = _hub(tmp_path, size=1_400_000, part_size=5 << 19)
    assert len(hub.entry.parts) == 3 and hub.entry.parts[1].size > 2 * CHUNK_SIZE
    return hub


@pytest.fixture
def repairs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files that took the repair path (the whole-file sha256 did not match); the real repair runs."""
    calls: list[str] = []
    real = fetch._repair_parts

    def spy(*args: object, **kwargs: object) -> None:
        calls.append(str(kwargs["what"]))
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fetch, "_repair_parts", spy)
    return calls


def _mirrors(serve, monkeypatch, hub: _Hub, *faults: dict[str, str]) -> list[FaultyServer]:  # noqa: F811
    servers = [serve(hub.root, f) for f in faults]
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", " ".join(s.url for s in servers))
    return servers


def _assert_weight_right(folder: Path, hub: _Hub) -> None:
    np.testing.assert_array_equal(np.load(folder / WEIGHT), hub.expected)
    assert Cache().has_blob(hub.entry.sha256)
    assert not any(Cache().has_blob(p.sha256) for p in hub.entry.parts)  # the whole file, not its parts


def _assert_nothing_cached(cache_root: Path, hub: _Hub) -> None:
    _assert_cache_trusted(cache_root)
    cache = Cache()
    assert not cache.has_blob(hub.entry.sha256)
    assert not any(cache.has_blob(p.sha256) for p in hub.entry.parts)
    assert cache.snapshot_manifest("big", "1.0", hub="test-hub") is None


def _assert_no_new_threads(before: set[threading.Thread], servers: list[FaultyServer]) -> None:
    """Close the mirrors (joining their threads), then compare: only the one process-wide watchdog,
    started lazily by the first HTTP download, may have appeared."""
    for server in servers:
        server.close()
    stray = [t.name for t in set(threading.enumerate()) - before if t.name != "dchub-watchdog"]
    assert not stray, stray
    assert sum(t.name == "dchub-watchdog" for t in threading.enumerate()) <= 1


def test_two_corrupt_parts_are_found_and_refetched_from_the_next_mirror(split, serve, monkeypatch,  # noqa: F811
                                                                        isolated_environment, repairs):
    before = set(threading.enumerate())
    wrong = {split.blob(0): "corrupt", split.blob(3): "corrupt"}
    bad, good = _mirrors(serve, monkeypatch, split, wrong, {})
    _assert_weight_right(resolve_pretrained("big@1.0").path, split)
    assert repairs == ["big@1.0/" + WEIGHT]
    assert {p: n for p, n in good.hits.items() if p.startswith("blobs/")} == {split.blob(0): 1, split.blob(3): 1}
    assert [bad.hits[split.blob(i)] for i in range(10)] == [1] * 10  # every part once, none twice
    _assert_no_new_threads(before, [bad, good])
    _assert_cache_trusted(isolated_environment)


def test_truncated_then_corrupt_then_good_across_three_mirrors(split, serve, monkeypatch, isolated_environment,  # noqa: F811
                                                               repairs):
    part = split.blob(1)
    first, second, third = _mirrors(serve, monkeypatch, split, {part: "truncated"}, {part: "corrupt"}, {})
    _assert_weight_right(download("big@1.0"), split)
    assert [s.hits[part] for s in (first, second, third)] == [1, 1, 1]
    assert second.blob_hits() == 1 and third.blob_hits() == 1
    assert len(repairs) == 1
    _assert_cache_trusted(isolated_environment)


def test_truncated_then_corrupt_with_no_good_mirror_names_both_answers(split, serve, monkeypatch,  # noqa: F811
                                                                       isolated_environment):
    part = split.blob(1)
    first, second = _mirrors(serve, monkeypatch, split, {part: "truncated"}, {part: "corrupt"})
    with pytest.raises(MirrorError) as info:
        download("big@1.0")
    assert list(info.value.failures) == [first.url, second.url]
    assert "truncated" in info.value.failures[first.url] or "broken response" in info.value.failures[first.url]
    assert info.value.failures[second.url].startswith("sha256 mismatch")
    _assert_nothing_cached(isolated_environment, split)


@pytest.mark.parametrize("order", ["404-then-corrupt", "corrupt-then-404"])
def test_404_and_corrupt_part_error_names_both_mirrors_and_answers(split, serve, monkeypatch, isolated_environment,  # noqa: F811
                                                                   order):
    before = set(threading.enumerate())
    part = split.blob(1)
    faults = [{part: "404"}, {part: "corrupt"}]
    if order == "corrupt-then-404":
        faults.reverse()
    servers = _mirrors(serve, monkeypatch, split, *faults)
    with pytest.raises(MirrorError) as info:
        resolve_pretrained("big@1.0")
    err = info.value
    by_fault = {f[part]: s.url for f, s in zip(faults, servers)}
    assert list(err.failures) == [s.url for s in servers]  # in mirror order
    assert err.failures[by_fault["404"]].startswith("HTTP 404")
    assert err.failures[by_fault["corrupt"]].startswith("sha256 mismatch")
    assert err.what == f"big@1.0/{WEIGHT} (part 2/10)"
    text = str(err)
    for url, answer in (by_fault["404"], "HTTP 404"), (by_fault["corrupt"], "sha256 mismatch"):
        assert f"{url}: {answer}" in text, text
    assert "(part 2/10)" in text
    _assert_no_new_threads(before, servers)
    _assert_nothing_cached(isolated_environment, split)


@pytest.mark.parametrize("hub_name,i,faults", [
    pytest.param("wide", 1, ["truncated"], id="truncated"),
    pytest.param("wide", 1, ["endless"], id="endless"),
    pytest.param("split", 0, ["short-length"], id="short-length"),
    pytest.param("split", 9, ["long-length"], id="long-length"),
    pytest.param("split", 0, ["short-length", "long-length"], id="short-then-long-length"),
])
def test_part_that_fails_over_rewinds_the_whole_file_hash(request, serve, monkeypatch, isolated_environment,  # noqa: F811
                                                          repairs, hub_name, i, faults):
    hub: _Hub = request.getfixturevalue(hub_name)
    before = set(threading.enumerate())
    part = hub.blob(i)
    servers = _mirrors(serve, monkeypatch, hub, *({part: f} for f in faults), {})
    _assert_weight_right(download("big@1.0"), hub)
    assert [s.hits[part] for s in servers] == [1] * len(servers)
    assert servers[-1].blob_hits() == 1  # only that part came from the good mirror
    assert repairs == []  # what the bad answers fed into the hash was rewound: the first check matched
    _assert_no_new_threads(before, servers)
    _assert_cache_trusted(isolated_environment)


@pytest.fixture
def large(tmp_path: Path) -> _Hub:
    """One weight of ~8.4 MB stored whole: at least THREADED_HASH_BYTES, so hashed on a helper thread."""
    hub = _hub(tmp_path, size=2_100_000)
    assert not hub.entry.parts and hub.entry.size >= fetch.THREADED_HASH_BYTES
    return hub


@pytest.mark.parametrize("fault", ["corrupt", "truncated"])
def test_large_blob_fault_falls_back_and_leaves_no_thread(large, serve, monkeypatch, isolated_environment,  # noqa: F811
                                                          fault):
    before = set(threading.enumerate())
    bad, good = _mirrors(serve, monkeypatch, large, {large.blob(): fault}, {})
    folder = download("big@1.0")
    np.testing.assert_array_equal(np.load(folder / WEIGHT), large.expected)
    assert bad.hits[large.blob()] == 1 and good.hits[large.blob()] == 1
    _assert_no_new_threads(before, [bad, good])
    _assert_cache_trusted(isolated_environment)


@pytest.mark.parametrize("fault,answer", [("corrupt", "sha256 mismatch"), ("truncated", "truncated|broken response")])
def test_large_blob_fault_on_the_only_mirror_fails_and_leaves_no_thread(large, serve, monkeypatch,  # noqa: F811
                                                                        isolated_environment, fault, answer):
    before = set(threading.enumerate())
    (bad,) = _mirrors(serve, monkeypatch, large, {large.blob(): fault})
    with pytest.raises(MirrorError, match=answer) as info:
        resolve_pretrained("big@1.0")
    assert list(info.value.failures) == [bad.url]
    _assert_no_new_threads(before, [bad])
    _assert_nothing_cached(isolated_environment, large)


@pytest.fixture
def splices(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ``os.splice`` calls made ("socket" into a pipe, "file" out of it); the real calls run."""
    calls: list[str] = []
    real = os.splice

    def spy(src: int, dst: int, count: int, **kwargs: object) -> int:
        calls.append("file" if "offset_dst" in kwargs else "socket")
        return real(src, dst, count, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "splice", spy)
    return calls


@pytest.mark.skipif(not hasattr(os, "splice"), reason="splice(2) is Linux's")
def test_large_blob_goes_from_the_socket_into_the_cache_file_by_splice(large, serve, monkeypatch,  # noqa: F811
                                                                        isolated_environment, splices):
    (server,) = _mirrors(serve, monkeypatch, large, {})
    _assert_weight_right(download("big@1.0"), large)
    assert server.hits[large.blob()] == 1
    # the body went socket -> pipe -> file in the kernel, at most a pipe's worth per step
    assert splices.count("file") >= large.entry.size // http1.PIPE_BYTES and "socket" in splices
    _assert_cache_trusted(isolated_environment)


@pytest.mark.skipif(not hasattr(os, "splice"), reason="splice(2) is Linux's")
@pytest.mark.parametrize("refused_by", ["file", "socket"])
def test_a_file_system_or_socket_that_refuses_splice_gets_the_bytes_through_a_buffer(
        large, serve, monkeypatch, isolated_environment, refused_by):  # noqa: F811
    import errno

    calls: list[str] = []
    real = os.splice

    def refusing(src: int, dst: int, count: int, **kwargs: object) -> int:
        calls.append("file" if "offset_dst" in kwargs else "socket")
        if calls[-1] == refused_by:  # as a file system without splice_write answers, or a socket type
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(src, dst, count, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "splice", refusing)
    (server,) = _mirrors(serve, monkeypatch, large, {})
    _assert_weight_right(download("big@1.0"), large)  # what was already in the pipe was not lost
    assert calls.count(refused_by) == 1  # tried once on the connection, then buffered
    assert server.hits[large.blob()] == 1  # not blamed on the mirror: no second request
    _assert_cache_trusted(isolated_environment)


@pytest.mark.parametrize("fault,answer", [
    ("stall", "timeout: no data for"),
    ("drip", "too slow"),
    ("short-length", "truncated"),
    ("long-length", "announces .* more than the"),
])
def test_large_blob_that_stops_or_drips_fails_in_time_and_caches_nothing(large, serve, monkeypatch,  # noqa: F811
                                                                          isolated_environment, fault, answer):
    """The spliced body keeps every deadline of a buffered one."""
    import time

    monkeypatch.setenv("DEEPCHEM_HUB_TIMEOUT", "1")
    monkeypatch.setenv("DEEPCHEM_HUB_MIN_RATE", str(8 << 20))  # ~8.4 MB: a budget of about 2 s
    (bad,) = _mirrors(serve, monkeypatch, large, {large.blob(): fault})
    start = time.monotonic()
    with pytest.raises(MirrorError, match=answer) as info:
        resolve_pretrained("big@1.0")
    assert time.monotonic() - start < 5
    assert list(info.value.failures) == [bad.url]
    _assert_nothing_cached(isolated_environment, large)


class _LateServer(threading.Thread):
    """Answers every request on 127.0.0.1 after *delay* seconds (a far mirror, as the client sees it)."""

    def __init__(self, delay: float) -> None:
        import socket

        super().__init__(daemon=True)
        self.delay = delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.start()

    def run(self) -> None:
        import time

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                while conn.recv(65536).find(b"\r\n\r\n") < 0:
                    pass
                time.sleep(self.delay)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


@pytest.mark.parametrize("url, here", [("http://127.0.0.1:8000/", True), ("http://localhost/hub/", True),
                                       ("http://[::1]:8080/", True), ("http://127.8.0.1/", True),
                                       ("https://hub.example.org/", False), ("http://10.0.0.7/", False),
                                       ("http://localhost.example.org/", False)])
def test_a_mirror_on_the_loopback_interface_is_served_here(url, here, tmp_path):
    from dchub_client.hub.mirrors import parse_mirror

    assert parse_mirror(url).served_here() is here
    assert parse_mirror(str(tmp_path)).served_here() is False  # a folder: no server at all


def test_download_threads_follow_how_near_the_mirror_is(tmp_path, monkeypatch):
    import os

    from dchub_client.hub.mirrors import parse_mirror

    monkeypatch.delenv("DEEPCHEM_HUB_WORKERS", raising=False)
    # What this process learnt of earlier servers is keyed by host and port, and the system may hand
    # this test's servers a port an earlier test's server had: start from nothing known.
    monkeypatch.setattr(http, "_WAITED", {})
    cpus = min(8, os.cpu_count() or 1)
    assert fetch.download_threads([parse_mirror(str(tmp_path))]) == cpus  # a folder: no round trip to hide
    far, near = _LateServer(0.05), _LateServer(0.0)
    try:
        mirrors = [parse_mirror(far.url), parse_mirror(near.url)]
        assert fetch.download_threads(mirrors) == 8  # nothing known yet: as if far
        assert mirrors[0].read_bytes("x") == b"ok"
        for _ in range(20):  # a loaded machine may delay one answer past 2 ms; the last answer counts
            assert mirrors[1].read_bytes("x") == b"ok"
            if mirrors[1].round_trip() < fetch.NEAR_SECONDS:
                break
        assert mirrors[0].round_trip() >= 0.05 and mirrors[1].round_trip() < fetch.NEAR_SECONDS
        assert fetch.download_threads(mirrors) == 8  # the first mirror is what files come from
        assert fetch.download_threads(mirrors[::-1]) == max(1, cpus - 1)  # a CPU left to the server beside us
        monkeypatch.setenv("DEEPCHEM_HUB_WORKERS", "5")
        assert fetch.download_threads(mirrors[::-1]) == 5  # chosen: used as it is
    finally:
        far.sock.close()
        near.sock.close()
