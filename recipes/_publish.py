"""Write a recipe's result as a pretrained pipeline folder with a card a chemist can judge.

The folder holds the model trained on the random split with its featurizer, output transformers,
output contract and applicability domain (``dchub_client.to_pretrained``), and:

* ``README.md``: the card (metrics on both splits, the MoleculeNet comparison, the domain, the
  hyperparameters, how training stopped, BibTeX);
* ``evaluation.json``: every held-out prediction of both splits (parity plots, ROC curves, tests);
* ``training_set.json``: what the published model has seen (size, MW, logP, scaffolds);
* ``reference_predictions.json``: what the original in-memory pipeline predicted for a few
  molecules (the first three are the page's examples), to check round trips.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dchub_client.format import layout

from . import _common, _evaluation, _moleculenet
from ._data import MoleculeSet

logger = logging.getLogger(__name__)

REFERENCE_FILE = layout.REFERENCE_FILE
EVALUATION_FILE = layout.EVALUATION_FILE
TRAINING_FILE = layout.TRAINING_SET_FILE
LICENSE_URL = "https://opensource.org/license/mit"
#: Metrics reported per split, in this order; the first is the card's headline.
REPORTED = {"regression": ("rmse", "mae", "r2"), "classification": ("roc_auc", "roc_auc_pooled")}
UNITLESS = {"r2", "roc_auc", "roc_auc_pooled"}


@dataclass(frozen=True)
class Recipe:
    """What a recipe says about its model (the rest is measured)."""

    name: str
    module: str
    description: str
    task: str
    featurizer_text: str
    family: str | None
    hyperparameters: dict[str, Any]
    examples: Sequence[str]
    intended_use: str
    limitations: str
    tags: Sequence[str]
    body: str
    extra: dict[str, Any] | None = None


def publish(output_dir: Path, recipe: Recipe, *, data: MoleculeSet, runs: dict[str, _evaluation.Run],
            featurizer: Any, started: float, recipe_sha256: str) -> None:
    """Write the folder for the model trained on :data:`_common.HEADLINE_SPLIT`."""
    import dchub_client
    from dchub_client.format.card import Card

    run = runs[_common.HEADLINE_SPLIT]
    threshold = _evaluation.domain_threshold(run.split)
    domain = _evaluation.domain_of(run.split, threshold)
    outputs = output_contract(data, recipe.task)
    pipeline = dchub_client.Pipeline(model=run.trained.model, featurizer=featurizer,
                                     transformers=tuple(run.trained.transformers), outputs=outputs,
                                     applicability=domain)
    metadata = card_metadata(recipe, data, runs, threshold, recipe_sha256)
    files = {REFERENCE_FILE: _json(reference_predictions(pipeline, recipe, run)),
             EVALUATION_FILE: _json(_evaluation.evaluation_record(runs, data, recipe.task)),
             TRAINING_FILE: _json(_evaluation.training_summary(run.split.train, _common.HEADLINE_SPLIT))}
    dchub_client.to_pretrained(run.trained.model, output_dir, featurizer=featurizer,
                               transformers=list(run.trained.transformers), outputs=outputs, domain=domain,
                               card=Card(metadata, card_body(recipe, metadata)), overwrite=True, files=files)
    logger.info("%s: built in %.1f s", output_dir, time.time() - started)


def output_contract(data: MoleculeSet, task: str) -> Any:
    """What ``predict`` returns: one column per task, in the data's unit (or class probabilities)."""
    import dchub_client

    if task == "classification":
        return dchub_client.OutputContract.classification(data.tasks, classes=("inactive", "active"))
    return dchub_client.OutputContract.regression(data.tasks, unit=data.unit)


def reference_predictions(pipeline: Any, recipe: Recipe, run: _evaluation.Run) -> dict[str, Any]:
    """The original pipeline's predictions: the page's three examples, then eight test molecules."""
    smiles = [*recipe.examples, *[str(s) for s in run.split.test.ids[:8]]]
    return {"smiles": smiles, "examples": len(recipe.examples),
            "predictions": pipeline.predict(smiles).tolist(),
            "similarity": [round(float(s), 4) for s in pipeline.domain(smiles).similarity]}


