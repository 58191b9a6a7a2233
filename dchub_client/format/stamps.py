"""Weight files verified before, so that a folder loaded again is not hashed again.

The hub cache trusts its blobs because they were hashed as they entered it. A folder given by path has
no such gate, so its first load hashes every weight. When a file's bytes match the sha256 its
``params.json`` records, the file's identity is noted with that sha256: its device, inode, size, and
the nanosecond times of its last change of content (mtime) and of its inode (ctime). A later load
hashes only a file whose identity or expected sha256 differs from the note; ``verify=True`` hashes
every byte regardless.

Why this is sound, as git's index is:

* any write to a file, or a file renamed or linked over it, changes its ctime or its inode, and no
  unprivileged process can set a ctime (``os.utime`` sets mtime and atime, and moves the ctime to now);
* the notes live in the user's own cache (``<cache>/verified/``, ``0600``), never in the folder, so the
  folder's author cannot write them;
* a file changed within :data:`RACY_SECONDS` of being checked is not noted (file systems stamp times
  with a coarse clock, so an edit made just after the check could carry the same times; git calls
  these entries "racily clean").

What it does not see, nor does git: bytes that change on the disk itself, below the file system
(``verify=True``, or ``dchub cache verify`` for the hub cache, re-hashes them).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path

from dchub_client import constants
from dchub_client.format.atomic import atomic_write_bytes
from dchub_client.format.hashing import sha256_bytes

log = logging.getLogger(__name__)

#: The folder of the cache that holds the notes: one small JSON file per folder ever verified.
FOLDER = "verified"
#: Files whose mtime or ctime is this close to the check are not noted ("racily clean").
RACY_SECONDS = 2.0
_VERSION = 1

#: ``(device, inode, size, mtime_ns, ctime_ns)``: what must be unchanged for a note to hold.
Identity = tuple[int, int, int, int, int]


def _identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Stamps:
    """The notes of one folder: which of its files were verified, as they were then.

    Files are named as ``params.json`` names them (``weights/w.npy``) and described by an
    ``os.stat_result``: the caller's ``os.fstat`` of the descriptor it reads, so that what was checked
    is what is read.

    Example:
        >>> stamps = Stamps.of(folder)                            # doctest: +SKIP
        >>> stamps.known("w.npy", os.fstat(fd), sha256)             # doctest: +SKIP
        False
        >>> stamps.add("w.npy", st, sha256); stamps.save()          # after hashing it  # doctest: +SKIP
    """

    def __init__(self, folder: Path, record: Path, notes: dict[str, list]) -> None:
        self.folder = folder
        self.record = record
        self._notes = notes
        self._added: dict[str, list] = {}

    @classmethod
    def of(cls, folder: str | os.PathLike[str], *, cache: Path | None = None) -> Stamps:
        """The notes of *folder* (none when it was never verified, or its record is unreadable)."""
        real = Path(os.path.realpath(folder))
        key = sha256_bytes(os.fsencode(real))[:32]
        record = (cache if cache is not None else constants.cache_dir()) / FOLDER / f"{key}.json"
        return cls(real, record, _read(record, real))

    def known(self, name: str, st: os.stat_result, sha256: str) -> bool:
        """Whether file *name*, now as *st* says, was verified to hold *sha256* and has not changed since."""
        note = self._notes.get(name)
        return note is not None and note[-1] == sha256 and list(_identity(st)) == note[:-1]

    def add(self, name: str, st: os.stat_result, sha256: str) -> None:
        """Note that file *name*, as *st* (taken before it was read) says, hashed to *sha256*; unless it
        changed too recently to tell a later edit apart."""
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) >= RACY_SECONDS * 1e9:
            self._added[name] = [*_identity(st), sha256]

    def save(self) -> None:
        """Write the notes added (atomically; a cache that cannot be written only costs a hash next time)."""
        if not self._added:
            return
        notes = {**self._notes, **self._added}
        data = json.dumps({"version": _VERSION, "folder": os.fsdecode(self.folder), "files": notes},
                          separators=(",", ":"), sort_keys=True).encode()
        try:
            atomic_write_bytes(self.record, data, private=True)
        except OSError as err:
            log.debug("could not note verified files of %s in %s: %s", self.folder, self.record, err)
            return
        self._notes, self._added = notes, {}


def _read(record: Path, folder: Path) -> dict[str, list]:
    """The notes in *record* if it is one of *folder*'s, well formed; else none (nothing is trusted)."""
    with contextlib.suppress(FileNotFoundError):
        try:
            data = json.loads(record.read_bytes())
            if data["version"] == _VERSION and data["folder"] == os.fsdecode(folder):
                notes = data["files"]
                if all(isinstance(k, str) and _well_formed(v) for k, v in notes.items()):
                    return notes
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.debug("ignoring %s: %s", record, err)
        log.debug("ignoring %s: not a record of %s", record, folder)
    return {}


def _well_formed(note: object) -> bool:
    return (isinstance(note, list) and len(note) == 6 and all(type(v) is int for v in note[:5])
            and isinstance(note[5], str))


def forget_missing(cache: Path | None = None) -> int:
    """Remove the notes of folders that no longer exist (``dchub cache prune``); how many were removed."""
    base = (cache if cache is not None else constants.cache_dir()) / FOLDER
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for record in base.glob("*.json"):
            try:
                folder = json.loads(record.read_bytes()).get("folder")
            except (OSError, ValueError, AttributeError):
                folder = None
            if not isinstance(folder, str) or not os.path.isdir(folder):
                with contextlib.suppress(FileNotFoundError):
                    record.unlink()
                    removed += 1
    return removed


__all__ = ["FOLDER", "RACY_SECONDS", "Stamps", "forget_missing"]
