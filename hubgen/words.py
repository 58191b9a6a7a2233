"""Counted nouns in hubgen's messages: ``1 file``, ``2 files``, never ``1 files``."""
from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """*n* and *noun*, plural unless *n* is 1 (*plural* defaults to *noun* + ``s``).

    Example:
        >>> counted(1, "key"), counted(3, "file"), counted(0, "blob")
        ('1 key', '3 files', '0 blobs')
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


__all__ = ["counted"]
