"""What the catalogue site shows, computed from a built hub: plain, frozen data for the templates.

:func:`gather` reads the index, the manifests and (for each model's latest version) the
``params.json`` and weight blobs, and returns a :class:`HubView`. Templates only present it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup

from dchub_client import constants, hubformat, pretrained

from . import site_blobs, svg
from .errors import BuildError
from .site_markdown import render_markdown

#: Weights whose name starts with this are optimizer state, not model parameters.
OPTIMIZER_PREFIX = "optimizer-"
#: At most this many layers get a histogram (the bar chart shows them all).
MAX_HISTOGRAMS = 64
#: Hyperparameter values longer than this are cut (the full text is in ``params.json``).
MAX_VALUE_CHARS = 400
#: Shown in the "how to load" snippet when the hub lists no mirror.
MIRROR_PLACEHOLDER = "https://<where-this-hub-is-hosted>/"
#: Card keys shown in their own place on the model page; any other key is listed under "More".
_CARD_KEYS = ("description", "task", "license", "tags", "citation", "dataset", "training_data", "metrics",
              "headline_metric", "intended_use", "limitations", "title", "authors")


@dataclass(frozen=True)
class WeightView:
    """One row of the weights table."""

    name: str
    layer: str
    shape: str
    dtype: str
    count: int
    size: str
    sha256: str
    short_sha: str
    optimizer: bool


@dataclass(frozen=True)
class LayerView:
    """A layer (the variables sharing ``model-layer-``): its parameter count and value histogram."""

    name: str
    count: int
    weights: tuple[str, ...]
    histogram: svg.Histogram | None


@dataclass(frozen=True)
class VersionView:
    """One published version of a model."""

    version: str
    spec: str
    latest: bool
    size: str
    files: int
    manifest_href: str


@dataclass(frozen=True)
class ModelView:
    """Everything one model's row and page show (its latest version's details)."""

    name: str
    href: str
    class_name: str
    framework: str
    latest: str
    task: str
    license: str
    tags: tuple[str, ...]
    description: str
    card: dict[str, Any]
    metrics: tuple[tuple[str, str], ...]
    headline: str
    more: tuple[tuple[str, str], ...]
    readme: Markup | None
    param_count: int
    params_text: str
    size_bytes: int
    size_text: str
    versions: tuple[VersionView, ...]
    hyperparameters: tuple[tuple[str, str], ...]
    built_with: tuple[tuple[str, str], ...]
    weights: tuple[WeightView, ...]
    layers: tuple[LayerView, ...]
    chart: svg.BarChart
    hidden_histograms: int
    search: str


@dataclass(frozen=True)
class HubView:
    """The whole site: the hub's text and its models, sorted by name."""

    name: str
    title: str
    description: str
    mirror: str
    mirror_known: bool
    generated: str
    models: tuple[ModelView, ...]
    total_size: str


def gather(hub: Path, index: hubformat.Index, manifests: dict[tuple[str, str], hubformat.Manifest]) -> HubView:
    """Compute the site's data from the built hub at *hub*.

    Raises:
        BuildError: a manifest listed by *index* is missing from *manifests*, or a blob is unreadable.
    """
    models = tuple(_model(hub, index, name, manifests) for name in sorted(index.models))
    return HubView(name=index.name, title=index.title or index.name, description=index.description,
                   mirror=index.mirrors[0] if index.mirrors else MIRROR_PLACEHOLDER,
                   mirror_known=bool(index.mirrors), generated=index.generated or "", models=models,
                   total_size=size_text(sum(m.size_bytes for m in models)))


