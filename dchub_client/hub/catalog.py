"""A hub's index in the cache, kept by the hub's identity: fetched, checked once, then looked up fast.

Layout under the cache (``constants.cache_dir()``)::

    hubs/<hub>/index.json      the hub's last accepted index, byte for byte as served (signatures intact)
    hubs/<hub>/index.lookup    its lookup file (:mod:`dchub_client.hub.sidecar`), written after it: the
                               commit point; its mtime is the index's age
    hubs/<hub>/served-by       the sha256 of that index and the mirror roots that served it
    bindings/<key>             the hub a mirror of the (unpinned) default hub served first

``<hub>`` is the name the index declares, so the same hub reached through any spelling of any of
its mirrors (``http://127.0.0.1:8000/``, ``http://localhost:8000``, the folder it serves) shares one
cached index, one rollback record and one set of snapshots, and offline use does not depend on how
``DEEPCHEM_MODEL_HUB`` is spelled. A name is only what an index declares, though: for the default
hub (not pinned by the config) a cached index counts as fresh only when one of the current mirrors
served it; otherwise it is fetched again before use online (two unrelated hubs that chose the same
name then take turns in the cache, and never answer for each other).

An index enters the cache only after :func:`_verify`: strict parsing, the identity check (a hub's
mirrors serve that hub's index only: the name pinned by the config, checked by its
:class:`~dchub_client.hub.trust.TrustPolicy`, or for the unpinned default hub the name each mirror
served first) and the trust checks with that hub's keys and threshold. Later uses read the lookup
file and repeat only what can change: the configured keys (a fingerprint), expiry and rollback;
anything else re-checks the whole index.

The index is reused for ``constants.index_ttl_seconds()``; ``refresh=True`` fetches it again; when
every mirror fails, a cached index is used with a warning. Offline, the cached index is used
whatever its age, and a hub mirror that is a local folder is read directly (it needs no cache).
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from dchub_client import constants
from dchub_client.errors import (
    CachedIndexWarning,
    CacheError,
    HubFormatError,
    MirrorError,
    NotAHubError,
    OfflineError,
    TrustError,
    warn_caller,
)
from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.atomic import atomic_write_bytes
from dchub_client.format.hashing import sha256_bytes
from dchub_client.format.hubfiles import Index
from dchub_client.hub import sidecar, trust
from dchub_client.hub.cache import Cache
from dchub_client.hub.hubs import Hub
from dchub_client.hub.mirrors import MAX_METADATA_BYTES, Mirror, failure_types, is_missing, try_mirrors
from dchub_client.humanize import counted

log = logging.getLogger(__name__)

LOOKUP_FILE = "index.lookup"
SERVED_BY_FILE = "served-by"
BINDINGS_DIR = "bindings"


class _Cached(NamedTuple):
    index: Index
    age: float
    sha256: str


# --- where things are ----------------------------------------------------------------------------


def hub_folder(cache: Cache, hub_name: str) -> Path:
    """``<cache>/hubs/<hub_name>``: where a hub's index and lookup file are kept."""
    return cache.root / "hubs" / hub_name


def cached_hub_names(cache: Cache) -> list[str]:
    """The hubs whose index is in the cache, sorted."""
    base = cache.root / "hubs"
    names = (p.parent.name for p in base.glob(f"*/{LOOKUP_FILE}")) if base.is_dir() else ()
    return sorted(n for n in names if not n.startswith("."))


def raw_index(cache: Cache, hub_name: str) -> bytes | None:
    """The cached ``index.json`` bytes of *hub_name* (as the hub served them), or None."""
    try:
        return (hub_folder(cache, hub_name) / layout.INDEX_FILE).read_bytes()
    except FileNotFoundError:
        return None


def binding_file(cache: Cache, root: str) -> Path:
    """The record of which hub the mirror *root* served first."""
    return cache.root / BINDINGS_DIR / hashlib.sha256(root.encode("utf-8")).hexdigest()[:32]


def bound_hub(cache: Cache, root: str) -> str | None:
    """The hub the mirror *root* is bound to (the one it served first), or None."""
    try:
        recorded_root, name = binding_file(cache, root).read_text(encoding="utf-8").splitlines()[:2]
    except (FileNotFoundError, ValueError):
        return None
    return name if recorded_root == root else None


