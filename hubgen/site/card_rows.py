"""The model card as the site shows it: metrics with the split and dataset they were measured on,
the headline metric, and the card's other entries as readable rows.

Card metrics (``docs/format.md``, "The model card") are ``{name: number}`` or a list of
``{name, value, split}`` items (an item may also name its ``dataset``). A metric measured on a
split and naming no dataset of its own was measured on a split of the card's training data, so it
shows that data's name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hubgen.site.values import text

#: Card keys shown in their own place on the model page; any other key is listed after them.
CARD_KEYS = ("description", "task", "license", "tags", "citation", "dataset", "training_data", "metrics",
             "headline_metric", "intended_use", "limitations", "title", "authors")
#: Card keys shown as labelled rows, in this order, with these titles.
_ROWS = (("dataset", "Training data"), ("training_data", "Training data"), ("intended_use", "Intended use"),
         ("limitations", "Limitations"), ("authors", "Authors"))
#: A training-data name longer than this is not repeated on every metric row.
_MAX_DATASET_CHARS = 80
_PARENTHESES = re.compile(r"\s*\([^()]*\)")


@dataclass(frozen=True)
class MetricView:
    """One measured metric: its value as text, and where it was measured (empty when not stated)."""

    name: str
    value: str
    split: str = ""
    dataset: str = ""

    @property
    def short_split(self) -> str:
        """The split without its parenthesised details: ``scaffold 80/20 (ScaffoldSplitter), test`` →
        ``scaffold 80/20, test``."""
        return short_split(self.split)

    @property
    def measured_on(self) -> str:
        """``split · dataset``, or whichever is known."""
        return " · ".join(part for part in (self.split, self.dataset) if part)


@dataclass(frozen=True)
class CardRow:
    """A labelled card entry: plain *text*, or *pairs* for a mapping (e.g. training data details)."""

    title: str
    text: str
    pairs: tuple[tuple[str, str], ...] = ()


def metrics(card: dict[str, Any]) -> tuple[MetricView, ...]:
    """The card's metrics in their order (a mapping: sorted by name, as manifests store it)."""
    value = card.get("metrics")
    fallback = training_data_name(card)
    if isinstance(value, dict):
        return tuple(MetricView(str(k), metric_value(value[k])) for k in sorted(value))
    if isinstance(value, list):
        return tuple(_metric_item(item, fallback) for item in value)
    return (MetricView("", text(value)),) if value not in (None, "") else ()


def _metric_item(item: Any, fallback: str) -> MetricView:
    if isinstance(item, dict) and "name" in item:
        split = text(item.get("split", ""))
        dataset = text(item["dataset"]) if item.get("dataset") not in (None, "") else (fallback if split else "")
        return MetricView(text(item["name"]), metric_value(item.get("value", "")), split, dataset)
    if isinstance(item, list) and len(item) == 2:
        return MetricView(text(item[0]), metric_value(item[1]))
    return MetricView("", text(item))


def metric_value(value: Any) -> str:
    """A metric value: floats with four significant digits (``35.31``, ``0.4468``), the rest as text."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return text(value)


def headline(found: tuple[MetricView, ...], chosen: Any) -> MetricView | None:
    """The metric named by the card's ``headline_metric``, else the first one."""
    for metric in found:
        if chosen is None or metric.name == chosen:
            return metric
    return None


def short_split(split: str) -> str:
    """*split* without parenthesised details (the whole text when nothing else is left)."""
    short = re.sub(r"\s+([,;])", r"\1", _PARENTHESES.sub("", split)).strip(" ,;")
    return short or split


def training_data_name(card: dict[str, Any]) -> str:
    """A short name of the training data (``dataset``/``training_data``: a string, or a mapping's name)."""
    for key in ("dataset", "training_data"):
        value = card.get(key)
        name = value.get("name") if isinstance(value, dict) else value
        if isinstance(name, str) and name and len(name) <= _MAX_DATASET_CHARS:
            return name
    return ""


def rows(card: dict[str, Any]) -> tuple[CardRow, ...]:
    """The labelled entries shown under the description (training data, intended use, ...)."""
    return tuple(_row(title, card[key]) for key, title in _ROWS if key in card)


def more(card: dict[str, Any]) -> tuple[CardRow, ...]:
    """Every other card key, sorted, titled by the key itself."""
    return tuple(_row(key, card[key]) for key in sorted(card) if key not in CARD_KEYS)


def _row(title: str, value: Any) -> CardRow:
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        name = value.get("name") if isinstance(value.get("name"), str) else ""
        pairs = tuple((k, text(value[k])) for k in sorted(value) if not (name and k == "name"))
        return CardRow(title, name, pairs)
    return CardRow(title, text(value))
