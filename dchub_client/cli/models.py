"""``dchub ls``, ``dchub info``, ``dchub pull``, ``dchub path``."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dchub_client import constants, terminal
from dchub_client.cli import _cards
from dchub_client.cli._common import fit_table, hub_of, table
from dchub_client.errors import CacheError, DchubError, NotAHubError, OfflineError
from dchub_client.format import hubfiles, layout
from dchub_client.format.hubfiles import Index, Manifest
from dchub_client.hub import catalog, hubs, plain, trust
from dchub_client.hub.cache import Cache
from dchub_client.hub.catalog import load_index
from dchub_client.hub.config import HubConfig, load_config
from dchub_client.hub.hubs import Hub
from dchub_client.hub.lookup import find_model, latest_manifests, load_model_manifest, not_found
from dchub_client.hub.mirrors import Mirror
from dchub_client.hub.resolve import hub_for_alias, parse_model_ref, resolve_pretrained
from dchub_client.humanize import human_size

log = logging.getLogger(__name__)


def run_ls(args: argparse.Namespace) -> int:
    cache, config = Cache(), load_config()
    order = [hub_for_alias(args.hub, cache, config)] if args.hub else hubs.search_order(config)
    if not args.hub and constants.offline():
        order = _offline_order(order, cache, config)
    others = [] if args.hub else [name for name in config.hubs if name not in {h.alias for h in order}]
    width = terminal.table_width()
    try:
        failed = sum(_ls_hub(hub, cache, refresh=args.refresh, width=width) for hub in order)
    except DchubError as err:
        if not others:
            raise
        _error(str(err))
        failed = 1
    if failed and others:  # a newcomer's named hub is not where a bare `dchub ls` looks
        searched = ", ".join(h.alias for h in order)
        print(f"dchub: hint: `dchub ls` lists the hubs bare names resolve in ({searched}); list your other hubs "
              f"by name: {', '.join(f'`dchub ls {n}`' for n in others)}", file=sys.stderr)
    return 1 if failed else 0


def _offline_order(order: list[Hub], cache: Cache, config: HubConfig) -> list[Hub]:
    """Offline, the searched hubs; when none of them was ever fetched here, the hubs the cache holds
    (as ``from_pretrained`` then loads from them), said in a warning."""
    cached = catalog.cached_hub_names(cache)
    if any(catalog.identity(cache, h) in cached for h in order):
        return order
    if cached:
        searched = "; ".join(h.label for h in order)
        log.warning("offline: this cache never fetched %s; listing what it holds instead: %s",
                    searched, ", ".join(f"hub {name!r}" for name in cached))
    return [hub_for_alias(name, cache, config) for name in cached] or order


def _ls_hub(hub: Hub, cache: Cache, *, refresh: bool, width: int | None) -> int:
    """List one hub's plain folders and index; return 1 when nothing at all could be listed."""
    plain_local = _plain_local(hub)
    indexed = [m for m in hub.mirrors if m not in plain_local]
    listed = sum(_ls_plain(m, width) for m in plain_local if plain.local_names(m))
    if indexed or not hub.mirrors:
        try:
            _ls_index(hub.with_mirrors(indexed), cache, refresh=refresh, width=width)
            return 0
        except NotAHubError as err:
            if listed:
                return 0
            _error(str(err))
            return 1
    if listed:
        return 0
    for mirror in plain_local:
        _error(_not_a_model_folder(mirror))
    return 1


