"""Copy hub models into a folder that is itself a valid hub (for air-gapped machines).

The copy holds, for the chosen model versions only: ``index.json``, the manifests (the very bytes
the source published, so their sha256 in the index still holds), every blob (files stored in parts
are split again into the same parts, each checked), ``SHA256SUMS`` and ``.nojekyll``. Running it
again on the same folder adds models to the index already there.

A signed index (``docs/security.md``) stays valid only byte for byte: when the export holds every
version of every model of the source hub (into a new folder), the source's ``index.json`` is copied
as it is, signatures included; any other selection writes a new, unsigned index that keeps the source's
``version`` and key rotations (clients that trust keys refuse it until an operator vouches for it with
``hubgen sign``, which signs it as the next version; a warning says so).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dchub_client.errors import ChecksumError, HubFormatError
from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.atomic import atomic_file, atomic_write_bytes
from dchub_client.format.hashing import CHUNK_SIZE, sha256_file
from dchub_client.format.hubfiles import FileEntry, Index, ModelEntry, VersionRef
from dchub_client.format.sums import write_checksum_files
from dchub_client.hub.cache import Cache
from dchub_client.hub.catalog import load_index, raw_index
from dchub_client.hub.fetch import fetch_files
from dchub_client.hub.hubs import Hub
from dchub_client.hub.lookup import find_model, load_model_manifest
from dchub_client.hub.resolve import parse_model_ref

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`export_models` wrote."""

    dest: Path
    versions: tuple[str, ...]
    blobs_written: int
    bytes_written: int


def export_models(specs: Sequence[str], dest: str | os.PathLike[str], hub: Hub, *,
                  all_versions: bool = False, cache: Cache | None = None, progress: bool = False) -> ExportSummary:
    """Write the models named by *specs* (``name`` = latest, or every version with *all_versions*;
    ``name@version``; a ``hub:`` prefix must name *hub*) from *hub* into the hub folder *dest*."""
    cache = cache or Cache()
    dest = Path(dest)
    mirrors = hub.mirrors
    index = load_index(cache, hub)
    chosen = _choose(index, specs, all_versions)
    old = _existing_index(dest)
    models: dict[str, dict[str, VersionRef]] = {n: dict(m.versions) for n, m in (old.models if old else {}).items()}
    written = nbytes = 0
    for name, version in chosen:
        ref = index.models[name].versions[version]
        manifest = load_model_manifest(cache, mirrors, name, version, ref)
        fetch_files(cache, mirrors, manifest.files, label=f"{name}@{version}", progress=progress)
        for entry in manifest.files:
            w, b = _write_file_blobs(cache, entry, dest)
            written, nbytes = written + w, nbytes + b
        _copy_if_missing(cache.blob(ref.sha256), dest / ref.manifest)
        models.setdefault(name, {})[version] = ref
    if old is None and _whole_hub(index, chosen) and (raw := raw_index(cache, index.name)):
        _write_verbatim(dest, raw, index)
    else:
        _write_index(dest, index, old, models)
    return ExportSummary(dest, tuple(f"{n}@{v}" for n, v in chosen), written, nbytes)


def _choose(index: Index, specs: Sequence[str], all_versions: bool) -> list[tuple[str, str]]:
    chosen: list[tuple[str, str]] = []
    for spec in specs:
        ref = parse_model_ref(spec)
        name, version = ref.name, ref.version
        version, _ = find_model(index, name, version)
        versions = list(index.models[name].versions) if all_versions and "@" not in spec else [version]
        chosen += [(name, v) for v in versions if (name, v) not in chosen]
    return chosen


def _existing_index(dest: Path) -> Index | None:
    path = dest / layout.INDEX_FILE
    if not path.exists():
        if dest.exists() and any(dest.iterdir()):
            raise HubFormatError(f"folder is not empty and holds no {layout.INDEX_FILE}; "
                                 "refusing to write a hub into it", source=str(dest))
        return None
    return hubfiles.parse_index(jsonstrict.loads(path.read_bytes(), str(path)), str(path))


def _write_file_blobs(cache: Cache, entry: FileEntry, dest: Path) -> tuple[int, int]:
    """Write the blobs of *entry* (the file, or its parts) from the cache; return (count, bytes) written."""
    source = cache.blob(entry.sha256)
    if not entry.parts:
        return (1, entry.size) if _copy_if_missing(source, dest / hubfiles.blob_path(entry.sha256)) else (0, 0)
    written = nbytes = 0
    with open(source, "rb") as handle:
        for part in entry.parts:
            target = dest / hubfiles.blob_path(part.sha256)
            if target.exists():
                handle.seek(part.size, os.SEEK_CUR)
                continue
            _write_part(handle, part, target)
            written, nbytes = written + 1, nbytes + part.size
    return written, nbytes


def _write_part(handle, part: hubfiles.Part, target: Path) -> None:  # type: ignore[no-untyped-def]
    with atomic_file(target) as (tmp, out):
        left = part.size
        while left:
            chunk = handle.read(min(CHUNK_SIZE, left))
            if not chunk:
                raise ChecksumError(target, expected=part.sha256, actual="(truncated cached file)")
            out.write(chunk)  # type: ignore[attr-defined]
            left -= len(chunk)
        out.flush()  # type: ignore[attr-defined]
        actual = sha256_file(tmp)
        if actual != part.sha256:
            raise ChecksumError(target, expected=part.sha256, actual=actual)


def _copy_if_missing(source: Path, target: Path) -> bool:
    if target.exists():
        return False
    with atomic_file(target) as (_, out), open(source, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            out.write(chunk)  # type: ignore[attr-defined]
    return True


def _whole_hub(index: Index, chosen: list[tuple[str, str]]) -> bool:
    return set(chosen) == {(n, v) for n, m in index.models.items() for v in m.versions}


def _write_verbatim(dest: Path, data: bytes, index: Index) -> None:
    """Copy the source index bytes, after checking they are the index that was exported."""
    if hubfiles.parse_index(jsonstrict.loads(data, str(dest)), str(dest)) != index:
        raise HubFormatError("the cached index changed during the export; run it again", source=str(dest))
    _finish(dest, data)


def _write_index(dest: Path, source: Index, old: Index | None,
                 models: dict[str, dict[str, VersionRef]]) -> None:
    base = old or source
    entries = {name: ModelEntry(name=name, latest=hubfiles.latest_version(refs), versions=dict(sorted(refs.items())))
               for name, refs in sorted(models.items())}
    index = Index(name=base.name, models=entries, title=base.title, description=base.description, mirrors=(),
                  generated=source.generated, extra=dict(base.extra), version=max(source.version or 0,
                                                                                   base.version or 0) or None)
    if source.version is not None:
        log.warning("%s: the exported index is a selection of hub %r, so it is not signed: clients that trust "
                    "the hub's keys will refuse it (mirror every model with --all-versions to keep the signed index, "
                    "or vouch for the copy with `hubgen sign %s --sign-key KEY`)",
                    dest, source.name, dest)
    _finish(dest, hubfiles.index_dumps(hubfiles.index_to_json(index)))


def _finish(dest: Path, index_data: bytes) -> None:
    """Write the index (the commit point), ``.nojekyll`` and ``SHA256SUMS`` of the exported hub."""
    atomic_write_bytes(dest / layout.INDEX_FILE, index_data)
    if not (dest / layout.NOJEKYLL).exists():
        atomic_write_bytes(dest / layout.NOJEKYLL, b"")
    write_checksum_files(dest)
