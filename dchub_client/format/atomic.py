"""Atomic writes: temp file or folder beside the target, verify, ``os.replace``.

Files and folders meant to be served or shared (hubs, mirrors, the cache, pretrained folders) end
with the modes ``cp`` would give them: ``0666``/``0777`` masked by the user's umask (``0644``/``0755``
under the usual ``022``). Temp files and folders are created ``0600``/``0700`` (as ``tempfile`` makes
them), so they get their final mode *before* they are renamed into place. Secrets are written by their
owners with ``0600``.

Temp names are made here rather than by ``tempfile``, and ``shutil`` is imported only when a tree
must be removed: the two (with ``bz2``, ``lzma`` and ``random`` behind them) are ~8 ms of every
``dchub`` command's start-up, and a pull needs neither.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

_UMASK_LOCK = threading.Lock()

#: How many random names :func:`make_temp_file` and :func:`make_temp_dir` try (``tempfile.TMP_MAX``).
_TEMP_ATTEMPTS = 10_000
#: ``tempfile.mkstemp``'s flags: a new file (never a link followed), not inherited by child processes.
_TEMP_FLAGS = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))


@functools.lru_cache(maxsize=1)
def umask() -> int:
    """The process's umask (read once; from ``/proc`` where possible, which changes nothing)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        status = Path("/proc/self/status").read_text()
        found = re.search(r"^Umask:\s*([0-7]+)", status, re.M)
        if found:
            return int(found.group(1), 8)
    with _UMASK_LOCK:  # os.umask can only be read by setting it: set it back at once
        current = os.umask(0o022)
        os.umask(current)
    return current


def shared_file_mode() -> int:
    """The mode of a served or shared file: ``0o666`` masked by the umask (``0o644`` under ``022``)."""
    return 0o666 & ~umask()


def shared_dir_mode() -> int:
    """The mode of a served or shared folder: ``0o777`` masked by the umask (``0o755`` under ``022``)."""
    return 0o777 & ~umask()


def publish_unnamed(target: str, data: bytes | memoryview, *, mode: int) -> bool | None:
    """Write *data* to an unnamed file in *target*'s folder (made if missing) and link it to *target*.

    On Linux (``O_TMPFILE``) a reader sees the whole file or none, and a crash leaves nothing
    behind: no temp name is created, renamed or removed. An existing *target* is kept (content
    addressed: same name, same bytes).

    Returns:
        True when *target* was created, False when it already existed, None when this system or
        file system has no unnamed files (the caller then writes a named temp file).
    """
    fd = _create_unnamed(os.path.dirname(target), mode)
    if fd is None:
        return None
    try:
        _write_all(fd, data)
        try:
            os.link(str(fd), target, src_dir_fd=_proc_fds(), follow_symlinks=True)
        except FileExistsError:
            return False
        return True
    finally:
        os.close(fd)


def _create_unnamed(folder: str, mode: int) -> int | None:
    """A new unnamed file in *folder* open for writing, or None where there is no ``O_TMPFILE``."""
    flags = getattr(os, "O_TMPFILE", 0)
    if not flags or _proc_fds() is None:
        return None
    flags |= os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    for _ in range(2):
        try:
            return os.open(folder, flags, mode)
        except FileNotFoundError:  # the first file of a new folder
            os.makedirs(folder, exist_ok=True)
        except OSError:  # EOPNOTSUPP, EISDIR, EINVAL: no O_TMPFILE on this kernel or file system
            return None
    return os.open(folder, flags, mode)


@functools.lru_cache(maxsize=1)
def _proc_fds() -> int | None:
    """A descriptor of ``/proc/self/fd`` (to link an unnamed file by its descriptor), or None."""
    try:
        return os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except (OSError, AttributeError):
        return None


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike[str], mode: str = "wb", *,
                private: bool = False) -> Iterator[tuple[Path, object]]:
    """Open a temp file next to *target*; on success it replaces *target* atomically.

    The file gets :func:`shared_file_mode` (readable by others, like ``cp``'s output), or ``0600`` if
    *private* (a build's own bookkeeping, which a web server serving the folder must not read). Yields
    ``(temp_path, handle)``. On any exception the temp file is removed and *target* is
    untouched. Callers may verify ``temp_path`` inside the block before it is moved.
    """
    target = Path(target)
    try:
        fd, tmp = make_temp_file(target.parent, prefix=f".{target.name}.")
    except FileNotFoundError:  # the folder is new (checked this way round: one syscall in the usual case)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = make_temp_file(target.parent, prefix=f".{target.name}.")
    tmp_path = Path(tmp)
    moved = False
    try:
        if not private:
            os.fchmod(fd, shared_file_mode())  # mkstemp makes 0600; the final file is readable like cp's
        with os.fdopen(fd, mode) as handle:
            yield tmp_path, handle
        os.replace(tmp_path, target)
        moved = True
    finally:
        if not moved:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes, *, private: bool = False) -> None:
    """Write *data* to *target* atomically (mode ``0600`` if *private*, see :func:`atomic_file`)."""
    with atomic_file(target, "wb", private=private) as (_, handle):
        handle.write(data)  # type: ignore[attr-defined]


