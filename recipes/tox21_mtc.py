"""``tox21-mtc``: a torch ``MultitaskClassifier`` on ECFP4 for the 12 Tox21 assays.

Missing labels carry zero weight; each task's actives and inactives are balanced in the loss
(DeepChem's ``BalancingTransformer`` on the weights, as MoleculeNet did). Hyperparameters were
chosen on the validation part of the random split only (see ``SEARCHED``); training length is
chosen per split by early stopping on the validation ROC-AUC averaged over the tasks.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import _common, _data, _evaluation, _publish

NAME = "tox21-mtc"
FINGERPRINT = {"radius": 2, "size": 1024, "is_counts_based": True}
HYPERPARAMETERS = {"fingerprint": "ECFP4 counts, 1024 bins", "layer_sizes": [1000], "dropouts": 0.5,
                   "weight_decay_penalty": 0.0001, "batch_size": 128, "learning_rate": 0.001,
                   "max_epochs": 60, "patience": 8}
#: Validation ROC-AUC (random split, early stopping) of the candidates compared before fixing HYPERPARAMETERS.
SEARCHED = ("ECFP4 bits, dropout 0.25: [1000] 0.812, [512, 128] 0.817; ECFP4 counts: [1000] dropout 0.25 0.823, "
            "dropout 0.25 + weight decay 1e-3 0.838, dropout 0.5 0.844 (learning rate 3e-4: 0.831), [2000] 0.842, "
            "[1500, 500] 0.833")
#: Bisphenol A (an estrogen receptor agonist), TCDD (an aryl hydrocarbon receptor agonist), caffeine.
EXAMPLES = ("CC(C)(c1ccc(O)cc1)c1ccc(O)cc1", "Clc1cc2Oc3cc(Cl)c(Cl)cc3Oc2cc1Cl", "Cn1cnc2c1c(=O)n(C)c(=O)n2C")


def recipe_sha256() -> str:
    """Hash of this recipe's sources (recorded in the card; hubgen rebuilds when it changes)."""
    return _common.sources_sha256(__name__)


def featurizer() -> Any:
    """ECFP4 counts folded to 1024 bins."""
    import deepchem as dc

    return dc.feat.CircularFingerprint(**FINGERPRINT)


def train(split: _common.Split) -> _evaluation.Trained:
    """Fit on ``split.train`` with balanced weights; keep the epoch with the best validation ROC-AUC."""
    import deepchem as dc

    hp = HYPERPARAMETERS
    model = dc.models.MultitaskClassifier(len(_data.TOX21_TASKS), FINGERPRINT["size"],
                                          layer_sizes=hp["layer_sizes"], dropouts=hp["dropouts"],
                                          weight_decay_penalty=hp["weight_decay_penalty"],
                                          batch_size=hp["batch_size"], learning_rate=hp["learning_rate"])
    log = _common.fit_balanced_classifier(model, split, hp)
    return _evaluation.Trained(model, [], log.describe())


RECIPE = _publish.Recipe(
    name=NAME, module=__name__, task="classification", family="Multitask",
    description="Multitask classifier (torch) on ECFP4 counts (1024 bins): probability of activity in each of the 12 "
                "Tox21 nuclear-receptor and stress-response assays.",
    featurizer_text="CircularFingerprint(radius=2, size=1024, is_counts_based=True)",
    hyperparameters={**HYPERPARAMETERS, "searched_on_validation": SEARCHED}, examples=EXAMPLES,
    intended_use="Flagging molecules likely to be active in the Tox21 assays, to prioritise testing.",
    limitations="In-vitro assay activity is not in-vivo toxicity; actives are rare (2-16% per assay), so "
                "probabilities are calibrated to balanced classes, not to the base rate. Check the applicability "
                "domain before trusting a prediction.",
    tags=("classification", "torch", "ecfp", "toxicity", "tox21", "moleculenet"),
    body="A fully connected `MultitaskClassifier` (one hidden layer of 1000, dropout 0.5) on ECFP4 counts "
         "(1024 bins), one softmax output per assay, trained with class-balanced weights and early stopping on the "
         "validation ROC-AUC. `load_pipeline(...).predict` returns, per molecule and assay, the probabilities "
         "of inactive and active.")


def build(output_dir: Path) -> None:
    """Train on both splits, evaluate, and write the pipeline folder (the random-split model)."""
    started = time.time()
    data = _data.tox21()
    runs = _evaluation.run_both(_common.featurize(featurizer(), data), "classification", train)
    _publish.publish(output_dir, RECIPE, data=data, runs=runs, featurizer=featurizer(), started=started,
                     recipe_sha256=recipe_sha256())
