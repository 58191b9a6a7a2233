"""``dchub ls``, ``dchub info``, ``dchub pull``, ``dchub path``."""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from dchub_client import constants
from dchub_client.cli._common import fit_table, hub_mirrors, table
from dchub_client.errors import DchubError, OfflineError
from dchub_client.format import hubfiles
from dchub_client.format.hubfiles import Manifest
from dchub_client.format.pretrained import read_params
from dchub_client.hub.cache import Cache
from dchub_client.hub.lookup import find_model, latest_manifests, load_index, load_model_manifest
from dchub_client.hub.mirrors import Mirror, parse_mirrors
from dchub_client.hub.resolve import parse_spec, plain_names, resolve_pretrained
from dchub_client.humanize import human_size


def register(sub: argparse._SubParsersAction) -> None:
    """Add the model commands to the ``dchub`` parser."""
    p = sub.add_parser("ls", help="list the models of the hub (and of plain model folders)")
    p.add_argument("--refresh", action="store_true", help="fetch a new index even if the cached one is fresh")
    p.set_defaults(run=run_ls)
    p = sub.add_parser("info", help="show a model's card, versions and files")
    p.add_argument("spec", metavar="NAME[@VERSION]")
    p.add_argument("--refresh", action="store_true", help="fetch a new index")
    p.set_defaults(run=run_info)
    p = sub.add_parser("pull", help="download a model into the cache (verified)")
    p.add_argument("spec", metavar="NAME[@VERSION]")
    p.add_argument("--refresh", action="store_true", help="fetch a new index")
    p.add_argument("--verify", action="store_true", help="re-hash cached files first")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_pull)
    p = sub.add_parser("path", help="print the local folder of a model (downloading it if needed)")
    p.add_argument("spec", metavar="NAME[@VERSION]")
    p.add_argument("--offline", action="store_true", help="only look in the cache")
    p.set_defaults(run=run_path)


def run_ls(args: argparse.Namespace) -> int:
    mirrors = parse_mirrors(constants.hub_roots())
    hubs = [m for m in mirrors if m.has_index()]
    plain = [m for m in mirrors if not m.has_index()]
    width = shutil.get_terminal_size().columns
    listed = 0
    if hubs or not plain:
        _ls_hub(hubs, refresh=args.refresh, width=width)
        listed += 1
    for mirror in plain:
        listed += _ls_plain(mirror, width)
    return 0 if listed else 1


def _ls_hub(mirrors: list[Mirror], *, refresh: bool, width: int) -> None:
    """The hub's models with the details of their latest manifest (fetched in parallel, cached)."""
    cache, offline = Cache(), constants.offline()
    index = load_index(cache, mirrors, refresh=refresh, offline=offline)
    manifests, errors = latest_manifests(cache, mirrors, index, offline=offline)
    rows = [_hub_row(name, entry.latest, manifests.get(name)) for name, entry in sorted(index.models.items())]
    print(f"{index.title or index.name} ({len(rows)} models)")
    print(fit_table(["NAME", "LATEST", "FRAMEWORK", "TASK", "SIZE", "LICENSE", "METRIC", "DESCRIPTION"],
                    rows, width))
    uncached = sorted(name for name, err in errors.items() if isinstance(err, OfflineError))
    if uncached:
        print(f"dchub: offline, no cached details for {', '.join(uncached)}; run `dchub ls` once while online",
              file=sys.stderr)
    for name, err in sorted(errors.items()):
        if not isinstance(err, OfflineError):
            print(f"dchub: warning: {name}: {err}".replace("\n", "\n  "), file=sys.stderr)


def _hub_row(name: str, latest: str, manifest: Manifest | None) -> tuple[str, ...]:
    if manifest is None:
        return (name, latest, "-", "-", "-", "-", "-", "-")
    card = manifest.card
    return (name, latest, manifest.framework, _card_text(card.get("task")), human_size(manifest.size),
            _card_text(card.get("license")), _card_text(card.get("headline_metric")),
            _card_text(card.get("description") or card.get("title")))


def _card_text(value: object) -> str:
    """A card value as one short line (``-`` when missing)."""
    if value is None or value == "" or value == []:
        return "-"
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return " ".join(text.split())


def _ls_plain(mirror: Mirror, width: int) -> int:
    """The models of a plain-layout folder (class and framework from each ``params.json``); 0 when missing."""
    root = mirror.path
    if root is None or not root.is_dir():
        print(f"dchub: warning: {mirror.root}: no such folder", file=sys.stderr)
        return 0
    rows = [_plain_row(root / name) for name in plain_names(mirror)]
    print(f"{mirror.root} (plain folder, {len(rows)} models)")
    print(fit_table(["NAME", "FRAMEWORK", "SIZE", "CLASS"], rows, width))
    return 1


def _plain_row(folder: Path) -> tuple[str, ...]:
    size = human_size(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()))
    try:
        info = read_params(folder)
    except DchubError as err:
        print(f"dchub: warning: {err}".replace("\n", "\n  "), file=sys.stderr)
        return (folder.name, "-", size, "-")
    return (folder.name, info.framework or "-", size, info.class_name or "-")


def run_info(args: argparse.Namespace) -> int:
    cache, mirrors = Cache(), hub_mirrors()
    offline = constants.offline()
    name, version = parse_spec(args.spec)
    index = load_index(cache, mirrors, refresh=args.refresh, offline=offline)
    version, ref = find_model(index, name, version)
    manifest = load_model_manifest(cache, mirrors, name, version, ref, offline=offline)
    entry = index.models[name]
    print(f"{name}@{version}  ({manifest.class_name}, {manifest.framework}, {human_size(manifest.size)})")
    for key, value in sorted(manifest.card.items()):
        print(f"  {key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    versions = sorted(entry.versions, key=hubfiles.version_key)
    print("versions: " + ", ".join(v + (" (latest)" if v == entry.latest else "") for v in versions))
    rows = [(f.path, human_size(f.size), f"{len(f.parts)} parts" if f.parts else "", f.sha256[:16])
            for f in manifest.files]
    print(table(["FILE", "SIZE", "STORED", "SHA256"], rows))
    cached = cache.snapshot_manifest(name, version) == ref.sha256
    print(f"cached: {cache.snapshot(name, version) if cached else 'no'}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    resolved = resolve_pretrained(args.spec, refresh=args.refresh, verify=args.verify, progress=not args.quiet)
    print(resolved.path)
    return 0


def run_path(args: argparse.Namespace) -> int:
    print(resolve_pretrained(args.spec, offline=True if args.offline else None).path)
    return 0
