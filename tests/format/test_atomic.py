"""Atomic writes: new files are linked into place whole (``O_TMPFILE``), or written through a named temp file."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dchub_client.format import atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("unnamed", [True, False], ids=["unnamed-file", "named-temp"])
def test_write_if_changed_creates_whole_files_with_shared_modes(tmp_path: Path, monkeypatch, unnamed: bool) -> None:
    if not unnamed:  # a kernel or file system without O_TMPFILE
        monkeypatch.setattr(atomic, "_create_unnamed", lambda folder, mode: None)
    target = tmp_path / "new" / "folder" / "page.html"
    assert atomic.write_if_changed(target, b"<p>one</p>")
    assert target.read_bytes() == b"<p>one</p>"
    assert _mode(target) == 0o666 & ~atomic.umask()  # like cp: readable by a web server running as another user
    assert not atomic.write_if_changed(target, b"<p>one</p>")  # same bytes: untouched
    assert atomic.write_if_changed(target, b"<p>two</p>")
    assert target.read_bytes() == b"<p>two</p>"
    assert sorted(p.name for p in target.parent.iterdir()) == ["page.html"]  # no temp file left


def test_publish_unnamed_keeps_an_existing_file(tmp_path: Path) -> None:
    target = os.fspath(tmp_path / "blobs" / "abc")
    created = atomic.publish_unnamed(target, b"first", mode=0o444)
    if created is None:
        pytest.skip("this file system has no O_TMPFILE")  # the named-temp path is tested above
    assert created is True
    assert atomic.publish_unnamed(target, b"second", mode=0o444) is False
    assert Path(target).read_bytes() == b"first"
    assert _mode(Path(target)) == 0o444 & ~atomic.umask()
    assert os.listdir(os.path.dirname(target)) == ["abc"]


def test_temp_files_and_folders_are_new_private_and_never_clobber(tmp_path: Path, monkeypatch) -> None:
    """dchub makes its own temp names (start-up time: no ``tempfile``): same guarantees as ``mkstemp``/``mkdtemp``."""
    fd, name = atomic.make_temp_file(tmp_path, prefix=".blob.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"mine")
    path = Path(name)
    assert path.parent == tmp_path and path.name.startswith(".blob.") and path.name.endswith(".tmp")
    assert _mode(path) == 0o600 & ~atomic.umask()
    folder = atomic.make_temp_dir(tmp_path, prefix=".snap.", suffix=".old")
    assert folder.is_dir() and folder.name.startswith(".snap.") and folder.name.endswith(".old")
    assert _mode(folder) == atomic.shared_dir_mode()

    taken = path.name[len(".blob."):-len(".tmp")]  # a name that is already used is skipped, not opened
    names = iter([taken, taken, "fresh"])
    monkeypatch.setattr(atomic, "_random_part", lambda: next(names))
    fd, other = atomic.make_temp_file(tmp_path, prefix=".blob.")
    os.close(fd)
    assert Path(other).name == ".blob.fresh.tmp" and path.read_bytes() == b"mine"
    (tmp_path / "link.x.tmp").symlink_to(tmp_path / "elsewhere")  # a planted link is never followed
    monkeypatch.setattr(atomic, "_random_part", lambda: "x")
    monkeypatch.setattr(atomic, "_TEMP_ATTEMPTS", 3)
    with pytest.raises(FileExistsError, match="no free temp file name"):
        atomic.make_temp_file(tmp_path, prefix="link.")
    assert not (tmp_path / "elsewhere").exists()
    with pytest.raises(FileNotFoundError):
        atomic.make_temp_file(tmp_path / "missing", prefix="a.")


def test_remove_tree_removes_folders_and_ignores_what_is_not_there(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_bytes(b"x")
    atomic.remove_tree(tree)
    assert not tree.exists()
    atomic.remove_tree(tree)  # gone already: nothing to do, no error
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    atomic.remove_tree(tmp_path / "link")  # like shutil.rmtree(ignore_errors=True): a link is not followed
    assert (tmp_path / "target").is_dir()