def card_metadata(recipe: Recipe, data: MoleculeSet, runs: dict[str, _evaluation.Run], threshold: float,
                  recipe_sha256: str) -> dict[str, Any]:
    """The card's front matter: everything measured at build time, nothing typed in."""
    run = runs[_common.HEADLINE_SPLIT]
    metrics = [_metric(name, r.metrics[name], kind, data) for kind, r in runs.items()
               for name in REPORTED[recipe.task]]
    meta: dict[str, Any] = {
        "description": recipe.description,
        "task": recipe.task,
        "outputs": output_contract(data, recipe.task).to_json(),
        "training_data": {**data.describe(), "train": len(run.split.train), "valid": len(run.split.valid),
                          "test": len(run.split.test),
                          "featurized": len(run.split.train) + len(run.split.valid) + len(run.split.test)},
        "metrics": metrics,
        "headline_metric": REPORTED[recipe.task][0],
    }
    if recipe.family is not None:
        dataset = data.name.split(" ")[0]
        meta["moleculenet"] = _moleculenet.comparison(dataset, recipe.family, run.metrics[REPORTED[recipe.task][0]])
    meta["domain"] = {"fingerprint": f"ECFP4 (Morgan radius {_evaluation.DOMAIN_RADIUS}, "
                                     f"{_evaluation.DOMAIN_BITS} bits)",
                      "measure": "largest Tanimoto similarity to a training molecule",
                      "threshold": threshold,
                      "rule": f"{round(_evaluation.DOMAIN_QUANTILE * 100)}th percentile of the validation "
                              "molecules' similarity (random split); below it a molecule is out of domain",
                      "splits": _evaluation.domain_report(runs, threshold, recipe.task)}
    meta["featurizer"] = recipe.featurizer_text
    meta["hyperparameters"] = recipe.hyperparameters
    meta["training"] = {kind: r.trained.training for kind, r in runs.items()}
    meta.update(recipe.extra or {})
    meta.update({"intended_use": recipe.intended_use, "limitations": recipe.limitations,
                 "license": _common.LICENSE, "license_url": LICENSE_URL, "authors": _common.AUTHORS,
                 "citation": bibtex(recipe, data), "tags": list(recipe.tags),
                 "recipe": f"{recipe.module}:build", "recipe_sha256": recipe_sha256})
    return meta


def _metric(name: str, value: float, kind: str, data: MoleculeSet) -> dict[str, Any]:
    entry = {"name": name, "value": round(value, 4), "split": _common.SPLITS[kind],
             "dataset": data.name.split(" ")[0]}
    if name not in UNITLESS:
        entry["unit"] = data.unit
    return entry


def card_body(recipe: Recipe, metadata: dict[str, Any]) -> str:
    """The card's Markdown: the recipe's words, then the comparison sentence."""
    lines = [f"# {recipe.name}", "", recipe.body.strip(), ""]
    if "moleculenet" in metadata:
        lines += [f"**Compared with MoleculeNet:** {metadata['moleculenet']['summary']}", ""]
    return "\n".join(lines)


def bibtex(recipe: Recipe, data: MoleculeSet) -> str:
    """BibTeX for the model, the data set and MoleculeNet."""
    key = recipe.name.replace("-", "_")
    entries = [f"@misc{{dchub_{key},\n  title = {{{recipe.name}: {recipe.description}}},\n"
               "  author = {{DeepChem model hub maintainers}},\n  note = {DeepChem example model hub, "
               f"recipe {recipe.module}}}\n}}", _moleculenet.BIBTEX]
    entries += [entry for entry in DATASET_BIBTEX.get(data.name.split(" ")[0], ())]
    return "\n\n".join(entries) + "\n"


DATASET_BIBTEX = {
    "ESOL": ("@article{delaney2004esol,\n  title = {{ESOL}: Estimating Aqueous Solubility Directly from Molecular "
             "Structure},\n  author = {Delaney, John S.},\n  journal = {J. Chem. Inf. Comput. Sci.},\n"
             "  volume = {44},\n  number = {3},\n  pages = {1000--1005},\n  year = {2004},\n"
             "  doi = {10.1021/ci034243x}\n}",),
    "Tox21": ("@misc{tox21challenge2014,\n  title = {Tox21 Data Challenge 2014},\n"
              "  author = {{National Center for Advancing Translational Sciences}},\n"
              "  howpublished = {\\url{https://tripod.nih.gov/tox21/challenge/}},\n  year = {2014}\n}",),
}


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=None, separators=(",", ":"), allow_nan=False) + "\n").encode()