def write_if_changed(target: str | os.PathLike[str], data: bytes, *, private: bool = False) -> bool:
    """Write *data* atomically unless *target* already holds exactly it; True when written.

    Keeps mtimes (and so incremental copies and syncs downstream) stable across rebuilds. A *private*
    file is ``0600`` (see :func:`atomic_file`), also when its bytes were already right.
    """
    target = Path(target)
    try:
        if target.stat().st_size == len(data) and target.read_bytes() == data:
            if private:
                keep_private(target)
            return False
    except FileNotFoundError:  # a new file: linked into place whole, no temp name (see publish_unnamed)
        if publish_unnamed(os.fspath(target), data, mode=0o600 if private else 0o666):  # 0666: under the umask
            return True
    atomic_write_bytes(target, data, private=private)
    return True


def keep_private(target: str | os.PathLike[str]) -> None:
    """Make *target* readable by its owner only (``0600``) if it is readable by others: a private file
    an older version wrote under the umask. A missing file, or one owned by someone else, is left."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if os.stat(target).st_mode & 0o077:
            os.chmod(target, 0o600)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 *text* to *target* atomically (``\\n`` line endings on every OS)."""
    atomic_write_bytes(target, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder in a temp sibling; on success it takes *target*'s place.

    The folder gets :func:`shared_dir_mode`. An existing non-empty *target* is refused unless
    *overwrite*; then the old folder is
    moved aside, the new one renamed in, and the old one removed, so *target* is always
    either the old or the new folder, never a mix.
    """
    target = Path(os.path.abspath(target))  # "." and "out/.." get a name and a parent
    _refuse_non_empty(target, overwrite)
    _make_parent(target)
    tmp = make_temp_dir(target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        yield tmp
        _swap_in(tmp, target, overwrite)
    finally:
        remove_tree(tmp)


def make_temp_file(folder: str | os.PathLike[str], *, prefix: str, suffix: str = ".tmp") -> tuple[int, str]:
    """A new, empty file ``<prefix><random><suffix>`` in *folder*, mode ``0600``: ``(fd, path)``.

    What ``tempfile.mkstemp`` does (exclusive creation, no link followed, not inherited by child
    processes), without importing ``tempfile`` (see the module docstring).

    Raises:
        FileNotFoundError: *folder* does not exist.
        FileExistsError: no free name was found.
    """
    for _ in range(_TEMP_ATTEMPTS):
        path = os.path.join(folder, f"{prefix}{_random_part()}{suffix}")
        try:
            return os.open(path, _TEMP_FLAGS, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temp file name", os.path.join(folder, f"{prefix}*{suffix}"))


def make_temp_dir(parent: str | os.PathLike[str], *, prefix: str, suffix: str = ".tmp") -> Path:
    """A new temp folder ``<prefix><random><suffix>`` in *parent* with :func:`shared_dir_mode`."""
    for _ in range(_TEMP_ATTEMPTS):
        path = Path(parent, f"{prefix}{_random_part()}{suffix}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, shared_dir_mode())
        return path
    raise FileExistsError(errno.EEXIST, "no free temp folder name", os.path.join(parent, f"{prefix}*{suffix}"))


def _random_part() -> str:
    return os.urandom(6).hex()  # 48 bits: a clash is a retry, never an overwrite (O_EXCL, mkdir)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove the folder *path* and everything in it if it exists, ignoring errors (``shutil.rmtree``'s
    ``ignore_errors``); ``shutil`` is imported only when there is something to remove."""
    if os.path.lexists(path):
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def _refuse_non_empty(target: Path, overwrite: bool) -> None:
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{target}: folder exists and is not empty; pass overwrite=True to replace it")
        here = Path(os.getcwd())
        if target == here or target in here.parents:
            raise FileExistsError(f"{target}: refusing to replace the current working folder (or one that holds "
                                  "it); write to a new folder instead")


def _make_parent(target: Path) -> None:
    """Create *target*'s parent folders, saying which part of the path is a file when one is."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        blocker = next((p for p in [target.parent, *target.parent.parents] if p.exists() and not p.is_dir()), None)
        if blocker is None:
            raise
        raise FileExistsError(f"{target}: cannot create it: {blocker} is a file, not a folder") from err


def _swap_in(tmp: Path, target: Path, overwrite: bool) -> None:
    if not overwrite:
        # rename() onto a folder succeeds only if that folder is empty: another writer that got there first
        # since the check in _refuse_non_empty makes this fail instead of being silently replaced.
        try:
            os.rename(tmp, target)
        except OSError as err:
            raise FileExistsError(f"{target}: folder was filled by someone else meanwhile; nothing replaced") from err
        return
    if not target.exists():
        os.replace(tmp, target)
        return
    old = make_temp_dir(target.parent, prefix=f".{target.name}.", suffix=".old")
    try:
        os.replace(target, old / "x")
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(old / "x", target)
            raise
    finally:
        remove_tree(old)
