"""``nci-clogp-finetuned``: ``esol-mtr`` with its hidden layers frozen and a new output layer for cLogP.

The 200 NCI molecules with a Daylight cLogP that ship with RDKit are too few to train the ECFP
network from scratch. Solubility and lipophilicity are closely related (log S falls as log P
rises), so the hidden layers learned on ESOL's measured solubilities are reused unchanged: their
weight files are byte-identical to the base model's and the hub stores them once. Only the
output layer is trained, with early stopping on the validation split.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from . import _common, _data, _evaluation, _publish, esol_mtr

NAME = "nci-clogp-finetuned"
BASE = "esol-mtr@1.0.0"
HYPERPARAMETERS = {"trained": "output layer only (hidden layers frozen from esol-mtr)", "batch_size": 32,
                   "learning_rate": 0.003, "max_epochs": 300, "patience": 30}
EXAMPLES = ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1")


def recipe_sha256() -> str:
    """Hash of this recipe's and its base recipe's sources."""
    return _common.sources_sha256(__name__, esol_mtr.__name__)


def frozen_weight_names(model: Any) -> list[str]:
    """The weights kept from the base model (every hidden layer)."""
    import dchub_client

    return sorted(n for n in dchub_client.get_weights(model) if n.startswith("multitaskregressor-layers."))


def _base() -> Any:
    return esol_mtr.run(_common.HEADLINE_SPLIT).trained.model


def train(split: _common.Split) -> _evaluation.Trained:
    """Copy and freeze the base's hidden layers; fit the output layer on normalized cLogP."""
    import deepchem as dc

    hp = HYPERPARAMETERS
    base = _base()
    normalize = dc.trans.NormalizationTransformer(transform_y=True, dataset=split.train)
    model = esol_mtr.make_model(batch_size=hp["batch_size"], learning_rate=hp["learning_rate"])
    for name in frozen_weight_names(base):
        model.set_weight(name, base[name])
    for parameter in model.model.layers.parameters():
        parameter.requires_grad_(False)
    _common.seed_everything()
    log = _common.fit_with_early_stopping(
        model, normalize.transform(split.train),
        lambda m: _common.rmse(split.valid.y, _common.predict_regression(m, split.valid, [normalize])),
        higher_is_better=False, metric="RMSE", max_epochs=hp["max_epochs"], patience=hp["patience"])
    return _evaluation.Trained(model, [normalize], log.describe())


RECIPE = _publish.Recipe(
    name=NAME, module=__name__, task="regression", family=None,
    description="cLogP regressor fine-tuned from esol-mtr: the ECFP4 hidden layers learned on measured "
                "solubilities are frozen, only the output layer was trained on cLogP.",
    featurizer_text="CircularFingerprint(radius=2, size=1024)", hyperparameters=HYPERPARAMETERS,
    examples=EXAMPLES,
    intended_use="Example of fine-tuning, and of weight-level deduplication in a dchub hub (the frozen layers "
                 "are stored once for both models).",
    limitations="160 training molecules; the labels are Daylight cLogP estimates, not measurements. MoleculeNet "
                "has no cLogP benchmark, so there is no published number to compare with.",
    tags=("regression", "torch", "ecfp", "logp", "fine-tuned", "example"),
    body=f"Starts from `{BASE}`: its hidden layers are frozen (`requires_grad=False`) and the output layer is "
         "retrained on cLogP with early stopping on the validation split.",
    extra={"base_model": BASE})


def build(output_dir: Path) -> None:
    """Fine-tune on both splits of the NCI cLogP set, evaluate, and write the pipeline folder."""
    started = time.time()
    data = _data.nci_property("CLOGP")
    _base()  # trained (or taken from the cache) before this recipe seeds its own runs: same numbers either way
    runs = _evaluation.run_both(_common.featurize(esol_mtr.featurizer(), data), "regression", train)
    frozen = frozen_weight_names(runs[_common.HEADLINE_SPLIT].trained.model)
    recipe = dataclasses.replace(RECIPE, extra={**(RECIPE.extra or {}), "frozen_weights": frozen})
    _publish.publish(output_dir, recipe, data=data, runs=runs, featurizer=esol_mtr.featurizer(), started=started,
                     recipe_sha256=recipe_sha256())
