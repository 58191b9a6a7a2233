"""From what the user typed to a local pretrained folder: how a name becomes a folder.

What a user may type (:func:`parse_model_ref`): a folder (an existing path always wins), ``name``,
``name@version``, ``hub:name`` or ``hub:name@version``.

* ``hub:`` picks a hub: ``default`` (the hub of ``DEEPCHEM_MODEL_HUB``), a hub of the config file
  (``dchub hub add``), or a hub whose index is in the cache (used from the cache).
* A bare name resolves in the hubs of :func:`dchub_client.hub.hubs.search_order` (the default hub,
  unless the config lists several). When the name is in more than one of them, it is an error naming
  them (never silently shadowed: see ``docs/client.md``).
* In one hub, its mirrors are tried in order: a local plain folder (``<root>/<name>/params.json``)
  is loaded in place; the mirrors holding ``index.json`` form the hub, whose model is fetched into
  the verified cache; roots answering that they have no ``index.json`` are read as the plain layout
  (:mod:`dchub_client.hub.plain`).
* Offline, nothing but local folders is read: a hub's cached index, its local mirrors, and the
  snapshots of the cache. A bare name gives the newest cached version. When no configured hub is
  known to hold the name (``DEEPCHEM_MODEL_HUB`` unset, or spelled another way than when the model
  was pulled), every cached hub is searched: one holding it is used (stated in the log), several
  are an error naming them and how to choose.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from dchub_client import constants
from dchub_client.errors import (
    AmbiguousModelError,
    ConfigError,
    HubFormatError,
    MirrorError,
    ModelNotFoundError,
    NotAHubError,
    OfflineError,
)
from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.hashing import sha256_file
from dchub_client.hub import catalog, hubs, plain
from dchub_client.hub.cache import Cache
from dchub_client.hub.config import HubConfig, load_config
from dchub_client.hub.fetch import fetch_files
from dchub_client.hub.hubs import Hub
from dchub_client.hub.lookup import HubModel, find_model, load_model_manifest, not_found
from dchub_client.hub.mirrors import Mirror
from dchub_client.humanize import counted

log = logging.getLogger(__name__)


class ResolvedFolder(NamedTuple):
    """A local pretrained folder ready to load.

    Attributes:
        path: the folder.
        verified: True when every file's bytes were checked against its sha256 (a snapshot of
            the verified cache), so a loader may skip re-hashing; False for folders given by path
            and for local plain-layout folders.
        name: the hub model name, when it came from a hub.
        version: the hub model version, when it came from a hub (None for the plain layout).
        hub: the hub it came from, as its index names itself (or the plain-layout root).
    """

    path: Path
    verified: bool
    name: str | None = None
    version: str | None = None
    hub: str | None = None


class ModelRef(NamedTuple):
    """A model as the user named it: ``[hub:]name[@version]``."""

    name: str
    version: str | None = None
    hub: str | None = None

    def __str__(self) -> str:
        return (f"{self.hub}:" if self.hub else "") + self.name + (f"@{self.version}" if self.version else "")


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


def parse_model_ref(spec: str, revision: str | None = None) -> ModelRef:
    """Parse ``[hub:]name[@version]``.

    Raises:
        HubFormatError: an invalid hub name, model name or version.

    Example:
        >>> parse_model_ref("acme:tox21-gc@2.0.0")
        ModelRef(name='tox21-gc', version='2.0.0', hub='acme')
    """
    hub, colon, rest = spec.strip().partition(":")
    if not colon:
        return ModelRef(*parse_spec(spec, revision))
    if not hub:
        raise HubFormatError(f"invalid model spec {spec!r}: nothing before ':' (use HUB:NAME)")
    hubfiles.validate_name(hub, "hub name")
    return ModelRef(*parse_spec(rest, revision), hub=hub)


def resolve_pretrained(name_or_path: str | os.PathLike[str], *, revision: str | None = None,
                       refresh: bool = False, verify: bool = False, offline: bool | None = None,
                       progress: bool = False) -> ResolvedFolder:
    """Find a pretrained folder: a local path, or a model of a hub (fetched and cached).

    Args:
        name_or_path: a folder, or ``[hub:]name[@version]``.
        revision: the version to use (same as ``@version``).
        refresh: fetch a new hub index even if the cached one is still fresh.
        verify: re-hash the cached files of the model (corrupt ones are fetched again).
        offline: never touch the network (default: ``DEEPCHEM_HUB_OFFLINE``).
        progress: show a progress bar while downloading (stderr).

    Returns:
        A :class:`ResolvedFolder`.

    Raises:
        ModelNotFoundError: no hub has the model or version (close names are suggested).
        AmbiguousModelError: a bare name is in several hubs it may come from.
        MirrorError: every mirror failed for some file; the message lists what each answered.
        OfflineError: offline and the model is not cached.
        NotAHubError: a mirror root holds neither a hub nor the model's plain folder.
        HubFormatError: a malformed name, index or manifest.

    Example:
        >>> resolve_pretrained("esol-mtr@1.0.0").path  # doctest: +SKIP
        PosixPath('/home/me/.cache/dchub/snapshots/deepchem/esol-mtr/1.0.0')
    """
    local = Path(os.fspath(name_or_path)).expanduser()
    if local.exists():
        return ResolvedFolder(path=local, verified=False)
    if not isinstance(name_or_path, str) or _looks_like_path(name_or_path):
        raise ModelNotFoundError(f"{os.fspath(name_or_path)}: no such folder")
    ref = parse_model_ref(name_or_path, revision)
    offline = constants.offline() if offline is None else offline
    resolver = Resolver(Cache(), load_config(), refresh=refresh, verify=verify, offline=offline, progress=progress)
    return resolver.resolve(ref)


def download(spec: str | os.PathLike[str], *, revision: str | None = None, refresh: bool = False,
             verify: bool = False, offline: bool | None = None, progress: bool = False) -> Path:
    """Fetch ``[hub:]name[@version]`` into the verified cache and return its snapshot folder.

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


