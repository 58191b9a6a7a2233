"""What the catalogue site shows, computed from a built hub: plain, frozen data for the templates.

:func:`gather` reads the index, the manifests and (for each model's latest version) the
``params.json`` and weight blobs, and returns a :class:`HubView`. Templates only present it.
Only model weights are counted, charted and plotted; the arrays ``params.json`` lists in
``extra["auxiliary_weights"]`` (pipeline transformers, optimizer state) are listed apart.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup

from dchub_client.format import hubfiles, layout, pretrained
from hubgen.errors import BuildError
from hubgen.site import card_rows, chemistry, pipeline, reader, svg
from hubgen.site.card_rows import CardRow, MetricView
from hubgen.site.histogram_cache import HistogramCache
from hubgen.site.markdown import render_markdown
from hubgen.site.pipeline import PipelineView
from hubgen.site.values import MAX_VALUE_CHARS, clip, count_text, describe, shape_text, size_text, text

#: At most this many layers get a histogram (the bar chart shows them all).
MAX_HISTOGRAMS = 64
#: A layer with fewer values than this gets no histogram: a few dozen numbers over the bins say
#: nothing a reader can use, and reading each tiny weight's blob costs a hub of many small models dearly.
MIN_HISTOGRAM_VALUES = 100
#: A weights table longer than this starts folded (a ``<details>`` element: no script needed).
FOLD_WEIGHTS_OVER = 24
#: Shown in the "how to load" snippet when the hub lists no mirror.
MIRROR_PLACEHOLDER = "https://<where-this-hub-is-hosted>/"
#: Molecules the pipeline snippet predicts.
SNIPPET_SMILES = ("CCO",)
#: The hub root as seen from a model page.
ROOT_FROM_MODEL = "../../"


@dataclass(frozen=True)
class WeightView:
    """One row of the weights table (or of the pipeline and training state table)."""

    name: str
    layer: str
    shape: str
    dtype: str
    dtype_full: str
    count: int
    size: str
    sha256: str
    short_sha: str
    role: str = ""


@dataclass(frozen=True)
class LayerView:
    """A layer (the variables sharing ``model-layer-``): its parameter count and value histogram."""

    name: str
    count: int
    numeric: int
    weights: tuple[str, ...]
    histogram: svg.Histogram | None


@dataclass(frozen=True)
class FileLink:
    """A file of a version, linked through its blob(s): one href, or one per part of a large file."""

    path: str
    size: str
    sha256: str
    hrefs: tuple[str, ...]


@dataclass(frozen=True)
class VersionView:
    """One published version of a model, with a link to every file (so a crawl of the site mirrors the hub)."""

    version: str
    spec: str
    latest: bool
    size: str
    files: int
    manifest_href: str
    links: tuple[FileLink, ...] = ()


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
    card_rows: tuple[CardRow, ...]
    metrics: tuple[MetricView, ...]
    metrics_have_dataset: bool
    headline: MetricView | None
    more: tuple[CardRow, ...]
    readme: Markup | None
    param_count: int
    params_text: str
    size_bytes: int
    size_text: str
    versions: tuple[VersionView, ...]
    hyperparameters: tuple[tuple[str, str], ...]
    built_with: tuple[tuple[str, str], ...]
    pipeline: PipelineView | None
    weights: tuple[WeightView, ...]
    auxiliary: tuple[WeightView, ...]
    fold_weights: bool
    layers: tuple[LayerView, ...]
    chart: svg.BarChart
    hidden_histograms: int
    search: str
    chemistry: chemistry.ChemistryView | None = None
    base_model: str = ""
    base_model_href: str = ""
    dataset: str = ""

    @property
    def headline_text(self) -> str:
        """``rmse 0.58``: the headline metric's name and value (empty when the card has none)."""
        return f"{self.headline.name} {self.headline.value}".strip() if self.headline else ""


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
    smiles: tuple[str, ...] = SNIPPET_SMILES
    mirrors: tuple[str, ...] = ()

    @property
    def drawings(self) -> dict[str, bytes]:
        """Every molecule drawing the pages show, by path relative to the hub root."""
        found: dict[str, bytes] = {}
        for model in self.models:
            if model.chemistry is not None:
                found.update(model.chemistry.drawings)
        return found


