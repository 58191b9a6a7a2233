"""Strict JSON decoding, shared by every reader of dchub's JSON files.

Strict means: UTF-8, no duplicate keys (a parser would silently keep the last one), no
``NaN``/``Infinity`` (not JSON), and a clear error instead of ``RecursionError`` on deep nesting.
"""
from __future__ import annotations

import json
from typing import Any


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode *data* strictly.

    Raises:
        ValueError: the text is not strict JSON; the message says why.
    """
    try:
        text = bytes(data).decode("utf-8") if not isinstance(data, str) else data
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError as err:  # "[[[[…": json recurses once per level
        raise ValueError("nested too deeply") from err


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
