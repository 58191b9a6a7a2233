"""``dchub mirror NAME... --to DIR``: copy models into a folder that is itself a hub."""
from __future__ import annotations

import argparse

from dchub_client.cli._common import hub_mirrors
from dchub_client.hub.export import export_models
from dchub_client.humanize import human_size


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dchub mirror`` to the parser."""
    p = sub.add_parser("mirror", help="copy models into a folder that is a valid hub (for offline machines)")
    p.add_argument("specs", nargs="+", metavar="NAME[@VERSION]")
    p.add_argument("--to", required=True, metavar="DIR", help="the hub folder to create or extend")
    p.add_argument("--all-versions", action="store_true", help="every version of NAME, not only the latest")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    summary = export_models(args.specs, args.to, hub_mirrors(), all_versions=args.all_versions,
                            progress=not args.quiet)
    print(f"{summary.dest}: {', '.join(summary.versions)} ({summary.blobs_written} blobs, "
          f"{human_size(summary.bytes_written)} written)")
    print(f"use it with DEEPCHEM_MODEL_HUB={summary.dest.resolve()}")
    return 0
