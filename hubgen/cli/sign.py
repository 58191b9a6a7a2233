"""``hubgen sign DIR --sign-key KEY...``: sign (or add a signature to) an existing hub folder's index."""
from __future__ import annotations

import argparse

from dchub_client.hub import trust
from dchub_client.humanize import counted
from hubgen.cli._args import days
from hubgen.cli._progress import ByteProgress
from hubgen.signing import DEFAULT_EXPIRES_DAYS, SignSummary, sign_hub


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sign`` command."""
    parser = subparsers.add_parser(
        "sign", help="sign the index.json of an existing hub folder (e.g. a `dchub mirror` copy)",
        description="Check the hub folder is whole, then sign its index.json: version + 1, a new expiry, the "
                    "given keys' signatures (they replace any others). With --add, add the given keys' "
                    "signatures to the index as it is (k-of-n keys held by different people sign in turn). "
                    "When none of the given keys signed the index or is handed over to by a key rotation, "
                    "signing is refused (clients trusting the old keys would refuse the hub): hand over with "
                    "`hubgen rotate`, or pass --new-signer for a fresh start. "
                    "SHA256SUMS and registry.txt are rewritten; publish the folder again afterwards.")
    parser.add_argument("folder", metavar="DIR", help="the hub folder")
    parser.add_argument("--sign-key", action="append", required=True, metavar="KEY",
                        help="private key file (hubgen keygen); repeat for several keys")
    parser.add_argument("--expires-days", type=days, default=DEFAULT_EXPIRES_DAYS, metavar="DAYS",
                        help="lifetime of the signed index (default: %(default)s; ignored with --add)")
    parser.add_argument("--add", action="store_true",
                        help="keep the index, its version, expiry and signatures; add these keys' signatures")
    parser.add_argument("--no-verify", dest="check", action="store_false",
                        help="do not hash every file first (only for a folder you built yourself)")
    parser.add_argument("--new-signer", action="store_true",
                        help="replace the signatures even though other keys signed the index and no key rotation "
                             "hands over to these: a fresh start, clients trusting the old keys will refuse the "
                             "hub (`hubgen rotate` hands over instead)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``hubgen sign``; print what was signed."""
    progress = ByteProgress("verifying")
    try:
        summary = sign_hub(args.folder, args.sign_key, expires_days=args.expires_days, add=args.add, check=args.check,
                           new_signer=args.new_signer, progress=progress.add)
    finally:
        progress.close()
    print(summary_line(summary))
    return 0


def summary_line(summary: SignSummary) -> str:
    """One line: which index, version, expiry, the signing keys (and the key rotation it ends on)."""
    checked = f"{counted(summary.checked, 'file')} checked, " if summary.checked else ""
    rotation = f", key rotation {summary.rotation}" if summary.rotation else ""
    return (f"signed {summary.path}: {checked}version {summary.version}, expires {summary.expires}, "
            f"signatures by {', '.join(trust.short_keyid(k) for k in summary.keyids)}{rotation}")
