"""What a chemist asks of a model page, computed from a model version's files and card.

* what it returns: the output contract (``params.json`` ``extra.pipeline.outputs``, else the card's
  ``outputs``) and three example molecules drawn with their predicted values (the first entries of
  ``reference_predictions.json``);
* how good it is: the card's metrics with a warning where one is worse than a trivial baseline,
  the MoleculeNet comparison (card ``moleculenet``), and per split a parity plot (regression) or
  ROC curves / per-task ROC-AUC bars (classification) from ``evaluation.json``;
* what it has seen: ``training_set.json`` (size, molecular weight and logP histograms, most common
  scaffolds drawn) and the applicability domain (card ``domain``, ``params.json`` ``extra.pipeline.domain``).

Every part is optional: a version without these files shows what it has. Drawings are returned
with the view (``drawings``) for the renderer to write.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dchub_client.errors import DchubError
from dchub_client.format import hubfiles, jsonstrict, layout, pretrained
from hubgen.site import card_rows, molecules, plots, reader
from hubgen.site.values import text

#: Metrics whose value below a bound means the model is worse than a trivial baseline.
BASELINES = {"r2": (0.0, "R² below 0: worse than always predicting the mean of the data"),
             "roc_auc": (0.5, "ROC-AUC below 0.5: ranks worse than random guessing")}
#: Examples drawn on the page.
EXAMPLES = 3
#: Largest JSON file (evaluation, training set, reference predictions) read for the page.
MAX_JSON_BYTES = 16 << 20
VERDICTS = {"better": "better than published", "within": "within the published spread",
            "misses": "misses the published spread"}


@dataclass(frozen=True)
class TaskView:
    """One output column: its name and unit."""

    name: str
    unit: str


@dataclass(frozen=True)
class OutputsView:
    """The output contract in words."""

    kind: str
    shape: str
    tasks: tuple[TaskView, ...]
    classes: tuple[str, ...]


@dataclass(frozen=True)
class Example:
    """An example molecule: its drawing, its predicted values, and its domain similarity."""

    smiles: str
    image: str
    values: tuple[tuple[str, str], ...]
    top: tuple[tuple[str, str], ...]
    similarity: str
    inside: bool | None


@dataclass(frozen=True)
class MetricRow:
    """One metric of the card with its split, unit, and a warning when it is worse than a trivial baseline."""

    name: str
    value: str
    split: str
    unit: str
    warning: str
    dataset: str = ""


@dataclass(frozen=True)
class Comparison:
    """The card's comparison with MoleculeNet's published number for the same model family and data set."""

    dataset: str
    family: str
    metric: str
    split: str
    published: str
    spread: str
    measured: str
    verdict: str
    verdict_text: str
    summary: str
    citation: str
    doi: str
    note: str = ""


@dataclass(frozen=True)
class SplitPlots:
    """The held-out set of one split: a parity plot, ROC curves or ROC-AUC bars."""

    name: str
    description: str
    test: int
    parity: plots.Parity | None = None
    roc: plots.Roc | None = None
    bars: plots.AucBars | None = None


@dataclass(frozen=True)
class Scaffold:
    """A frequent Bemis-Murcko scaffold of the training set: its drawing and how many molecules have it."""

    smiles: str
    image: str
    count: int


@dataclass(frozen=True)
class TrainingView:
    """What the published model was trained on."""

    molecules: int
    split: str
    distinct_scaffolds: int
    acyclic: int
    molecular_weight: Any
    logp: Any
    scaffolds: tuple[Scaffold, ...]


@dataclass(frozen=True)
class DomainRow:
    """How much of one split's test set is in the domain, and the metric inside and outside."""

    split: str
    in_domain: str
    inside: str
    outside: str


@dataclass(frozen=True)
class DomainView:
    """The applicability domain: fingerprint, measure, threshold and how the test sets fall."""

    fingerprint: str
    measure: str
    threshold: str
    rule: str
    molecules: str
    rows: tuple[DomainRow, ...]


