"""``dchub cache ls|verify|prune|rm``."""
from __future__ import annotations

import argparse

from dchub_client.cli._common import table
from dchub_client.errors import AmbiguousModelError
from dchub_client.hub import catalog, plain
from dchub_client.hub.cache import Cache, SnapshotInfo
from dchub_client.hub.config import load_config
from dchub_client.hub.lookup import not_found
from dchub_client.hub.resolve import ModelRef, cached_names, parse_model_ref
from dchub_client.humanize import counted, human_size


def _folder_size(info: SnapshotInfo) -> int:
    return sum(p.stat().st_size for p in info.path.rglob("*") if p.is_file())


def _hub_column(info: SnapshotInfo) -> str:
    return "(plain layout)" if plain.is_plain_namespace(info.hub) else info.hub


def run_ls(args: argparse.Namespace) -> int:
    cache = Cache()
    snaps = cache.snapshots()
    rows = [(_hub_column(s), s.name, "-" if s.version == plain.PLAIN_VERSION else s.version,
             human_size(_folder_size(s)), s.path) for s in snaps]
    blobs = list(cache.blobs())
    total = sum(b.stat().st_size for b in blobs)
    print(f"cache: {cache.root} ({len(blobs)} blobs, {human_size(total)})")
    print(table(["HUB", "NAME", "VERSION", "SIZE", "PATH"], rows))
    indexes = catalog.cached_hub_names(cache)
    if indexes:
        print(f"cached hub indexes: {', '.join(indexes)}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    report = Cache().verify()
    for sha in report.bad_blobs:
        print(f"corrupt blob removed: {sha}")
    for spec in report.bad_snapshots:
        print(f"snapshot removed: {spec} (`dchub pull {spec}` fetches it again)")
    print(f"{report.checked - len(report.bad_blobs)} of {report.checked} blobs ok")
    return 1 if report.bad_blobs or report.bad_snapshots else 0


def _prune(cache: Cache) -> tuple[int, int]:
    """Prune, keeping the manifests the cached indexes point at (an offline `dchub ls` shows them)."""
    return cache.prune(keep=catalog.referenced_manifests(cache))


def run_prune(args: argparse.Namespace) -> int:
    removed, freed = _prune(Cache())
    print(f"removed {counted(removed, 'file')}, freed {human_size(freed)}")
    return 0


def run_rm(args: argparse.Namespace) -> int:
    cache = Cache()
    snaps = cache.snapshots()
    for spec in args.specs:
        ref = parse_model_ref(spec)
        names = None if ref.hub is None else cached_names(ref.hub, cache, load_config())
        hits = [s for s in snaps if s.name == ref.name and ref.version in (None, s.version)
                and (names is None or s.hub in names)]
        if not hits:
            raise not_found(spec, _cached_specs(snaps, ref, names or set()), "the cache")
        if ref.hub is None and len(hubs := sorted({s.hub for s in hits})) > 1:
            choices = "\n".join(f"  - {hub}:{spec}" for hub in hubs)
            raise AmbiguousModelError(f"{spec!r} is cached from more than one hub; name the hub (or several):\n"
                                      f"{choices}", hubs=hubs)
        for s in hits:
            cache.remove_snapshot(s.name, s.version, hub=s.hub)
            print(f"removed {_hub_column(s)}:{s.name}@{s.version}")
    removed, freed = _prune(cache)
    print(f"freed {human_size(freed)}")
    return 0


def _cached_specs(snaps: list[SnapshotInfo], ref: ModelRef, names: set[str]) -> list[str]:
    """What ``dchub cache rm`` removes one hub's copies with, for the spec *ref* that matched nothing:
    ``HUB:NAME[@VERSION]`` (HUB spelled as typed when it is the hub named), and the bare forms of names
    cached from one hub only; only those of the name *ref* names, when it is cached from another hub."""
    hubs_of: dict[str, set[str]] = {}
    for s in snaps:
        hubs_of.setdefault(s.name, set()).add(s.hub)
    same = [s for s in snaps if s.name == ref.name]
    specs = []
    for s in same or snaps:
        tail = [s.name] if s.version == plain.PLAIN_VERSION else [s.name, f"{s.name}@{s.version}"]
        hub = ref.hub if s.hub in names else None if plain.is_plain_namespace(s.hub) else s.hub
        specs += [f"{hub}:{t}" for t in tail] if hub else []
        specs += tail if len(hubs_of[s.name]) == 1 else []
    return sorted(set(specs))