def gather(hub: Path, index: hubfiles.Index, manifests: dict[tuple[str, str], hubfiles.Manifest],
           histograms: HistogramCache | None = None, *, names: Iterable[str] | None = None,
           pages: Iterable[str] | None = None) -> HubView:
    """Compute the site's data from the built hub at *hub* (*histograms*: reuse those of earlier builds).

    *names* limits the models computed (for pages of some models only; the home page needs them all).
    *pages*, when given, names the models whose own page will be rendered: the others get only what
    the home page shows (no layers or histograms, no card text), which is much cheaper.

    Raises:
        BuildError: a manifest listed by *index* is missing from *manifests*, or a blob is unreadable.
    """
    chosen = sorted(index.models if names is None else names)
    detail = None if pages is None else set(pages)
    models = tuple(_model(hub, index, name, manifests, histograms, full=detail is None or name in detail)
                   for name in chosen)
    return HubView(name=index.name, title=index.title or index.name, description=index.description,
                   mirror=index.mirrors[0] if index.mirrors else MIRROR_PLACEHOLDER,
                   mirror_known=bool(index.mirrors), generated=index.generated or "", models=models,
                   total_size=size_text(sum(m.size_bytes for m in models)), mirrors=tuple(index.mirrors))


def _model(hub: Path, index: hubfiles.Index, name: str, manifests: dict[tuple[str, str], hubfiles.Manifest],
           histograms: HistogramCache | None, *, full: bool = True) -> ModelView:
    entry = index.models[name]
    versions = sorted(entry.versions, key=hubfiles.version_key, reverse=True)
    manifest = _manifest(manifests, name, entry.latest)
    where = hubfiles.manifest_path(name, entry.latest)
    files = {f.path: f for f in manifest.files}
    info = reader.read_params(hub, files[layout.PARAMS_FILE], where) \
        if layout.PARAMS_FILE in files else None
    auxiliary = pipeline.auxiliary_names(info)
    weights, extras = _weights(info, auxiliary)
    layers = _layers(hub, files, info, auxiliary, histograms) if full else ()
    card = manifest.card
    metrics = card_rows.metrics(card)
    count = sum(w.count for w in weights)
    base = text(card.get("base_model", "")) if isinstance(card.get("base_model"), str) else ""
    base_name = base.partition("@")[0]
    return ModelView(
        name=name, href=f"models/{name}/index.html", class_name=manifest.class_name,
        framework=manifest.framework, latest=entry.latest, task=text(card.get("task", "")),
        license=text(card.get("license", "")), tags=_tags(card.get("tags")),
        description=text(card.get("description", "")), card=card, card_rows=card_rows.rows(card),
        metrics=metrics, metrics_have_dataset=any(m.dataset for m in metrics),
        headline=card_rows.headline(metrics, card.get("headline_metric")), more=card_rows.more(card),
        readme=_readme(hub, files.get(layout.CARD_FILE), where) if full else None, param_count=count,
        params_text=count_text(count), size_bytes=manifest.size, size_text=size_text(manifest.size),
        versions=tuple(_version(name, v, entry, _manifest(manifests, name, v)) for v in versions),
        hyperparameters=_hyperparameters(info), built_with=tuple(sorted((info.versions if info else {}).items())),
        pipeline=pipeline.pipeline(info), weights=weights, auxiliary=extras,
        fold_weights=len(weights) > FOLD_WEIGHTS_OVER, layers=layers,
        chart=svg.bar_chart([(layer.name, layer.count) for layer in layers]),
        hidden_histograms=max(0, sum(1 for layer in layers if layer.numeric >= MIN_HISTOGRAM_VALUES) - MAX_HISTOGRAMS),
        search=_search_text(name, manifest),
        chemistry=chemistry.gather(hub, files, card, info, where), base_model=base,
        base_model_href=f"../{base_name}/index.html" if base_name in index.models else "",
        dataset=card_rows.training_data_name(card),
    )


def _manifest(manifests: dict[tuple[str, str], hubfiles.Manifest], name: str, version: str) -> hubfiles.Manifest:
    try:
        return manifests[(name, version)]
    except KeyError:
        raise BuildError(f"{hubfiles.manifest_path(name, version)}: listed in the index but not given to "
                         "the site renderer") from None


def _version(name: str, version: str, entry: hubfiles.ModelEntry, manifest: hubfiles.Manifest) -> VersionView:
    return VersionView(version=version, spec=f"{name}@{version}", latest=version == entry.latest,
                       size=size_text(manifest.size), files=len(manifest.files),
                       manifest_href=f"{version}/{layout.MANIFEST_FILE}",
                       links=tuple(_file_link(f) for f in manifest.files))


def _file_link(entry: hubfiles.FileEntry) -> FileLink:
    """Links to the blob(s) of a file, relative to a model page (``models/<name>/index.html``)."""
    return FileLink(path=entry.path, size=size_text(entry.size), sha256=entry.sha256,
                    hrefs=tuple(f"{ROOT_FROM_MODEL}{hubfiles.blob_path(blob.sha256)}" for blob in entry.blobs))


# --- weights and layers --------------------------------------------------------------------


def split_weight_name(name: str) -> tuple[str, str, str]:
    """``model-layer.path-i`` → ``(model, layer.path, i)``; a name without that shape is its own layer."""
    head, sep, index = name.rpartition("-")
    model, sep2, layer = head.partition("-")
    if not sep or not sep2 or not layer:
        return "", name, ""
    return model, layer, index