def identity(cache: Cache, hub: Hub) -> str | None:
    """The name *hub*'s index declares, when known without the network: pinned, or a mirror's binding."""
    if hub.name is not None:
        return hub.name
    return next((b for m in hub.mirrors if (b := bound_hub(cache, m.root)) is not None), None)


# --- loading ---------------------------------------------------------------------------------------


def load_index(cache: Cache, hub: Hub, *, refresh: bool = False, offline: bool = False,
               missing: list[str] | None = None) -> Index:
    """The index of *hub*: from the cache while fresh, else from the first of its mirrors that serves one.

    Args:
        missing: if given, the roots that answered that they hold no ``index.json`` are appended to it.

    Raises:
        OfflineError: offline and no cached index (nor a local mirror) for this hub.
        NotAHubError: every mirror answered that it holds no ``index.json``.
        MirrorError: every mirror failed, and nothing is cached.
        TrustError: every index served failed the identity or trust checks.
    """
    missing = [] if missing is None else missing
    refused: list[TrustError] = []
    cached = _cached(cache, hub, offline=offline, refused=refused)
    ttl = constants.index_ttl_seconds()
    if offline:
        return _offline(cache, hub, cached, ttl, missing)
    if cached is not None and not refresh and cached.age < ttl:
        log.info("hub %r: the index cached %.0f s ago (fetched again after %g s: DEEPCHEM_HUB_INDEX_TTL)",
                 cached.index.name, cached.age, ttl)
        return cached.index
    if not hub.mirrors:
        if cached is not None:
            return cached.index
        raise MirrorError(layout.INDEX_FILE, {"(none)": f"{hub.label} has no mirrors"})
    try:
        return _fetch(cache, hub, hub.mirrors, cached, missing)
    except (MirrorError, HubFormatError, CacheError) as err:  # CacheError: e.g. a shared cache this user only reads
        if refused:  # the cached copy is no fallback (expired, ...): say why it was not used
            raise refused[0] from err
        if cached is None:
            raise
        why = err.one_line() if isinstance(err, MirrorError) else err  # a warning is one line
        warn_caller(f"could not refresh the index of hub {cached.index.name!r} ({why}); using the cached copy "
                    f"from {cached.age / 60:.0f} min ago", CachedIndexWarning)
        return cached.index


def _offline(cache: Cache, hub: Hub, cached: _Cached | None, ttl: float, missing: list[str]) -> Index:
    local = [m for m in hub.mirrors if m.kind == "local"]
    if cached is not None and (cached.age < ttl or not local):
        return cached.index
    if local:
        try:
            return _fetch(cache, hub, local, cached, missing)
        except (MirrorError, HubFormatError, CacheError):
            if cached is None:
                raise
            return cached.index
    if cached is not None:
        return cached.index
    roots = " ".join(m.root for m in hub.mirrors) or "none"
    raise OfflineError(f"offline mode and the index of {hub.label} (mirrors: {roots}) is not in the cache "
                       f"({cache.root}); run `dchub ls {hub.alias}` once while online")


def _cached(cache: Cache, hub: Hub, *, offline: bool, refused: list[TrustError] | None = None) -> _Cached | None:
    """The cached index of *hub*, after the checks that can change since it was accepted.

    Offline, a refused cached index raises; online it is not used (and its error appended to *refused*).
    """
    name = identity(cache, hub)
    if name is None:
        return None
    folder = hub_folder(cache, name)
    lookup = sidecar.read_lookup(folder / LOOKUP_FILE)
    try:
        if lookup is None or not _still_trusted(cache, hub, lookup):
            return _recheck(cache, hub, name, offline=offline)
        age = max(0.0, time.time() - (folder / LOOKUP_FILE).stat().st_mtime)
    except TrustError as err:
        if offline:
            err.add_note(f"while online, `dchub ls {hub.alias} --refresh` replaces the cached index of hub {name!r} "
                         f"with one a mirror serves that passes these checks")
            raise
        log.info("%s", err)  # e.g. expired since it was cached: fetch a new one
        if refused is not None:
            refused.append(err)
        return None
    except (HubFormatError, FileNotFoundError) as err:  # a damaged cached copy, or replaced meanwhile
        if offline:
            raise
        log.info("the cached index of hub %r is not usable (%s); fetching it again", name, err)
        return None
    return _served_here(cache, hub, _Cached(lookup.index(), age, lookup.header.get("index_sha256", "")))