def _model(hub: Path, index: hubformat.Index, name: str,
           manifests: dict[tuple[str, str], hubformat.Manifest]) -> ModelView:
    entry = index.models[name]
    versions = sorted(entry.versions, key=hubformat.version_key, reverse=True)
    manifest = _manifest(manifests, name, entry.latest)
    where = hubformat.manifest_path(name, entry.latest)
    files = {f.path: f for f in manifest.files}
    info = site_blobs.read_params(hub, files[constants.PARAMS_FILE], where) \
        if constants.PARAMS_FILE in files else None
    weights = _weights(info)
    layers = _layers(hub, files, info)
    card = manifest.card
    metrics = _metrics(card.get("metrics"))
    count = sum(w.count for w in weights if not w.optimizer)
    return ModelView(
        name=name, href=f"models/{name}/index.html", class_name=manifest.class_name,
        framework=manifest.framework, latest=entry.latest, task=_text(card.get("task", "")),
        license=_text(card.get("license", "")), tags=_tags(card.get("tags")),
        description=_text(card.get("description", "")), card=card, metrics=metrics,
        headline=_headline(metrics, card.get("headline_metric")), more=_more(card),
        readme=_readme(hub, files.get(constants.CARD_FILE), where), param_count=count,
        params_text=count_text(count), size_bytes=manifest.size, size_text=size_text(manifest.size),
        versions=tuple(_version(name, v, entry, _manifest(manifests, name, v)) for v in versions),
        hyperparameters=_hyperparameters(info), built_with=tuple(sorted((info.versions if info else {}).items())),
        weights=weights, layers=layers, chart=svg.bar_chart([(layer.name, layer.count) for layer in layers]),
        hidden_histograms=max(0, len(layers) - MAX_HISTOGRAMS), search=_search_text(name, manifest),
    )


def _manifest(manifests: dict[tuple[str, str], hubformat.Manifest], name: str, version: str) -> hubformat.Manifest:
    try:
        return manifests[(name, version)]
    except KeyError:
        raise BuildError(f"{hubformat.manifest_path(name, version)}: listed in the index but not given to "
                         "the site renderer") from None


def _version(name: str, version: str, entry: hubformat.ModelEntry, manifest: hubformat.Manifest) -> VersionView:
    return VersionView(version=version, spec=f"{name}@{version}", latest=version == entry.latest,
                       size=size_text(manifest.size), files=len(manifest.files),
                       manifest_href=f"{version}/manifest.json")


# --- weights and layers --------------------------------------------------------------------


def split_weight_name(name: str) -> tuple[str, str, str]:
    """``model-layer.path-i`` → ``(model, layer.path, i)``; a name without that shape is its own layer."""
    head, sep, index = name.rpartition("-")
    model, sep2, layer = head.partition("-")
    if not sep or not sep2 or not layer:
        return "", name, ""
    return model, layer, index


def _weights(info: pretrained.PretrainedInfo | None) -> tuple[WeightView, ...]:
    if info is None:
        return ()
    rows = []
    for name in info.weights:  # the adapter's order: the model's own order of layers
        entry = info.weights[name]
        rows.append(WeightView(
            name=name, layer=split_weight_name(name)[1], shape=" × ".join(map(str, entry.shape)) or "scalar",
            dtype=str(entry.dtype), count=math.prod(entry.shape), size=size_text(entry.nbytes),
            sha256=entry.sha256, short_sha=entry.sha256[:12], optimizer=name.startswith(OPTIMIZER_PREFIX)))
    return tuple(rows)


def _layers(hub: Path, files: dict[str, hubformat.FileEntry],
            info: pretrained.PretrainedInfo | None) -> tuple[LayerView, ...]:
    if info is None:
        return ()
    groups: dict[str, list[pretrained.WeightEntry]] = {}
    for name in info.weights:
        if not name.startswith(OPTIMIZER_PREFIX):
            groups.setdefault(split_weight_name(name)[1], []).append(info.weights[name])
    layers = []
    for i, (layer, entries) in enumerate(groups.items()):
        histogram = _histogram(hub, files, entries) if i < MAX_HISTOGRAMS else None
        layers.append(LayerView(name=layer, count=sum(math.prod(e.shape) for e in entries),
                                weights=tuple(e.name for e in entries), histogram=histogram))
    return tuple(layers)


