"""What every recipe does the same way: seeds, featurize + split, metrics, and writing the folder."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._data import MoleculeSet

logger = logging.getLogger(__name__)

SEED = 0
#: How every example model is evaluated (written next to each metric in the card).
SPLIT = "scaffold 80/20 (deepchem ScaffoldSplitter), held-out test set"
#: Molecules outside the training data whose predictions are recorded for round-trip checks.
EXTRA_REFERENCE_SMILES = ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1")
REFERENCE_FILE = "reference_predictions.json"
LICENSE = "MIT"
AUTHORS = ["DeepChem model hub maintainers"]
SHARED_SOURCES = ("recipes._data", "recipes._common")


def sources_sha256(*modules: str) -> str:
    """sha256 over the source files of *modules* (and the shared recipe modules), in order."""
    digest = hashlib.sha256()
    for name in (*modules, *SHARED_SOURCES):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ImportError(f"cannot find the source of {name}")
        digest.update(name.encode() + b"\0" + Path(spec.origin).read_bytes())
    return digest.hexdigest()


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, numpy, torch and TensorFlow (the ones that are imported)."""
    import sys

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)


@dataclass(frozen=True)
class Split:
    """Featurized train and test datasets (ids are the SMILES)."""

    train: Any
    test: Any


def featurize_and_split(featurizer: Any, data: MoleculeSet, y: np.ndarray | None = None) -> Split:
    """Featurize *data* (dropping molecules the featurizer cannot handle) and split by scaffold, 80/20."""
    import deepchem as dc

    labels = data.y if y is None else y
    features = featurizer.featurize(list(data.smiles))
    keep = [i for i, f in enumerate(features) if not (isinstance(f, np.ndarray) and f.size == 0)]
    X = np.stack([features[i] for i in keep]) if isinstance(features[keep[0]], np.ndarray) else \
        np.array([features[i] for i in keep], dtype=object)
    dataset = dc.data.NumpyDataset(X, labels[keep], ids=np.array([data.smiles[i] for i in keep]))
    train, test = dc.splits.ScaffoldSplitter().train_test_split(dataset, frac_train=0.8, seed=SEED)
    return Split(train, test)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray, unit: str) -> list[dict[str, Any]]:
    """RMSE, MAE (in *unit*) and R² on the held-out split."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    t, p = np.asarray(y_true, np.float64).reshape(-1), np.asarray(y_pred, np.float64).reshape(-1)
    return [_metric(f"rmse ({unit})", float(np.sqrt(mean_squared_error(t, p)))),
            _metric(f"mae ({unit})", float(mean_absolute_error(t, p))),
            _metric("r2", float(r2_score(t, p)))]


def classification_metrics(y_true: np.ndarray, p_active: np.ndarray) -> list[dict[str, Any]]:
    """ROC-AUC and accuracy (threshold 0.5) on the held-out split."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    t, p = np.asarray(y_true).reshape(-1), np.asarray(p_active, np.float64).reshape(-1)
    return [_metric("roc_auc", float(roc_auc_score(t, p))), _metric("accuracy", float(accuracy_score(t, p > 0.5)))]


def _metric(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "value": round(value, 4), "split": SPLIT}


def write_pipeline(output_dir: Path, *, model: Any, featurizer: Any, transformers: Sequence[Any],
                   metadata: dict[str, Any], body: str, test_smiles: Sequence[str], started: float) -> None:
    """Write the pretrained pipeline folder, its card, and reference predictions of the original objects."""
    import dchub_client
    from dchub_client.format.card import Card

    original = dchub_client.Pipeline(model=model, featurizer=featurizer, transformers=tuple(transformers))
    smiles = [*test_smiles[:8], *EXTRA_REFERENCE_SMILES]
    reference = {"smiles": smiles, "predictions": original.predict(smiles).tolist()}
    metadata = {**metadata, "license": LICENSE, "authors": AUTHORS}
    dchub_client.to_pretrained(model, output_dir, featurizer=featurizer, transformers=list(transformers),
                               card=Card(metadata, body), overwrite=True,
                               files={REFERENCE_FILE: (json.dumps(reference, indent=1) + "\n").encode()})
    logger.info("%s: built in %.1f s", output_dir, time.time() - started)


def headline(metrics: list[dict[str, Any]]) -> str:
    """The first metric's name (the card's ``headline_metric``)."""
    return str(metrics[0]["name"])
