"""The seed's plain layout over any transport: ``<root>/<name>/params.json`` and the weight files it lists.

The layout of the original ModelHub proposal, and what a bucket of ``to_pretrained`` folders holds:
no ``index.json``, no manifests, no blobs. A local folder of this layout is loaded in place. Over
``http(s)://`` (a static server, an S3 website or REST endpoint), :func:`fetch_plain` fetches
``<name>/params.json``, then every weight file it lists through the hub client's own downloader
(parallel, bounded, falling back over the plain mirrors), each checked against the sha256 that
``params.json`` records before it enters the cache, and builds a snapshot like any other:
``snapshots/~plain-<key>/<name>/plain``, where ``<key>`` comes from the root that served
``params.json``. It loads offline afterwards like any cached model.

What it does not give (``docs/mirrors.md``): versions (a name is whatever the root holds now), a
signature or any check of ``params.json`` itself (a mirror that can change it can change the
hashes it lists), a listing (``dchub ls`` cannot enumerate a root over HTTP), the card and other
side files (only ``params.json`` and the weights are fetched).
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dchub_client.errors import MirrorError
from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.hashing import sha256_bytes
from dchub_client.format.hubfiles import FileEntry, Manifest
from dchub_client.hub.cache import Cache
from dchub_client.hub.fetch import fetch_files
from dchub_client.hub.mirrors import Mirror, failure_types, is_missing, try_mirrors

log = logging.getLogger(__name__)

#: The version folder of a plain-layout snapshot (the layout has no versions).
PLAIN_VERSION = "plain"
#: Cache namespaces of plain-layout roots start with this (never a valid hub name).
NAMESPACE_PREFIX = "~plain-"
#: Where the synthesized manifest records the root a plain model came from.
SOURCE_KEY = "plain_layout_root"


def namespace(root: str) -> str:
    """The cache namespace of the plain-layout root *root* (normalized)."""
    return NAMESPACE_PREFIX + hashlib.sha256(root.encode("utf-8")).hexdigest()[:16]


def is_plain_namespace(hub: str) -> bool:
    """True for a cache namespace of a plain-layout root (see :func:`namespace`)."""
    return hub.startswith(NAMESPACE_PREFIX)


def local_names(mirror: Mirror) -> list[str]:
    """The models of a plain-layout local mirror (sub-folders holding a ``params.json``), sorted;
    ``[]`` for a mirror that is not a local folder."""
    root = mirror.path
    if root is None or not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / layout.PARAMS_FILE).is_file())


def cached_plain(cache: Cache, mirrors: Sequence[Mirror], name: str) -> tuple[Path, str] | None:
    """``(snapshot, root)`` of *name* cached from one of the plain-layout *mirrors*, or None."""
    for mirror in mirrors:
        folder = cache.snapshot(name, PLAIN_VERSION, hub=namespace(mirror.root))
        if cache.snapshot_manifest(name, PLAIN_VERSION, hub=namespace(mirror.root)):
            return folder, mirror.root
    return None


def fetch_plain(cache: Cache, mirrors: Sequence[Mirror], name: str, *,
                progress: bool = False) -> tuple[Path, str] | None:
    """Fetch model *name* from the first of the plain-layout *mirrors* that has it; verify, cache, snapshot.

    Returns:
        ``(snapshot folder, root that served params.json)``, or None when every mirror answered that
        it has no ``<name>/params.json``.

    Raises:
        MirrorError: some mirror failed otherwise (the message lists what each answered), or a weight
            file could not be had with the sha256 ``params.json`` records.
        PretrainedFormatError: the ``params.json`` served is malformed.
    """
    # params.json is read by the format's own reader (which loads numpy): only when a plain root is used
    from dchub_client.format import pretrained

    found = _fetch_params(mirrors, name)
    if found is None:
        return None
    mirror, data, info = found
    ns = namespace(mirror.root)
    weights = [FileEntry(w.file, w.sha256, pretrained.npy_file_size(w)) for w in info.weights.values()]
    files = (FileEntry(layout.PARAMS_FILE, sha256_bytes(data), len(data)), *weights)
    manifest = Manifest(name=name, version=PLAIN_VERSION, class_name=info.class_name, framework=info.framework,
                        files=files, extra={SOURCE_KEY: mirror.root})
    manifest_bytes = hubfiles.dumps(hubfiles.manifest_to_json(manifest))
    manifest_sha = sha256_bytes(manifest_bytes)
    if _current(cache, name, ns, manifest_sha, files):
        return cache.snapshot(name, PLAIN_VERSION, hub=ns), mirror.root
    _store(cache, data)
    _store(cache, manifest_bytes)
    ordered = [mirror, *(m for m in mirrors if m is not mirror)]
    views = [_PlainFiles(m.root, m.kind, m.base, paths=_paths(name, weights)) for m in ordered]
    fetch_files(cache, views, weights, label=name, progress=progress)
    folder = cache.build_snapshot(name, PLAIN_VERSION, manifest_sha, [(f.path, f.sha256) for f in files], hub=ns)
    return folder, mirror.root


def _fetch_params(mirrors: Sequence[Mirror], name: str) -> tuple[Mirror, bytes, Any] | None:
    """``(mirror, bytes, PretrainedInfo)`` of the first ``<name>/params.json`` served, or None when none has it."""
    from dchub_client.format import pretrained  # numpy: only when a plain root is used

    relpath = f"{name}/{layout.PARAMS_FILE}"
    missing: list[str] = []

    def attempt(mirror: Mirror) -> tuple[Mirror, bytes, Any]:
        try:
            data = mirror.read_bytes(relpath, pretrained.MAX_PARAMS_BYTES)
        except failure_types() as err:
            if is_missing(err):
                missing.append(mirror.root)
            raise
        source = mirror.locate(relpath)
        return mirror, data, pretrained.parse_params(jsonstrict.loads(data, source), source=source)

    try:
        return try_mirrors(mirrors, relpath, attempt)
    except MirrorError:
        if len(missing) == len(mirrors):
            return None
        raise


def _current(cache: Cache, name: str, ns: str, manifest_sha: str, files: Sequence[FileEntry]) -> bool:
    if cache.snapshot_manifest(name, PLAIN_VERSION, hub=ns) != manifest_sha:
        return False
    folder = cache.snapshot(name, PLAIN_VERSION, hub=ns)
    return all((folder / f.path).is_file() for f in files)


def _store(cache: Cache, data: bytes) -> None:
    """Put verified bytes in the cache as the blob of their sha256 (a no-op when present)."""
    sha = sha256_bytes(data)
    if not cache.has_blob(sha):
        with cache.blob_writer(sha) as handle:
            handle.write(data)


def _paths(name: str, weights: Sequence[FileEntry]) -> dict[str, str]:
    return {hubfiles.blob_path(w.sha256): f"{name}/{w.path}" for w in weights}


class _PlainFiles(Mirror):
    """A plain-layout mirror seen by the downloader as a hub: a blob's path maps to the weight file
    of that sha256 (``<name>/<weight>.npy``), whose bytes are then checked against that sha256.
    Equal to the :class:`Mirror` it views (``paths`` is not part of its identity)."""

    paths: Mapping[str, str]

    def __new__(cls, root: str, kind: str, base: str, *, paths: Mapping[str, str]) -> _PlainFiles:
        self = super().__new__(cls, root, kind, base)
        self.paths = paths
        return self

    def locate(self, relpath: str) -> str:
        return super().locate(self.paths.get(relpath, relpath))


__all__ = ["NAMESPACE_PREFIX", "PLAIN_VERSION", "SOURCE_KEY", "cached_plain", "fetch_plain", "is_plain_namespace",
           "local_names", "namespace"]
