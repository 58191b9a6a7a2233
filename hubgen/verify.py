"""``hubgen verify``: check that a hub (a folder or an http(s) URL) is whole.

Index → every manifest (against the sha256 and size the index records) → every blob (streamed
hashing, each blob once); a file stored in parts is also checked as a whole.

With trusted keys, the index must also carry a valid signature by one of them and not be expired
(:func:`dchub_client.hub.trust.check_index`, the client's own checks). Verify is stateless: the
client's rollback record (highest version seen) is neither read nor written.
"""
from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dchub_client import constants
from dchub_client.errors import DchubError, TrustError
from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.hashing import CHUNK_SIZE
from dchub_client.hub import trust
from hubgen.errors import VerifyError

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class SignatureStatus:
    """What the index says about its signatures, and whether they were checked.

    Attributes:
        checked: trusted keys were given, so the signature and expiry were checked.
        keyids: the key ids the index's ``signatures`` list (empty: unsigned).
        signed_by: the trusted key ids whose signatures verified (only when checked and valid).
        threshold: how many trusted keys had to sign.
        rotation: the key rotation the keys were followed to (0: the given keys themselves).
        version: the index's ``version``, if any.
        expires: the index's ``expires`` (RFC 3339), if any.
        expired: ``expires`` is in the past.
        error: why the index was refused (checked), or why its ``signatures`` are malformed.
    """

    checked: bool
    keyids: tuple[str, ...] = ()
    signed_by: str | None = None
    version: int | None = None
    expires: str | None = None
    expired: bool = False
    error: str | None = None
    threshold: int = 1
    rotation: int = 0


@dataclass
class VerifyReport:
    """What ``verify_hub`` found: ``missing`` paths and ``corrupt`` ``(path, reason)`` pairs, and the
    ``signature`` status of the index (None when the index could not be read)."""

    location: str
    checked: int = 0
    bytes_checked: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    signature: SignatureStatus | None = None

    @property
    def trusted(self) -> bool:
        """False only when trusted keys were given and the index failed the signature or expiry check."""
        return self.signature is None or not self.signature.checked or self.signature.error is None

    @property
    def ok(self) -> bool:
        """True when every referenced file is present and matches its hash, and the index is trusted
        (when trusted keys were given)."""
        return not self.missing and not self.corrupt and self.trusted


class _Missing(Exception):
    """A file is absent (404 or no such file)."""


class _Reader:
    """Streams files of a hub, by path relative to its root."""

    def chunks(self, rel: str) -> Iterator[bytes]:
        raise NotImplementedError

    def read(self, rel: str) -> bytes:
        return b"".join(self.chunks(rel))

    def where(self, rel: str) -> str:
        """The full path or URL of *rel*, for messages."""
        raise NotImplementedError


class _LocalReader(_Reader):
    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise VerifyError(f"{root}: no such folder")
        self.root = root

    def where(self, rel: str) -> str:
        return str(self.root / rel)

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

    def where(self, rel: str) -> str:
        return self.base + rel

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


def verify_hub(location: str | Path, *, progress: Callable[[int], None] | None = None,
               keys: Sequence[trust.PublicKey] = (), threshold: int = 1) -> VerifyReport:
    """Check every file the hub's index references, and the index signature; return a :class:`VerifyReport`.

    Args:
        location: a hub folder, or an ``http(s)://`` URL of a hub root.
        progress: called with the number of bytes of each chunk hashed.
        keys: trusted public keys (:func:`parse_trusted_keys`, :func:`dchub_client.hub.trust.trusted_keys`).
            With keys, the index must be signed by *threshold* of them (after following its key
            rotations), carry ``version`` and ``expires``, and not be expired, or the report is not
            ``ok``. Without, signatures are reported, not checked.
        threshold: how many distinct trusted keys must have signed.

    Raises:
        VerifyError: the hub cannot be reached at all (no such folder, connection refused).

    Example:
        >>> verify_hub("public/", keys=parse_trusted_keys(["keys/hub-key.pub"])).ok  # doctest: +SKIP
        True
    """
    text = str(location)
    reader: _Reader = _HttpReader(text) if text.startswith(("http://", "https://")) else _LocalReader(Path(text))
    report = VerifyReport(location=text)
    read = _read_index(reader, report)
    if read is not None:
        obj, index = read
        report.signature = _signature_status(obj, index, reader.where(layout.INDEX_FILE), keys, threshold)
        manifests = [m for m in (_read_manifest(reader, report, n, v, r) for n, v, r in _refs(index)) if m]
        _check_blobs(reader, report, manifests, progress)
    return report