def hub_for_alias(alias: str, cache: Cache, config: HubConfig) -> Hub:
    """The hub ``alias:`` names: configured, the default hub's identity, or a hub cached under that name.

    Raises:
        ConfigError: none of these (the message lists the configured hubs and how to add one).
    """
    hub = hubs.named_hub(alias, config)
    if hub is not None:
        return hub
    default = hubs.default_hub(config)
    identity = catalog.identity(cache, default)
    if identity == alias:
        return default
    cached = catalog.cached_hub_names(cache)
    if alias in cached:
        return Hub(alias, alias, (), None, None, f"the cache ({cache.root})")
    return hubs.require_hub(alias, config, also=[*([identity] if identity else []), *cached])


def cached_names(alias: str, cache: Cache, config: HubConfig) -> set[str]:
    """The names the cache keeps the snapshots of ``alias:`` under, read without the network.

    ``default`` (and a configured hub) is the name its index declares, when known here, and the
    plain-layout namespace of each of its mirrors; any other name is itself (a hub known only from
    the cache). Empty when ``alias:`` names the default hub but nothing here says what it serves.

    Example:
        >>> cached_names("acme", Cache(), load_config())  # doctest: +SKIP
        {'acme'}
    """
    hub = hubs.named_hub(alias, config)
    if hub is None:
        return {alias}
    identity = catalog.identity(cache, hub)
    return {*([identity] if identity else []), *(plain.namespace(m.root) for m in hub.mirrors)}


