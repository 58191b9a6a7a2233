"""sha256 of files and byte streams, in large chunks."""
from __future__ import annotations

import hashlib
import os

#: Read size for hashing and copying: large enough that per-call overhead vanishes.
CHUNK_SIZE = 1 << 20

_HEX = frozenset("0123456789abcdef")


def is_sha256(value: object) -> bool:
    """True when *value* is a lower-case 64-character hex digest."""
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def sha256_bytes(data: bytes | memoryview) -> str:
    """Hex sha256 of an in-memory buffer."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's contents.

    Example:
        >>> sha256_file("params.json")  # doctest: +SKIP
        '3b5d...'
    """
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while True:
            n = handle.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
    return digest.hexdigest()
