"""``esol-mtr``: a torch ``MultitaskRegressor`` on ECFP4 predicting aqueous solubility (ESOL).

Also the base of ``nci-clogp-finetuned`` (:mod:`recipes.nci_clogp_finetuned`), which reuses its
hidden layers frozen. Hyperparameters were chosen on the validation part of the random split
only (see ``SEARCHED``); training length is chosen per split by early stopping on validation RMSE.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from . import _common, _data, _evaluation, _publish

NAME = "esol-mtr"
FINGERPRINT = {"radius": 2, "size": 1024, "is_counts_based": True}
HYPERPARAMETERS = {"fingerprint": "ECFP4 counts, 1024 bins", "layer_sizes": [512, 128], "dropouts": 0.25,
                   "weight_decay_penalty": 0.0001, "batch_size": 64, "learning_rate": 0.001,
                   "max_epochs": 200, "patience": 20}
#: The candidates compared on validation RMSE (random split, early stopping) before fixing HYPERPARAMETERS.
SEARCHED = ("ECFP4 bits: [1000] dropout 0.25 1.35, [1000] 0.1 1.36, [512, 128] 0.1 1.31, [512, 128] 0.25 1.26; "
            "ECFP4 counts: [512, 128] 0.25 0.76, [1000] 0.25 0.79, [512, 128] 0.4 lr 5e-4 0.78")
EXAMPLES = ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1")


def recipe_sha256() -> str:
    """Hash of this recipe's sources (recorded in the card; hubgen rebuilds when it changes)."""
    return _common.sources_sha256(__name__)


def featurizer() -> Any:
    """ECFP4 counts folded to 1024 bins (counts, unlike bits, tell the model how big a molecule is)."""
    import deepchem as dc

    return dc.feat.CircularFingerprint(**FINGERPRINT)


def make_model(**overrides: Any) -> Any:
    """An untrained model with the recipe's hyperparameters (*overrides*: batch_size, learning_rate)."""
    import deepchem as dc

    hp = {**HYPERPARAMETERS, **overrides}
    return dc.models.MultitaskRegressor(1, FINGERPRINT["size"], layer_sizes=hp["layer_sizes"],
                                        dropouts=hp["dropouts"], weight_decay_penalty=hp["weight_decay_penalty"],
                                        batch_size=hp["batch_size"], learning_rate=hp["learning_rate"])


def train(split: _common.Split) -> _evaluation.Trained:
    """Fit on ``split.train`` (normalized log S), keep the epoch with the best validation RMSE."""
    import deepchem as dc

    normalize = dc.trans.NormalizationTransformer(transform_y=True, dataset=split.train)
    model = make_model()
    _common.seed_everything()
    log = _common.fit_with_early_stopping(
        model, normalize.transform(split.train),
        lambda m: _common.rmse(split.valid.y, _common.predict_regression(m, split.valid, [normalize])),
        higher_is_better=False, metric="RMSE", max_epochs=HYPERPARAMETERS["max_epochs"],
        patience=HYPERPARAMETERS["patience"])
    return _evaluation.Trained(model, [normalize], log.describe())


@functools.lru_cache(maxsize=None)
def run(kind: str) -> _evaluation.Run:
    """One split's experiment. Cached: the fine-tuned recipe starts from the random split's model (in
    another process it trains it again, and the seeds give it the same weights)."""
    return _evaluation.run_one(_common.featurize(featurizer(), _data.esol()), "regression", train, kind)


RECIPE = _publish.Recipe(
    name=NAME, module=__name__, task="regression", family="Multitask",
    description="Multitask regressor (torch) on ECFP4 counts (1024 bins) predicting aqueous solubility, "
                "log10(mol/L).",
    featurizer_text="CircularFingerprint(radius=2, size=1024, is_counts_based=True)",
    hyperparameters={**HYPERPARAMETERS, "searched_on_validation": SEARCHED}, examples=EXAMPLES,
    intended_use="Estimating the aqueous solubility of small organic molecules like those in ESOL.",
    limitations="About 900 training molecules; fingerprints cannot tell apart molecules that differ outside "
                "radius-2 environments. Check the applicability domain before trusting a prediction.",
    tags=("regression", "torch", "ecfp", "solubility", "esol", "moleculenet"),
    body="A fully connected `MultitaskRegressor` (hidden layers 512 and 128, dropout 0.25) on ECFP4 counts "
         "(1024 bins), trained on "
         "normalized log solubility with early stopping on the validation split. Its hidden layers are "
         "reused, frozen, by `nci-clogp-finetuned`. `load_pipeline` returns log10(mol/L).")


def build(output_dir: Path) -> None:
    """Train on both splits, evaluate, and write the pipeline folder (the random-split model)."""
    started = time.time()
    runs = {kind: run(kind) for kind in _common.SPLITS}
    _publish.publish(output_dir, RECIPE, data=_data.esol(), runs=runs, featurizer=featurizer(),
                     started=started, recipe_sha256=recipe_sha256())
