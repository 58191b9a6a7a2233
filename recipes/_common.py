"""What every recipe does the same way: seeds, featurizing, splitting, early stopping, metrics.

Protocol (written into every card):

* Two evaluations per model, each with its own 80/10/10 train/validation/test split: MoleculeNet's
  split type for the data set (random, seed 0, for ESOL and Tox21) and a Bemis-Murcko scaffold
  split (deepchem ``ScaffoldSplitter``, which puts the rarest scaffolds in validation and test).
* Networks train with early stopping on the validation split (best validation score, patience
  in epochs); random forests choose their hyperparameters on the validation split. The test
  split is used once, to report.
* The published model is the one trained on the random split (MoleculeNet's protocol); the
  scaffold numbers come from the same recipe and hyperparameters trained on the scaffold split's
  training part.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._data import MoleculeSet

logger = logging.getLogger(__name__)

SEED = 0
#: The split each card's headline metric is measured on (MoleculeNet's choice for ESOL and Tox21).
HEADLINE_SPLIT = "random"
SPLITS = {
    "random": "random 80/10/10 (seed 0), test",
    "scaffold": "Bemis-Murcko scaffold 80/10/10, test",
}
FRACTIONS = (0.8, 0.1, 0.1)
LICENSE = "MIT"
AUTHORS = ["DeepChem model hub maintainers"]
SHARED_SOURCES = ("recipes._data", "recipes._common", "recipes._moleculenet", "recipes._evaluation",
                  "recipes._publish")


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
    """Seed Python, numpy, torch and TensorFlow (those imported), and make TensorFlow's ops deterministic.

    Torch runs on one thread: these networks are small, and on a shared 2-core machine more threads
    than cores made an epoch ten times slower.
    """
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
        sys.modules["torch"].set_num_threads(1)
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        tf.random.set_seed(seed)
        tf.config.experimental.enable_op_determinism()


# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Featurized train, validation and test datasets (ids are the SMILES; ``w`` is 0 where unlabelled)."""

    kind: str
    train: Any
    valid: Any
    test: Any


_FEATURES: dict[tuple[str, str], Any] = {}


def featurize(featurizer: Any, data: MoleculeSet) -> Any:
    """A ``NumpyDataset`` of the molecules *featurizer* can handle (cached for the build's process)."""
    key = (data.name, f"{type(featurizer).__name__}{sorted(vars(featurizer).items())!r}")
    if key not in _FEATURES:
        _FEATURES[key] = _featurize(featurizer, data)
    return _FEATURES[key]


def _featurize(featurizer: Any, data: MoleculeSet) -> Any:
    import deepchem as dc
    from rdkit import RDLogger

    started = time.time()
    RDLogger.DisableLog("rdApp.*")
    try:
        features = featurizer.featurize(list(data.smiles))
    finally:
        RDLogger.EnableLog("rdApp.*")
    keep = [i for i, f in enumerate(features) if not (isinstance(f, np.ndarray) and f.size == 0)]
    X = np.stack([features[i] for i in keep]).astype(np.float32) if isinstance(features[keep[0]], np.ndarray) \
        else np.array([features[i] for i in keep], dtype=object)
    y = data.y[keep]
    w = (~np.isnan(y)).astype(np.float32)
    logger.info("%s: featurized %d of %d molecules with %s in %.1f s", data.name, len(keep), len(data.smiles),
                type(featurizer).__name__, time.time() - started)
    return dc.data.NumpyDataset(X, np.nan_to_num(y, nan=0.0), w, ids=np.array([data.smiles[i] for i in keep]))


def split(dataset: Any, kind: str) -> Split:
    """Split 80/10/10, randomly (seed 0) or by Bemis-Murcko scaffold."""
    import deepchem as dc

    splitter = {"random": dc.splits.RandomSplitter, "scaffold": dc.splits.ScaffoldSplitter}[kind]()
    train, valid, test = splitter.train_valid_test_split(dataset, *FRACTIONS, seed=SEED)
    return Split(kind, train, valid, test)


# --- training --------------------------------------------------------------------------------


