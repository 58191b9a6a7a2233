"""sha256 of files and byte streams, in large chunks."""
from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

#: Read size for hashing and copying: large enough that per-call overhead vanishes.
CHUNK_SIZE = 1 << 20

_HEX = frozenset("0123456789abcdef")


def is_sha256(value: object) -> bool:
    """True when *value* is a lower-case 64-character hex digest."""
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def shown_pair(actual: str, expected: str, width: int = 12) -> tuple[str, str]:
    """Two digests shortened for a message, but never past where they differ.

    ``width`` characters each, or up to the first differing character when that comes later (a digest
    changed near its end is shown whole), so a reader can always see the two are different.

    Example:
        >>> shown_pair("ab" * 32, "ab" * 31 + "ac")[1][-3:]
        'bac'
    """
    same = next((i for i, (a, b) in enumerate(zip(actual, expected)) if a != b), min(len(actual), len(expected)))
    keep = max(width, same + 1)
    return tuple(d if len(d) <= keep else d[:keep] + "…" for d in (actual, expected))  # type: ignore[return-value]


def sha256_bytes(data: bytes | memoryview) -> str:
    """Hex sha256 of an in-memory buffer."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's contents.

    Example:
        >>> sha256_file("params.json")  # doctest: +SKIP
        '3b5d...'
    """
    with open(path, "rb", buffering=0) as handle:
        return sha256_handle(handle)


def sha256_handle(handle: BinaryIO) -> str:
    """Hex sha256 of an open file's contents, read from its start (the descriptor's own bytes, whatever
    its path names by now)."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    handle.seek(0)
    while True:
        n = handle.readinto(buffer)
        if not n:
            break
        digest.update(view[:n])
    return digest.hexdigest()


#: Below this many bytes a helper thread costs more than it overlaps.
THREADED_MIN_BYTES = 8 << 20


class ThreadedDigest:
    """A sha256 computed on a helper thread, so that reading the next chunk overlaps hashing this one.

    :meth:`update` queues a buffer, which must stay unchanged until :meth:`hexdigest` returns
    (``hashlib`` releases the GIL for large buffers: on two cores, copying a large file and
    hashing it take the time of the longer of the two instead of their sum). Use it as a context
    manager, so that the thread ends even when reading fails.

    Example:
        >>> with ThreadedDigest() as digest:  # doctest: +SKIP
        ...     digest.update(view[:n])
        ...     actual = digest.hexdigest()
    """

    def __init__(self) -> None:
        import queue
        import threading

        self._sha = hashlib.sha256()
        self._todo: queue.SimpleQueue[memoryview | bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="dchub-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (view := self._todo.get()) is not None:
            self._sha.update(view)

    def update(self, data: memoryview | bytes) -> None:
        """Queue *data* to be hashed (in order)."""
        self._todo.put(data)

    def hexdigest(self) -> str:
        """The hex digest of everything queued (waits for the helper to finish)."""
        self.close()
        return self._sha.hexdigest()

    def close(self) -> None:
        """Stop the helper thread once it has hashed what is queued."""
        if self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()

    def __enter__(self) -> ThreadedDigest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
