"""Readable text for the site: encoded parameter values, card values, sizes and counts.

Pure functions, no I/O; :mod:`hubgen.site.views`, :mod:`hubgen.site.card_rows` and
:mod:`hubgen.site.pipeline` use them so every page writes values the same way.
"""
from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup, escape

from dchub_client.format import layout
from dchub_client.humanize import human_size

#: Values longer than this are cut (the full text is in ``params.json`` or the manifest).
MAX_VALUE_CHARS = 400


def text(value: Any) -> str:
    """A card value as text: strings as they are, lists of strings joined, anything else compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


_SEPARATORS = re.compile(r"([._/-])")


def breakable(value: Any) -> Markup:
    """Escaped *value* with a line-break opportunity (``<wbr>``) after each ``.``, ``-``, ``_`` and ``/``.

    Long weight and file names then wrap at their separators on a narrow screen, not every few
    characters (the Jinja filter ``breakable``).
    """
    return Markup(_SEPARATORS.sub(r"\1<wbr>", str(escape(str(value)))))


def clip(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    """*value*, cut to *limit* characters with an ellipsis."""
    return value if len(value) <= limit else value[:limit - 1] + "…"


def describe(value: Any) -> str:
    """A readable text for an encoded parameter value (``docs/format.md``, tagged objects)."""
    if isinstance(value, dict) and layout.TAG in value:
        return _describe_tagged(value)
    if isinstance(value, dict) and value.get("sk") == "estimator" and "class" in value:
        return _describe_estimator(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _describe_tagged(value: dict[str, Any]) -> str:
    tag = value.get(layout.TAG)
    if tag == "tuple":
        items = [describe(v) for v in value.get("items", [])]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if tag == "float":
        return str(value.get("value"))
    if tag in ("ref", "weight"):
        return str(value.get("name"))
    if tag == "object":
        kwargs = value.get("kwargs") or {}
        spec = kwargs.get("spec") if len(kwargs) == 1 else None
        if isinstance(spec, dict) and spec.get("sk") == "estimator":
            return describe(spec)  # the sklearn adapter's fitted-estimator wrapper: show the estimator
        return f"{value.get('class')}(" + ", ".join(f"{k}={describe(v)}" for k, v in kwargs.items()) + ")"
    if tag == "state":
        return f"{value.get('class')} (restored state)"
    if tag == "ndarray":
        return f"array(shape={describe(value.get('shape'))}, dtype={value.get('dtype')})"
    if tag == "dict":
        return "{" + ", ".join(f"{describe(k)}: {describe(v)}" for k, v in value.get("items", [])) + "}"
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _describe_estimator(value: dict[str, Any]) -> str:
    """A fitted scikit-learn estimator as the sklearn adapter describes it: class(hyperparameters)."""
    params = value.get("params") if isinstance(value.get("params"), dict) else {}
    call = f"{describe(value['class'])}(" + ", ".join(f"{k}={describe(v)}" for k, v in params.items()) + ")"
    return call + (", fitted" if value.get("state") else "")


def short_class(name: str) -> str:
    """``deepchem.trans.transformers.NormalizationTransformer`` → ``NormalizationTransformer``."""
    return name.rpartition(".")[2] or name


def size_text(n: int) -> str:
    """``1536`` → ``1.5 KiB`` (:func:`dchub_client.humanize.human_size`)."""
    return human_size(n)


def count_text(n: int) -> str:
    """``1234567`` → ``1.23M``; numbers under 10,000 are written out (``9,999``)."""
    if n < 10_000:
        return f"{n:,}"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def shape_text(shape: tuple[int, ...]) -> str:
    """``(64, 128)`` → ``64 × 128``; a 0-d array is ``scalar``."""
    return " × ".join(map(str, shape)) or "scalar"
