"""A hub seen through its mirrors: the (cached) index, model lookup and verified manifests.

The index of a mirror list is cached under ``cache/hubs/<key>/index.json`` and reused for
``constants.index_ttl_seconds()``; ``refresh=True`` fetches a new one; offline mode uses the cached
one whatever its age; when every mirror fails and a cached index exists, a warning is logged
(and issued) and the cached one is used. Manifests are checked against the sha256 the index gives
and cached as blobs, so they are fetched once.

Every index, fresh or cached, passes :func:`dchub_client.hub.trust.check_index` before use (signature
threshold, key rotations, expiry, rollback, when trusted keys are configured); a refused fresh index is
never cached, and the version (and key rotation) of an accepted one is recorded so an older one is refused
later.
"""
from __future__ import annotations

import difflib
import logging
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dchub_client import constants
from dchub_client.errors import (
    BadResponseError,
    DchubError,
    HubFormatError,
    ManifestMismatchError,
    MirrorError,
    ModelNotFoundError,
    OfflineError,
    TrustError,
)
from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.hubfiles import Index, Manifest, ModelEntry, VersionRef
from dchub_client.hub import trust
from dchub_client.hub.cache import Cache
from dchub_client.hub.mirrors import MAX_METADATA_BYTES, Mirror, try_mirrors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubModel:
    """One model version found on a hub: its manifest and the sha256 of the manifest's bytes."""

    name: str
    version: str
    ref: VersionRef
    manifest: Manifest


def load_index(cache: Cache, mirrors: Sequence[Mirror], *, refresh: bool = False,
               offline: bool = False, policy: trust.TrustPolicy | None = None) -> Index:
    """The hub index of *mirrors*: from the cache while fresh, else from the first mirror that serves it.

    *policy* says which keys must sign it and which hub it must be (default:
    :meth:`trust.TrustPolicy.from_environment`); what the client remembers (highest version, key
    rotation followed) lives in ``trust.TrustStore(cache.root)``.
    """
    roots = [m.root for m in mirrors]
    policy = policy or trust.TrustPolicy.from_environment()
    cached = cache.read_index(roots)
    cached_source = str(cache.index_file(roots))
    if cached is not None and offline:
        return _trusted_index(cache, policy, cached[0], cached_source, allow_expired=True)[0]
    if cached is not None and not refresh and cached[1] < constants.index_ttl_seconds():
        try:
            return _trusted_index(cache, policy, cached[0], cached_source)[0]
        except TrustError as err:  # e.g. expired since it was cached: fetch a new one
            log.info("%s", err)
    if offline:
        raise OfflineError(f"offline mode and no cached index for {' '.join(roots)}; "
                           "run `dchub pull MODEL` once while online")
    try:
        data, (index, verdict) = try_mirrors(mirrors, layout.INDEX_FILE, lambda m: _index_attempt(cache, policy, m))
    except (MirrorError, HubFormatError) as err:
        if cached is None:
            raise
        index = _trusted_index(cache, policy, cached[0], cached_source)[0]
        message = (f"could not refresh the hub index ({err}); using the cached copy from "
                   f"{cached[1] / 60:.0f} min ago")
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return index
    trust.TrustStore(cache.root).accept(verdict)
    cache.write_index(roots, data)
    return index


def _index_attempt(cache: Cache, policy: trust.TrustPolicy,
                   mirror: Mirror) -> tuple[bytes, tuple[Index, trust.Verdict]]:
    data = mirror.read_bytes(layout.INDEX_FILE, MAX_METADATA_BYTES)
    return data, _trusted_index(cache, policy, data, mirror.locate(layout.INDEX_FILE))


def _trusted_index(cache: Cache, policy: trust.TrustPolicy, data: bytes, source: str, *,
                   allow_expired: bool = False) -> tuple[Index, trust.Verdict]:
    """Parse an index and run the trust checks (a cached one too: it may have expired since)."""
    obj = jsonstrict.loads(data, source)
    index = hubfiles.parse_index(obj, source)
    verdict = policy.check(obj, index, source, store=trust.TrustStore(cache.root),
                           allow_expired=allow_expired and constants.allow_expired_index())
    return index, verdict


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
        close = difflib.get_close_matches(version, list(entry.versions), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ModelNotFoundError(f"model {name!r} has no version {version!r}{hint} "
                                 f"(versions: {', '.join(sorted(entry.versions, key=hubfiles.version_key))})",
                                 suggestions=[f"{name}@{v}" for v in close])
    return version, ref


def not_found(name: str, candidates: list[str], where: str) -> ModelNotFoundError:
    """A :class:`ModelNotFoundError` for *name* suggesting the closest of *candidates*."""
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    lower = {c.lower(): c for c in candidates}
    if name.lower() in lower and lower[name.lower()] not in close:
        close.insert(0, lower[name.lower()])
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ModelNotFoundError(f"no model named {name!r} in {where}{hint}", suggestions=close)


def load_model_manifest(cache: Cache, mirrors: Sequence[Mirror], name: str, version: str, ref: VersionRef, *,
                  offline: bool = False) -> Manifest:
    """The verified manifest of a model version (from the cache when present)."""
    source = f"{name}@{version} manifest ({ref.manifest})"
    if not cache.has_blob(ref.sha256):
        if offline:
            raise OfflineError(f"offline mode and {name}@{version} is not in the cache "
                               f"({cache.root}); run `dchub pull {name}@{version}` while online")
        data = try_mirrors(mirrors, source, lambda m: _manifest_attempt(m, ref))
        with cache.blob_writer(ref.sha256) as handle:
            handle.write(data)
    data = cache.blob(ref.sha256).read_bytes()
    return hubfiles.read_manifest(data, ref, source, name=name, version=version)


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


def _manifest_attempt(mirror: Mirror, ref: VersionRef) -> bytes:
    data = mirror.read_bytes(ref.manifest, max(ref.size, 1))
    try:
        hubfiles.read_manifest(data, ref, mirror.locate(ref.manifest))  # malformed: try the next mirror
    except ManifestMismatchError as err:  # other bytes than the index's: this mirror is wrong, try the next
        raise BadResponseError(str(err)) from err
    return data


def lookup(cache: Cache, mirrors: Sequence[Mirror], name: str, version: str | None, *, refresh: bool = False,
           offline: bool = False) -> HubModel:
    """Find *name* (at *version*) on the hub of *mirrors* and return its verified manifest."""
    index = load_index(cache, mirrors, refresh=refresh, offline=offline)
    version, ref = find_model(index, name, version)
    manifest = load_model_manifest(cache, mirrors, name, version, ref, offline=offline)
    return HubModel(name=name, version=version, ref=ref, manifest=manifest)
