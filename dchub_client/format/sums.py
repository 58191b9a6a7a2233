"""The hub's checksum files, written in one place for ``hubgen build`` and ``dchub mirror``.

* ``SHA256SUMS`` (coreutils' format): ``sha256sum -c SHA256SUMS`` in the hub root checks every file.
* ``registry.txt`` (pooch's registry format, ``<path> sha256:<hex>``): with
  ``pooch.create(base_url=HUB, registry=None)`` and ``.load_registry("registry.txt")``, pooch fetches
  and verifies any file of the hub.

Blobs are named by their sha256, so their lines cost no reading; every other file (index,
manifests, site pages) is hashed. hubgen's private work files (:data:`layout.PRIVATE_NAMES`) are
never listed. ``registry.txt`` lists every file but the two checksum files; ``SHA256SUMS`` lists
every file but itself.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from dchub_client.format import layout
from dchub_client.format.atomic import write_if_changed
from dchub_client.format.hashing import is_sha256, sha256_bytes, sha256_file


def hub_files(root: Path, exclude: Iterable[str] = layout.PRIVATE_NAMES) -> list[str]:
    """Every file under *root* as a sorted ``/``-separated relative path, minus *exclude* (top-level names)."""
    exclude = frozenset(exclude)
    found: list[str] = []
    _walk(os.fspath(root), "", exclude, found)
    return sorted(found)


def _walk(folder: str, prefix: str, exclude: frozenset[str], found: list[str]) -> None:
    """Append the files under *folder* to *found* as *prefix* + relative path (``os.scandir``: the file
    types come with the listing, so a hub of 40,000 blobs costs no ``stat`` per file)."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name in exclude:
                continue
            if entry.is_dir():  # a link to a folder is not followed, as with os.walk
                if not entry.is_symlink():
                    _walk(entry.path, f"{prefix}{entry.name}/", frozenset(), found)
            else:
                found.append(prefix + entry.name)


def write_checksum_files(root: Path, exclude: Iterable[str] = layout.PRIVATE_NAMES, *,
                         digest: Callable[[Path], str] = sha256_file) -> bool:
    """Write ``registry.txt`` then ``SHA256SUMS`` for the hub at *root*; True when either changed.

    Files whose bytes are already right are not rewritten (their mtimes stay, so syncs stay small).
    *digest* hashes a file that is not a blob (a caller may answer from a cache of its own, as
    ``hubgen build`` does for the pages and manifests it did not change).
    """
    rels = hub_files(root, {*exclude, layout.SUMS_FILE, layout.REGISTRY_FILE})
    digests = {rel: _digest(root, rel, digest) for rel in rels}
    registry = "".join(f"{rel} sha256:{digests[rel]}\n" for rel in rels).encode("utf-8")
    changed = write_if_changed(root / layout.REGISTRY_FILE, registry)
    digests[layout.REGISTRY_FILE] = sha256_bytes(registry)
    sums = "".join(f"{digests[rel]}  {rel}\n" for rel in sorted(digests)).encode("utf-8")
    return write_if_changed(root / layout.SUMS_FILE, sums) or changed


def _digest(root: Path, rel: str, digest: Callable[[Path], str]) -> str:
    name = rel.rsplit("/", 1)[-1]
    if rel.startswith(layout.BLOB_PREFIX + "/") and is_sha256(name):
        return name
    return digest(root / rel)