def _served_here(cache: Cache, hub: Hub, cached: _Cached) -> _Cached:
    """*cached*, made stale (fetched again before use online) when no current mirror of the unpinned
    default hub served it."""
    if hub.name is not None:
        return cached
    try:
        sha, *roots = (hub_folder(cache, cached.index.name) / SERVED_BY_FILE).read_text("utf-8").splitlines()
    except (FileNotFoundError, ValueError):
        sha, roots = "", []
    if sha == cached.sha256 and any(m.root in roots for m in hub.mirrors):
        return cached
    return _Cached(cached.index, float("inf"), cached.sha256)


def _record_served(cache: Cache, name: str, sha: str, root: str) -> None:
    """Remember that the mirror *root* served the index of sha256 *sha* (the one cached for *name*)."""
    path = hub_folder(cache, name) / SERVED_BY_FILE
    try:
        recorded, *roots = path.read_text("utf-8").splitlines()
    except (FileNotFoundError, ValueError):
        recorded, roots = "", []
    if recorded != sha:
        roots = []
    if root not in roots:
        atomic_write_bytes(path, "\n".join([sha, *roots, root, ""]).encode("utf-8"))


def _still_trusted(cache: Cache, hub: Hub, lookup: sidecar.Lookup) -> bool:
    """Whether the checks made when the index was accepted still hold (else check it again, whole)."""
    header = lookup.header
    policy = hub.policy()
    if header.get("checked") != _fingerprint(policy):
        return False
    if not policy.keys:
        if header.get("signed"):
            trust.notice_unchecked_signatures()
        return True
    expires = header.get("expires")
    if expires is None or hubfiles.parse_time(expires) <= hubfiles.utc_now():
        return False
    highest = trust.TrustStore(cache.root).highest(header["hub"])
    return highest is None or (header.get("version") or 0) >= highest


def _recheck(cache: Cache, hub: Hub, name: str, *, offline: bool) -> _Cached | None:
    """Check the cached ``index.json`` of *name* whole, and rewrite its lookup file (keeping its age)."""
    folder = hub_folder(cache, name)
    raw_path = folder / layout.INDEX_FILE
    try:
        data = raw_path.read_bytes()
    except FileNotFoundError:
        return None
    lookup_path = folder / LOOKUP_FILE
    mtime = lookup_path.stat().st_mtime if lookup_path.exists() else raw_path.stat().st_mtime
    obj, index, _ = _verify(cache, hub, data, str(raw_path), None, allow_expired=offline)
    _refuse_other_hub(index, name, str(raw_path), f"it is cached as hub {name!r}")
    sidecar.write_lookup(lookup_path, index, _header(index, obj, data, hub))
    os.utime(lookup_path, (mtime, mtime))
    return _served_here(cache, hub, _Cached(index, max(0.0, time.time() - mtime), sha256_bytes(data)))


