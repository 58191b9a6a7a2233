"""``freewilson-active-mtc``: a torch ``MultitaskClassifier`` on ECFP4: is pIC50 ≥ 7 (IC50 ≤ 100 nM)?"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import _common, _data

NAME = "freewilson-active-mtc"
THRESHOLD = 7.0
EPOCHS = 20


def recipe_sha256() -> str:
    """Hash of this recipe's sources."""
    return _common.sources_sha256(__name__)


def build(output_dir: Path) -> None:
    """Train, evaluate on the scaffold test split, and write the pipeline folder."""
    import deepchem as dc

    started = time.time()
    _common.seed_everything()
    data = _data.freewilson_pic50()
    featurizer = dc.feat.CircularFingerprint(radius=2, size=1024)
    split = _common.featurize_and_split(featurizer, data, y=(data.y >= THRESHOLD).astype(np.float32))
    model = dc.models.MultitaskClassifier(1, 1024, layer_sizes=[128], dropouts=0.1, learning_rate=1e-3,
                                          batch_size=64)
    _common.seed_everything()
    model.fit(split.train, nb_epoch=EPOCHS)
    metrics = _common.classification_metrics(split.test.y, model.predict(split.test)[:, 0, 1])
    metadata = {
        "description": f"Multitask classifier (torch) on 1024-bit ECFP4: probability that a compound of the "
                       f"CHEMBL2321810 series is active (pIC50 ≥ {THRESHOLD}).",
        "task": "classification",
        "training_data": {**data.describe(), "train": len(split.train), "test": len(split.test),
                          "label": f"pIC50 >= {THRESHOLD}", "actives": int((data.y >= THRESHOLD).sum())},
        "metrics": metrics,
        "headline_metric": _common.headline(metrics),
        "featurizer": "CircularFingerprint(radius=2, size=1024)",
        "outputs": "predict() gives [n, 1, 2]: probabilities of inactive and active",
        "intended_use": "Example classifier; ranking analogues within this one chemical series.",
        "limitations": "One congeneric series; predictions for other chemotypes are meaningless.",
        "citation": "ChEMBL assay data for CHEMBL2321810, as shipped in RDKit Contrib/FreeWilson.",
        "tags": ["classification", "torch", "ecfp", "chembl", "example"],
        "recipe": f"{__name__}:build",
        "recipe_sha256": recipe_sha256(),
    }
    body = (f"# {NAME}\n\nA `MultitaskClassifier` with one hidden layer of 128 units, trained for {EPOCHS} "
            "epochs. The second column of each prediction is the probability of being active.\n")
    _common.write_pipeline(output_dir, model=model, featurizer=featurizer, transformers=[], metadata=metadata,
                           body=body, test_smiles=list(split.test.ids), started=started)
