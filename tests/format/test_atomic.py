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