@dataclass(frozen=True)
class ChemistryView:
    """Everything the chemistry sections of a model page show (each part None/empty when unknown)."""

    outputs: OutputsView | None
    examples: tuple[Example, ...]
    metrics: tuple[MetricRow, ...]
    warnings: tuple[str, ...]
    comparison: Comparison | None
    plots: tuple[SplitPlots, ...]
    training: TrainingView | None
    domain: DomainView | None
    bibtex: str
    license_url: str
    drawings: dict[str, bytes] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing chemistry-specific to show."""
        return not (self.outputs or self.examples or self.metrics or self.plots or self.training or self.domain)


def gather(hub: Path, files: Mapping[str, hubfiles.FileEntry], card: dict[str, Any],
           info: pretrained.PretrainedInfo | None, where: str) -> ChemistryView:
    """The chemistry view of one model version (its *files* by path, its merged *card*, its ``params.json``)."""
    drawings: dict[str, bytes] = {}
    spec = info.extra.get(layout.EXTRA_PIPELINE) if info is not None else None
    spec = spec if isinstance(spec, dict) else {}
    outputs = _outputs(spec.get(layout.PIPELINE_OUTPUTS) or card.get("outputs"))
    reference = _json_file(hub, files.get(layout.REFERENCE_FILE), where)
    evaluation = _json_file(hub, files.get(layout.EVALUATION_FILE), where)
    training = _json_file(hub, files.get(layout.TRAINING_SET_FILE), where)
    rows = _metric_rows(card.get("metrics"), card_rows.training_data_name(card))
    domain = _domain(card.get("domain"), spec.get(layout.PIPELINE_DOMAIN))
    threshold = float(domain.threshold) if domain is not None else None
    return ChemistryView(
        outputs=outputs, examples=_examples(reference, outputs, threshold, drawings), metrics=rows,
        warnings=tuple(dict.fromkeys(r.warning for r in rows if r.warning)),
        comparison=_comparison(card.get("moleculenet")), plots=_plots(evaluation),
        training=_training(training, drawings), domain=domain,
        bibtex=_bibtex(card.get("citation")), license_url=_license_url(card), drawings=drawings)


# --- files -----------------------------------------------------------------------------------


def _json_file(hub: Path, entry: hubfiles.FileEntry | None, where: str) -> Any:
    """A JSON file of the version, or None when absent, too large or invalid (the page then omits it)."""
    if entry is None or entry.size > MAX_JSON_BYTES:
        return None
    try:
        return jsonstrict.loads(reader.read_file_bytes(hub, entry, where), f"{where}: {entry.path}")
    except (DchubError, ValueError):
        return None


# --- what it returns -------------------------------------------------------------------------


def _outputs(data: Any) -> OutputsView | None:
    if not isinstance(data, dict) or data.get("kind") not in ("regression", "classification"):
        return None
    tasks = tuple(TaskView(text(t.get("name", "")), text(t.get("unit", ""))) for t in data.get("tasks", [])
                  if isinstance(t, dict))
    classes = tuple(text(c) for c in data.get("classes", []) if isinstance(c, str))
    if not tasks:
        return None
    shape = f"(n_molecules, {len(tasks)}" + (f", {len(classes)})" if data["kind"] == "classification" else ")")
    return OutputsView(data["kind"], shape, tasks, classes)


def _examples(reference: Any, outputs: OutputsView | None, threshold: float | None,
              drawings: dict[str, bytes]) -> tuple[Example, ...]:
    if not isinstance(reference, dict) or not isinstance(reference.get("smiles"), list):
        return ()
    count = reference.get("examples", EXAMPLES)
    count = min(count if isinstance(count, int) else EXAMPLES, EXAMPLES)
    predictions = reference.get("predictions") if isinstance(reference.get("predictions"), list) else []
    similarity = reference.get("similarity") if isinstance(reference.get("similarity"), list) else []
    out = []
    for i, smiles in enumerate(reference["smiles"][:count]):
        picture = molecules.draw(smiles) if isinstance(smiles, str) else None
        if picture is None:
            continue
        drawings[picture.path] = picture.svg
        values = _values(predictions[i] if i < len(predictions) else None, outputs)
        sim = similarity[i] if i < len(similarity) and isinstance(similarity[i], (int, float)) else None
        inside = None if sim is None or threshold is None else sim >= threshold
        out.append(Example(smiles, picture.path, values, _top(values, outputs),
                           "" if sim is None else f"{sim:.2f}", inside))
    return tuple(out)


def _values(prediction: Any, outputs: OutputsView | None) -> tuple[tuple[str, str], ...]:
    """``(task, value)`` texts of one molecule's prediction (a classifier's: the last class's probability)."""
    if outputs is None or not isinstance(prediction, list):
        return ()
    rows = []
    for task, value in zip(outputs.tasks, prediction):
        if outputs.kind == "classification":
            value = value[-1] if isinstance(value, list) and value else None
            label = f"P({outputs.classes[-1]})" if outputs.classes else "probability"
            rows.append((task.name, f"{value:.2f} {label}" if _finite(value) else "n/a"))
        else:
            value = value[0] if isinstance(value, list) and len(value) == 1 else value
            rows.append((task.name, f"{value:.2f} {task.unit}".strip() if _finite(value) else "n/a"))
    return tuple(rows)


