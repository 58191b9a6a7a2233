"""``hubgen verify DIR_OR_URL [--trusted-key KEY]...``."""
from __future__ import annotations

import argparse
from collections.abc import Sequence

from dchub_client.hub import trust
from dchub_client.humanize import counted
from hubgen.cli._args import positive_int
from hubgen.cli._progress import ByteProgress
from hubgen.verify import SignatureStatus, VerifyReport, parse_trusted_keys, verify_hub


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``verify`` command."""
    parser = subparsers.add_parser(
        "verify", help="check that every file of a hub exists and matches its hash, and the index signature",
        description="Check a hub folder or URL; exit 0 only if it is whole and, when trusted keys are given "
                    "(or configured for the client), its index is validly signed by one of them and not expired.")
    parser.add_argument("location", metavar="DIR_OR_URL")
    parser.add_argument("--trusted-key", metavar="KEY", action="append", default=[],
                        help="a trusted public key: base64 or the path of a .pub/PEM file (repeatable); "
                             "default: DEEPCHEM_HUB_TRUSTED_KEYS, else the client's trusted_keys file")
    parser.add_argument("--threshold", type=positive_int, metavar="K",
                        help="how many of the trusted keys must have signed (default: DEEPCHEM_HUB_KEY_THRESHOLD "
                             "with the client's keys, else 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``hubgen verify``; print the report to stdout; 0 iff the hub is whole (and trusted, with keys)."""
    keys = parse_trusted_keys(args.trusted_key) if args.trusted_key else trust.trusted_keys()
    if args.threshold:
        threshold = trust.checked_threshold(args.threshold, keys, f"--threshold {args.threshold}")
    elif args.trusted_key:
        threshold = 1
    else:
        threshold = trust.checked_threshold(trust.key_threshold(), keys, trust.key_threshold_named())
    progress = ByteProgress("verifying")
    try:
        report = verify_hub(args.location, progress=progress.add, keys=keys, threshold=threshold)
    finally:
        progress.close()
    for path in report.missing:
        print(f"MISSING  {path}")
    for path, reason in report.corrupt:
        print(f"CORRUPT  {path}: {reason}")
    if report.signature is not None:
        print(_signature_line(report.signature))
    checked = f"{counted(report.checked, 'file')}, {counted(report.bytes_checked, 'blob byte')} checked"
    print(f"{report.location}: {_state(report)} ({checked})")
    return 0 if report.ok else 1


def _state(report: VerifyReport) -> str:
    if report.ok:
        return "OK"
    problems = []
    if report.missing or report.corrupt:
        problems.append(f"DAMAGED: {len(report.missing)} missing, {len(report.corrupt)} corrupt")
    if not report.trusted:
        problems.append("UNTRUSTED index")
    return "; ".join(problems)


def _signature_line(status: SignatureStatus) -> str:
    expires = f"expires {status.expires or 'never'}{' (EXPIRED)' if status.expired else ''}"
    fields = f"version {status.version if status.version is not None else 'none'}, {expires}"
    if status.checked and status.error:
        return f"UNTRUSTED {status.error}"  # the message names the index
    if status.checked:
        rotation = f" (keys followed to rotation {status.rotation})" if status.rotation else ""
        signed_by = _short(status.signed_by.split(", ") if status.signed_by else ())
        if status.threshold == 1:
            return f"SIGNED   index.json: signature verified with trusted key {signed_by}{rotation}; {fields}"
        return (f"SIGNED   index.json: signatures verified with trusted keys {signed_by} ({status.threshold} "
                f"required){rotation}; {fields}")
    unchecked = "signatures NOT checked (no trusted keys: pass --trusted-key or set DEEPCHEM_HUB_TRUSTED_KEYS)"
    if status.error:
        return f"UNCHECKED index.json: malformed signatures ({status.error}); {fields}; {unchecked}"
    if status.keyids:
        return f"UNCHECKED index.json: signed by key {_short(status.keyids)}; {fields}; {unchecked}"
    return f"UNSIGNED index.json: carries no signatures; {fields}; {unchecked}"


def _short(keyids: Sequence[str]) -> str:
    """Key ids in the short form every message uses (``hubgen keygen`` prints it beside the key files)."""
    return ", ".join(trust.short_keyid(k) for k in keyids)