def _ls_index(hub: Hub, cache: Cache, *, refresh: bool, width: int | None) -> None:
    """The hub's models with the details of their latest manifest (fetched in parallel, cached)."""
    offline = constants.offline()
    index = load_index(cache, hub, refresh=refresh, offline=offline)
    mirrors, no_fetch = hub.reachable(offline)
    manifests, errors = latest_manifests(cache, mirrors, index, offline=no_fetch)
    rows = [_hub_row(name, index.models[name].latest, manifests.get(name)) for name in sorted(index.models)]
    print(f"{terminal.shown(index.title or index.name)} ({len(rows)} models) - hub {index.name!r}"
          + (" (default)" if hub.is_default else ""))
    print(fit_table(["NAME", "LATEST", "FRAMEWORK", "TASK", "SIZE", "LICENSE", "METRIC", "DESCRIPTION"],
                    rows, width, optional=("LICENSE", "SIZE", "TASK", "LATEST")))  # narrow terminals
    uncached = sorted(name for name, err in errors.items() if isinstance(err, OfflineError))
    if uncached:
        print(f"dchub: offline, no cached details for {', '.join(uncached)}; run `dchub ls` once while online",
              file=sys.stderr)
    refused = sorted(name for name, err in errors.items() if isinstance(err, CacheError))
    if refused:  # the cache's problem, not the models': said once
        _error(f"{', '.join(refused)}: {errors[refused[0]]}", "warning")
    for name, err in sorted(errors.items()):
        if not isinstance(err, (OfflineError, CacheError)):
            _error(f"{name}: {err}", "warning")


def _hub_row(name: str, latest: str, manifest: Manifest | None) -> tuple[str, ...]:
    if manifest is None:
        return (name, latest, "-", "-", "-", "-", "-", "-")
    card = manifest.card
    return (name, latest, manifest.framework, _cards.one_line(card.get("task")), human_size(manifest.size),
            _cards.one_line(card.get("license")), _cards.headline(card),
            _cards.one_line(card.get("description") or card.get("title")))


def _ls_plain(mirror: Mirror, width: int | None) -> int:
    """The models of a plain-layout folder (class and framework from each ``params.json``)."""
    root = mirror.path
    assert root is not None
    rows = [_plain_row(root / name) for name in plain.local_names(mirror)]
    print(f"{mirror.root} (plain folder, {len(rows)} models)")
    print(fit_table(["NAME", "FRAMEWORK", "SIZE", "CLASS"], rows, width))
    return 1


def _plain_row(folder: Path) -> tuple[str, ...]:
    from dchub_client.format.pretrained import read_params  # numpy: only for plain folders

    size = human_size(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()))
    try:
        info = read_params(folder)
    except DchubError as err:
        _error(str(err), "warning")
        return (folder.name, "-", size, "-")
    return (folder.name, info.framework or "-", size, info.class_name or "-")


def _not_a_model_folder(mirror: Mirror) -> str:
    """What a local root that is neither a hub nor a plain folder of models was expected to hold."""
    root = mirror.path
    if root is None or not root.is_dir():
        return f"{mirror.root}: no such folder"
    below = sorted(str(p.parent) for p in root.glob(f"*/{layout.INDEX_FILE}"))
    hint = f"; the hub seems to be in {below[0]}: use DEEPCHEM_MODEL_HUB={below[0]}" if below else ""
    return (f"{mirror.root}: neither a hub (no {layout.INDEX_FILE}) nor a plain folder of models (no "
            f"<name>/{layout.PARAMS_FILE}); a hub root is the folder `hubgen build --out DIR` wrote{hint}")


def _plain_local(hub: Hub) -> list[Mirror]:
    return [m for m in hub.mirrors if m.kind == "local" and not m.has_index()]


def _error(message: str, level: str = "error") -> None:
    print(f"dchub: {level}: {message}".replace("\n", "\n  "), file=sys.stderr)


# --- info --------------------------------------------------------------------------------------------


