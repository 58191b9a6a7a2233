"""A model of a hub: finding it in the index, and its verified manifest.

The index itself (cached per hub, checked once) is :mod:`dchub_client.hub.catalog`. Manifests are
checked against the sha256 the index gives and cached as blobs, so they are fetched once.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

from dchub_client import constants
from dchub_client.errors import (
    DchubError,
    DigestMismatchError,
    ManifestMismatchError,
    ModelNotFoundError,
    OfflineError,
)
from dchub_client.format import hubfiles
from dchub_client.format.hubfiles import Index, Manifest, ModelEntry, VersionRef
from dchub_client.hub.cache import Cache
from dchub_client.hub.catalog import load_index
from dchub_client.hub.hubs import Hub
from dchub_client.hub.mirrors import Mirror, try_mirrors
from dchub_client.humanize import suggestions

log = logging.getLogger(__name__)


class HubModel(NamedTuple):
    """One model version found on a hub (named as its index declares): its manifest and where it is recorded."""

    hub: str
    name: str
    version: str
    ref: VersionRef
    manifest: Manifest


def find_model(index: Index, name: str, version: str | None) -> tuple[str, VersionRef]:
    """``(version, ref)`` of *name* (at *version*, default the latest) in *index*.

    Raises:
        ModelNotFoundError: no such model or version; the message suggests close names.
    """
    entry = index.models.get(name)
    if entry is None:
        raise not_found(name, list(index.models), f"hub {index.name!r}")
    version = version or entry.latest
    ref = entry.versions.get(version)
    if ref is None:
        close = suggestions(version, entry.versions)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ModelNotFoundError(f"model {name!r} has no version {version!r}{hint} "
                                 f"(versions: {', '.join(sorted(entry.versions, key=hubfiles.version_key))})",
                                 suggestions=[f"{name}@{v}" for v in close])
    return version, ref


def not_found(name: str, candidates: list[str], where: str) -> ModelNotFoundError:
    """A :class:`ModelNotFoundError` for *name* suggesting the closest of *candidates*."""
    close = suggestions(name, candidates)
    lower = {c.lower(): c for c in candidates}
    if name.lower() in lower and lower[name.lower()] not in close:
        close.insert(0, lower[name.lower()])
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ModelNotFoundError(f"no model named {name!r} in {where}{hint}", suggestions=close)


def load_model_manifest(cache: Cache, mirrors: Sequence[Mirror], name: str, version: str, ref: VersionRef, *,
                  offline: bool = False) -> Manifest:
    """The verified manifest of a model version (from the cache when present)."""
    source = f"{name}@{version} manifest ({ref.manifest})"
    if cache.has_blob(ref.sha256):
        return hubfiles.read_manifest(cache.blob(ref.sha256).read_bytes(), ref, source, name=name, version=version)
    if offline:
        raise OfflineError(f"offline mode and {name}@{version} is not in the cache "
                           f"({cache.root}); run `dchub pull {name}@{version}` while online")
    data, manifest = try_mirrors(mirrors, source, lambda m: _manifest_attempt(m, ref, name, version))
    with cache.blob_writer(ref.sha256) as handle:  # verified above: parsed once, cached for next time
        handle.write(data)
    return manifest


def latest_manifests(cache: Cache, mirrors: Sequence[Mirror], index: Index, *,
                     offline: bool = False) -> tuple[dict[str, Manifest], dict[str, DchubError]]:
    """The verified manifest of every model's latest version, fetched in parallel.

    Each goes through :func:`load_model_manifest` (checked against the index's sha256, cached as a blob,
    so a second call needs no network), on at most ``constants.download_workers()`` threads. A
    model whose manifest cannot be had (offline and not cached, every mirror failed) does not stop
    the others.

    Returns:
        ``(manifests, errors)``: both keyed by model name; every model of *index* is in one of them.

    Example:
        >>> manifests, errors = latest_manifests(Cache(), mirrors, index)  # doctest: +SKIP
    """
    from concurrent.futures import ThreadPoolExecutor  # stdlib; only `dchub ls` needs threads here

    names = sorted(index.models)
    if not names:
        return {}, {}
    workers = min(constants.download_workers(), len(names))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dchub-manifest") as pool:
        futures = {name: pool.submit(_latest_manifest, cache, mirrors, index.models[name], offline)
                   for name in names}
    manifests: dict[str, Manifest] = {}
    errors: dict[str, DchubError] = {}
    for name, future in futures.items():
        error = future.exception()
        if error is None:
            manifests[name] = future.result()
        elif isinstance(error, DchubError):
            errors[name] = error
        else:
            raise error
    return manifests, errors


def _latest_manifest(cache: Cache, mirrors: Sequence[Mirror], entry: ModelEntry, offline: bool) -> Manifest:
    ref = entry.versions[entry.latest]
    return load_model_manifest(cache, mirrors, entry.name, entry.latest, ref, offline=offline)


def _manifest_attempt(mirror: Mirror, ref: VersionRef, name: str, version: str) -> tuple[bytes, Manifest]:
    """A manifest's bytes from *mirror* and what they say, checked (malformed or for another model
    version: a :class:`HubFormatError`, and the next mirror is tried)."""
    data = mirror.read_bytes(ref.manifest, max(ref.size, 1))
    try:
        manifest = hubfiles.read_manifest(data, ref, mirror.locate(ref.manifest), name=name, version=version)
    except ManifestMismatchError as err:  # other bytes than the index's: this mirror is wrong, try the next
        raise DigestMismatchError(str(err)) from err
    return data, manifest


def lookup(cache: Cache, hub: Hub, name: str, version: str | None, *, refresh: bool = False,
           offline: bool = False) -> HubModel:
    """Find *name* (at *version*) in *hub* and return its verified manifest."""
    index = load_index(cache, hub, refresh=refresh, offline=offline)
    version, ref = find_model(index, name, version)
    manifest = load_model_manifest(cache, hub.mirrors, name, version, ref, offline=offline)
    return HubModel(hub=index.name, name=name, version=version, ref=ref, manifest=manifest)
