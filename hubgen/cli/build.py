"""``hubgen build [hub_manifest.yaml] --out DIR``."""
from __future__ import annotations

import argparse

from dchub_client.humanize import human_size
from hubgen.build import BuildSummary, build_hub
from hubgen.cli._args import days
from hubgen.cli._progress import ByteProgress
from hubgen.cli.sign import summary_line
from hubgen.signing import DEFAULT_EXPIRES_DAYS
from hubgen.workers import MIN_VERSIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``build`` command."""
    parser = subparsers.add_parser("build", help="build or update a static hub from hub_manifest.yaml",
                                   description="Build (or update in place) a static, content-addressed hub.")
    parser.add_argument("manifest", nargs="?", default="hub_manifest.yaml", help="default: %(default)s")
    parser.add_argument("--out", "-o", required=True, metavar="DIR", help="the hub folder to build or update")
    parser.add_argument("--part-size", type=_byte_count, metavar="BYTES",
                        help="store files larger than this as parts (suffixes K, M, G; default 95M)")
    parser.add_argument("--rebuild", action="store_true", help="run every model's recipe again")
    parser.add_argument("--jobs", "-j", type=_jobs, default=1, metavar="N",
                        help="run recipes in N worker processes (default: %(default)s, in this process)")
    parser.add_argument("--workers", type=_jobs, default=None, metavar="N",
                        help="publish new versions and render model pages in N processes (default: one per "
                             f"core when {MIN_VERSIONS} or more versions are new; 1: in this process)")
    parser.add_argument("--sign-key", action="append", default=[], metavar="KEY",
                        help="private key file (hubgen keygen) that signs index.json; repeat to sign with "
                             "several keys (k of n; `hubgen rotate` changes keys)")
    parser.add_argument("--expires-days", type=days, default=DEFAULT_EXPIRES_DAYS, metavar="DAYS",
                        help="lifetime of a signed index (default: %(default)s)")
    parser.add_argument("--new-signer", action="store_true",
                        help="sign with --sign-key even though other keys signed the previous index and no key "
                             "rotation hands over to it: a fresh start, clients trusting the old keys will refuse "
                             "the hub (`hubgen rotate` hands over instead)")
    parser.set_defaults(func=run)


def _byte_count(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    try:
        value = int(text[:-1]) * units[text[-1]] if text and text[-1] in units else int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number of processes: {text!r}") from err
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError("must be between 1 and 64")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``hubgen build``; print the summary to stdout."""
    progress = ByteProgress("hashing")
    try:
        summary = build_hub(args.manifest, args.out, part_size=args.part_size, rebuild=args.rebuild,
                            progress=progress, sign_keys=args.sign_key, expires_days=args.expires_days,
                            jobs=args.jobs, workers=args.workers, new_signer=args.new_signer)
    finally:
        progress.close()
    print("\n".join(summary_lines(summary)))
    return 0


def summary_lines(summary: BuildSummary) -> list[str]:
    """Human-readable summary of a build (for the CLI); a signed build ends with the line `hubgen sign` prints."""
    signed = [summary_line(summary.signed)] if summary.signed is not None else []
    return [
        f"hub: {summary.out_dir}",
        f"models: {summary.models}, versions: {summary.versions} ({summary.versions_new} new), "
        f"files: {summary.files}",
        f"bytes: {human_size(summary.bytes_total)} in the manifest's folders, {human_size(summary.bytes_new)} new, "
        f"{human_size(summary.bytes_reused)} reused, {human_size(summary.bytes_hashed)} hashed",
        *signed,
    ]
