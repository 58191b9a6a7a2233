"""``hubgen verify``: check that a hub (a folder or an http(s) URL) is whole.

Index → every manifest (against the sha256 and size the index records) → every blob (streamed
hashing, each blob once); a file stored in parts is also checked as a whole.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dchub_client import constants, hubformat
from dchub_client.errors import DchubError
from dchub_client.hashing import CHUNK_SIZE, sha256_bytes

from .errors import VerifyError

logger = logging.getLogger(__name__)

INDEX_FILE = "index.json"


@dataclass
class VerifyReport:
    """What ``verify_hub`` found: ``missing`` paths and ``corrupt`` ``(path, reason)`` pairs."""

    location: str
    checked: int = 0
    bytes_checked: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every referenced file is present and matches its hash."""
        return not self.missing and not self.corrupt


class _Missing(Exception):
    """A file is absent (404 or no such file)."""


class _Reader:
    """Streams files of a hub, by path relative to its root."""

    def chunks(self, rel: str) -> Iterator[bytes]:
        raise NotImplementedError

    def read(self, rel: str) -> bytes:
        return b"".join(self.chunks(rel))


class _LocalReader(_Reader):
    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise VerifyError(f"{root}: no such folder")
        self.root = root

    def chunks(self, rel: str) -> Iterator[bytes]:
        try:
            handle = open(self.root / rel, "rb", buffering=0)
        except (FileNotFoundError, NotADirectoryError) as err:
            raise _Missing(rel) from err
        with handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk


class _HttpReader(_Reader):
    def __init__(self, base: str) -> None:
        import requests

        self.base = base if base.endswith("/") else base + "/"
        self.session = requests.Session()
        self._requests = requests

    def chunks(self, rel: str) -> Iterator[bytes]:
        url = self.base + rel
        try:
            response = self.session.get(url, stream=True, timeout=constants.timeout_seconds())
        except self._requests.RequestException as err:
            raise VerifyError(f"{url}: {err}") from err
        with response:
            if response.status_code in (403, 404, 410):
                raise _Missing(rel)
            if response.status_code != 200:
                raise VerifyError(f"{url}: HTTP {response.status_code}")
            yield from response.iter_content(CHUNK_SIZE)


def verify_hub(location: str | Path, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check every file the hub's index references; return a :class:`VerifyReport`.

    Args:
        location: a hub folder, or an ``http(s)://`` URL of a hub root.
        progress: called with the number of bytes of each chunk hashed.

    Raises:
        VerifyError: the hub cannot be reached at all (no such folder, connection refused).

    Example:
        >>> verify_hub("public/").ok  # doctest: +SKIP
        True
    """
    text = str(location)
    reader: _Reader = _HttpReader(text) if text.startswith(("http://", "https://")) else _LocalReader(Path(text))
    report = VerifyReport(location=text)
    index = _read_index(reader, report)
    if index is not None:
        manifests = [m for m in (_read_manifest(reader, report, n, v, r) for n, v, r in _refs(index)) if m]
        _check_blobs(reader, report, manifests, progress)
    return report


def _refs(index: hubformat.Index) -> Iterator[tuple[str, str, hubformat.VersionRef]]:
    for name, model in sorted(index.models.items()):
        for version, ref in sorted(model.versions.items()):
            yield name, version, ref


def _read_index(reader: _Reader, report: VerifyReport) -> hubformat.Index | None:
    try:
        data = reader.read(INDEX_FILE)
    except _Missing:
        report.missing.append(INDEX_FILE)
        return None
    try:
        index = hubformat.parse_index(hubformat.loads(data, INDEX_FILE), INDEX_FILE)
    except DchubError as err:
        report.corrupt.append((INDEX_FILE, str(err)))
        return None
    report.checked += 1
    return index


def _read_manifest(reader: _Reader, report: VerifyReport, name: str, version: str,
                   ref: hubformat.VersionRef) -> hubformat.Manifest | None:
    try:
        data = reader.read(ref.manifest)
    except _Missing:
        report.missing.append(ref.manifest)
        return None
    actual = sha256_bytes(data)
    if actual != ref.sha256 or len(data) != ref.size:
        report.corrupt.append((ref.manifest, f"sha256 {actual} ({len(data)} bytes), index says {ref.sha256} "
                                             f"({ref.size} bytes)"))
        return None
    try:
        manifest = hubformat.parse_manifest(hubformat.loads(data, ref.manifest), ref.manifest,
                                            name=name, version=version)
    except DchubError as err:
        report.corrupt.append((ref.manifest, str(err)))
        return None
    report.checked += 1
    return manifest


def _check_blobs(reader: _Reader, report: VerifyReport, manifests: list[hubformat.Manifest],
                 progress: Callable[[int], None] | None) -> None:
    seen: set[str] = set()
    for manifest in manifests:
        for entry in manifest.files:
            key = entry.sha256 + ("/parts" if entry.parts else "")
            if key not in seen:
                seen.add(key)
                _check_file(reader, report, entry, progress)


def _check_file(reader: _Reader, report: VerifyReport, entry: hubformat.FileEntry,
                progress: Callable[[int], None] | None) -> None:
    whole = hashlib.sha256()
    whole_ok = True
    for blob in entry.blobs:
        whole_ok &= _check_blob(reader, report, blob, whole, progress)
    if entry.parts and whole_ok and whole.hexdigest() != entry.sha256:
        report.corrupt.append((f"{entry.path} (parts of {entry.sha256[:12]}…)",
                               f"the parts join to sha256 {whole.hexdigest()}, expected {entry.sha256}"))


def _check_blob(reader: _Reader, report: VerifyReport, blob: hubformat.Part, whole: "hashlib._Hash",
                progress: Callable[[int], None] | None) -> bool:
    rel = hubformat.blob_path(blob.sha256)
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in reader.chunks(rel):
            digest.update(chunk)
            whole.update(chunk)
            size += len(chunk)
            if progress:
                progress(len(chunk))
    except _Missing:
        report.missing.append(rel)
        return False
    if digest.hexdigest() != blob.sha256 or size != blob.size:
        report.corrupt.append((rel, f"sha256 {digest.hexdigest()} ({size} bytes), expected {blob.sha256} "
                                    f"({blob.size} bytes)"))
        return False
    report.checked += 1
    report.bytes_checked += size
    return True