class Resolver:
    """One resolution: the cache, the config and the options of :func:`resolve_pretrained`."""

    def __init__(self, cache: Cache, config: HubConfig, *, refresh: bool = False, verify: bool = False,
                 offline: bool = False, progress: bool = False) -> None:
        self.cache = cache
        self.config = config
        self.refresh = refresh
        self.verify = verify
        self.offline = offline
        self.progress = progress

    def resolve(self, ref: ModelRef) -> ResolvedFolder:
        """The folder of *ref* (see the module docstring)."""
        if ref.hub is not None:
            hub = hub_for_alias(ref.hub, self.cache, self.config)
            try:
                return self.in_hub(hub, ref)
            except OfflineError as err:
                if self.offline:
                    self._note_cached_elsewhere(err, hub, ref)
                raise
        order = hubs.search_order(self.config)
        if self.offline:
            return self._offline(order, ref)
        if len(order) == 1:
            return self.in_hub(order[0], ref)
        return self._listed(order, ref)

    def hub_holding(self, ref: ModelRef) -> Hub:
        """The one hub *ref* is about: its ``hub:`` prefix, the only searched hub, or the one searched hub
        that holds the name (reads only indexes). Offline, when no searched hub is known here, the hub
        cached here that holds it (as a load then does).

        Raises:
            AmbiguousModelError: several searched hubs hold the name.
            ModelNotFoundError: none does.
        """
        if ref.hub is not None:
            return hub_for_alias(ref.hub, self.cache, self.config)
        order = hubs.search_order(self.config)
        cached_names = catalog.cached_hub_names(self.cache) if self.offline else []
        known = [h for h in order if catalog.identity(self.cache, h) in cached_names]
        if len(order) == 1 and (not self.offline or known):
            return order[0]
        holders = self._offline_holders(order, ref) if self.offline else self._holders(order, ref)
        if not holders and self.offline and not known:
            cached = [hub_for_alias(n, self.cache, self.config) for n in cached_names]
            holders = self._offline_holders(cached, ref)
        if len(holders) > 1:
            raise _ambiguous(ref, holders, self.config)
        if holders:
            return holders[0][0]
        if len(order) == 1:
            return order[0]  # its own error (offline, never fetched) says what to do
        searched = ", ".join(h.alias for h in order)
        raise ModelNotFoundError(f"no model named {ref.name!r} in the searched hubs ({searched})")

    # --- one hub -------------------------------------------------------------------------------

    def in_hub(self, hub: Hub, ref: ModelRef) -> ResolvedFolder:
        """Resolve *ref* in *hub*: local plain folders, then the hub's index, then plain roots over HTTP."""
        for mirror in _plain_local(hub):
            folder = mirror.path / ref.name  # type: ignore[operator]
            if ref.version is None and (folder / layout.PARAMS_FILE).is_file():
                return ResolvedFolder(path=folder, verified=False, name=ref.name)
        missing: list[str] = []
        suggestions: list[str] = []
        failure: MirrorError | None = None
        indexed = [m for m in hub.mirrors if m not in _plain_local(hub)]
        if indexed or not hub.mirrors:
            try:
                return self._hub_model(hub.with_mirrors(indexed), ref, missing)
            except NotAHubError:
                pass
            except MirrorError as err:
                if not missing:
                    raise
                failure = err  # some roots have no index.json: try them as plain roots, else report this
            except ModelNotFoundError as err:
                if not _plain_local(hub):
                    raise
                suggestions += err.suggestions
        try:
            return self._plain(hub, ref, [m for m in indexed if m.root in missing], suggestions)
        except (ModelNotFoundError, NotAHubError):
            if failure is not None:
                raise failure from None
            raise

    def _hub_model(self, hub: Hub, ref: ModelRef, missing: list[str]) -> ResolvedFolder:
        index = catalog.load_index(self.cache, hub, refresh=self.refresh, offline=self.offline, missing=missing)
        mirrors, no_fetch = hub.reachable(self.offline)
        no_fetch = no_fetch or not mirrors  # a hub known only from the cache
        version = ref.version
        if no_fetch and version is None:
            version = self._newest_cached(index, ref.name)
        version, entry = find_model(index, ref.name, version)
        try:
            manifest = load_model_manifest(self.cache, mirrors, ref.name, version, entry, offline=no_fetch)
            model = HubModel(hub=index.name, name=ref.name, version=version, ref=entry, manifest=manifest)
            if self.offline:
                log.info("offline: %s is %s:%s@%s from %s", ref, index.name, ref.name, version,
                         "the cache" if no_fetch else "a local mirror and the cache")
            return self._snapshot(hub.with_mirrors(mirrors), model, no_fetch=no_fetch)
        except OfflineError as err:
            if self.offline or hub.mirrors:
                raise
            raise ConfigError(f"{hub.label} is known here only from the cache ({self.cache.root}), where {ref} "
                              f"is not (fully) cached; to fetch it, add the hub with its mirrors: "
                              f"`dchub hub add {hub.alias} MIRROR_URL`") from err

    def _newest_cached(self, index: hubfiles.Index, name: str) -> str | None:
        """Offline, for a bare name: the hub's latest version if cached, else its newest cached version."""
        entry = index.models.get(name)
        if entry is None or self._is_cached(index.name, name, entry.latest, entry.versions[entry.latest].sha256):
            return None  # find_model says "not found", or picks the latest
        cached = [v for v, r in entry.versions.items() if self._is_cached(index.name, name, v, r.sha256)]
        if not cached:
            return None  # the latest; fetching it raises OfflineError naming it
        newest = max(cached, key=hubfiles.version_key)
        log.warning("offline: the latest version of %s in hub %r (%s) is not in the cache; using %s@%s",
                    name, index.name, entry.latest, name, newest)
        return newest

    def _is_cached(self, hub: str, name: str, version: str, manifest_sha: str) -> bool:
        return self.cache.snapshot_manifest(name, version, hub=hub) == manifest_sha

    def _snapshot(self, hub: Hub, model: HubModel, *, no_fetch: bool) -> ResolvedFolder:
        """Fetch (if needed) the files of a hub model version; return its snapshot folder."""
        cache = self.cache
        done = ResolvedFolder(path=cache.snapshot(model.name, model.version, hub=model.hub), verified=True,
                              name=model.name, version=model.version, hub=model.hub)
        if not self.verify and _snapshot_current(cache, model):
            return done
        if self.verify:
            _reverify(cache, model)
        _require_online_or_cached(cache, model, no_fetch)
        fetch_files(cache, hub.mirrors, model.manifest.files, label=f"{model.name}@{model.version}",
                    progress=self.progress)
        files = [(f.path, f.sha256) for f in model.manifest.files]
        cache.build_snapshot(model.name, model.version, model.ref.sha256, files, hub=model.hub)
        return done

    def _plain(self, hub: Hub, ref: ModelRef, roots: list[Mirror], suggestions: list[str]) -> ResolvedFolder:
        """The model in plain-layout roots (over HTTP: fetched and cached), else a clear "not found"."""
        if roots and ref.version is None:
            found = plain.cached_plain(self.cache, roots, ref.name) if self.offline else \
                plain.fetch_plain(self.cache, roots, ref.name, progress=self.progress)
            if found is not None:
                return ResolvedFolder(path=found[0], verified=True, name=ref.name, hub=plain.namespace(found[1]))
            if self.offline:
                where = ", ".join(m.root for m in roots)
                raise OfflineError(f"offline mode and {ref.name} was never fetched from {where} into the cache "
                                   f"({self.cache.root}); run `dchub pull {ref}` while online")
        raise self._not_found(hub, ref, roots, suggestions)

    def _not_found(self, hub: Hub, ref: ModelRef, roots: list[Mirror], suggestions: list[str]) -> Exception:
        candidates = suggestions + [n for m in _plain_local(hub) for n in plain.local_names(m)]
        if ref.version is not None and roots:
            return ModelNotFoundError(f"{ref}: the plain layout at {', '.join(m.root for m in roots)} has no versions "
                                      f"(load it as {ref.name}); versions need a hub built by `hubgen build`")
        if roots and not candidates and len(roots) == len(hub.mirrors):
            return NotAHubError(
                f"no model {ref.name!r} at {', '.join(m.root for m in roots)}: there is no {layout.INDEX_FILE} (so it "
                f"is not a dchub hub root) and no {ref.name}/{layout.PARAMS_FILE} (so the model is not in a plain "
                f"layout there). Expected at a hub root: {layout.INDEX_FILE}, as `hubgen build --out DIR` writes it "
                f"(the URL `hubgen serve` prints); at a plain root: one <name>/{layout.PARAMS_FILE} folder per model")
        where = ", ".join(m.root + _folder_note(m) for m in hub.mirrors) or "none"
        return not_found(str(ref), candidates, f"any mirror of {hub.label} ({where})")

    # --- several hubs -------------------------------------------------------------------------

    def _listed(self, order: Sequence[Hub], ref: ModelRef) -> ResolvedFolder:
        """A bare name with a search list of several hubs: it must be in exactly one of them."""
        if (found := self._the_holder(ref, self._holders(order, ref))) is not None:
            return found
        searched = ", ".join(h.alias for h in order)
        raise ModelNotFoundError(f"no model named {str(ref)!r} in the searched hubs ({searched})")

    def _holders(self, order: Sequence[Hub], ref: ModelRef) -> list[tuple[Hub, str]]:
        """The searched hubs that hold *ref*'s name, each with how (every index must be readable)."""
        holders: list[tuple[Hub, str]] = []
        for hub in order:
            try:
                where = self._holds(hub, ref)
            except MirrorError as err:
                raise MirrorError(f"{layout.INDEX_FILE} of {hub.label}, needed to tell whether it holds {ref.name!r} "
                                  "too (a bare name must be in one searched hub only; HUB:NAME skips this check)",
                                  err.failures) from err
            if where is not None:
                holders.append((hub, where))
        return holders

    def _holds(self, hub: Hub, ref: ModelRef) -> str | None:
        """How *hub* holds *ref*'s name (``"hub 'x', 1.0"``, ``"plain folder ROOT"``), or None; reads only
        indexes. A hub that has the name but not the version asked for still holds it: which hub a bare
        name means never depends on the version (a hub cannot take over a name by publishing a version)."""
        for mirror in _plain_local(hub):
            if (mirror.path / ref.name / layout.PARAMS_FILE).is_file():  # type: ignore[operator]
                return f"plain folder {mirror.root}"
        indexed = [m for m in hub.mirrors if m not in _plain_local(hub)]
        if not indexed and hub.mirrors:
            return None  # plain folders only (a hub without mirrors is one known from the cache)
        index = catalog.load_index(self.cache, hub.with_mirrors(indexed), refresh=self.refresh, offline=self.offline)
        entry = index.models.get(ref.name)
        if entry is None:
            return None
        if ref.version is not None and ref.version not in entry.versions:
            return f"hub {index.name!r}, which has no {ref.version}: {', '.join(entry.versions)}"
        return f"hub {index.name!r}, {ref.version or entry.latest}"

    def _offline(self, order: Sequence[Hub], ref: ModelRef) -> ResolvedFolder:
        """Offline, a bare name: in the searched hubs whose index is known here, else in any cached hub."""
        if (found := self._the_holder(ref, self._offline_holders(order, ref))) is not None:
            return found
        return self._cached_anywhere(order, ref)

    def _offline_holders(self, order: Sequence[Hub], ref: ModelRef) -> list[tuple[Hub, str]]:
        """:meth:`_holders` from what the cache knows; hubs it knows nothing about are passed over."""
        holders: list[tuple[Hub, str]] = []
        for hub in order:
            try:
                where = self._holds(hub, ref)
            except (MirrorError, OfflineError, NotAHubError, HubFormatError):
                continue  # nothing known here about this hub: the cache may still hold the model
            if where is not None:
                holders.append((hub, where))
        return holders

    def _the_holder(self, ref: ModelRef, holders: list[tuple[Hub, str]]) -> ResolvedFolder | None:
        """*ref* from the one hub holding it; None when none does; ambiguous when several do."""
        if len(holders) > 1:
            raise _ambiguous(ref, holders, self.config)
        return self.in_hub(holders[0][0], ref) if holders else None

    def _cached_anywhere(self, order: Sequence[Hub], ref: ModelRef) -> ResolvedFolder:
        """Offline: the model in whichever cached hub holds it (the only one), stated in the log."""
        copies: dict[str, list[str]] = {}
        for info in self.cache.snapshots(ref.name):
            if ref.version in (None, info.version) and not (ref.version and plain.is_plain_namespace(info.hub)):
                copies.setdefault(info.hub, []).append(info.version)
        if len(copies) > 1:
            raise self._cached_in_several(ref, copies)
        if not copies:
            hints = "; ".join(f"{h.label}: mirrors {' '.join(m.root for m in h.mirrors) or 'none'}" for h in order)
            raise OfflineError(f"offline mode and {ref} is not in the cache ({self.cache.root}) from any hub "
                               f"(searched: {hints}); run `dchub pull {ref}` once while online")
        (name, versions), = copies.items()
        if plain.is_plain_namespace(name):
            root = _plain_root(self.cache, ref.name, name)
            log.info("offline: %s is the plain-layout copy cached from %s", ref, root)
            return ResolvedFolder(self.cache.snapshot(ref.name, plain.PLAIN_VERSION, hub=name), True, ref.name,
                                  hub=name)
        known = [h.label for h in order if catalog.identity(self.cache, h) is not None]
        if known:
            log.warning("offline: %s is not in %s; using the copy cached from hub %r", ref, " or ".join(known), name)
        else:
            log.info("offline: no searched hub was used online as configured now; %s is the copy cached from hub %r",
                     ref, name)
        cached = hub_for_alias(name, self.cache, self.config)._replace(name=name, mirrors=())
        return self.in_hub(cached, ref)  # the hub as cached under its name (keys and threshold as configured)

    def _note_cached_elsewhere(self, err: OfflineError, hub: Hub, ref: ModelRef) -> None:
        """Offline, *ref* not loadable from *hub*: name the other hubs the cache holds it from (``default:``
        may now be mirrors never used here, while the model came through the hub's earlier ones)."""
        name = catalog.identity(self.cache, hub)
        others = sorted({info.hub for info in self.cache.snapshots(ref.name) if info.hub != name
                         and not plain.is_plain_namespace(info.hub)
                         and ref.version in (None, info.version)})
        if others:
            forms = " or ".join(str(ModelRef(ref.name, ref.version, other)) for other in others)
            err.add_note(f"{ref.name} is in the cache from {counted(len(others), 'hub')} ({', '.join(others)}): "
                         f"load it as {forms}")

    def _cached_in_several(self, ref: ModelRef, copies: dict[str, list[str]]) -> AmbiguousModelError:
        lines = []
        for hub, versions in sorted(copies.items()):
            if plain.is_plain_namespace(hub):
                root = _plain_root(self.cache, ref.name, hub)
                lines.append(f"  - the plain-layout root {root}: choose it with DEEPCHEM_MODEL_HUB={root}")
            else:
                shown = ", ".join(sorted(versions, key=hubfiles.version_key))
                lines.append(f"  - hub {hub!r} ({shown}): load it as {hub}:{ref}")
        return AmbiguousModelError(f"offline mode and {ref} is cached from several hubs; say which:\n"
                                   + "\n".join(lines), hubs=sorted(copies))


