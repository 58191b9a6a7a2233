"""The local cache: verified blobs by hash, snapshot folders, cached hub indexes.

Layout under ``constants.cache_dir()``::

    blobs/sha256/abcdef…             verified bytes, read-only, written once (an unnamed file, linked
                                     into place once complete); one flat folder: a cold pull of many
                                     small files creates no shard folders
    snapshots/<hub>/<name>/<version>/  a plain pretrained folder of hard links to blobs
                                     (symlinks, then copies, where links are not possible),
                                     with a ``.dchub-manifest`` marker holding the manifest sha256;
                                     one namespace per hub (the name its index declares)
    hubs/<hub>/                      the hub's last verified index and its lookup file
                                     (:mod:`dchub_client.hub.catalog`)
    locks/blobs.lock                 advisory per-blob locks (avoid duplicate downloads only): a byte
                                     range per blob on Linux; elsewhere ``locks/ab/abcdef….lock`` files

A blob is only ever published after its bytes were hashed, so a present blob is trusted without
re-hashing; a killed download leaves at most a ``.*.tmp`` file that nothing trusts (``prune`` removes
it). Caches written before the flat store kept blobs in ``blobs/sha256/ab/`` shard folders: their
snapshots still load (hard links), a pull fetches a blob again where it needs one, and ``prune``
moves the old blobs into the flat store. Snapshots are built in a temp folder and renamed in; a
concurrent builder that loses the race discards its folder and uses the winner's.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import struct
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from dchub_client import constants
from dchub_client.errors import CacheError, DchubError, HubFormatError
from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.atomic import make_temp_dir, make_temp_file, publish_unnamed, remove_tree
from dchub_client.format.hashing import is_sha256, sha256_file

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MARKER = layout.SNAPSHOT_MARKER
#: Temp files and folders older than this are removed by :meth:`Cache.prune`.
STALE_TEMP_SECONDS = 6 * 3600
#: A blob's temp file that no process holds (its download was killed) is removed by :meth:`Cache.prune` once
#: unchanged this long (the delay only covers the instant between its creation and its writer locking it).
ABANDONED_TEMP_SECONDS = 60
#: The temp files of :meth:`Cache.blob_writer`, held by their writer (:func:`_hold`).
_HELD_TEMPS = "blobs/sha256/.*.tmp"
#: What the file system answers when this user may not write somewhere (permissions, a read-only mount).
_WRITE_REFUSED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
#: ``F_OFD_SETLKW`` where its ``struct flock`` layout is known (64-bit Linux), else None.
_OFD_LOCK = getattr(fcntl, "F_OFD_SETLKW", None) if sys.platform == "linux" and sys.maxsize > 2**32 else None


class SnapshotInfo(NamedTuple):
    """One snapshot folder of the cache: model *name* at *version*, from *hub*."""

    name: str
    version: str
    path: Path
    manifest_sha256: str
    hub: str


class CacheVerifyReport(NamedTuple):
    """What :meth:`Cache.verify` found: blobs checked, corrupt blobs and snapshots removed."""

    checked: int
    bad_blobs: tuple[str, ...]
    bad_snapshots: tuple[str, ...]


class Cache:
    """The cache rooted at *root* (default ``constants.cache_dir()`` at construction time)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else constants.cache_dir()
        self._setting = "" if root is not None else " (DEEPCHEM_HUB_CACHE)" if constants.cache_setting() else \
            " (the default cache folder)"
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise CacheError(f"{self.root}: the cache{self._setting} must be a folder, and this is a file")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Writes into the cache inside: one the file system refuses (no permission, a cache of another user,
        a read-only mount) is a :class:`CacheError` naming the cache, the file and what to do, never taken
        for a mirror's failure (:func:`dchub_client.hub.mirrors.try_mirrors` lets it through)."""
        try:
            yield
        except OSError as err:
            if isinstance(err, DchubError) or err.errno not in _WRITE_REFUSED:
                raise
            where = f": {err.filename}" if err.filename else ""
            raise CacheError(f"cannot write to the cache {self.root}{self._setting}: {err.strerror}{where}"
                             f"{_owner_note(err)}; make it writable by this user, or set DEEPCHEM_HUB_CACHE "
                             "to a folder of your own") from err

    # --- blobs ----------------------------------------------------------------------------

    def blob(self, sha256: str) -> Path:
        """Where the blob with this sha256 lives (whether or not it is present)."""
        return Path(self._blob_path(sha256))

    def _blob_path(self, sha256: str) -> str:
        # plain strings: a pull of many small files asks this several times per file
        if not is_sha256(sha256):
            raise CacheError(f"not a sha256 digest: {sha256!r}")
        return os.path.join(self.root, "blobs", "sha256", sha256)

    def has_blob(self, sha256: str) -> bool:
        """True when the verified blob is present."""
        return os.path.isfile(self._blob_path(sha256))

    @contextlib.contextmanager
    def locked(self, sha256: str) -> Iterator[None]:
        """Hold an advisory inter-process lock for *sha256* (best effort: a no-op where unsupported).

        On Linux it is a byte-range lock (open file description lock) in one shared file, at an
        offset taken from the hash, so no file is created per blob; elsewhere a lock file per blob.
        """
        if not is_sha256(sha256):
            raise CacheError(f"not a sha256 digest: {sha256!r}")
        if _OFD_LOCK is not None:
            with self._range_locked(int(sha256[:15], 16)):
                yield
            return
        with _file_locked(self.root / "locks" / sha256[:2] / f"{sha256}.lock"):
            yield

    @contextlib.contextmanager
    def _range_locked(self, offset: int) -> Iterator[None]:
        path = self.root / "locks" / "blobs.lock"
        with self.writing():
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:  # closing the descriptor releases the lock, whatever happens
            fcntl.fcntl(fd, _OFD_LOCK, struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0))
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def blob_writer(self, sha256: str) -> Iterator[BinaryIO]:
        """Write a blob: yields a handle on a temp file; on a clean exit the file becomes the blob.

        The caller must have verified the bytes before leaving the block (raise to discard them).
        An existing blob is never replaced (first writer wins; content is identical by hash).
        """
        target = self._blob_path(sha256)
        folder = os.path.dirname(target)
        with self.writing():
            try:
                fd, tmp = make_temp_file(folder, prefix=f".{sha256[:16]}.")
            except FileNotFoundError:  # the first blob of the cache
                os.makedirs(folder, exist_ok=True)
                fd, tmp = make_temp_file(folder, prefix=f".{sha256[:16]}.")
        _hold(fd)
        try:
            with os.fdopen(fd, "w+b") as handle:
                yield handle
            with self.writing():
                os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                _install_blob(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def put_blob(self, sha256: str, data: bytes | memoryview) -> None:
        """Publish a small blob whose bytes the caller has verified (written once, then linked into place).

        The cheap path for small files: on Linux the bytes go to an unnamed file of the blob folder
        (``O_TMPFILE``, read-only) that is then linked to the blob's name, so a reader sees the whole
        file or none and nothing is left behind by a crash; elsewhere to a private temp name, linked
        likewise. An existing blob is never replaced.
        """
        target = self._blob_path(sha256)
        with self.writing():
            if publish_unnamed(target, data, mode=0o444) is None:  # first writer wins: same bytes by hash
                self._put_named(target, data)

    def _put_named(self, target: str, data: bytes | memoryview) -> None:
        tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)[:16]}.{os.getpid()}-"
                                                    f"{threading.get_ident()}.tmp")
        fd = _create(tmp)
        try:
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            _install_blob(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def blobs(self) -> Iterator[Path]:
        """Every published blob (and those a cache from before the flat store keeps in shard folders)."""
        base = self.root / "blobs" / "sha256"
        if base.is_dir():
            for path in sorted([*base.iterdir(), *base.glob("??/*")]):
                if is_sha256(path.name):
                    yield path

    def verify_blob(self, sha256: str) -> bool:
        """Re-hash one blob; False (and the blob removed) when its bytes are wrong."""
        path = self.blob(sha256)
        if sha256_file(path) == sha256:
            return True
        log.warning("%s: cached blob is corrupt; removing it", path)
        with self.writing():
            _unlink(path)
        return False

    # --- snapshots ------------------------------------------------------------------------

    def snapshot(self, name: str, version: str, *, hub: str) -> Path:
        """The snapshot folder of a model version of *hub* (the name the hub's index declares)."""
        return self.root / "snapshots" / hub / name / version

    def snapshot_manifest(self, name: str, version: str, *, hub: str) -> str | None:
        """The manifest sha256 a snapshot was built from, or None when there is no complete snapshot."""
        return _marker(self.snapshot(name, version, hub=hub))

    def build_snapshot(self, name: str, version: str, manifest_sha256: str,
                       files: Iterable[tuple[str, str]], *, hub: str) -> Path:
        """Make ``snapshots/<hub>/<name>/<version>`` hold *files* (``(relpath, blob sha256)``), atomically.

        Files are hard links to blobs (symlinks, then copies, where links are not possible), so
        nothing is ever written *into* a snapshot file: the marker and any copy are created as new
        files (``O_EXCL | O_NOFOLLOW``) and a name that is already taken is an error, never a write
        through a link into another model's blob.

        Raises:
            CacheError: a reserved name (the marker), or paths that cannot form one folder (a file
                that is also a folder, names differing only in case on a case-insensitive file system).
        """
        files = list(files)
        where = f"{hub}:{name}@{version} (manifest {manifest_sha256[:12]}…)"
        try:
            hubfiles.check_file_paths([relpath for relpath, _ in files], where)
        except HubFormatError as err:
            raise CacheError(f"cannot build the snapshot of {err}") from err
        target = self.snapshot(name, version, hub=hub)
        with self.writing():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = make_temp_dir(target.parent, prefix=f".{version}.")
            try:
                self._fill_snapshot(tmp, files, where)
                _write_new_file(tmp / MARKER, (manifest_sha256 + "\n").encode("ascii"))
                self._install_snapshot(tmp, target, manifest_sha256)
            finally:
                remove_tree(tmp)
        return target

    def _fill_snapshot(self, tmp: Path, files: list[tuple[str, str]], where: str) -> None:
        folders = {str(tmp)}
        for relpath, sha in files:
            dest = os.path.join(tmp, *relpath.split("/"))
            try:
                if os.path.dirname(dest) not in folders:
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    folders.add(os.path.dirname(dest))
                _link_or_copy(self._blob_path(sha), dest)
            except FileNotFoundError as err:
                raise CacheError(f"cannot build the snapshot of {where}: the blob of {relpath!r} is no longer in the "
                                 f"cache ({err.filename}: removed meanwhile, e.g. by `dchub cache prune` in another "
                                 "process); run the command again") from err
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as err:
                raise CacheError(f"cannot build the snapshot of {where}: {relpath!r} clashes with another file "
                                 "of the manifest on this file system (names that differ only in letter case on "
                                 "a case-insensitive file system?)") from err

    def _install_snapshot(self, tmp: Path, target: Path, manifest_sha256: str) -> None:
        with contextlib.suppress(OSError):
            os.rename(tmp, target)  # fails when target exists and is non-empty
            return
        if _marker(target) == manifest_sha256:
            return  # another process built the same snapshot first
        trash = make_temp_dir(target.parent, prefix=f".{target.name}.", suffix=".old")
        with contextlib.suppress(FileNotFoundError):
            os.rename(target, trash / "x")
        try:
            os.rename(tmp, target)
        except OSError:
            if _marker(target) != manifest_sha256:
                raise CacheError(f"{target}: could not install the snapshot folder") from None
        finally:
            remove_tree(trash)

    def snapshots(self, name: str | None = None) -> list[SnapshotInfo]:
        """Every complete snapshot (of model *name* only, if given), sorted by hub, name and version."""
        out = []
        base = self.root / "snapshots"
        pattern = f"*/{name}/*" if name is not None else "*/*/*"
        for folder in sorted(base.glob(pattern)) if base.is_dir() else []:
            if folder.name.startswith(".") or folder.parent.parent.name.startswith("."):
                continue
            sha = _marker(folder)
            if sha:
                out.append(SnapshotInfo(folder.parent.name, folder.name, folder, sha, folder.parent.parent.name))
        return out

    def remove_snapshot(self, name: str, version: str, *, hub: str) -> bool:
        """Delete a snapshot folder (its blobs stay until :meth:`prune`); True when one was removed."""
        folder = self.snapshot(name, version, hub=hub)
        if not folder.is_dir():
            return False
        with self.writing():
            trash = make_temp_dir(folder.parent, prefix=f".{version}.", suffix=".old")
            os.rename(folder, trash / "x")
            remove_tree(trash)
        for empty in (folder.parent, folder.parent.parent):
            with contextlib.suppress(OSError):
                empty.rmdir()
        return True

    def snapshot_files(self, info: SnapshotInfo) -> set[tuple[int, int]]:
        """``(device, inode)`` of every file of a snapshot (to tell which blobs it uses)."""
        out = set()
        for path in info.path.rglob("*"):
            with contextlib.suppress(OSError):
                st = path.stat()
                out.add((st.st_dev, st.st_ino))
        return out

    def verify(self) -> CacheVerifyReport:
        """Re-hash every blob and every snapshot file that is not a link to one.

        Corrupt blobs are removed, and so are snapshots holding corrupt bytes (a later pull
        fetches them again). Each distinct file (inode) is hashed once.
        """
        status: dict[tuple[int, int], bool] = {}
        bad_blobs = []
        blobs = list(self.blobs())
        for blob in blobs:
            st = blob.stat()
            status[(st.st_dev, st.st_ino)] = ok = sha256_file(blob) == blob.name
            if not ok:  # in the report: its caller says it (dchub cache verify, once)
                log.info("%s: cached blob is corrupt; removing it", blob)
                bad_blobs.append(blob.name)
                _unlink(blob)
        bad_snaps = [s for s in self.snapshots() if not self._snapshot_ok(s, status)]
        for info in bad_snaps:
            self.remove_snapshot(info.name, info.version, hub=info.hub)
        removed = tuple(f"{s.hub}:{s.name}@{s.version}" for s in bad_snaps)
        return CacheVerifyReport(len(blobs), tuple(bad_blobs), removed)

    def _snapshot_ok(self, info: SnapshotInfo, status: dict[tuple[int, int], bool]) -> bool:
        try:
            manifest = hubfiles.parse_manifest(jsonstrict.loads(self.blob(info.manifest_sha256).read_bytes()))
        except (FileNotFoundError, ValueError):
            return False
        for entry in manifest.files:
            path = info.path.joinpath(*entry.path.split("/"))
            try:
                st = path.stat()
            except OSError:
                return False
            key = (st.st_dev, st.st_ino)
            if key not in status:
                status[key] = sha256_file(path) == entry.sha256
            if not status[key]:
                return False
        return True

    # --- maintenance ----------------------------------------------------------------------

    def prune(self, keep: set[str] | None = None) -> tuple[int, int]:
        """Remove blobs no snapshot uses (except *keep*), temp files older than six hours or of a download
        that was killed (a blob's temp file no process holds, unchanged for a minute), and the notes of
        verified folders that are gone (:func:`dchub_client.format.stamps.forget_missing`).

        Run it while no other process is pulling into this cache: a blob fetched a moment ago
        but not yet linked into its snapshot counts as unused. Returns ``(files removed, bytes freed)``.
        """
        from dchub_client.format import stamps  # only here: a pull never needs it

        self._flatten_legacy_blobs()
        used = set().union(*(self.snapshot_files(s) for s in self.snapshots()))
        keep = set(keep or ()) | {s.manifest_sha256 for s in self.snapshots()}
        removed = freed = 0
        for blob in list(self.blobs()):
            st = blob.stat()
            if (st.st_dev, st.st_ino) not in used and blob.name not in keep:
                removed, freed = removed + 1, freed + st.st_size
                _unlink(blob)
        for path in self._stale_temps():
            removed += 1
            if path.is_dir():
                remove_tree(path)
            else:
                with contextlib.suppress(OSError):
                    freed += path.lstat().st_size
                _unlink(path)
        return removed + stamps.forget_missing(self.root), freed

    def _flatten_legacy_blobs(self) -> None:
        """Move blobs of the old ``blobs/sha256/ab/`` shard folders into the flat store (where a blob
        of that name is already, the old one goes); empty shard folders are removed."""
        base = self.root / "blobs" / "sha256"
        for shard in sorted(base.glob("??")) if base.is_dir() else []:
            if not shard.is_dir() or shard.is_symlink():
                continue
            for old in shard.iterdir():
                if is_sha256(old.name):
                    _install_blob(str(old), str(base / old.name))
                    _unlink(old)
            with contextlib.suppress(OSError):
                shard.rmdir()

    def _stale_temps(self) -> list[Path]:
        now = time.time()
        found = []
        for pattern in ("blobs/sha256/.*.tmp", "blobs/sha256/??/.*.tmp", "snapshots/*/*/.*.tmp",
                        "snapshots/*/*/.*.old", "verified/.*.tmp"):
            for path in self.root.glob(pattern):
                with contextlib.suppress(OSError):
                    age = now - path.lstat().st_mtime
                    if age > STALE_TEMP_SECONDS or (pattern == _HELD_TEMPS and age > ABANDONED_TEMP_SECONDS
                                                    and _abandoned(path)):
                        found.append(path)
        return found


def _hold(fd: int) -> None:
    """Lock a blob's new temp file for as long as its writer has it open: :meth:`Cache.prune` tells a
    download under way from the leftover of a killed one by this lock (released by the kernel at exit)."""
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _abandoned(path: Path) -> bool:
    """True when no process holds the blob temp file *path* (:func:`_hold`): its writer is gone."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


@contextlib.contextmanager
def _file_locked(path: Path) -> Iterator[None]:
    """``flock`` on a lock file of its own (where open file description locks are missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover - Windows: correctness does not depend on the lock
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _create(tmp: str) -> int:
    """Open a new read-only temp file for writing (its folder made if needed; a stale one replaced)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(3):
        try:
            return os.open(tmp, flags, 0o444)
        except FileNotFoundError:  # the first blob of the cache
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
        except FileExistsError:  # left by a killed process that had our pid and thread id
            os.unlink(tmp)
    return os.open(tmp, flags, 0o444)


def _install_blob(tmp: str, target: str) -> None:
    """Move a verified temp file to *target* without ever replacing an existing blob."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        return
    except OSError:  # no hard links here: a plain atomic rename
        os.replace(tmp, target)


def _link_or_copy(blob: str, dest: str) -> None:
    """Place *blob* at the new name *dest*: a hard link, else a symlink, else a copy into a new file.

    A *dest* that exists already is a :class:`FileExistsError` (never opened, never written); a missing
    *blob* a :class:`FileNotFoundError` (never a link to nothing).
    """
    for place in (os.link, os.symlink):
        if place is os.symlink and not os.path.isfile(blob):  # a link to nothing
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), blob)
        try:
            place(blob, dest)
            return
        except (FileExistsError, FileNotFoundError):
            raise
        except OSError:
            pass
    import shutil  # only where links fail (start-up time: see dchub_client.format.atomic)

    with open(blob, "rb") as source, _open_new(dest) as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _open_new(path: str | os.PathLike[str]) -> BinaryIO:
    """A new file at *path* open for writing; an existing file, link or symlink there is a FileExistsError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    return os.fdopen(fd, "wb")


def _write_new_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Create *path* holding *data*; never write through an existing file (a hard link to a blob)."""
    with _open_new(path) as handle:
        handle.write(data)


def _marker(folder: Path) -> str | None:
    """The manifest sha256 in a snapshot folder's marker, or None (no complete snapshot there)."""
    try:
        return (folder / MARKER).read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None


def _owner_note(err: OSError) -> str:
    """`` (F belongs to USER)`` for the nearest existing folder of a refused path when another user owns it."""
    if err.errno == errno.EROFS or not err.filename:
        return ""
    path = os.path.abspath(os.fsdecode(err.filename))
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        import pwd  # Unix only: elsewhere no note

        uid = os.stat(path).st_uid
        if uid == os.geteuid():
            return ""
        return f" ({path} belongs to {pwd.getpwuid(uid).pw_name})"
    except (ImportError, OSError, KeyError):
        return ""


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
