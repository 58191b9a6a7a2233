"""Model card values as plain text for the terminal (``dchub ls``, ``dchub info``).

A card is a stranger's text: every key and value passes :func:`dchub_client.terminal.shown`.
"""
from __future__ import annotations

from typing import Any

from dchub_client.terminal import shown

#: Card keys ``dchub info`` shows first, in this order; the rest follow alphabetically.
FIRST_KEYS = ("title", "description", "task", "headline_metric", "metrics", "training_data", "dataset",
              "featurizer", "license", "authors", "citation", "intended_use", "limitations", "tags")
#: Bookkeeping keys not worth a line.
HIDDEN_KEYS = ("recipe", "recipe_sha256")


def one_line(value: object) -> str:
    """A card value as one short line (``-`` when missing)."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, list):
        text = ", ".join(one_line(v) for v in value)
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {one_line(v)}" for k, v in value.items())
    else:
        text = _number(value) if isinstance(value, float) else str(value)
    return shown(" ".join(text.split()))


def headline(card: dict[str, Any]) -> str:
    """The headline metric with its value: ``rmse (Å²) 35.31`` (its name alone when no value is recorded)."""
    name = card.get("headline_metric")
    metrics = _metric_list(card.get("metrics"))
    if name is None:
        return "-" if not metrics else f"{metrics[0][0]} {_number(metrics[0][1])}"
    value = next((v for n, v, _ in metrics if n == name), None)
    return one_line(name) if value is None else f"{one_line(name)} {_number(value)}"


def metric_lines(value: object) -> list[str]:
    """``name: value (split)``, one per metric (a mapping or a list of ``{name, value, split}``)."""
    return [f"{one_line(name)}: {one_line(v)}" + (f" ({one_line(split)})" if split else "")
            for name, v, split in _metric_list(value)]


def card_lines(card: dict[str, Any]) -> list[str]:
    """Every card entry as indented text lines (metrics and mappings one item per line)."""
    keys = [k for k in FIRST_KEYS if k in card] + sorted(k for k in card if k not in FIRST_KEYS)
    lines = []
    for key in keys:
        if key in HIDDEN_KEYS:
            continue
        value = card[key]
        items = _items(key, value)
        if items:
            lines.append(f"  {one_line(key)}:")
            lines += [f"    {item}".rstrip() for item in items]
        else:
            lines.append(f"  {one_line(key)}: {one_line(value)}")
    return lines


def _items(key: str, value: object) -> list[str] | None:
    """The lines an entry is shown as under its key (metrics, mappings, multi-line text), else None."""
    if key == "metrics":
        return metric_lines(value)
    if isinstance(value, dict):
        return [f"{one_line(k)}: {one_line(v)}" for k, v in value.items()]
    if isinstance(value, str) and "\n" in value.strip():  # a BibTeX entry keeps its lines
        return [shown(line.rstrip().expandtabs(4)) for line in value.strip().splitlines()]
    return None


def _metric_list(value: object) -> list[tuple[str, float, str]]:
    if isinstance(value, dict):
        return [(str(k), v, "") for k, v in value.items()]
    if isinstance(value, list):
        return [(str(m.get("name")), m.get("value"), str(m.get("split") or "")) for m in value if isinstance(m, dict)]
    return []


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
