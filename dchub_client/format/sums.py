"""``SHA256SUMS``: one line per file of a hub, so ``sha256sum -c SHA256SUMS`` checks the whole tree.

The one writer of the file, used by ``hubgen build`` and ``dchub mirror``. Blobs are named by their
sha256, so their lines cost no reading; every other file (index, manifests, site pages) is hashed.
hubgen's private work files (:data:`layout.PRIVATE_NAMES`) are never listed.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from dchub_client.format import layout
from dchub_client.format.hashing import is_sha256, sha256_file


def hub_files(root: Path, exclude: Iterable[str] = layout.PRIVATE_NAMES) -> list[str]:
    """Every file under *root* as a sorted ``/``-separated relative path, minus *exclude* (top-level names)."""
    exclude = frozenset(exclude)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in exclude]
            filenames = [f for f in filenames if f not in exclude]
        found.extend((rel_dir / f).as_posix() for f in filenames)
    return sorted(found)


def sums_text(root: Path, exclude: Iterable[str] = layout.PRIVATE_NAMES,
              digest: Callable[[Path], str] = sha256_file) -> str:
    """The ``SHA256SUMS`` text for *root* (``<hex>  <path>`` lines, sorted by path, itself excluded).

    *digest* hashes a file that is not a blob (a caller may answer from a cache of its own).
    """
    lines = [f"{_digest(root, rel, digest)}  {rel}\n" for rel in hub_files(root, {*exclude, layout.SUMS_FILE})]
    return "".join(lines)


def _digest(root: Path, rel: str, digest: Callable[[Path], str]) -> str:
    name = rel.rsplit("/", 1)[-1]
    if rel.startswith(layout.BLOB_PREFIX + "/") and is_sha256(name):
        return name
    return digest(root / rel)