def _top(values: tuple[tuple[str, str], ...], outputs: OutputsView | None) -> tuple[tuple[str, str], ...]:
    """A classifier's three most probable tasks (all values for a regressor)."""
    if outputs is None or outputs.kind != "classification":
        return values
    ranked = sorted(values, key=lambda item: -_leading_number(item[1]))
    return tuple(ranked[:3])


def _leading_number(value: str) -> float:
    try:
        return float(value.split()[0])
    except (ValueError, IndexError):
        return -1.0


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- how good it is --------------------------------------------------------------------------


def _metric_rows(metrics: Any, training_data: str) -> tuple[MetricRow, ...]:
    """The card's list of metrics; a metric naming no data set was measured on the training data's."""
    if not isinstance(metrics, list):
        return ()
    rows = []
    for item in metrics:
        if not isinstance(item, dict) or not _finite(item.get("value")):
            continue
        name = text(item.get("name", ""))
        bound = BASELINES.get(name)
        warning = bound[1] if bound is not None and item["value"] < bound[0] else ""
        dataset = text(item["dataset"]) if item.get("dataset") else training_data
        rows.append(MetricRow(name, f"{item['value']:.4g}", text(item.get("split", "")), text(item.get("unit", "")),
                              warning, dataset))
    return tuple(rows)


def _comparison(data: Any) -> Comparison | None:
    if not isinstance(data, dict) or not all(_finite(data.get(k)) for k in ("published", "spread", "measured")):
        return None
    verdict = text(data.get("verdict", ""))
    return Comparison(
        dataset=text(data.get("dataset", "")), family=text(data.get("family", "")), metric=text(data.get("metric", "")),
        split=text(data.get("split", "")), published=f"{data['published']:g}", spread=f"{data['spread']:g}",
        measured=f"{data['measured']:.3f}", verdict=verdict, verdict_text=VERDICTS.get(verdict, verdict),
        summary=text(data.get("summary", "")), citation=text(data.get("citation", "")), doi=text(data.get("doi", "")),
        note=text(data.get("note", "")))


def _plots(evaluation: Any) -> tuple[SplitPlots, ...]:
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("splits"), dict):
        return ()
    tasks = [text(t) for t in evaluation.get("tasks", [])] if isinstance(evaluation.get("tasks"), list) else []
    unit = text(evaluation.get("unit", ""))
    out = []
    for name, split in evaluation["splits"].items():
        if not isinstance(split, dict):
            continue
        y_true, y_pred = _matrix(split.get("y_true")), _matrix(split.get("y_pred"))
        smiles = [text(s) for s in split.get("smiles", [])] if isinstance(split.get("smiles"), list) else []
        if not y_true or len(y_true) != len(y_pred):
            continue
        base = SplitPlots(text(name), text(split.get("description", name)), len(y_true))
        if evaluation.get("task") == "classification":
            out.append(_classification_plots(base, y_true, y_pred, tasks))
        else:
            labels = smiles if len(smiles) == len(y_true) else [""] * len(y_true)
            out.append(SplitPlots(base.name, base.description, base.test,
                                  parity=plots.parity([r[0] for r in y_true], [r[0] for r in y_pred], labels,
                                                      unit=unit)))
    return tuple(out)


def _matrix(value: Any) -> list[list[float | None]]:
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        return []
    return [[v if _finite(v) else None for v in row] for row in value]


