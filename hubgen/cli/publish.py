"""``hubgen publish DIR --to s3://bucket/prefix | git:PATH[#branch] | dir:PATH``."""
from __future__ import annotations

import argparse

from hubgen.publish import DEFAULT_WORKERS, PublishSummary, plan_lines, publish


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``publish`` command."""
    parser = subparsers.add_parser(
        "publish", help="upload a built hub to S3, a git branch (GitHub Pages) or a folder",
        description="Publish a built hub incrementally; index.json goes last, so readers never see a half-published "
                    "hub. Targets: s3://bucket/prefix, git:PATH[#branch] (default branch gh-pages), dir:PATH.")
    parser.add_argument("hub_dir", metavar="DIR", help="the folder hubgen build wrote")
    parser.add_argument("--to", required=True, metavar="TARGET", dest="target",
                        help="s3://bucket/prefix, git:PATH[#branch] or dir:PATH")
    parser.add_argument("--dry-run", action="store_true", help="print what would be sent; change nothing")
    parser.add_argument("--force", action="store_true",
                        help="publish even if the target's index names another hub or versions this hub lacks")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help="parallel blob uploads (default %(default)s)")
    s3 = parser.add_argument_group("S3 targets")
    s3.add_argument("--endpoint-url", metavar="URL", help="an S3-compatible endpoint (MinIO, R2, moto, ...)")
    s3.add_argument("--public-read", action="store_true",
                    help="set a bucket policy granting anonymous s3:GetObject on the prefix")
    s3.add_argument("--public-url", metavar="URL", help="where readers fetch the hub (e.g. a CDN), for the check")
    s3.add_argument("--no-public-check", dest="check_public", action="store_false",
                    help="skip the anonymous GET of index.json after publishing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``hubgen publish``; print the plan and notes; 1 if readers cannot fetch the published hub."""
    summary = publish(args.hub_dir, args.target, dry_run=args.dry_run, force=args.force, workers=args.workers,
                      endpoint_url=args.endpoint_url, public_read=args.public_read, public_url=args.public_url,
                      check_public=args.check_public)
    _print(summary)
    return 1 if summary.public_ok is False else 0


def _print(summary: PublishSummary) -> None:
    verb = "would publish" if summary.dry_run else "published"
    print(f"{verb} {summary.target}" + (" (dry run: nothing changed)" if summary.dry_run else ""))
    print("\n".join(plan_lines(summary.plan)))
    for note in summary.notes:
        print(note)
