"""Helpers shared by the command modules: the configured mirrors, sizes, tables."""
from __future__ import annotations

from collections.abc import Sequence

from dchub_client import constants
from dchub_client.hub.mirrors import Mirror, parse_mirrors


def hub_mirrors() -> list[Mirror]:
    """The mirrors of ``DEEPCHEM_MODEL_HUB`` that are hubs (not plain folders of models)."""
    return [m for m in parse_mirrors(constants.hub_roots()) if m.has_index()]


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
