"""``esol-graphconv``: a Keras ``GraphConvModel`` predicting aqueous solubility (ESOL).

Hyperparameters were chosen on the validation part of the random split only (validation RMSE,
early stopping with patience 15): graph_conv_layers [64, 64] + dense 128: 0.91 (dropout 0.2:
1.02); [128, 128] + dense 256: 0.72 (dropout 0.2: 1.36; batch 128: 0.83, with learning rate
0.002: 0.79). Training length is chosen per split by early stopping on validation RMSE.
"""
from __future__ import annotations

import time
from pathlib import Path

from . import _common, _data, _evaluation, _publish

NAME = "esol-graphconv"
HYPERPARAMETERS = {"graph_conv_layers": [128, 128], "dense_layer_size": 256, "dropout": 0.0,
                   "batch_size": 64, "learning_rate": 0.001, "max_epochs": 150, "patience": 15}
EXAMPLES = ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1")


def recipe_sha256() -> str:
    """Hash of this recipe's sources (recorded in the card; hubgen rebuilds when it changes)."""
    return _common.sources_sha256(__name__)


def train(split: _common.Split) -> _evaluation.Trained:
    """Fit on ``split.train`` (normalized log S), keep the epoch with the best validation RMSE."""
    import deepchem as dc

    hp = HYPERPARAMETERS
    normalize = dc.trans.NormalizationTransformer(transform_y=True, dataset=split.train)
    model = dc.models.GraphConvModel(1, mode="regression", graph_conv_layers=hp["graph_conv_layers"],
                                     dense_layer_size=hp["dense_layer_size"], dropout=hp["dropout"],
                                     batch_size=hp["batch_size"], learning_rate=hp["learning_rate"])
    _common.seed_everything()
    log = _common.fit_with_early_stopping(
        model, normalize.transform(split.train),
        lambda m: _common.rmse(split.valid.y, _common.predict_regression(m, split.valid, [normalize])),
        higher_is_better=False, metric="RMSE", max_epochs=hp["max_epochs"], patience=hp["patience"])
    return _evaluation.Trained(model, [normalize], log.describe())


RECIPE = _publish.Recipe(
    name=NAME, module=__name__, task="regression", family="GC",
    description="Graph convolution network (Keras GraphConvModel) predicting aqueous solubility, "
                "log10(mol/L), from the molecular graph.",
    featurizer_text="ConvMolFeaturizer()", hyperparameters=HYPERPARAMETERS, examples=EXAMPLES,
    intended_use="Estimating the aqueous solubility of small organic molecules like those in ESOL "
                 "(pesticides, drugs, industrial chemicals).",
    limitations="Trained on about 900 measured solubilities; salts, metal complexes and large molecules are "
                "outside what it has seen. Check the applicability domain before trusting a prediction.",
    tags=("regression", "keras", "graph-convolution", "solubility", "esol", "moleculenet"),
    body="A `GraphConvModel` (Duvenaud et al., 2015, as implemented in DeepChem) with two graph "
         "convolutions of 128 features and a dense layer of 256, trained on normalized log solubility with "
         "early stopping on the validation split. `load_pipeline` returns log10(mol/L).")


def build(output_dir: Path) -> None:
    """Train on both splits, evaluate, and write the pipeline folder (the random-split model)."""
    import deepchem as dc

    started = time.time()
    data = _data.esol()
    featurizer = dc.feat.ConvMolFeaturizer()
    runs = _evaluation.run_both(_common.featurize(featurizer, data), "regression", train)
    _publish.publish(output_dir, RECIPE, data=data, runs=runs, featurizer=featurizer, started=started,
                     recipe_sha256=recipe_sha256())