def _ambiguous(ref: ModelRef, holders: list[tuple[Hub, str]], config: HubConfig) -> AmbiguousModelError:
    lines = "\n".join(f"  - {hub.alias}:{ref} ({where})" for hub, where in holders)
    search = f"`search` in {config.path}" if config.search else "the search list"
    return AmbiguousModelError(f"model {str(ref)!r} is in more than one searched hub, so a bare name is ambiguous; "
                               f"name the hub:\n{lines}\n(or remove a hub from {search})",
                               hubs=[h.alias for h, _ in holders])


def _plain_local(hub: Hub) -> list[Mirror]:
    """The mirrors of *hub* that are local folders without ``index.json`` (plain folders of models)."""
    return [m for m in hub.mirrors if m.kind == "local" and not m.has_index()]


def _plain_root(cache: Cache, name: str, namespace: str) -> str:
    sha = cache.snapshot_manifest(name, plain.PLAIN_VERSION, hub=namespace)
    try:
        manifest = jsonstrict.loads(cache.blob(sha).read_bytes()) if sha else {}
    except (OSError, ValueError):
        manifest = {}
    return str(manifest.get(plain.SOURCE_KEY, namespace))


def _folder_note(mirror: Mirror) -> str:
    """`` (no such folder)``, or a hint when a local root is the folder above a hub, else ``""``."""
    if mirror.kind != "local":
        return ""
    root = mirror.path
    if root is None or not root.is_dir():
        return " (no such folder)"
    if mirror.has_index():
        return ""
    below = sorted(p.parent for p in root.glob(f"*/{layout.INDEX_FILE}"))
    return f" (holds no {layout.INDEX_FILE}; the hub is in {below[0]}?)" if below else ""