@dataclass
class TrainingLog:
    """How early stopping went: the validation score after each epoch, and the epoch kept."""

    metric: str
    best_epoch: int = 0
    scores: list[float] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """For the card's ``training``."""
        return {"early_stopping_on": f"validation {self.metric}", "epochs_run": len(self.scores),
                "best_epoch": self.best_epoch, "best_validation": round(self.scores[self.best_epoch - 1], 4)}


def fit_with_early_stopping(model: Any, train: Any, score: Callable[[Any], float], *, higher_is_better: bool,
                            metric: str, max_epochs: int, patience: int) -> TrainingLog:
    """Train one epoch at a time; keep the weights of the epoch with the best validation *score*.

    The weights are snapshotted and restored through dchub's own interface
    (``get_weights``/``set_weight``), the same for torch and Keras models.
    """
    import dchub_client

    log = TrainingLog(metric)
    best: dict[str, np.ndarray] = {}
    for epoch in range(1, max_epochs + 1):
        model.fit(train, nb_epoch=1, checkpoint_interval=0)
        value = float(score(model))
        log.scores.append(value)
        if not best or (value > log.scores[log.best_epoch - 1] if higher_is_better
                        else value < log.scores[log.best_epoch - 1]):
            log.best_epoch = epoch
            best = {name: np.array(array, copy=True) for name, array in dchub_client.get_weights(model).items()}
        elif epoch - log.best_epoch >= patience:
            break
    for name, array in best.items():
        dchub_client.set_weight(model, name, array)
    logger.info("early stopping: kept epoch %d of %d (validation %s %.4f)", log.best_epoch, len(log.scores),
                metric, log.scores[log.best_epoch - 1])
    return log


# --- predictions and metrics -----------------------------------------------------------------


def predict_regression(model: Any, dataset: Any, transformers: list[Any]) -> np.ndarray:
    """``(n, n_tasks)`` predictions in the training data's units."""
    predicted = np.asarray(model.predict(dataset, transformers), dtype=np.float64)
    return predicted.reshape(len(dataset), -1)


def predict_probabilities(model: Any, dataset: Any) -> np.ndarray:
    """``(n, n_tasks)`` probabilities of the active class."""
    predicted = np.asarray(model.predict(dataset), dtype=np.float64)
    return predicted.reshape(len(dataset), -1, 2)[:, :, 1]


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root-mean-square error over every value."""
    return float(np.sqrt(np.mean((np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64)) ** 2)))


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R² over every value."""
    from sklearn.metrics import mean_absolute_error, r2_score

    t, p = np.asarray(y_true, np.float64).reshape(-1), np.asarray(y_pred, np.float64).reshape(-1)
    return {"rmse": rmse(t, p), "mae": float(mean_absolute_error(t, p)), "r2": float(r2_score(t, p))}


def task_aucs(y_true: np.ndarray, p_active: np.ndarray, w: np.ndarray) -> list[float]:
    """ROC-AUC of each task over its labelled molecules (``w > 0``)."""
    from sklearn.metrics import roc_auc_score

    return [float(roc_auc_score(y_true[w[:, t] > 0, t], p_active[w[:, t] > 0, t])) for t in range(y_true.shape[1])]


def classification_metrics(y_true: np.ndarray, p_active: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """ROC-AUC averaged over the tasks (MoleculeNet's metric for Tox21), and over the labelled pairs."""
    from sklearn.metrics import roc_auc_score

    labelled = w > 0
    return {"roc_auc": float(np.mean(task_aucs(y_true, p_active, w))),
            "roc_auc_pooled": float(roc_auc_score(y_true[labelled], p_active[labelled]))}


def mean_validation_auc(model: Any, valid: Any) -> float:
    """The early-stopping score of the classifiers."""
    return float(np.mean(task_aucs(valid.y, predict_probabilities(model, valid), valid.w)))


def fit_balanced_classifier(model: Any, split: Split, hp: dict[str, Any]) -> TrainingLog:
    """The Tox21 classifiers' training: class-balanced weights, early stopping on the validation ROC-AUC."""
    import deepchem as dc

    balance = dc.trans.BalancingTransformer(dataset=split.train)
    seed_everything()
    return fit_with_early_stopping(
        model, balance.transform(split.train), lambda m: mean_validation_auc(m, split.valid),
        higher_is_better=True, metric="ROC-AUC", max_epochs=hp["max_epochs"], patience=hp["patience"])