def _fetch(cache: Cache, hub: Hub, mirrors: Sequence[Mirror], cached: _Cached | None, missing: list[str]) -> Index:
    """Fetch the index from the first of *mirrors* that serves an acceptable one; cache it."""
    notes: dict[str, str] = {}

    def attempt(mirror: Mirror) -> tuple[Index, bool]:
        try:
            data = mirror.read_bytes(layout.INDEX_FILE, MAX_METADATA_BYTES)
        except failure_types() as err:
            if is_missing(err):
                missing.append(mirror.root)
                notes[mirror.root] = _status_note(err)
            raise
        with cache.writing():
            if cached is not None and sha256_bytes(data) == cached.sha256:
                _check_identity(cache, hub, cached.index, mirror.locate(layout.INDEX_FILE), mirror.root)
                _touch(cache, cached.index.name)
                _record_served(cache, cached.index.name, cached.sha256, mirror.root)
                _bind(cache, hub, mirror.root, cached.index.name)
                log.info("hub %r: %s serves the cached index, unchanged", cached.index.name, mirror.root)
                return cached.index, False
            obj, index, verdict = _verify(cache, hub, data, mirror.locate(layout.INDEX_FILE), mirror.root)
            _admit(cache, hub, index, obj, data, mirror.root, verdict)
            log.info("hub %r: index fetched from %s (%s, %s)", index.name, mirror.root,
                     counted(len(index.models), "model"), _signed(verdict, trust.SIGNATURES_KEY in obj))
            return index, True

    try:
        index, _ = try_mirrors(mirrors, layout.INDEX_FILE, attempt)
    except TrustError as err:  # every mirror served an index that was refused
        if cached is not None:
            err.add_note("the copy of this hub's index cached earlier is still trusted: models already in the "
                         "cache load offline (DEEPCHEM_HUB_OFFLINE=1) while the mirrors are looked into")
        raise
    except MirrorError as err:
        if missing and set(missing) == {m.root for m in mirrors}:
            raise not_a_hub([root + notes.get(root, "") for root in missing], hub) from err
        others = cached_hub_names(cache) if cached is None else []
        if others:  # e.g. the cache was filled from http://localhost:8000/, this is http://127.0.0.1:8000/
            err.add_note(f"the cache holds {counted(len(others), 'hub')} ({', '.join(others)}) fetched from other "
                         "addresses; until this one answers, dchub cannot tell which hub it serves: use the "
                         "address they were fetched from, or DEEPCHEM_HUB_OFFLINE=1 to load from the cache")
        raise
    return index


def _signed(verdict: trust.Verdict, signed: bool) -> str:
    """How the index was trusted, for the log."""
    if verdict.checked:
        keys = ", ".join(map(trust.short_keyid, verdict.signed_by))
        return f"signed by {counted(len(verdict.signed_by), 'trusted key')}: {keys}"
    return "signed, but no trusted keys are configured to check it" if signed else "unsigned"


def _status_note(err: BaseException) -> str:
    """`` (HTTP 403: ...)`` for an answer that may not mean "missing", else nothing."""
    if getattr(err, "status", None) == 403:
        return (" (HTTP 403 Forbidden: what S3 answers for a missing file, and for every file of a bucket "
                "that does not allow public reads)")
    return ""


def not_a_hub(roots: Sequence[str], hub: Hub | None = None) -> NotAHubError:
    """The error for roots that hold no ``index.json``, saying what was expected there and where the
    roots were configured (*hub*: ``DEEPCHEM_MODEL_HUB``, or a named hub's mirrors)."""
    where = "in DEEPCHEM_MODEL_HUB" if hub is None or hub.is_default else f"as a mirror of {hub.label} ({hub.source})"
    return NotAHubError(
        f"no {layout.INDEX_FILE} at {', '.join(roots)}: not a dchub hub root. A hub root is the folder "
        f"`hubgen build --out DIR` wrote (it holds {layout.INDEX_FILE}, {layout.MODELS_DIR}/ and "
        f"{layout.BLOBS_DIR}/); give its URL or path {where} (the URL `hubgen serve` prints). "
        f"A root of plain model folders holds <name>/{layout.PARAMS_FILE} instead, and is read model by model")


def _verify(cache: Cache, hub: Hub, data: bytes, source: str, root: str | None, *,
            allow_expired: bool = False) -> tuple[dict[str, Any], Index, trust.Verdict]:
    """Parse an index whole and run every check: format, identity (for a mirror *root*), trust
    (:meth:`trust.TrustPolicy.check` with the hub's keys, threshold and pinned name)."""
    obj = jsonstrict.loads(data, source)
    index = hubfiles.parse_index(obj, source)
    if root is not None:
        _check_identity(cache, hub, index, source, root)
    verdict = hub.policy().check(obj, index, source, store=trust.TrustStore(cache.root),
                                 allow_expired=allow_expired and constants.allow_expired_index())
    return obj, index, verdict


def _refuse_other_hub(index: Index, expected: str, source: str, why: str) -> None:
    if index.name != expected:
        raise TrustError(f"{source}: this index is of hub {index.name!r}, but this mirror serves hub {expected!r} "
                         f"({why}); refusing it")


