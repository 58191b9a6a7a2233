"""The hub's file listing behind SHA256SUMS and registry.txt."""
from __future__ import annotations

import os
from pathlib import Path

from dchub_client.format import sums


def test_hub_files_lists_every_file_sorted_and_excludes_only_top_level_names(tmp_path: Path) -> None:
    for rel in ("index.json", "blobs/sha256/ab/abcd", "blobs/sha256/0f/0f00", "models/m/1.0/manifest.json",
                "models/.hubgen-cache.json", ".hubgen-cache.json", ".hubgen-tmp/blob.1"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    found = sums.hub_files(tmp_path, {".hubgen-cache.json", ".hubgen-tmp"})
    assert found == ["blobs/sha256/0f/0f00", "blobs/sha256/ab/abcd", "index.json", "models/.hubgen-cache.json",
                     "models/m/1.0/manifest.json"]


def test_hub_files_does_not_follow_links_to_folders(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.json").write_bytes(b"x")
    os.symlink(tmp_path / "models", tmp_path / "alias")
    os.symlink(tmp_path / "models" / "a.json", tmp_path / "b.json")
    assert sums.hub_files(tmp_path, ()) == ["b.json", "models/a.json"]  # as os.walk lists them
