"""``SHA256SUMS``: one line per file of the hub, so ``sha256sum -c SHA256SUMS`` checks the whole tree.

Blobs are named by their sha256, so their lines cost no reading; every other file (index,
manifests, site pages) is hashed.
"""
from __future__ import annotations

import os
from pathlib import Path

from dchub_client.format.hashing import is_sha256, sha256_file

SUMS_FILE = "SHA256SUMS"


def hub_files(root: Path, exclude: frozenset[str]) -> list[str]:
    """Every file under *root* as a sorted ``/``-separated relative path, minus *exclude* (top-level names)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in exclude]
            filenames = [f for f in filenames if f not in exclude]
        found.extend((rel_dir / f).as_posix() for f in filenames)
    return sorted(found)


def sums_text(root: Path, exclude: frozenset[str]) -> str:
    """The ``SHA256SUMS`` text for *root* (``<hex>  <path>`` lines, sorted by path)."""
    lines = [f"{_digest(root, rel)}  {rel}\n" for rel in hub_files(root, exclude | {SUMS_FILE})]
    return "".join(lines)


def _digest(root: Path, rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    if rel.startswith("blobs/sha256/") and is_sha256(name):
        return name
    return sha256_file(root / rel)
