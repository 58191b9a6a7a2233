"""Model cards: ``README.md`` in a pretrained folder, Markdown with a YAML front matter block.

```
---
description: Multitask regressor on ECFP4 predicting pIC50.
task: regression
training_data: RDKit Contrib/FreeWilson/data/CHEMBL2321810_act.csv (1017 molecules)
metrics:
  - {name: rmse, value: 0.41, split: "random 80/20 (seed 0), test"}
license: MIT
---
# The body, in Markdown
```

The front matter is parsed with ``yaml.safe_load`` and validated (:data:`STRING_KEYS`, ``tags``,
``authors``, ``metrics``); every error names the file and the line. A card without front matter
is valid and has no metadata.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dchub_client.errors import CardError
from dchub_client.format import layout

#: Keys whose value must be a string.
STRING_KEYS = ("description", "task", "license", "citation", "headline_metric", "intended_use", "limitations",
               "title", "recipe_sha256")
#: Keys whose value must be a string or a mapping (a dataset's name, or name/source/size/...).
DATASET_KEYS = ("training_data", "dataset")
#: A card larger than this is refused before parsing.
MAX_CARD_BYTES = 1 << 20

_FENCE = re.compile(r"^---[ \t]*$")
_CLOSE = re.compile(r"^(---|\.\.\.)[ \t]*$")


@dataclass(frozen=True)
class Card:
    """A model card: validated front matter (``metadata``) and a Markdown ``body``."""

    metadata: dict[str, Any] = field(default_factory=dict)
    body: str = ""

    def to_markdown(self) -> str:
        """The card as ``README.md`` text (front matter first, keys in their given order)."""
        validate_metadata(self.metadata, source="<card>")
        if not self.metadata:
            return self.body
        import yaml

        front = yaml.safe_dump(self.metadata, sort_keys=False, allow_unicode=True, width=100)
        return f"---\n{front}---\n{self.body}"

    def to_bytes(self) -> bytes:
        """:meth:`to_markdown` as UTF-8."""
        return self.to_markdown().encode("utf-8")


def read_card(path: str | Path) -> Card:
    """Read and validate a card file.

    Raises:
        CardError: unreadable, not UTF-8, broken front matter, or a key of the wrong type; the
            message names the file and the line.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CardError(f"cannot read the model card: {err}", path=path) from err
    if len(data) > MAX_CARD_BYTES:
        raise CardError(f"card is {len(data)} bytes, more than the {MAX_CARD_BYTES} allowed", path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CardError(f"not UTF-8 ({err})", path=path) from err
    return parse_card(text, source=path)


def read_folder_card(folder: str | Path) -> Card | None:
    """The card of a pretrained folder (its ``README.md``), or None when there is none."""
    path = Path(folder) / layout.CARD_FILE
    return read_card(path) if path.is_file() else None


def parse_card(text: str, *, source: str | Path = layout.CARD_FILE) -> Card:
    """Split *text* into front matter and body, and validate the front matter (see :func:`read_card`)."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not _FENCE.match(lines[0]):
        return Card({}, text)
    end = next((i for i in range(1, len(lines)) if _CLOSE.match(lines[i])), None)
    if end is None:
        raise CardError("front matter opened with '---' on line 1 is never closed by a '---' line",
                        path=source, line=1)
    metadata = _load_yaml("\n".join(lines[1:end]), source)
    validate_metadata(metadata, source=source, lines=_key_lines(lines[1:end]))
    return Card(metadata, "\n".join(lines[end + 1:]))


def _load_yaml(text: str, source: str | Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        raise CardError(f"front matter is not valid YAML: {problem}", path=source,
                        line=mark.line + 2 if mark is not None else None) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError(f"front matter must be a mapping (key: value lines), got {type(data).__name__}",
                        path=source, line=2)
    return data


def _key_lines(lines: list[str]) -> dict[str, int]:
    """Line numbers (in the file) of the top-level keys of the front matter."""
    found: dict[str, int] = {}
    for i, line in enumerate(lines):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", line)
        if match:
            found.setdefault(match.group(1), i + 2)
    return found


def validate_metadata(metadata: Any, *, source: str | Path, lines: dict[str, int] | None = None) -> None:
    """Check the types of the known card keys and that every value is plain JSON.

    Raises:
        CardError: naming the key (and its line when *lines* knows it).
    """
    if not isinstance(metadata, dict):
        raise CardError(f"card metadata must be a mapping, got {type(metadata).__name__}", path=source)
    lines = lines or {}
    for key, value in metadata.items():
        problem = _problem(str(key), value) if isinstance(key, str) else "keys must be strings"
        if problem:
            raise CardError(f"front matter key {key!r}: {problem}", path=source, line=lines.get(str(key)))


def _problem(key: str, value: Any) -> str | None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        return f"not representable in JSON ({err}); quote dates and similar values"
    if key in STRING_KEYS and not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if key in DATASET_KEYS and not isinstance(value, (str, dict)):
        return f"must be a string or a mapping, got {type(value).__name__}"
    if key in ("tags", "authors") and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return "must be a list of strings"
    if key == "metrics":
        return _metrics_problem(value)
    return None


def _metrics_problem(value: Any) -> str | None:
    if isinstance(value, dict):
        bad = [k for k, v in value.items() if not _is_number(v)]
        return f"values must be numbers (not {bad[0]!r})" if bad else None
    if not isinstance(value, list):
        return "must be a mapping of name to number, or a list of {name, value, split}"
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not _is_number(item.get("value")):
            return f"item {i} must be a mapping with a string 'name' and a number 'value'"
        if "split" in item and not isinstance(item["split"], str):
            return f"item {i}: 'split' must be a string"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