def _classification_plots(base: SplitPlots, y_true: list[list[float | None]], y_pred: list[list[float | None]],
                          tasks: list[str]) -> SplitPlots:
    per_task = []
    width = min(len(y_true[0]), len(y_pred[0])) if y_true and y_pred else 0
    for t in range(width):
        pairs = [(row[t], pred[t]) for row, pred in zip(y_true, y_pred) if row[t] is not None and pred[t] is not None]
        name = tasks[t] if t < len(tasks) else f"task {t}"
        per_task.append((name, [p[0] for p in pairs], [p[1] for p in pairs]))
    if len(per_task) <= plots.MAX_CURVES:
        return SplitPlots(base.name, base.description, base.test, roc=plots.roc(per_task))
    aucs = [(name, plots.roc_curve(labels, scores)[2], len(labels)) for name, labels, scores in per_task
            if len(set(labels)) == 2]
    return SplitPlots(base.name, base.description, base.test, bars=plots.auc_bars(aucs))


# --- what it has seen ------------------------------------------------------------------------


def _training(data: Any, drawings: dict[str, bytes]) -> TrainingView | None:
    if not isinstance(data, dict) or not isinstance(data.get("molecules"), int):
        return None
    scaffolds = []
    for item in data.get("scaffolds", []) if isinstance(data.get("scaffolds"), list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("count"), int):
            continue
        picture = molecules.draw(item.get("smiles"), width=160, height=120)
        if picture is not None:
            drawings[picture.path] = picture.svg
            scaffolds.append(Scaffold(text(item["smiles"]), picture.path, item["count"]))
    return TrainingView(
        molecules=data["molecules"], split=text(data.get("split", "")),
        distinct_scaffolds=data.get("distinct_scaffolds") if isinstance(data.get("distinct_scaffolds"), int) else 0,
        acyclic=data.get("acyclic") if isinstance(data.get("acyclic"), int) else 0,
        molecular_weight=plots.labelled_histogram(_numbers(data.get("molecular_weight"))),
        logp=plots.labelled_histogram(_numbers(data.get("logp"))), scaffolds=tuple(scaffolds))


def _numbers(value: Any) -> list[float]:
    return [float(v) for v in value if _finite(v)] if isinstance(value, list) else []


def _domain(card: Any, stored: Any) -> DomainView | None:
    if not isinstance(card, dict) and not isinstance(stored, dict):
        return None
    card = card if isinstance(card, dict) else {}
    stored = stored if isinstance(stored, dict) else {}
    threshold = stored.get("threshold", card.get("threshold"))
    if not _finite(threshold):
        return None
    splits = card.get("splits") if isinstance(card.get("splits"), dict) else {}
    rows = tuple(_domain_row(name, item) for name, item in splits.items() if isinstance(item, dict))
    molecules_count = stored.get("molecules")
    return DomainView(fingerprint=text(card.get("fingerprint", "")), measure=text(card.get("measure", "")),
                      threshold=f"{threshold:g}", rule=text(card.get("rule", "")),
                      molecules=f"{molecules_count:,}" if isinstance(molecules_count, int) else "", rows=rows)


def _domain_row(name: str, item: dict[str, Any]) -> DomainRow:
    share = item.get("test_in_domain")
    side = {k: item.get(k) for k in item if k.startswith(("rmse_", "roc_auc_"))}

    def pick(suffix: str) -> str:
        found = [(k.rsplit("_", 1)[0], v) for k, v in side.items() if k.endswith(suffix) and _finite(v)]
        return ", ".join(f"{metric} {value:.3g}" for metric, value in found)

    return DomainRow(text(name), f"{share:.0%}" if _finite(share) else "", pick("_inside"), pick("_outside"))


# --- how to cite and use it ------------------------------------------------------------------


def _bibtex(citation: Any) -> str:
    """The card's citation when it is BibTeX (starts with ``@``), else empty (the card shows it as text)."""
    return citation.strip() if isinstance(citation, str) and citation.lstrip().startswith("@") else ""


#: Links for common SPDX license identifiers (a card's ``license_url`` wins).
LICENSE_URLS = {"mit": "https://opensource.org/license/mit", "apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
                "bsd-3-clause": "https://opensource.org/license/bsd-3-clause",
                "cc-by-4.0": "https://creativecommons.org/licenses/by/4.0/",
                "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/"}


def _license_url(card: dict[str, Any]) -> str:
    url = card.get("license_url")
    if isinstance(url, str) and url.startswith("https://"):
        return url
    license_name = card.get("license")
    return LICENSE_URLS.get(license_name.strip().lower(), "") if isinstance(license_name, str) else ""


__all__ = ["ChemistryView", "gather", "BASELINES"]
