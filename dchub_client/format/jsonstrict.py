"""The one strict JSON reader, shared by every reader of dchub's JSON files.

Strict means: UTF-8, no duplicate keys (a parser would silently keep the last one), no
``NaN``/``Infinity`` (not JSON), and a clear error instead of ``RecursionError`` on deep nesting.
Errors are dchub errors naming the file or URL the bytes came from.

Example:
    >>> loads(b'{"a": 1}', "index.json")
    {'a': 1}
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dchub_client.errors import DchubError, HubFormatError, MissingParamsError, PretrainedFormatError

ErrorClass = type[HubFormatError] | type[PretrainedFormatError]


def loads(data: bytes | bytearray | memoryview | str, source: str | os.PathLike[str] | None = None, *,
          error: ErrorClass = HubFormatError) -> Any:
    """Decode *data* strictly.

    Args:
        data: the JSON text or its UTF-8 bytes.
        source: where the bytes came from (a path or URL), named in the error.
        error: the error class to raise (:class:`HubFormatError` for hub files,
            :class:`PretrainedFormatError` for pretrained folders).

    Raises:
        HubFormatError | PretrainedFormatError: the text is not strict JSON; the message says why.
    """
    try:
        text = bytes(data).decode("utf-8") if not isinstance(data, str) else data
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError as err:  # "[[[[…": json recurses once per level
        raise _located(error, "not valid JSON: nested too deeply", source) from err
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError and ours
        raise _located(error, f"not valid JSON: {err}", source) from err


def load_file(path: str | os.PathLike[str], *, max_bytes: int, error: ErrorClass = PretrainedFormatError) -> Any:
    """Read and decode a JSON file strictly, refusing files larger than *max_bytes* before reading them.

    Raises:
        MissingParamsError: the file does not exist (for pretrained folders).
        HubFormatError | PretrainedFormatError: too large, or not strict JSON.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError as err:
        if error is PretrainedFormatError:
            raise MissingParamsError("file not found", path=path) from err
        raise _located(error, "file not found", path) from err
    if size > max_bytes:
        raise _located(error, f"file is {size} bytes, more than the {max_bytes} allowed", path)
    return loads(path.read_bytes(), path, error=error)


def _located(error: ErrorClass, message: str, source: str | os.PathLike[str] | None) -> DchubError:
    if issubclass(error, PretrainedFormatError):
        return error(message, path=source)
    return error(message, source=None if source is None else os.fspath(source))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
