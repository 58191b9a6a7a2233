"""Helpers shared by the command modules: which hub a command works on, tables."""
from __future__ import annotations

from collections.abc import Sequence

from dchub_client import constants, terminal
from dchub_client.hub.cache import Cache
from dchub_client.hub.config import load_config
from dchub_client.hub.hubs import Hub
from dchub_client.hub.resolve import ModelRef, Resolver


def hub_of(ref: ModelRef, cache: Cache, *, refresh: bool = False) -> Hub:
    """The one hub a command about *ref* works on: its ``hub:`` prefix, else the searched hub that
    holds the name (as ``dchub pull`` decides).

    Raises:
        AmbiguousModelError: several searched hubs hold a bare name.
        ModelNotFoundError: none does.
    """
    resolver = Resolver(cache, load_config(), refresh=refresh, offline=constants.offline())
    return resolver.hub_holding(ref)


def fit_table(header: Sequence[str], rows: Sequence[Sequence[object]], width: int | None, *,
              optional: Sequence[str] = ()) -> str:
    """:func:`table` with the last column's cells cut (ending in ``…``) so lines fit *width* (None: uncut).

    The last column keeps at least :data:`MIN_LAST` characters; where the other columns leave it less,
    the *optional* columns are left out, in that order, until they do (``dchub info`` shows every field).
    """
    header = list(header)
    cells = [[terminal.shown(" ".join(str(c).split())) for c in row] for row in rows]  # a hub's text: shown
    if width is None:
        return table(header, cells)
    for name in optional:
        if _fixed(header, cells) + MIN_LAST <= width:
            break
        i = header.index(name)
        header.pop(i)
        cells = [row[:i] + row[i + 1:] for row in cells]
    room = max(width - _fixed(header, cells), MIN_LAST)
    for row in cells:
        if row and len(row[-1]) > room:
            row[-1] = row[-1][:room - 1] + "…"
    return table(header, cells)


#: The fewest characters :func:`fit_table` cuts its last column to.
MIN_LAST = 12


def _fixed(header: Sequence[str], cells: Sequence[Sequence[str]]) -> int:
    """The width of every column but the last, with their separators."""
    return sum(max(len(str(r[i])) for r in [header, *cells]) + 2 for i in range(len(header) - 1))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
