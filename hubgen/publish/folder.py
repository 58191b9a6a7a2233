"""``dir:PATH``: publish a hub into any folder a static file server serves (or a mounted share).

Only files the folder lacks (blobs: by path and size; other files: by sha256) are copied. Each copy
is written to ``PATH/.hubgen-tmp/``, checked against its sha256, then moved into place with
``os.replace``, so a reader never sees a partial file; ``index.json`` is replaced last. Files
already in the folder are never deleted.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dchub_client.format import layout
from dchub_client.format.atomic import shared_file_mode
from dchub_client.format.hashing import CHUNK_SIZE, sha256_file
from hubgen.errors import PublishError, TargetError
from hubgen.publish.plan import BLOB, HubFile, LocalHub, PublishPlan

logger = logging.getLogger(__name__)


class FolderTarget:
    """Publishes to a local folder; see the module docstring."""

    def __init__(self, spec: str, *, hub_dir: Path | None = None, workers: int = 8) -> None:
        text = spec.removeprefix("dir:")
        if not text:
            raise PublishError(f"{spec!r}: no folder; use dir:PATH")
        self.root = Path(text).expanduser()
        self.description = spec
        self.workers = max(1, workers)
        if hub_dir is not None and _same_or_inside(self.root, hub_dir):
            raise PublishError(f"{spec}: the target is the hub folder {hub_dir} itself (or inside it); "
                               "publish to another folder")
        if self.root.exists() and not self.root.is_dir():
            raise PublishError(f"{spec}: {self.root} exists and is not a folder")

    def read_index(self) -> bytes | None:
        """The folder's ``index.json``, or None."""
        try:
            return (self.root / layout.INDEX_FILE).read_bytes()
        except FileNotFoundError:
            return None

    def plan(self, hub: LocalHub) -> PublishPlan:
        """Files the folder lacks or holds with other bytes."""
        return PublishPlan.of(hub.files, self._needs)

    def send(self, kind: str, files: list[HubFile]) -> None:
        """Copy *files* into place (blobs in parallel); return when all are there."""
        tmp = self.root / layout.BUILD_TMP_DIR
        tmp.mkdir(parents=True, exist_ok=True)
        if kind != BLOB:
            for item in files:
                self._copy(item, tmp)
            return
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="hubgen-dir") as pool:
            for future in [pool.submit(self._copy, item, tmp) for item in files]:
                future.result()

    def finish(self, hub: LocalHub, plan: PublishPlan) -> list[str]:
        """Remove the temp folder; say where the hub is."""
        shutil.rmtree(self.root / layout.BUILD_TMP_DIR, ignore_errors=True)
        return [f"the hub is in {self.root}; serve that folder over HTTP(S) (or list it as a local mirror)"]

    def _needs(self, item: HubFile) -> bool:
        dest = self.root / item.rel
        try:
            if dest.stat().st_size != item.size:
                return True
        except (FileNotFoundError, NotADirectoryError):
            return True
        return item.kind != BLOB and sha256_file(dest) != item.sha256

    def _copy(self, item: HubFile, tmp: Path) -> None:
        dest = self.root / item.rel
        fd, name = tempfile.mkstemp(prefix=dest.name[:40] + ".", suffix=".tmp", dir=tmp)
        try:
            os.fchmod(fd, shared_file_mode())  # served by another user's web server: readable like cp's output
            with os.fdopen(fd, "wb") as out, open(item.path, "rb") as src:
                digest = _copy_hashing(src, out)
            if digest != item.sha256:
                raise TargetError(f"{item.path}: changed while it was published (sha256 {digest}, expected "
                                  f"{item.sha256}); run hubgen verify on the hub folder")
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(name, dest)
        except OSError as err:
            if isinstance(err, TargetError):
                raise
            raise TargetError(f"{dest}: cannot write ({err})") from err
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
        logger.debug("copied %s (%d bytes)", dest, item.size)


def _copy_hashing(src, out) -> str:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256()
    while chunk := src.read(CHUNK_SIZE):
        digest.update(chunk)
        out.write(chunk)
    out.flush()
    os.fsync(out.fileno())
    return digest.hexdigest()


def _same_or_inside(path: Path, hub_dir: Path) -> bool:
    target, hub = path.resolve(), hub_dir.resolve()
    return target == hub or hub in target.parents


__all__ = ["FolderTarget"]
