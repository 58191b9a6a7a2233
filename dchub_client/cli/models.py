"""``dchub ls``, ``dchub info``, ``dchub pull``, ``dchub path``."""
from __future__ import annotations

import argparse

from .. import constants, hubformat
from ..cache import Cache
from ..hub import find_model, load_index, load_manifest
from ..resolve import parse_spec, resolve_pretrained
from ._common import hub_mirrors, human_size, table


def register(sub: argparse._SubParsersAction) -> None:
    """Add the model commands to the ``dchub`` parser."""
    p = sub.add_parser("ls", help="list the models of the hub")
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
    index = load_index(Cache(), hub_mirrors(), refresh=args.refresh, offline=constants.offline())
    rows = [(name, m.latest, len(m.versions), human_size(m.versions[m.latest].size))
            for name, m in sorted(index.models.items())]
    print(f"{index.title or index.name} ({len(rows)} models)")
    print(table(["NAME", "LATEST", "VERSIONS", "MANIFEST"], rows))
    return 0


def run_info(args: argparse.Namespace) -> int:
    cache, mirrors = Cache(), hub_mirrors()
    offline = constants.offline()
    name, version = parse_spec(args.spec)
    index = load_index(cache, mirrors, refresh=args.refresh, offline=offline)
    version, ref = find_model(index, name, version)
    manifest = load_manifest(cache, mirrors, name, version, ref, offline=offline)
    entry = index.models[name]
    print(f"{name}@{version}  ({manifest.class_name}, {manifest.framework}, {human_size(manifest.size)})")
    for key, value in sorted(manifest.card.items()):
        print(f"  {key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    versions = sorted(entry.versions, key=hubformat.version_key)
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
