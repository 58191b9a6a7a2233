"""``hubgen publish``: put a built hub onto S3, a git branch (GitHub Pages) or a plain folder.

Every target is incremental (only files it does not already hold are sent) and keeps readers safe:
files go up in :data:`~hubgen.publish.plan.ORDER` and ``index.json`` last (or, for git, in one
commit), so an interrupted publish leaves the previous hub valid and readable. Nothing published is
ever deleted.

Targets: ``s3://bucket/prefix`` (:mod:`.s3`), ``git:PATH[#branch]`` (:mod:`.git`), ``dir:PATH``
(:mod:`.folder`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dchub_client.humanize import counted
from hubgen.errors import PublishError
from hubgen.publish.plan import (
    ORDER,
    HubFile,
    LocalHub,
    PublishPlan,
    check_target_index,
    plan_lines,
    scan_hub,
)

logger = logging.getLogger(__name__)

#: Parallel uploads for blobs (bounded thread pool).
DEFAULT_WORKERS = 8


class Target(Protocol):
    """What a publish target implements (see :mod:`.s3`, :mod:`.git`, :mod:`.folder`)."""

    description: str

    def read_index(self) -> bytes | None:
        """The target's current ``index.json``, or None when it holds no hub yet."""

    def plan(self, hub: LocalHub) -> PublishPlan:
        """Which files the target lacks (by path and hash); changes nothing."""

    def send(self, kind: str, files: list[HubFile]) -> None:
        """Send one kind's files; return only when all of them are in place."""

    def finish(self, hub: LocalHub, plan: PublishPlan) -> list[str]:
        """Complete the publish (e.g. commit and push); return notes for the user."""


@dataclass(frozen=True)
class PublishSummary:
    """What a publish did (or, with ``dry_run``, would do).

    Attributes:
        target: the target as given.
        plan: files sent and files kept, per kind.
        dry_run: True when nothing was changed.
        notes: messages for the user (where readers fetch the hub, warnings).
        public_url: the URL readers use, when the target knows it.
        public_ok: whether an anonymous GET of ``index.json`` there returned this hub's index
            (None when not checked).
    """

    target: str
    plan: PublishPlan
    dry_run: bool
    notes: list[str] = field(default_factory=list)
    public_url: str | None = None
    public_ok: bool | None = None


def open_target(spec: str, *, hub_dir: Path | None = None, workers: int = DEFAULT_WORKERS,
                endpoint_url: str | None = None, public_read: bool = False, public_url: str | None = None,
                check_public: bool = True) -> Target:
    """Turn ``s3://bucket/prefix``, ``git:PATH[#branch]`` or ``dir:PATH`` into a :class:`Target`.

    S3-only options (*endpoint_url*, *public_read*, *public_url*) are refused for other targets.

    Raises:
        PublishError: an unknown scheme or a misplaced option.
    """
    if spec.startswith("s3://"):
        from hubgen.publish.s3 import S3Target  # on demand: each target brings its own dependencies (boto3)

        return S3Target(spec, workers=workers, endpoint_url=endpoint_url, public_read=public_read,
                        public_url=public_url, check_public=check_public)
    if endpoint_url or public_read or public_url:
        raise PublishError(f"{spec}: --endpoint-url, --public-read and --public-url apply to s3:// targets only")
    if spec.startswith("git:"):
        from hubgen.publish.git import GitTarget  # on demand, like S3Target

        return GitTarget(spec)
    if spec.startswith("dir:"):
        from hubgen.publish.folder import FolderTarget  # on demand, like S3Target

        return FolderTarget(spec, hub_dir=hub_dir, workers=workers)
    raise PublishError(f"unknown publish target {spec!r}: use s3://bucket/prefix, git:PATH[#branch] or dir:PATH")


def publish(hub_dir: str | Path, target: str | Target, *, dry_run: bool = False, force: bool = False,
            **options: object) -> PublishSummary:
    """Publish the built hub in *hub_dir* to *target*, incrementally and in a reader-safe order.

    Args:
        hub_dir: a folder written by ``hubgen build``.
        target: ``s3://bucket/prefix``, ``git:PATH[#branch]``, ``dir:PATH`` or a :class:`Target`.
        dry_run: compute and return the plan; change nothing.
        force: overwrite a target whose index names another hub or other versions.
        **options: passed to :func:`open_target` (``workers``, ``endpoint_url``, ``public_read``,
            ``public_url``, ``check_public``).

    Returns:
        A :class:`PublishSummary`.

    Raises:
        PublishError: the hub folder is not whole, or the target would be damaged.
        TargetError: the target refused an operation.

    Example:
        >>> publish("public/", "s3://my-bucket/modelhub", public_read=True)  # doctest: +SKIP
        PublishSummary(target='s3://my-bucket/modelhub', ...)
    """
    hub = scan_hub(hub_dir)
    where = target if isinstance(target, str) else target.description
    tgt = target if not isinstance(target, str) else open_target(target, hub_dir=hub.root,
                                                                   **options)  # type: ignore[arg-type]
    notes = check_target_index(hub.index, tgt.read_index(), tgt.description, force=force)
    for note in notes:
        logger.warning("%s", note)
    plan = tgt.plan(hub)
    if dry_run:
        return PublishSummary(target=where, plan=plan, dry_run=True, notes=notes)
    for kind in ORDER:
        if plan.send[kind]:
            logger.info("%s: sending %s", tgt.description, counted(len(plan.send[kind]), f"{kind} file"))
            tgt.send(kind, plan.send[kind])
    notes += tgt.finish(hub, plan)
    return PublishSummary(target=where, plan=plan, dry_run=False, notes=notes,
                          public_url=getattr(tgt, "public_url", None), public_ok=getattr(tgt, "public_ok", None))


__all__ = ["DEFAULT_WORKERS", "PublishSummary", "Target", "open_target", "plan_lines", "publish", "scan_hub"]
