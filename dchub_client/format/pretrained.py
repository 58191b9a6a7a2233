"""The pretrained folder format: read, validate and write (see ``docs/format.md``).

This module is the one definition of a valid pretrained folder; ``hubgen`` and the client
both go through it. It knows nothing about frameworks: weights are numpy arrays.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dchub_client.errors import (
    ChecksumError,
    InvalidWeightNameError,
    MissingParamsError,
    PretrainedFormatError,
    UnsupportedFormatVersionError,
    WeightFileError,
)
from dchub_client.format import jsonstrict, layout
from dchub_client.format.atomic import atomic_folder
from dchub_client.format.hashing import CHUNK_SIZE, THREADED_MIN_BYTES, ThreadedDigest, is_sha256, sha256_handle

if TYPE_CHECKING:
    from dchub_client.format.stamps import Stamps

#: ``params.json`` larger than this is refused before parsing.
MAX_PARAMS_BYTES = 64 << 20
#: A weight may hold at most this many elements (guards against headers that lie).
MAX_WEIGHT_ELEMENTS = 1 << 40
_NPY_SUFFIX = layout.WEIGHT_SUFFIX
#: Largest weight name, in characters (fits every common file system with ".npy").
MAX_WEIGHT_NAME_LENGTH = 200
#: Weight names: letters, digits and ``._-``; never a path separator or a dot-only name.
WEIGHT_NAME_RE = re.compile(r"^(?!\.)[A-Za-z0-9._-]{1,%d}$" % MAX_WEIGHT_NAME_LENGTH)


@dataclass(frozen=True)
class WeightEntry:
    """One weight of a pretrained folder, as ``params.json`` records it."""

    name: str
    file: str
    shape: tuple[int, ...]
    dtype: np.dtype
    sha256: str
    key: str = ""

    @property
    def nbytes(self) -> int:
        """Size of the array data in bytes."""
        return math.prod(self.shape) * self.dtype.itemsize

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "shape": list(self.shape),
            "dtype": np.lib.format.dtype_to_descr(self.dtype),
            "sha256": self.sha256,
            "key": self.key,
        }


@dataclass(frozen=True)
class PretrainedInfo:
    """The validated content of a ``params.json``."""

    class_name: str
    framework: str
    parameters: dict[str, Any]
    weights: dict[str, WeightEntry]
    versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: str = layout.PRETRAINED_FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format": layout.PRETRAINED_FORMAT,
            "format_version": self.format_version,
            "class": self.class_name,
            "framework": self.framework,
            "parameters": self.parameters,
            "versions": self.versions,
            "weights": {name: entry.to_json() for name, entry in self.weights.items()},
            "extra": self.extra,
        }


# --- names ------------------------------------------------------------------------------


def validate_weight_name(name: object) -> str:
    """Return *name* if it is a portable weight name, else raise :class:`InvalidWeightNameError`."""
    if not isinstance(name, str) or not WEIGHT_NAME_RE.match(name):
        raise InvalidWeightNameError(
            f"invalid weight name {name!r}: use 1-{MAX_WEIGHT_NAME_LENGTH} characters from "
            "A-Z a-z 0-9 . _ - (no path separators), not starting with a dot"
        )
    if name.upper().split(".")[0] in _WINDOWS_RESERVED:
        raise InvalidWeightNameError(f"invalid weight name {name!r}: reserved file name on Windows")
    return name


_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


# --- reading ----------------------------------------------------------------------------


def read_params(folder: str | os.PathLike[str]) -> PretrainedInfo:
    """Read and validate ``folder/params.json`` without touching any weight file or framework.

    Raises:
        MissingParamsError: there is no ``params.json``.
        UnsupportedFormatVersionError: it was written by an unknown major version.
        PretrainedFormatError: any field is missing or malformed (the message names it).
    """
    if Path(folder).is_file():
        hint = f" ({Path(folder).parent})" if Path(folder).name == layout.PARAMS_FILE else ""
        raise MissingParamsError(f"a file, not a folder: give the pretrained folder that holds "
                                 f"{layout.PARAMS_FILE}{hint}", path=folder)
    path = Path(folder) / layout.PARAMS_FILE
    if not path.is_file():
        raise MissingParamsError("no params.json: not a dchub pretrained folder", path=path)
    return parse_params(jsonstrict.load_file(path, max_bytes=MAX_PARAMS_BYTES), source=path)


def parse_params(data: Any, *, source: str | Path = layout.PARAMS_FILE) -> PretrainedInfo:
    """Validate the decoded JSON of a ``params.json`` (see :func:`read_params`)."""
    if not isinstance(data, dict):
        raise PretrainedFormatError("top level must be a JSON object", path=source)
    if data.get("format") != layout.PRETRAINED_FORMAT:
        raise PretrainedFormatError(f"'format' must be {layout.PRETRAINED_FORMAT!r}, got {data.get('format')!r}",
                                    path=source)
    version = _check_version(data.get("format_version"), source)
    class_name = _require(data, "class", str, source)
    if not class_name or not all(part.isidentifier() for part in class_name.split(".")) or "." not in class_name:
        raise PretrainedFormatError(f"'class' must be a dotted Python name, got {class_name!r}", path=source)
    weights = _require(data, "weights", dict, source)
    return PretrainedInfo(
        class_name=class_name,
        framework=_require(data, "framework", str, source),
        parameters=_require(data, "parameters", dict, source),
        weights={name: _parse_entry(name, entry, source) for name, entry in weights.items()},
        versions={str(k): str(v) for k, v in _optional(data, "versions", dict, source).items()},
        extra=_optional(data, "extra", dict, source),
        format_version=version,
    )


def _check_version(value: Any, source: str | Path) -> str:
    if not isinstance(value, str) or not value.replace(".", "").isdigit() or value.count(".") != 1:
        raise PretrainedFormatError(f"'format_version' must look like '1.0', got {value!r}", path=source)
    supported = layout.PRETRAINED_FORMAT_VERSION.split(".")[0]
    if value.split(".")[0] != supported:
        raise UnsupportedFormatVersionError(
            f"format version {value} is not supported (this dchub reads {supported}.x); upgrade dchub",
            path=source)
    return value


def _require(data: dict[str, Any], key: str, kind: type, source: str | Path) -> Any:
    if key not in data:
        raise PretrainedFormatError(f"missing required key {key!r}", path=source)
    return _optional(data, key, kind, source)


def _optional(data: dict[str, Any], key: str, kind: type, source: str | Path) -> Any:
    value = data.get(key, kind())
    if not isinstance(value, kind):
        raise PretrainedFormatError(f"{key!r} must be a JSON {kind.__name__}, got {type(value).__name__}",
                                    path=source)
    return value


def _parse_entry(name: str, entry: Any, source: str | Path) -> WeightEntry:
    try:
        validate_weight_name(name)
    except InvalidWeightNameError as err:
        raise PretrainedFormatError(str(err), path=source) from err
    where = f"weight {name!r}"
    if not isinstance(entry, dict):
        raise PretrainedFormatError(f"{where}: entry must be an object", path=source)
    if entry.get("file") != name + _NPY_SUFFIX:
        raise PretrainedFormatError(f"{where}: 'file' must be {name + _NPY_SUFFIX!r}, got {entry.get('file')!r}",
                                    path=source)
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise PretrainedFormatError(f"{where}: 'shape' must be a list of non-negative integers", path=source)
    if math.prod(shape) > MAX_WEIGHT_ELEMENTS or len(shape) > 32:
        raise PretrainedFormatError(f"{where}: shape {shape} is implausibly large", path=source)
    if not is_sha256(entry.get("sha256")):
        raise PretrainedFormatError(f"{where}: 'sha256' must be 64 lower-case hex digits", path=source)
    key = entry.get("key", "")
    if not isinstance(key, str):
        raise PretrainedFormatError(f"{where}: 'key' must be a string", path=source)
    return WeightEntry(name=name, file=entry["file"], shape=tuple(shape),
                       dtype=parse_dtype(entry.get("dtype"), f"{source}: {where}"), sha256=entry["sha256"], key=key)


def parse_dtype(descr: Any, where: str) -> np.dtype:
    """Turn a JSON dtype description into a numpy dtype, refusing object dtypes."""
    try:
        if isinstance(descr, list):
            descr = [tuple(item) if isinstance(item, list) else item for item in descr]
        dtype = np.lib.format.descr_to_dtype(descr)
    except Exception as err:  # numpy raises many kinds for junk input
        raise PretrainedFormatError(f"{where}: unreadable dtype {descr!r} ({err})") from err
    if dtype.hasobject:
        raise PretrainedFormatError(f"{where}: object dtypes are refused (they would need pickle)")
    return dtype


def check_files(folder: str | os.PathLike[str], info: PretrainedInfo) -> None:
    """Check that every listed weight file exists with a header matching its entry, and no other ``.npy`` does.

    Reads only the ``.npy`` headers; see :func:`load_weight` for the checksum.
    """
    folder = Path(folder)
    check_no_extra_files(folder, info)
    for entry in info.weights.values():
        read_header(folder / entry.file, entry)


def check_no_extra_files(folder: str | os.PathLike[str], info: PretrainedInfo) -> None:
    """Refuse ``.npy`` files that ``params.json`` does not list (a sign of a mixed-up folder)."""
    folder = Path(folder)
    listed = {entry.file for entry in info.weights.values()}
    extra = sorted(p.name for p in folder.iterdir() if p.suffix == _NPY_SUFFIX and p.name not in listed)
    if extra:
        raise WeightFileError(f"{len(extra)} weight file(s) not listed in params.json: {', '.join(extra[:5])}",
                              path=folder / extra[0])


def read_header(path: Path, entry: WeightEntry) -> tuple[int, bool]:
    """Validate a ``.npy`` header against *entry* and the file's size.

    Returns:
        ``(data_offset, fortran_order)``.
    """
    try:
        handle = open(path, "rb")
    except FileNotFoundError as err:
        raise WeightFileError("weight file is missing", path=path, weight=entry.name) from err
    with handle:
        head = handle.read(_HEADER_PROBE)
        if not head.startswith(_NPY_MAGIC):  # numpy's own message would quote the file's first bytes
            raise WeightFileError("not a .npy file (it does not start with numpy's magic string)", path=path,
                                  weight=entry.name)
        canonical = _canonical_header(head, entry)
        if canonical is not None:
            shape, fortran, dtype, offset = canonical
        else:
            handle.seek(0)
            shape, fortran, dtype, offset = _numpy_header(handle, path, entry)
        actual = os.fstat(handle.fileno()).st_size
    if dtype.hasobject:
        raise WeightFileError("object arrays are refused (they would need pickle)", path=path, weight=entry.name)
    if tuple(shape) != entry.shape or dtype != entry.dtype:
        raise WeightFileError(
            f"file holds {dtype.str}{list(shape)} but params.json says {entry.dtype.str}{list(entry.shape)}",
            path=path, weight=entry.name)
    _check_size(actual, offset + entry.nbytes, path, entry)
    return offset, bool(fortran)


def _check_size(actual: int, expected: int, path: Path, entry: WeightEntry) -> None:
    if actual != expected:
        state = "truncated" if actual < expected else "has trailing bytes"
        raise WeightFileError(f"file {state}: {actual} bytes, expected {expected}", path=path, weight=entry.name)


#: How every ``.npy`` file starts.
_NPY_MAGIC = b"\x93NUMPY"
#: Bytes read at once for a header: every header numpy writes for a plain array fits.
_HEADER_PROBE = 4096
#: The header numpy writes for an array of a plain dtype (``np.save``'s own ``repr`` of its dict).
_CANONICAL = re.compile(rb"\{'descr': '([<>|=][a-zA-Z][0-9]*)', 'fortran_order': (True|False), "
                        rb"'shape': \(((?:[0-9]+, )*[0-9]+,?|)\), \} *\n")


def _canonical_header(head: bytes, entry: WeightEntry) -> tuple[tuple[int, ...], bool, np.dtype, int] | None:
    """``(shape, fortran_order, dtype, data_offset)`` when *head* (its magic string checked by
    :func:`read_header`) holds a version 1 or 2 header in numpy's own form whose dtype is *entry*'s,
    without evaluating it; else None (numpy's parser decides)."""
    if len(head) < 12 or head[6] not in (1, 2):
        return None
    start = 10 if head[6] == 1 else 12
    end = start + int.from_bytes(head[8:start], "little")
    if end > len(head):  # a longer header than numpy writes for a plain array
        return None
    match = _CANONICAL.fullmatch(head, start, end)
    if match is None or match[1].decode() != entry.dtype.str:
        return None
    shape = tuple(int(n) for n in match[3].split(b",") if n.strip())
    return shape, match[2] == b"True", entry.dtype, end


def _numpy_header(handle: Any, path: Path, entry: WeightEntry) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    try:
        major, _ = np.lib.format.read_magic(handle)
        reader = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(handle, max_header_size=10_000)
    except Exception as err:
        raise WeightFileError(f"not a valid .npy file ({err})", path=path, weight=entry.name) from err
    return shape, fortran, dtype, handle.tell()


def load_weight(folder: str | os.PathLike[str], entry: WeightEntry, *, verify: bool = True,
                mmap: bool = True) -> np.ndarray:
    """Load one weight, validating its header, size and (if *verify*) its sha256.

    With *mmap* the array is memory-mapped read-only; copy it before writing to it.
    """
    return WeightReader(folder, entry, verify=verify).load(mmap=mmap)


class WeightReader:
    """One weight file, read on demand: into a new array, or straight into a live buffer.

    With ``verify`` the bytes are hashed as they are read, and a mismatch raises
    :class:`ChecksumError` before the caller can use them; with *stamps* too, a file noted there as
    verified and unchanged since (:mod:`dchub_client.format.stamps`) is not hashed again, and one
    hashed now is noted (the caller saves the notes). The bytes used are always those of the file
    checked: one descriptor is checked (``fstat``), hashed and read. Adapters receive these readers so
    that each byte is read once, directly into the model's own memory where possible.
    """

    def __init__(self, folder: str | os.PathLike[str], entry: WeightEntry, *, verify: bool = True,
                 stamps: Stamps | None = None) -> None:
        self.entry = entry
        self.path = Path(folder) / entry.file
        self.verify = verify
        self.stamps = stamps if verify else None
        self._offset, self._fortran = read_header(self.path, entry)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.entry.shape

    @property
    def dtype(self) -> np.dtype:
        return self.entry.dtype

    def load(self, *, mmap: bool = False) -> np.ndarray:
        """Return the array (memory-mapped read-only with *mmap*)."""
        if mmap and self.entry.nbytes:
            return self._mapped()
        array = np.empty(self.entry.shape, self.entry.dtype, order="F" if self._fortran else "C")
        self._fill(_raw_bytes(array.T if self._fortran else array))  # the transpose of F order is C order
        return array

    def read_into(self, out: np.ndarray) -> None:
        """Fill *out* (same shape and dtype) with the stored values."""
        if self._fortran or not out.flags.c_contiguous or out.dtype != self.entry.dtype \
                or out.shape != self.entry.shape:
            np.copyto(out, self.load(mmap=True), casting="same_kind")
            return
        self._fill(_raw_bytes(out))

    def _must_hash(self, st: os.stat_result | None) -> bool:
        """Whether the bytes must be hashed: asked to verify, and not noted as verified as they are (*st*)."""
        return self.verify and not (st is not None and self.stamps is not None
                                    and self.stamps.known(self.entry.file, st, self.entry.sha256))

    def _note(self, st: os.stat_result | None, hashed: bool) -> None:
        if hashed and st is not None and self.stamps is not None:
            self.stamps.add(self.entry.file, st, self.entry.sha256)

    def _checked(self, handle: Any) -> os.stat_result:
        """The identity of the open file, refused if its size is not the one its header was checked with."""
        st = os.fstat(handle.fileno())
        _check_size(st.st_size, self._offset + self.entry.nbytes, self.path, self.entry)
        return st

    def _fill(self, target: memoryview) -> None:
        """Read the data into *target* (the raw bytes of an array), hashing header and data if needed."""
        with open(self.path, "rb", buffering=0) as handle:
            st = self._checked(handle)
            verify = self._must_hash(st)
            threaded = verify and len(target) >= THREADED_MIN_BYTES
            with ThreadedDigest() if threaded else contextlib.nullcontext(hashlib.sha256()) as digest:
                digest.update(handle.read(self._offset))
                done = 0
                while done < len(target):
                    n = handle.readinto(target[done:done + CHUNK_SIZE])
                    if not n:
                        raise WeightFileError("file truncated while reading", path=self.path,
                                              weight=self.entry.name)
                    if verify:
                        digest.update(target[done:done + n])
                    done += n
                actual = digest.hexdigest() if verify else None
        self._compare(actual)
        self._note(st, verify)

    def _mapped(self) -> np.ndarray:
        """The data memory-mapped read-only from the descriptor that was hashed (if it had to be)."""
        with open(self.path, "rb", buffering=0) as handle:
            st = self._checked(handle)
            verify = self._must_hash(st)
            self._compare(sha256_handle(handle) if verify else None)
            array = np.memmap(handle, dtype=self.entry.dtype, mode="r", offset=self._offset,
                              shape=self.entry.shape, order="F" if self._fortran else "C")
        self._note(st, verify)
        return array

    def _compare(self, actual: str | None) -> None:
        if actual is not None and actual != self.entry.sha256:
            raise ChecksumError(self.path, expected=self.entry.sha256, actual=actual, weight=self.entry.name)


def _raw_bytes(array: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous *array*, writable in place."""
    return memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b"")


# --- writing ----------------------------------------------------------------------------


def npy_file_size(entry: WeightEntry) -> int:
    """The size in bytes of the ``.npy`` file dchub writes for *entry* (its header, then its data)."""
    header = {"descr": np.lib.format.dtype_to_descr(entry.dtype), "fortran_order": False, "shape": entry.shape}
    buffer = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buffer, header)
    except ValueError:  # header over 64 KiB (huge structured dtypes)
        np.lib.format.write_array_header_2_0(buffer, header)
    return len(buffer.getvalue()) + entry.nbytes


def _npy_header(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    header = np.lib.format.header_data_from_array_1_0(array)
    try:
        np.lib.format.write_array_header_1_0(buffer, header)
    except ValueError:  # header over 64 KiB (huge structured dtypes)
        np.lib.format.write_array_header_2_0(buffer, header)
    return buffer.getvalue()


def _prepare(name: str, array: Any) -> tuple[np.ndarray, bytes, memoryview]:
    validate_weight_name(name)
    array = np.asarray(array)
    if array.dtype.hasobject:
        raise WeightFileError("object arrays cannot be stored (they would need pickle)", weight=name)
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    data = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b"")
    return array, _npy_header(array), data


def _write_bytes(path: Path, header: bytes, data: memoryview) -> None:
    """Write a ``.npy`` file straight from the array's memory (no buffering, no copy in Python)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        for view in (memoryview(header), data):
            while view:
                view = view[os.write(fd, view[:_WRITE_SLICE]):]
    finally:
        os.close(fd)


#: Bytes per write call: large (per-call overhead vanishes), bounded (a huge array is not one syscall).
_WRITE_SLICE = 16 * CHUNK_SIZE


def _hash_bytes(header: bytes, data: memoryview) -> str:
    digest = hashlib.sha256(header)
    for start in range(0, len(data), 16 * CHUNK_SIZE):
        digest.update(data[start:start + 16 * CHUNK_SIZE])
    return digest.hexdigest()


def _entry(name: str, key: str, array: np.ndarray, sha256: str) -> WeightEntry:
    return WeightEntry(name=name, file=name + _NPY_SUFFIX, shape=tuple(array.shape), dtype=array.dtype,
                       sha256=sha256, key=key)


def write_pretrained(folder: str | os.PathLike[str], *, class_name: str, framework: str,
                     parameters: Mapping[str, Any], weights: Iterable[tuple[str, str, np.ndarray]],
                     versions: Mapping[str, str] | None = None, extra: Mapping[str, Any] | None = None,
                     files: Mapping[str, bytes] | None = None,
                     subfolders: Mapping[str, Callable[[Path], Any]] | None = None,
                     overwrite: bool = False) -> PretrainedInfo:
    """Write a pretrained folder atomically.

    Args:
        folder: the target; an existing non-empty folder is refused unless *overwrite*.
        class_name: fully qualified class to rebuild.
        framework: ``torch``, ``keras``, ``sklearn``, ...
        parameters: already-encoded constructor arguments (JSON-ready).
        weights: ``(name, framework_key, array)`` triples.
        versions: framework versions to record.
        extra: adapter data (JSON-ready).
        files: further small files to place in the folder (e.g. a model card), by name.
        subfolders: ``{relative folder: writer}`` for the members of a composite model: each writer is
            called with the member's (not yet existing) path inside the folder being built, and writes a
            complete pretrained folder there, so the whole folder still appears at once.
        overwrite: replace an existing non-empty folder.

    Returns:
        The :class:`PretrainedInfo` that was written.
    """
    if overwrite:
        _refuse_foreign_folder(Path(folder))
    with atomic_folder(folder, overwrite=overwrite) as tmp:
        entries = _write_weights(tmp, weights)
        for fname, data in (files or {}).items():
            _write_side_file(tmp, fname, data)
        for relpath, writer in (subfolders or {}).items():
            writer(tmp / _checked_subfolder(relpath))
        info = PretrainedInfo(class_name=class_name, framework=framework, parameters=dict(parameters),
                              weights=entries, versions=dict(versions or {}), extra=dict(extra or {}))
        text = json.dumps(info.to_json(), indent=1, sort_keys=False, allow_nan=False, ensure_ascii=False)
        (tmp / layout.PARAMS_FILE).write_text(text + "\n", encoding="utf-8")
    return info


def _refuse_foreign_folder(folder: Path) -> None:
    """``overwrite`` replaces a pretrained folder, never a folder of other things (it is removed whole)."""
    if not folder.is_dir() or (folder / layout.PARAMS_FILE).is_file():
        return
    others = sorted(p.name for p in folder.iterdir())
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise FileExistsError(f"{folder}: not a pretrained folder (no {layout.PARAMS_FILE}; it holds {shown}); "
                              "overwrite=True replaces a pretrained folder only, as it removes what is there. "
                              "Save into a new or empty folder")


def _write_weights(folder: Path, weights: Iterable[tuple[str, str, np.ndarray]]) -> dict[str, WeightEntry]:
    """Write every weight while helper threads hash it (hashlib and ``os.write`` release the GIL).

    The writes go one after the other on this thread: two large writes at once gain nothing (they
    share the page cache's bandwidth), and on ext4 one of them now and then stalls for 100-200 ms.
    The hashes start at once, largest first, so the longest job (the largest weight's sha256) runs
    from the start; a failed write cancels the hashes not yet begun.
    """
    prepared: dict[str, tuple[str, np.ndarray, bytes, memoryview]] = {}
    for name, key, array in weights:
        if name in prepared:
            raise InvalidWeightNameError(f"duplicate weight name {name!r}")
        array, header, data = _prepare(name, array)
        prepared[name] = (key, array, header, data)
    order = sorted(prepared, key=lambda n: -len(prepared[n][3]))
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        digests = {name: pool.submit(_hash_bytes, prepared[name][2], prepared[name][3]) for name in order}
        try:
            for name in order:
                _, _, header, data = prepared[name]
                _write_bytes(folder / (name + _NPY_SUFFIX), header, data)
        except BaseException:
            for future in digests.values():
                future.cancel()
            raise
        return {name: _entry(name, key, array, digests[name].result()) for name, (key, array, _, _) in prepared.items()}


def _checked_subfolder(relpath: str) -> str:
    parts = relpath.split("/")
    if not all(part and not part.startswith(".") and WEIGHT_NAME_RE.match(part) for part in parts):
        raise PretrainedFormatError(f"refusing member folder {relpath!r}: use '/'-separated portable names")
    return relpath


def _write_side_file(folder: Path, name: str, data: bytes) -> None:
    if name == layout.PARAMS_FILE or name.endswith(_NPY_SUFFIX) or "/" in name or "\\" in name \
            or name.startswith("."):
        raise PretrainedFormatError(f"refusing to write side file {name!r}")
    (folder / name).write_bytes(data)
