"""From what the user typed (a folder, ``name`` or ``name@version``) to a local pretrained folder.

Order: an existing local path always wins; otherwise the mirrors of ``DEEPCHEM_MODEL_HUB`` are
tried in order. A local mirror without ``index.json`` is a plain folder of models
(``<root>/<name>/params.json``) and resolves to that folder directly; the other mirrors form one
hub, whose model is fetched into the verified cache and returned as its snapshot folder.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dchub_client import constants
from dchub_client.errors import HubFormatError, ModelNotFoundError, OfflineError
from dchub_client.format import hubfiles, layout
from dchub_client.format.hashing import sha256_file
from dchub_client.hub.cache import Cache
from dchub_client.hub.fetch import fetch_files
from dchub_client.hub.lookup import HubModel, lookup, not_found
from dchub_client.hub.mirrors import Mirror, parse_mirrors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedFolder:
    """A local pretrained folder ready to load.

    Attributes:
        path: the folder.
        verified: True when every file's bytes were checked against its sha256 (a snapshot of
            the verified cache), so a loader may skip re-hashing; False for folders given by path
            and for plain-layout mirrors.
        name: the hub model name, when it came from a hub.
        version: the hub model version, when it came from a hub.
    """

    path: Path
    verified: bool
    name: str | None = None
    version: str | None = None


def parse_spec(spec: str, revision: str | None = None) -> tuple[str, str | None]:
    """Split ``name@version`` into ``(name, version)`` and validate both.

    Raises:
        HubFormatError: an invalid name or version, or *revision* contradicting ``@version``.
    """
    name, at, version = spec.strip().partition("@")
    if at and not version:
        raise HubFormatError(f"invalid model spec {spec!r}: nothing after '@' (use name@version)")
    version = version or None
    if revision is not None and version is not None and revision != version:
        raise HubFormatError(f"{spec!r} names version {version!r} but revision={revision!r} was given")
    version = version or revision
    hubfiles.validate_name(name)
    if version is not None:
        hubfiles.validate_version(version)
    return name, version


def resolve_pretrained(name_or_path: str | os.PathLike[str], *, revision: str | None = None,
                       refresh: bool = False, verify: bool = False, offline: bool | None = None,
                       progress: bool = False) -> ResolvedFolder:
    """Find a pretrained folder: a local path, or a model of the configured hub (fetched and cached).

    Args:
        name_or_path: a folder, ``"name"`` or ``"name@version"``.
        revision: the version to use (same as ``@version``).
        refresh: fetch a new hub index even if the cached one is still fresh.
        verify: re-hash the cached files of the model (corrupt ones are fetched again).
        offline: never touch the network (default: ``DEEPCHEM_HUB_OFFLINE``).
        progress: show a progress bar while downloading (stderr).

    Returns:
        A :class:`ResolvedFolder`.

    Raises:
        ModelNotFoundError: no mirror has the model or version (close names are suggested).
        MirrorError: every mirror failed for some file; the message lists what each answered.
        OfflineError: offline and the model is not cached.
        HubFormatError: a malformed name, index or manifest.

    Example:
        >>> resolve_pretrained("esol-mtr@1.0.0").path  # doctest: +SKIP
        PosixPath('/home/me/.cache/dchub/snapshots/esol-mtr/1.0.0')
    """
    local = Path(os.fspath(name_or_path)).expanduser()
    if local.exists():
        return ResolvedFolder(path=local, verified=False)
    if not isinstance(name_or_path, str) or _looks_like_path(name_or_path):
        raise ModelNotFoundError(f"{os.fspath(name_or_path)}: no such folder")
    name, version = parse_spec(name_or_path, revision)
    offline = constants.offline() if offline is None else offline
    return _resolve_name(name, version, parse_mirrors(constants.hub_roots()), refresh=refresh, verify=verify,
                         offline=offline, progress=progress)


def download(spec: str | os.PathLike[str], *, revision: str | None = None, refresh: bool = False,
             verify: bool = False, offline: bool | None = None, progress: bool = False) -> Path:
    """Fetch ``name`` or ``name@version`` into the verified cache and return its snapshot folder.

    A local folder given by path is returned as it is. Options are those of
    :func:`resolve_pretrained`.

    Example:
        >>> folder = download("esol-mtr@1.0.0")  # doctest: +SKIP
        >>> sorted(p.name for p in folder.iterdir())[:1]  # doctest: +SKIP
        ['README.md']
    """
    return resolve_pretrained(spec, revision=revision, refresh=refresh, verify=verify, offline=offline,
                              progress=progress).path


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.startswith((".", "~"))


def _resolve_name(name: str, version: str | None, mirrors: Sequence[Mirror], **options: bool) -> ResolvedFolder:
    hub_mirrors = [m for m in mirrors if m.has_index()]
    candidates: list[str] = []
    hub_tried = False
    for mirror in mirrors:
        if not mirror.has_index():
            folder = mirror.path / name  # type: ignore[operator]
            if version is None and (folder / layout.PARAMS_FILE).is_file():
                return ResolvedFolder(path=folder, verified=False)
            candidates += plain_names(mirror)
        elif not hub_tried:
            hub_tried = True
            try:
                return resolve_hub_model(name, version, hub_mirrors, **options)
            except ModelNotFoundError as err:
                if not any(not m.has_index() for m in mirrors):
                    raise
                candidates += err.suggestions
    roots = ", ".join(m.root + ("" if m.kind != "local" or m.path.is_dir() else " (no such folder)")  # type: ignore[union-attr]
                      for m in mirrors)
    raise not_found(name if version is None else f"{name}@{version}", candidates,
                    f"any mirror of DEEPCHEM_MODEL_HUB ({roots or 'none set'})")


def plain_names(mirror: Mirror) -> list[str]:
    """The models of a plain-layout local mirror (sub-folders holding a ``params.json``), sorted;
    ``[]`` for a mirror that is not a local folder."""
    root = mirror.path
    if root is None or not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / layout.PARAMS_FILE).is_file())


def resolve_hub_model(name: str, version: str | None, mirrors: Sequence[Mirror], *, refresh: bool = False,
                      verify: bool = False, offline: bool = False, progress: bool = False,
                      cache: Cache | None = None) -> ResolvedFolder:
    """Fetch (if needed) a model version of the hub formed by *mirrors*; return its snapshot folder."""
    cache = cache or Cache()
    model = lookup(cache, mirrors, name, version, refresh=refresh, offline=offline)
    snapshot = cache.snapshot(model.name, model.version)
    if not verify and _snapshot_current(cache, model):
        return ResolvedFolder(path=snapshot, verified=True, name=model.name, version=model.version)
    if verify:
        _reverify(cache, model)
    _require_online_or_cached(cache, model, offline)
    fetch_files(cache, mirrors, model.manifest.files, label=f"{model.name}@{model.version}", progress=progress)
    files = [(f.path, f.sha256) for f in model.manifest.files]
    path = cache.build_snapshot(model.name, model.version, model.ref.sha256, files)
    return ResolvedFolder(path=path, verified=True, name=model.name, version=model.version)


def _snapshot_current(cache: Cache, model: HubModel) -> bool:
    if cache.snapshot_manifest(model.name, model.version) != model.ref.sha256:
        return False
    folder = cache.snapshot(model.name, model.version)
    return all(folder.joinpath(*f.path.split("/")).is_file() for f in model.manifest.files)


def _reverify(cache: Cache, model: HubModel) -> None:
    """Re-hash the model's files (the snapshot's, else the blobs); drop corrupt ones so they are fetched again."""
    folder = cache.snapshot(model.name, model.version)
    current = _snapshot_current(cache, model)
    bad = []
    for entry in model.manifest.files:
        path = folder.joinpath(*entry.path.split("/")) if current else cache.blob(entry.sha256)
        if path.is_file() and sha256_file(path) != entry.sha256:
            bad.append(entry)
    if bad:
        log.warning("%s@%s: corrupt cached files, fetching them again: %s", model.name, model.version,
                    ", ".join(e.path for e in bad))
        for entry in bad:
            if cache.has_blob(entry.sha256):
                cache.verify_blob(entry.sha256)  # removes the blob when it is the corrupt one
        cache.remove_snapshot(model.name, model.version)


def _require_online_or_cached(cache: Cache, model: HubModel, offline: bool) -> None:
    missing = [f.path for f in model.manifest.files if not cache.has_blob(f.sha256)]
    if offline and missing:
        raise OfflineError(f"offline mode and {model.name}@{model.version} is not fully "
                           f"cached in {cache.root} (missing {', '.join(missing[:5])}); run "
                           f"`dchub pull {model.name}@{model.version}` while online")
