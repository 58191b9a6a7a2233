"""``hubgen verify DIR_OR_URL``."""
from __future__ import annotations

import argparse

from ..verify import verify_hub
from ._progress import ByteProgress


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``verify`` command."""
    parser = subparsers.add_parser("verify", help="check that every file of a hub exists and matches its hash",
                                   description="Check a hub folder or URL; exit 0 only if it is whole.")
    parser.add_argument("location", metavar="DIR_OR_URL")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``hubgen verify``; print the report to stdout; 0 iff the hub is whole."""
    progress = ByteProgress("verifying")
    try:
        report = verify_hub(args.location, progress=progress.add)
    finally:
        progress.close()
    for path in report.missing:
        print(f"MISSING  {path}")
    for path, reason in report.corrupt:
        print(f"CORRUPT  {path}: {reason}")
    state = "OK" if report.ok else f"DAMAGED: {len(report.missing)} missing, {len(report.corrupt)} corrupt"
    print(f"{report.location}: {state} ({report.checked} files, {report.bytes_checked} blob bytes checked)")
    return 0 if report.ok else 1