def run_info(args: argparse.Namespace) -> int:
    if Path(args.spec).expanduser().is_dir():  # a pretrained folder, as `dchub predict FOLDER` takes (a path wins)
        return _info_plain(Path(args.spec).expanduser())
    cache, ref = Cache(), parse_model_ref(args.spec)
    hub = hub_of(ref, cache, refresh=args.refresh)
    plain_local = _plain_local(hub)
    for mirror in plain_local:
        folder = mirror.path / ref.name  # type: ignore[operator]
        if ref.version is None and (folder / layout.PARAMS_FILE).is_file():
            return _info_plain(folder)
    indexed = [m for m in hub.mirrors if m not in plain_local]
    if not indexed and hub.mirrors:
        names = [n for m in plain_local for n in plain.local_names(m)]
        raise not_found(str(ref), names, f"the plain folders of {hub.label} ({', '.join(m.root for m in plain_local)})")
    hub, offline = hub.with_mirrors(indexed), constants.offline()
    index = load_index(cache, hub, refresh=args.refresh, offline=offline)
    version, vref = find_model(index, ref.name, ref.version)
    mirrors, no_fetch = hub.reachable(offline)
    manifest = load_model_manifest(cache, mirrors, ref.name, version, vref, offline=no_fetch)
    print(terminal.shown(f"{ref.name}@{version}  ({manifest.class_name}, {manifest.framework}, "
                         f"{human_size(manifest.size)})"))
    where = f"the default hub, from {hub.source}" if hub.is_default else f"configured in {hub.source}"
    print(f"hub: {index.name!r} ({where}); mirrors: {' '.join(m.root for m in hub.mirrors) or 'none'}")
    print(_trust_line(cache, hub, index))
    print("\n".join(_cards.card_lines(manifest.card)))
    entry = index.models[ref.name]
    versions = sorted(entry.versions, key=hubfiles.version_key)
    print("versions: " + ", ".join(v + (" (latest)" if v == entry.latest else "") for v in versions))
    rows = [(f.path, human_size(f.size), f"{len(f.parts)} parts" if f.parts else "1 blob", f.sha256[:16])
            for f in manifest.files]
    print(table(["FILE", "SIZE", "STORED", "SHA256"], rows))
    cached = cache.snapshot_manifest(ref.name, version, hub=index.name) == vref.sha256
    print(f"cached: {cache.snapshot(ref.name, version, hub=index.name) if cached else 'no'}")
    return 0


def _trust_line(cache: Cache, hub: Hub, index: Index) -> str:
    signed = (catalog.cached_header(cache, index.name) or {}).get("signed")
    what = f"index version {index.version}" + (f", expires {index.expires}" if index.expires else "")
    policy = hub.policy()
    if policy.keys:
        current = trust.TrustStore(cache.root).keyset(index.name, trust.KeySet(policy.keys, policy.threshold))
        rotated = "" if not current.version else (
            f"; the hub has rotated its keys since those you configured: now {current.threshold} of "
            f"{', '.join(trust.short_keyid(k) for k in current.keyids)} (key rotation {current.version})")
        return f"signature: verified with the hub's trusted keys ({what}){rotated}"
    state = "signed, but its signatures were not checked" if signed else "not signed"
    return (f"signature: {state}: no trusted keys are configured for this hub (set DEEPCHEM_HUB_TRUSTED_KEYS, or "
            f"`dchub hub add NAME MIRROR --key PUBKEY`)")


def _info_plain(folder: Path) -> int:
    """``dchub info`` of a model in a local plain folder: what its ``params.json`` and card say."""
    from dchub_client.format import pretrained  # numpy: only for plain folders
    from dchub_client.format.card import read_folder_card  # with it: the card reader, used for plain folders only

    info = pretrained.read_params(folder)
    card = read_folder_card(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in files)
    print(terminal.shown(f"{folder.name}  ({info.class_name}, {info.framework}, {human_size(size)})"))
    print(f"plain folder: {folder} (no versions, no hub index or signature; weights are checked against "
          f"{layout.PARAMS_FILE} when loaded)")
    if card is not None:
        print("\n".join(_cards.card_lines(card.metadata)))
    sha = {w.file: w.sha256 for w in info.weights.values()}
    rows = [(p.relative_to(folder).as_posix(), human_size(p.stat().st_size),
             "weight" if p.name in sha else "file", sha.get(p.name, "-")[:16]) for p in files]
    print(table(["FILE", "SIZE", "STORED", "SHA256"], rows))
    return 0


# --- pull, path --------------------------------------------------------------------------------------


def run_pull(args: argparse.Namespace) -> int:
    for spec in args.specs:  # the first failure stops the command; what was pulled stays cached
        resolved = resolve_pretrained(spec, refresh=args.refresh, verify=args.verify,
                                      progress=terminal.shows_progress(args.quiet))
        print(resolved.path, flush=True)
    return 0


def run_path(args: argparse.Namespace) -> int:
    print(resolve_pretrained(args.spec, offline=True if args.offline else None).path)
    return 0