def _weights(info: pretrained.PretrainedInfo | None,
             auxiliary: frozenset[str]) -> tuple[tuple[WeightView, ...], tuple[WeightView, ...]]:
    """``(model weights, auxiliary arrays)``, each in the adapter's order (the model's order of layers)."""
    if info is None:
        return (), ()
    roles = pipeline.roles(info)
    model, extra = [], []
    for name, entry in info.weights.items():
        if name in auxiliary:
            extra.append(_weight_view(entry, roles.get(name, "")))
        else:
            model.append(_weight_view(entry, ""))
    return tuple(model), tuple(extra)


def _weight_view(entry: pretrained.WeightEntry, role: str) -> WeightView:
    return WeightView(name=entry.name, layer=split_weight_name(entry.name)[1], shape=shape_text(entry.shape),
                      dtype=dtype_text(entry.dtype), dtype_full=str(entry.dtype), count=math.prod(entry.shape),
                      size=size_text(entry.nbytes), sha256=entry.sha256, short_sha=entry.sha256[:12], role=role)


def dtype_text(dtype: np.dtype) -> str:
    """``float32``; a structured dtype (e.g. a tree's nodes) as ``record of 7 fields``."""
    if dtype.names:
        return f"record of {len(dtype.names)} field{'' if len(dtype.names) == 1 else 's'}"
    return str(dtype)


def _layers(hub: Path, files: dict[str, hubfiles.FileEntry], info: pretrained.PretrainedInfo | None,
            auxiliary: frozenset[str], histograms: HistogramCache | None) -> tuple[LayerView, ...]:
    if info is None:
        return ()
    groups: dict[str, list[pretrained.WeightEntry]] = {}
    for name, entry in info.weights.items():
        if name not in auxiliary:
            groups.setdefault(split_weight_name(name)[1], []).append(entry)
    layers = []
    shown = 0
    for layer, entries in groups.items():
        numeric = [e for e in entries if _plottable(e) and e.file in files]
        values = sum(math.prod(e.shape) for e in numeric)
        wanted = values >= MIN_HISTOGRAM_VALUES and shown < MAX_HISTOGRAMS
        histogram = _histogram(hub, files, numeric, histograms) if wanted else None
        shown += values >= MIN_HISTOGRAM_VALUES
        layers.append(LayerView(name=layer, count=sum(math.prod(e.shape) for e in entries),
                                numeric=sum(math.prod(e.shape) for e in numeric),
                                weights=tuple(e.name for e in entries), histogram=histogram))
    return tuple(layers)


def _plottable(entry: pretrained.WeightEntry) -> bool:
    return entry.dtype.kind in "biuf" and not entry.dtype.names


def _histogram(hub: Path, files: dict[str, hubfiles.FileEntry], entries: list[pretrained.WeightEntry],
               histograms: HistogramCache | None) -> svg.Histogram | None:
    def make() -> svg.Histogram | None:
        samples = [reader.sample_weight(hub, files[e.file], e) for e in entries]
        samples = [s.astype(np.float64) for s in samples if s.size]
        return svg.histogram(np.concatenate(samples)) if samples else None

    return make() if histograms is None else histograms.get((files[e.file].sha256 for e in entries), make)


# --- card ----------------------------------------------------------------------------------


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(text(v) for v in value)
    return (text(value),) if value else ()


def _readme(hub: Path, entry: hubfiles.FileEntry | None, where: str) -> Markup | None:
    if entry is None:
        return None
    body = render_markdown(reader.read_file_bytes(hub, entry, where).decode("utf-8", errors="replace"))
    return body or None


def _search_text(name: str, manifest: hubfiles.Manifest) -> str:
    """What the index's search box matches: name, description, data set, tasks, framework, license, tags."""
    card = manifest.card
    words = [name, text(card.get("task", "")), manifest.framework, manifest.class_name, *_tags(card.get("tags")),
             text(card.get("description", "")), card_rows.training_data_name(card), text(card.get("license", "")),
             *_task_names(card)]
    return " ".join(w for w in words if w).lower()


def _task_names(card: dict[str, Any]) -> list[str]:
    outputs = card.get("outputs")
    tasks = outputs.get("tasks") if isinstance(outputs, dict) else None
    return [text(t.get("name", "")) for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else []


# --- hyperparameters -----------------------------------------------------------------------


def _hyperparameters(info: pretrained.PretrainedInfo | None) -> tuple[tuple[str, str], ...]:
    if info is None:
        return ()
    return tuple((key, clip(describe(info.parameters[key]))) for key in sorted(info.parameters))


__all__ = ["gather", "HubView", "ModelView", "WeightView", "LayerView", "VersionView", "FileLink", "split_weight_name",
           "dtype_text", "describe", "count_text", "size_text", "MAX_VALUE_CHARS"]
