"""Run a recipe's training on both splits and describe what the model has seen.

A recipe gives a *trainer*: ``trainer(split) -> Trained`` (the model fitted on ``split.train``,
selected on ``split.valid``). :func:`run_both` calls it for the random and the scaffold split and
predicts each test set once. The results feed the card (metrics, MoleculeNet comparison), the
held-out predictions file (parity plots, ROC curves), the training-set summary and the
applicability domain.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _common
from ._data import MoleculeSet

logger = logging.getLogger(__name__)

#: Fingerprint of the applicability domain: ECFP4 (Morgan radius 2) folded to 2048 bits.
DOMAIN_RADIUS = 2
DOMAIN_BITS = 2048
#: The domain threshold is this quantile of the validation molecules' similarity to the training set.
DOMAIN_QUANTILE = 0.05
#: Scaffolds shown on the model page.
TOP_SCAFFOLDS = 6
#: A metric inside or outside the domain is reported only over at least this many test molecules.
MIN_SIDE = 10


@dataclass(frozen=True)
class Trained:
    """What a trainer returns: the model, the output transformers to undo, how it was selected."""

    model: Any
    transformers: list[Any]
    training: dict[str, Any]


@dataclass(frozen=True)
class Run:
    """One split's experiment: the trained model and its test-set predictions and metrics."""

    split: _common.Split
    trained: Trained
    predictions: np.ndarray
    metrics: dict[str, float]


def run_both(dataset: Any, task: str, trainer: Callable[[_common.Split], Trained]) -> dict[str, Run]:
    """Train and test on the random and the scaffold split (``task``: regression or classification)."""
    return {kind: run_one(dataset, task, trainer, kind) for kind in _common.SPLITS}


def run_one(dataset: Any, task: str, trainer: Callable[[_common.Split], Trained], kind: str) -> Run:
    """Seed, split (*kind*), train, and predict the test part once. The same call gives the same model."""
    started = time.time()
    _common.seed_everything()
    split = _common.split(dataset, kind)
    trained = trainer(split)
    predictions = predict(trained, split.test, task)
    run = Run(split, trained, predictions, metrics(split.test, predictions, task))
    logger.info("%s split: %s (%.1f s)", kind, {k: round(v, 3) for k, v in run.metrics.items()},
                time.time() - started)
    return run


def predict(trained: Trained, dataset: Any, task: str) -> np.ndarray:
    """``(n, n_tasks)``: values in training units, or probabilities of the active class."""
    if task == "classification":
        return _common.predict_probabilities(trained.model, dataset)
    return _common.predict_regression(trained.model, dataset, trained.transformers)


def metrics(dataset: Any, predictions: np.ndarray, task: str) -> dict[str, float]:
    """The held-out metrics of *predictions* on *dataset*."""
    if task == "classification":
        return _common.classification_metrics(dataset.y, predictions, dataset.w)
    return _common.regression_metrics(dataset.y, predictions)


# --- the held-out predictions ----------------------------------------------------------------


def evaluation_record(runs: dict[str, Run], data: MoleculeSet, task: str) -> dict[str, Any]:
    """Every test-set prediction of both splits (``evaluation.json``): what the plots and the tests use."""
    return {"task": task, "tasks": list(data.tasks), "unit": data.unit,
            "splits": {kind: _split_record(run) for kind, run in runs.items()}}


def _split_record(run: Run) -> dict[str, Any]:
    test = run.split.test
    y_true = np.where(test.w > 0, test.y, np.nan)
    return {"description": _common.SPLITS[run.split.kind], "train": len(run.split.train),
            "valid": len(run.split.valid), "test": len(test), "smiles": [str(s) for s in test.ids],
            "y_true": _rounded(y_true), "y_pred": _rounded(run.predictions)}


def _rounded(values: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else round(float(v), 5) for v in row] for row in np.asarray(values, np.float64)]


# --- what the model has seen -----------------------------------------------------------------


def training_summary(train: Any, split_kind: str) -> dict[str, Any]:
    """Size, molecular weight and logP of every training molecule, and the most common scaffolds."""
    from rdkit import Chem
    from rdkit.Chem import Crippen, Descriptors
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mols = [m for m in (Chem.MolFromSmiles(str(s)) for s in train.ids) if m is not None]
    scaffolds = collections.Counter(MurckoScaffold.MurckoScaffoldSmiles(mol=m) for m in mols)
    acyclic = scaffolds.pop("", 0)
    top = sorted(scaffolds.items(), key=lambda item: (-item[1], item[0]))[:TOP_SCAFFOLDS]
    return {"split": _common.SPLITS[split_kind].replace(", test", ", training part"), "molecules": len(train),
            "distinct_scaffolds": len(scaffolds), "acyclic": acyclic,
            "scaffolds": [{"smiles": s, "count": n} for s, n in top],
            "molecular_weight": [round(Descriptors.MolWt(m), 2) for m in mols],
            "logp": [round(Crippen.MolLogP(m), 2) for m in mols]}


def domain_featurizer() -> Any:
    """The applicability domain's fingerprint (a DeepChem featurizer, stored with the pipeline)."""
    import deepchem as dc

    return dc.feat.CircularFingerprint(radius=DOMAIN_RADIUS, size=DOMAIN_BITS)


def domain_of(split: _common.Split, threshold: float = 0.0) -> Any:
    """The applicability domain of a model trained on ``split.train`` (fingerprinted once per split)."""
    return dataclasses.replace(_training_fingerprints(split), threshold=threshold)


@functools.lru_cache(maxsize=8)
def _training_fingerprints(split: _common.Split) -> Any:
    import dchub_client

    return dchub_client.ApplicabilityDomain.from_smiles(domain_featurizer(), [str(s) for s in split.train.ids],
                                                        threshold=0.0)


def domain_threshold(split: _common.Split) -> float:
    """The similarity above which a molecule counts as in the domain, from the validation molecules only."""
    similarity = domain_of(split).similarity([str(s) for s in split.valid.ids])
    return round(float(np.nanquantile(similarity, DOMAIN_QUANTILE)), 2)


def domain_report(runs: dict[str, Run], threshold: float, task: str) -> dict[str, Any]:
    """For each split: how much of the test set is inside the domain, and the metric inside and outside."""
    report = {}
    for kind, run in runs.items():
        similarity = domain_of(run.split).similarity([str(s) for s in run.split.test.ids])
        inside = similarity >= threshold
        report[kind] = {"test_in_domain": round(float(inside.mean()), 4), "test_molecules": int(len(inside)),
                        **_metric_by_side(run, inside, task)}
    return report


def _metric_by_side(run: Run, inside: np.ndarray, task: str) -> dict[str, float]:
    """RMSE (or mean ROC-AUC) of the test molecules inside and outside the domain (when there are enough)."""
    out = {}
    test = run.split.test
    for side, mask in (("inside", inside), ("outside", ~inside)):
        if mask.sum() < MIN_SIDE:
            continue
        if task == "regression":
            out[f"rmse_{side}"] = round(_common.rmse(test.y[mask], run.predictions[mask]), 4)
        else:
            try:
                aucs = _common.task_aucs(test.y[mask], run.predictions[mask], test.w[mask])
            except ValueError:  # a task without both classes on this side
                continue
            out[f"roc_auc_{side}"] = round(float(np.mean(aucs)), 4)
    return out