def _check_identity(cache: Cache, hub: Hub, index: Index, source: str, root: str) -> None:
    """The mirror *root* of the unpinned default hub serves the hub it served first, and never a hub the
    config declares with its own mirrors (a pinned hub's name is checked by its trust policy)."""
    if hub.name is not None:
        return
    bound = bound_hub(cache, root)
    if bound is not None:
        _refuse_other_hub(index, bound, source, (
            f"it served hub {bound!r} before, as recorded in {binding_file(cache, root)}; if the mirror now "
            f"serves another hub on purpose, delete that file, or declare the hub with "
            f"`dchub hub add {index.name} {root}`"))
    if index.name in hub.others:
        raise TrustError(f"{source}: this index is of hub {index.name!r}, which is configured with its own mirrors "
                         f"and keys; a mirror of {hub.label} may not serve it (load its models as "
                         f"{index.name}:MODEL, or add this mirror to that hub)")


def _admit(cache: Cache, hub: Hub, index: Index, obj: dict[str, Any], data: bytes, root: str,
           verdict: trust.Verdict) -> None:
    """Cache an accepted index: its bytes, then its lookup file (the commit point); remember its version
    and the key rotation it was checked at."""
    folder = hub_folder(cache, index.name)
    atomic_write_bytes(folder / layout.INDEX_FILE, data)
    sidecar.write_lookup(folder / LOOKUP_FILE, index, _header(index, obj, data, hub))
    _record_served(cache, index.name, sha256_bytes(data), root)
    trust.TrustStore(cache.root).accept(verdict)
    _bind(cache, hub, root, index.name)


def _bind(cache: Cache, hub: Hub, root: str, name: str) -> None:
    """Remember which hub the mirror *root* of the unpinned default hub serves (first use only)."""
    if hub.name is None and bound_hub(cache, root) is None:
        atomic_write_bytes(binding_file(cache, root), f"{root}\n{name}\n".encode())


def _touch(cache: Cache, name: str) -> None:
    """The index was fetched again and is unchanged: it is fresh again."""
    path = hub_folder(cache, name) / LOOKUP_FILE
    try:
        os.utime(path)
    except FileNotFoundError:
        pass
    except OSError as err:  # os.utime names no file
        raise OSError(err.errno, err.strerror, str(path)) from err


def _header(index: Index, obj: dict[str, Any], data: bytes, hub: Hub) -> dict[str, Any]:
    return {"hub": index.name, "index_sha256": sha256_bytes(data), "title": index.title,
            "description": index.description, "mirrors": list(index.mirrors), "generated": index.generated,
            "format_version": index.format_version, "extra": dict(index.extra), "version": index.version,
            "expires": index.expires, "signed": bool(obj.get(trust.SIGNATURES_KEY)),
            "checked": _fingerprint(hub.policy()), "count": len(index.models)}


def _fingerprint(policy: trust.TrustPolicy) -> str:
    """What the trust checks of an index depended on: the configured keys and threshold."""
    if not policy.keys:
        return "none"
    return trust.KeySet(tuple(policy.keys), policy.threshold).anchor[:24]


def cached_header(cache: Cache, hub_name: str) -> dict[str, Any] | None:
    """What the cache recorded about the index of *hub_name* when it accepted it (``version``, ``expires``,
    ``signed``, ``count`` ...), or None; no check is made (for display)."""
    lookup = sidecar.read_lookup(hub_folder(cache, hub_name) / LOOKUP_FILE)
    return None if lookup is None else lookup.header


def cache_age(cache: Cache, hub_name: str) -> float | None:
    """Seconds since the index of *hub_name* was last fetched (None: not cached)."""
    try:
        return max(0.0, time.time() - (hub_folder(cache, hub_name) / LOOKUP_FILE).stat().st_mtime)
    except FileNotFoundError:
        return None


def referenced_manifests(cache: Cache) -> set[str]:
    """The sha256 of the latest manifest of every model of every cached index (what an offline ``ls`` shows)."""
    keep: set[str] = set()
    for name in cached_hub_names(cache):
        lookup = sidecar.read_lookup(hub_folder(cache, name) / LOOKUP_FILE)
        if lookup is not None:
            keep.update(entry.versions[entry.latest].sha256 for entry in lookup.models.values())
    return keep


__all__ = ["BINDINGS_DIR", "LOOKUP_FILE", "binding_file", "bound_hub", "cache_age", "cached_hub_names",
           "cached_header", "hub_folder", "identity", "load_index", "not_a_hub", "raw_index",
           "referenced_manifests"]