def _snapshot_current(cache: Cache, model: HubModel) -> bool:
    if cache.snapshot_manifest(model.name, model.version, hub=model.hub) != model.ref.sha256:
        return False
    folder = cache.snapshot(model.name, model.version, hub=model.hub)
    return all(folder.joinpath(*f.path.split("/")).is_file() for f in model.manifest.files)


def _reverify(cache: Cache, model: HubModel) -> None:
    """Re-hash the model's files (the snapshot's, else the blobs); drop corrupt ones so they are fetched again."""
    folder = cache.snapshot(model.name, model.version, hub=model.hub)
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
        cache.remove_snapshot(model.name, model.version, hub=model.hub)


def _require_online_or_cached(cache: Cache, model: HubModel, offline: bool) -> None:
    if not offline:
        return  # the fetch looks for what is missing (a stat per file: not twice)
    missing = [f.path for f in model.manifest.files if not cache.has_blob(f.sha256)]
    if missing:
        raise OfflineError(f"offline mode and {model.hub}:{model.name}@{model.version} is not fully cached in "
                           f"{cache.root} (missing {', '.join(missing[:5])}); run "
                           f"`dchub pull {model.name}@{model.version}` while online")


__all__ = ["ModelRef", "ResolvedFolder", "Resolver", "cached_names", "download", "hub_for_alias", "parse_model_ref",
           "parse_spec", "resolve_pretrained"]
