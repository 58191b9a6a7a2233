"""Read a built hub's files back: its manifests (for the build and the site), ``params.json`` and weight
samples from ``.npy`` blobs (for the site).

The site reads only the built hub (``docs/format.md`` §2): a file is either one blob or, when it was
larger than the part limit, several blobs to be concatenated. Weights are never loaded whole: a
weight of more than :data:`SAMPLE_ELEMENTS` values is sampled deterministically (evenly spaced
contiguous chunks), the same way whether it is stored as one blob (memory-mapped) or in parts
(read with seeks), so the histograms do not depend on the part size.
"""
from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from dchub_client.errors import DchubError
from dchub_client.format import hubfiles, jsonstrict, pretrained
from dchub_client.format.hashing import sha256_bytes
from hubgen.errors import BuildError

#: Largest number of values read from one weight for its histogram.
SAMPLE_ELEMENTS = 1 << 16  # 24 bins of 65,536 values: as sharp a picture as more would give
#: A larger weight is sampled as this many evenly spaced contiguous chunks.
SAMPLE_CHUNKS = 64
#: ``params.json`` and ``README.md`` larger than this are not read (the card is then left out).
MAX_TEXT_BYTES = 64 << 20

#: ``read(start, stop)``: elements ``start:stop`` of a weight, flattened in storage order.
RangeReader = Callable[[int, int], np.ndarray]


def read_manifests(hub: Path, index: hubfiles.Index,
                   names: Iterable[str] | None = None) -> dict[tuple[str, str], hubfiles.Manifest]:
    """The manifests *index* lists (of the models *names* only, when given), read from the hub folder *hub*
    and checked against the index by :func:`hubfiles.read_manifest`.

    Raises:
        BuildError: a manifest is missing, unreadable or not what the index records.
    """
    result = {}
    for name in index.models if names is None else names:
        for version, ref in index.models[name].versions.items():
            path = hub / ref.manifest
            try:
                result[(name, version)] = hubfiles.read_manifest(path.read_bytes(), ref, str(path), name=name,
                                                                  version=version)
            except (OSError, DchubError) as err:
                raise BuildError(f"cannot read a published manifest; the hub is damaged (run hubgen verify "
                                 f"{hub}): {err}") from err
    return result


def blob_file(hub: Path, sha256: str) -> Path:
    """Where a blob is on disk; :class:`BuildError` when the hub lacks it."""
    path = hub / hubfiles.blob_path(sha256)
    if not path.is_file():
        raise _missing(path)
    return path


def _blob_bytes(hub: Path, sha256: str) -> bytes:
    """A blob's bytes (read straight away: checking first would cost a ``stat`` per blob)."""
    path = hub / hubfiles.blob_path(sha256)
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise _missing(path) from None


def _missing(path: Path) -> BuildError:
    return BuildError(f"{path}: blob missing from the hub; run hubgen verify")


def read_file_bytes(hub: Path, entry: hubfiles.FileEntry, where: str) -> bytes:
    """The whole bytes of a small manifest file (its parts concatenated), checked against its sha256."""
    if entry.size > MAX_TEXT_BYTES:
        raise BuildError(f"{where}: {entry.path} is {entry.size} bytes, too large to show on the site")
    data = b"".join(_blob_bytes(hub, blob.sha256) for blob in entry.blobs)
    if sha256_bytes(data) != entry.sha256:
        raise BuildError(f"{where}: {entry.path} does not match its sha256 in the manifest; run hubgen verify")
    return data


def read_params(hub: Path, entry: hubfiles.FileEntry, where: str) -> pretrained.PretrainedInfo:
    """Parse the ``params.json`` of a model version from its blob(s)."""
    source = f"{where}: {entry.path}"
    try:
        return pretrained.parse_params(jsonstrict.loads(read_file_bytes(hub, entry, where), source), source=source)
    except DchubError as err:
        raise BuildError(f"{source}: invalid params.json in the hub: {err}") from err


def sample_weight(hub: Path, entry: hubfiles.FileEntry, weight: pretrained.WeightEntry) -> np.ndarray:
    """Up to :data:`SAMPLE_ELEMENTS` values of *weight* (its whole data when smaller), flattened.

    Raises:
        BuildError: a blob is missing, or the ``.npy`` header disagrees with ``params.json``.
    """
    count = math.prod(weight.shape)
    if entry.parts:
        read = _parts_reader(hub, entry, weight)
    else:
        read = _mmap_reader(blob_file(hub, entry.sha256), weight)
    ranges = sample_ranges(count)
    if not ranges:
        return np.empty(0, dtype=weight.dtype)
    return np.concatenate([read(start, stop) for start, stop in ranges])


def sample_ranges(count: int, limit: int = SAMPLE_ELEMENTS, chunks: int = SAMPLE_CHUNKS) -> list[tuple[int, int]]:
    """The element ranges to read from a weight of *count* values: all of it, or evenly spaced chunks."""
    if count <= limit:
        return [(0, count)] if count else []
    size = max(1, limit // chunks)
    starts = sorted({(count - size) * k // (chunks - 1) for k in range(chunks)})
    return [(start, start + size) for start in starts]


def _mmap_reader(path: Path, weight: pretrained.WeightEntry) -> RangeReader:
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise BuildError(f"{path}: not a readable .npy file for weight {weight.name!r}: {err}") from err
    _check_layout(path, weight, tuple(array.shape), array.dtype)
    flat = array.ravel(order="K")
    return lambda start, stop: np.array(flat[start:stop])


def _parts_reader(hub: Path, entry: hubfiles.FileEntry, weight: pretrained.WeightEntry) -> RangeReader:
    handle = _ConcatFile([blob_file(hub, part.sha256) for part in entry.parts])
    where = f"{entry.path} (stored in {len(entry.parts)} parts)"
    try:
        version = np.lib.format.read_magic(handle)
        header = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if header is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, _fortran, dtype = header(handle)
    except ValueError as err:
        raise BuildError(f"{where}: not a readable .npy file for weight {weight.name!r}: {err}") from err
    _check_layout(where, weight, tuple(shape), dtype)
    offset = handle.tell()

    def read(start: int, stop: int) -> np.ndarray:
        handle.seek(offset + start * dtype.itemsize)
        return np.frombuffer(handle.read((stop - start) * dtype.itemsize), dtype=dtype)
    return read


def _check_layout(where: Any, weight: pretrained.WeightEntry, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if shape != tuple(weight.shape) or dtype != weight.dtype:
        raise BuildError(f"{where}: .npy header says shape {shape} dtype {dtype}, but params.json says "
                         f"{tuple(weight.shape)} {weight.dtype} for weight {weight.name!r}; run hubgen verify")


class _ConcatFile(io.RawIOBase):
    """A read-only, seekable view of several files one after the other (a file stored in parts)."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self._paths = paths
        self._starts = []
        total = 0
        for path in paths:
            self._starts.append(total)
            total += path.stat().st_size
        self._size, self._pos = total, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            done += self._read_some(view[done:])
        return done

    def _read_some(self, view: memoryview) -> int:
        index = max(i for i, start in enumerate(self._starts) if start <= self._pos)
        with open(self._paths[index], "rb") as handle:
            handle.seek(self._pos - self._starts[index])
            got = handle.readinto(view)
        if not got:
            raise BuildError(f"{self._paths[index]}: blob shorter than expected; run hubgen verify")
        self._pos += got
        return got
