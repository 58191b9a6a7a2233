"""The blob store: each byte hashed once, small files read whole, large ones streamed through a writer thread,
the same digests and blobs whichever path a file takes."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from dchub_client.format import hubfiles
from hubgen import blobs
from hubgen.blobs import BlobStore, HashCache


def _store(root: Path, part_size: int) -> BlobStore:
    return BlobStore(root, part_size=part_size, cache=HashCache(root / "cache.json"))


def _expected(data: bytes, part_size: int) -> tuple[str, list[tuple[str, int]]]:
    chunks = [data[i:i + part_size] for i in range(0, len(data), part_size)] or [data]
    return hashlib.sha256(data).hexdigest(), [(hashlib.sha256(c).hexdigest(), len(c)) for c in chunks]


@pytest.mark.parametrize("size,part_size", [
    pytest.param(0, 1 << 20, id="empty"),
    pytest.param(5000, 1 << 20, id="small-one-part"),
    pytest.param(5000, 2048, id="small-in-parts"),
    pytest.param(blobs.SMALL_FILE_BYTES + 12345, 64 << 20, id="streamed-one-part"),
    pytest.param(blobs.SMALL_FILE_BYTES + 12345, blobs.BUFFER_SIZE * 3 + 7, id="streamed-in-parts"),
    pytest.param(blobs.BUFFER_SIZE * 20, blobs.BUFFER_SIZE * 5, id="streamed-parts-on-buffer-edges"),
])
def test_digests_and_blobs_whichever_path(tmp_path: Path, size: int, part_size: int) -> None:
    data = os.urandom(size)
    source = tmp_path / "w.npy"
    source.write_bytes(data)
    store = _store(tmp_path / "hub", part_size)
    digest = store.digest(source, store=True)
    whole, parts = _expected(data, part_size)
    assert digest.sha256 == whole and digest.size == size
    assert [(p.sha256, p.size) for p in digest.parts] == (parts if len(parts) > 1 else [])
    for blob, (sha, _) in zip(digest.blobs, parts if len(parts) > 1 else [(whole, size)]):
        assert hashlib.sha256((tmp_path / "hub" / hubfiles.blob_path(blob.sha256)).read_bytes()).hexdigest() == sha
    assert store.stats.bytes_hashed == size and store.stats.bytes_new == size
    temp = tmp_path / "hub" / ".hubgen-tmp"  # small blobs are linked into place without a temp name
    assert not temp.exists() or not any(temp.iterdir())
    assert [t.name for t in threading.enumerate() if t.name.startswith("hubgen-")] == []


def test_a_single_part_file_is_hashed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(blobs.SMALL_FILE_BYTES + 1000)
    (tmp_path / "w.npy").write_bytes(data)
    fed = []
    real = hashlib.sha256

    class Counting:
        def __init__(self, *args: bytes) -> None:
            self._h = real(*args)
            fed.extend(len(a) for a in args)

        def update(self, chunk: bytes) -> None:
            fed.append(len(chunk))
            self._h.update(chunk)

        def copy(self) -> "Counting":
            other = Counting()
            other._h = self._h.copy()
            return other

        def hexdigest(self) -> str:
            return self._h.hexdigest()

    monkeypatch.setattr(blobs.hashlib, "sha256", Counting)
    digest = _store(tmp_path / "hub", 64 << 20).digest(tmp_path / "w.npy", store=True)
    assert digest.sha256 == real(data).hexdigest() and sum(fed) == len(data)


def test_an_existing_blob_is_not_written_again(tmp_path: Path) -> None:
    data = os.urandom(3000)
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(data)
    store = _store(tmp_path / "hub", 1 << 20)
    first, second = store.digest_all([tmp_path / "a", tmp_path / "b"], store=True)
    assert first == second and store.stats.bytes_new == 3000 and store.stats.bytes_reused == 3000


def test_many_files_at_once_keep_their_order(tmp_path: Path) -> None:
    paths = []
    for i in range(20):
        paths.append(tmp_path / f"f{i}")
        paths[-1].write_bytes(os.urandom(100 + i))
    digests = _store(tmp_path / "hub", 1 << 20).digest_all(paths, store=True)
    assert [d.sha256 for d in digests] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_a_write_error_fails_the_file_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "w.npy").write_bytes(os.urandom(blobs.SMALL_FILE_BYTES + 1))

    def full_disk(src: int, dst: int, offset: int, size: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobs, "_copy_fd_range", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _store(tmp_path / "hub", 64 << 20).digest(tmp_path / "w.npy", store=True)
    assert not [p for p in (tmp_path / "hub").rglob("*") if p.is_file()]  # no blob, no temp file


def test_a_source_changed_between_hashing_and_copying_is_refused(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "w.npy"
    source.write_bytes(os.urandom(blobs.SMALL_FILE_BYTES + 1))
    real = blobs._copy_fd_range

    def meddling(src: int, dst: int, offset: int, size: int) -> None:
        with open(source, "r+b") as handle:  # someone rewrites the file in place meanwhile
            handle.write(b"x")
        real(src, dst, offset, size)

    monkeypatch.setattr(blobs, "_copy_fd_range", meddling)
    with pytest.raises(OSError, match="changed while the build was reading it"):
        _store(tmp_path / "hub", 64 << 20).digest(source, store=True)
    assert not [p for p in (tmp_path / "hub").rglob("*") if p.is_file()]


def test_the_copy_falls_back_when_the_kernel_cannot_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(blobs.SMALL_FILE_BYTES + 4321)
    (tmp_path / "w.npy").write_bytes(data)

    def unsupported(*args: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(blobs.os, "copy_file_range", unsupported)
    digest = _store(tmp_path / "hub", 64 << 20).digest(tmp_path / "w.npy", store=True)
    assert (tmp_path / "hub" / hubfiles.blob_path(digest.sha256)).read_bytes() == data
