"""Numbers as people read them, and the names they probably meant; shared by both CLIs and the catalogue site."""
from __future__ import annotations

from collections.abc import Iterable


def human_size(n: float) -> str:
    """A byte count in binary units.

    Example:
        >>> human_size(1536)
        '1.5 KiB'
        >>> human_size(12)
        '12 B'
    """
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """*n* and *noun*, plural unless *n* is 1 (*plural* defaults to *noun* + ``s``).

    Example:
        >>> counted(1, "key"), counted(3, "file"), counted(0, "blob")
        ('1 key', '3 files', '0 blobs')
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def suggestions(word: str, names: Iterable[str], *, most: int = 3) -> list[str]:
    """The *names* someone who typed *word* probably meant: those it begins (``esol``: every ``esol-*``,
    ``--o``: ``--out``; at most five), else the *most* most similar.

    Example:
        >>> suggestions("esol", ["tox21-mtc", "esol-rf", "esol-mtr"])
        ['esol-mtr', 'esol-rf']
        >>> suggestions("acm", ["default", "acme"])
        ['acme']
    """
    import difflib  # on an error path only: a command that succeeds never loads it

    names = list(names)
    begun = sorted(n for n in names if n.lower().startswith(word.lower()) and n != word)[:5]
    return begun or difflib.get_close_matches(word, names, n=most, cutoff=0.5)
