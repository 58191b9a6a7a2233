"""``hubgen rotate DIR --sign-key OLD... --new-key NEW... [--threshold K]``: move a hub to new signing keys."""
from __future__ import annotations

import argparse

from hubgen.cli._args import days, positive_int
from hubgen.cli._progress import ByteProgress
from hubgen.cli.sign import summary_line
from hubgen.signing import DEFAULT_EXPIRES_DAYS, rotate_hub


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``rotate`` command."""
    parser = subparsers.add_parser(
        "rotate", help="move a hub to new signing keys that clients follow without a configuration change",
        description="Append a key-rotation record to index.json (the new public keys and threshold, signed by the "
                    "hub's current keys and by the new keys), then re-sign the index with the new keys. Clients "
                    "that trust the current keys follow it; later builds sign with --sign-key NEW.")
    parser.add_argument("folder", metavar="DIR", help="the hub folder")
    parser.add_argument("--sign-key", action="append", required=True, metavar="OLD",
                        help="a current private key (at least the current threshold of them); repeatable")
    parser.add_argument("--new-key", action="append", required=True, metavar="NEW",
                        help="a new private key (hubgen keygen); repeatable")
    parser.add_argument("--threshold", type=positive_int, default=1, metavar="K",
                        help="how many of the new keys must sign from now on (default: %(default)s)")
    parser.add_argument("--expires-days", type=days, default=DEFAULT_EXPIRES_DAYS, metavar="DAYS",
                        help="lifetime of the re-signed index (default: %(default)s)")
    parser.add_argument("--no-verify", dest="check", action="store_false",
                        help="do not hash every file first (only for a folder you built yourself)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``hubgen rotate``; print what was signed."""
    progress = ByteProgress("verifying")
    try:
        summary = rotate_hub(args.folder, args.sign_key, args.new_key, threshold=args.threshold,
                             expires_days=args.expires_days, check=args.check, progress=progress.add)
    finally:
        progress.close()
    print(summary_line(summary))
    return 0
