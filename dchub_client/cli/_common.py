"""Helpers shared by the command modules: which hub a command works on, tables."""
from __future__ import annotations

from collections.abc import Sequence

from dchub_client.errors import ConfigError
from dchub_client.hub import hubs
from dchub_client.hub.cache import Cache
from dchub_client.hub.config import load_config
from dchub_client.hub.hubs import Hub
from dchub_client.hub.resolve import ModelRef, hub_for_alias


def hub_of(ref: ModelRef, cache: Cache, *, what: str) -> Hub:
    """The one hub a command about *ref* works on: its ``hub:`` prefix, else the only searched hub.

    Raises:
        ConfigError: a bare name while the config searches several hubs (*what* says for what).
    """
    config = load_config()
    if ref.hub is not None:
        return hub_for_alias(ref.hub, cache, config)
    order = hubs.search_order(config)
    if len(order) != 1:
        names = ", ".join(h.alias for h in order)
        raise ConfigError(f"{what} works on one hub and several are searched ({names}); name it: HUB:{ref}",
                          path=config.path)
    return order[0]


def fit_table(header: Sequence[str], rows: Sequence[Sequence[object]], width: int) -> str:
    """:func:`table` with the last column's cells cut (ending in ``…``) so lines fit *width*.

    The last column keeps at least 12 characters however narrow the terminal is.
    """
    cells = [[" ".join(str(c).split()) for c in row] for row in rows]
    fixed = sum(max(len(str(r[i])) for r in [header, *cells]) + 2 for i in range(len(header) - 1))
    room = max(width - fixed, 12)
    for row in cells:
        if row and len(row[-1]) > room:
            row[-1] = row[-1][:room - 1] + "…"
    return table(header, cells)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