def _histogram(hub: Path, files: dict[str, hubformat.FileEntry],
               entries: list[pretrained.WeightEntry]) -> svg.Histogram | None:
    samples = [site_blobs.sample_weight(hub, files[e.file], e) for e in entries
               if e.dtype.kind in "biuf" and e.file in files]
    samples = [s.astype(np.float64) for s in samples if s.size]
    return svg.histogram(np.concatenate(samples)) if samples else None


# --- card ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A card value as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(_text(v) for v in value)
    return (_text(value),) if value else ()


def _metrics(value: Any) -> tuple[tuple[str, str], ...]:
    """Card ``metrics``: ``{name: value}``, or a list of ``{"name": ..., "value": ...}`` / ``[name, value]``."""
    if isinstance(value, dict):
        return tuple((str(k), _metric_value(value[k])) for k in sorted(value))  # manifests sort keys
    if isinstance(value, list):
        pairs = []
        for item in value:
            if isinstance(item, dict) and "name" in item:
                pairs.append((_text(item["name"]), _metric_value(item.get("value", ""))))
            elif isinstance(item, list) and len(item) == 2:
                pairs.append((_text(item[0]), _metric_value(item[1])))
            else:
                pairs.append(("", _text(item)))
        return tuple(pairs)
    return (("", _text(value)),) if value not in (None, "") else ()


def _metric_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return _text(value)


def _headline(metrics: tuple[tuple[str, str], ...], chosen: Any) -> str:
    for name, value in metrics:
        if chosen is None or name == chosen:
            return f"{name} {value}".strip()
    return ""


def _more(card: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((key, _text(card[key])) for key in sorted(card) if key not in _CARD_KEYS)


def _readme(hub: Path, entry: hubformat.FileEntry | None, where: str) -> Markup | None:
    if entry is None:
        return None
    text = site_blobs.read_file_bytes(hub, entry, where).decode("utf-8", errors="replace")
    body = render_markdown(text)
    return body or None


def _search_text(name: str, manifest: hubformat.Manifest) -> str:
    card = manifest.card
    words = [name, _text(card.get("task", "")), manifest.framework, manifest.class_name, *_tags(card.get("tags"))]
    return " ".join(w for w in words if w).lower()


# --- hyperparameters -----------------------------------------------------------------------


def _hyperparameters(info: pretrained.PretrainedInfo | None) -> tuple[tuple[str, str], ...]:
    if info is None:
        return ()
    rows = []
    for key in sorted(info.parameters):
        text = describe(info.parameters[key])
        rows.append((key, text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"))
    return tuple(rows)


def describe(value: Any) -> str:
    """A readable text for an encoded parameter value (``docs/format.md``, tagged objects)."""
    if isinstance(value, dict) and "__dchub__" in value:
        return _describe_tagged(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _describe_tagged(value: dict[str, Any]) -> str:
    tag = value.get("__dchub__")
    if tag == "tuple":
        items = [describe(v) for v in value.get("items", [])]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if tag == "float":
        return str(value.get("value"))
    if tag == "ref":
        return str(value.get("name"))
    if tag == "object":
        kwargs = value.get("kwargs") or {}
        return f"{value.get('class')}(" + ", ".join(f"{k}={describe(v)}" for k, v in kwargs.items()) + ")"
    if tag == "state":
        return f"{value.get('class')} (restored state)"
    if tag == "ndarray":
        return f"array(shape={describe(value.get('shape'))}, dtype={value.get('dtype')})"
    if tag == "dict":
        return "{" + ", ".join(f"{describe(k)}: {describe(v)}" for k, v in value.get("items", [])) + "}"
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# --- numbers -------------------------------------------------------------------------------


def size_text(n: int) -> str:
    """``1536`` → ``1.5 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def count_text(n: int) -> str:
    """``1234567`` → ``1.23M``; numbers under 10,000 are written out (``9,999``)."""
    if n < 10_000:
        return f"{n:,}"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)