def _refs(index: hubfiles.Index) -> Iterator[tuple[str, str, hubfiles.VersionRef]]:
    for name, model in sorted(index.models.items()):
        for version, ref in sorted(model.versions.items()):
            yield name, version, ref


def _read_index(reader: _Reader, report: VerifyReport) -> tuple[dict[str, Any], hubfiles.Index] | None:
    try:
        data = reader.read(layout.INDEX_FILE)
    except _Missing:
        report.missing.append(layout.INDEX_FILE)
        return None
    try:
        obj = jsonstrict.loads(data, layout.INDEX_FILE)
        index = hubfiles.parse_index(obj, layout.INDEX_FILE)
    except DchubError as err:
        report.corrupt.append((layout.INDEX_FILE, _reason(err, layout.INDEX_FILE)))
        return None
    report.checked += 1
    return obj, index


# --- the index signature ------------------------------------------------------------------


def _signature_status(obj: dict[str, Any], index: hubfiles.Index, source: str,
                      keys: Sequence[trust.PublicKey], threshold: int) -> SignatureStatus:
    info: dict[str, Any] = {"checked": bool(keys), "version": index.version, "expires": index.expires,
                            "expired": _expired(index.expires), "threshold": threshold}
    try:
        info["keyids"] = tuple(kid for kid, _ in trust.parse_signatures(obj, source))
        if keys:  # stateless: no rollback record; rotations followed from the given keys
            verdict = trust.check_index(obj, index, source, store=None, keys=keys, threshold=threshold)
            info["signed_by"] = ", ".join(verdict.signed_by)
            info["rotation"] = verdict.keyset.version if verdict.keyset is not None else 0
    except TrustError as err:
        info["error"] = str(err)
    return SignatureStatus(**info)


def _expired(expires: str | None) -> bool:
    return expires is not None and hubfiles.parse_time(expires) <= datetime.datetime.now(datetime.timezone.utc)


def parse_trusted_keys(entries: Sequence[str]) -> tuple[trust.PublicKey, ...]:
    """Trusted public keys from *entries*, each the path of a ``.pub``/PEM file or a base64 raw key
    (the forms ``DEEPCHEM_HUB_TRUSTED_KEYS`` accepts).

    Raises:
        TrustError: an entry is neither a readable key file nor a base64 ed25519 key.
    """
    return tuple(key for entry in entries for key in trust.parse_key_entries(entry, "--trusted-key"))


def _reason(err: Exception, path: str) -> str:
    """What is wrong with *path*, without the path the error already starts with (the report names it)."""
    return str(err).removeprefix(f"{path}: ")


def _read_manifest(reader: _Reader, report: VerifyReport, name: str, version: str,
                   ref: hubfiles.VersionRef) -> hubfiles.Manifest | None:
    try:
        data = reader.read(ref.manifest)
    except _Missing:
        report.missing.append(ref.manifest)
        return None
    try:
        manifest = hubfiles.read_manifest(data, ref, ref.manifest, name=name, version=version)
    except DchubError as err:
        report.corrupt.append((ref.manifest, _reason(err, ref.manifest)))
        return None
    report.checked += 1
    return manifest


def _check_blobs(reader: _Reader, report: VerifyReport, manifests: list[hubfiles.Manifest],
                 progress: Callable[[int], None] | None) -> None:
    seen: set[str] = set()
    for manifest in manifests:
        for entry in manifest.files:
            key = entry.sha256 + ("/parts" if entry.parts else "")
            if key not in seen:
                seen.add(key)
                _check_file(reader, report, entry, progress)


def _check_file(reader: _Reader, report: VerifyReport, entry: hubfiles.FileEntry,
                progress: Callable[[int], None] | None) -> None:
    whole = hashlib.sha256()
    whole_ok = True
    for blob in entry.blobs:
        whole_ok &= _check_blob(reader, report, blob, whole, progress)
    if entry.parts and whole_ok and whole.hexdigest() != entry.sha256:
        report.corrupt.append((f"{entry.path} (parts of {entry.sha256[:12]}…)",
                               f"the parts join to sha256 {whole.hexdigest()}, expected {entry.sha256}"))


def _check_blob(reader: _Reader, report: VerifyReport, blob: hubfiles.Part, whole: "hashlib._Hash",
                progress: Callable[[int], None] | None) -> bool:
    rel = hubfiles.blob_path(blob.sha256)
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
