"""``freewilson-pic50-graphconv``: a Keras ``GraphConvModel`` regressing pIC50 of the CHEMBL2321810 series."""
from __future__ import annotations

import time
from pathlib import Path

from . import _common, _data

NAME = "freewilson-pic50-graphconv"
EPOCHS = 40


def recipe_sha256() -> str:
    """Hash of this recipe's sources."""
    return _common.sources_sha256(__name__)


def build(output_dir: Path) -> None:
    """Train, evaluate on the scaffold test split, and write the pipeline folder."""
    import deepchem as dc

    started = time.time()
    _common.seed_everything()
    data = _data.freewilson_pic50()
    featurizer = dc.feat.ConvMolFeaturizer()
    split = _common.featurize_and_split(featurizer, data)
    normalize = dc.trans.NormalizationTransformer(transform_y=True, dataset=split.train)
    model = dc.models.GraphConvModel(1, mode="regression", graph_conv_layers=[64, 64], dense_layer_size=128,
                                     batch_size=64, learning_rate=1e-3)
    _common.seed_everything()
    model.fit(normalize.transform(split.train), nb_epoch=EPOCHS)
    metrics = _common.regression_metrics(split.test.y, model.predict(split.test, [normalize]), "pIC50")
    metadata = {
        "description": "Graph convolution network (Keras, Duvenaud-style GraphConvModel) predicting pIC50 for "
                       "compounds of the CHEMBL2321810 series.",
        "task": "regression",
        "training_data": {**data.describe(), "train": len(split.train), "test": len(split.test)},
        "metrics": metrics,
        "headline_metric": _common.headline(metrics),
        "featurizer": "ConvMolFeaturizer()",
        "intended_use": "Example graph model; ranking analogues within this one chemical series.",
        "limitations": "One congeneric series of ~1000 compounds; no applicability domain check.",
        "citation": "Duvenaud, D. et al. Convolutional Networks on Graphs for Learning Molecular Fingerprints. "
                    "NeurIPS 2015.",
        "tags": ["regression", "keras", "graph", "chembl", "example"],
        "recipe": f"{__name__}:build",
        "recipe_sha256": recipe_sha256(),
    }
    body = (f"# {NAME}\n\nA `GraphConvModel` (two graph convolutions of 64, a dense layer of 128), "
            f"trained for {EPOCHS} epochs on normalized pIC50. Predictions come out in pIC50 units.\n")
    _common.write_pipeline(output_dir, model=model, featurizer=featurizer, transformers=[normalize],
                           metadata=metadata, body=body, test_smiles=list(split.test.ids), started=started)
