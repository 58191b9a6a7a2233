"""``nci-tpsa-mtr``: a torch ``MultitaskRegressor`` on ECFP4 predicting TPSA of 2000 NCI molecules.

Also the base of ``nci-clogp-finetuned`` (:mod:`recipes.nci_clogp_finetuned`), which reuses its
hidden layers frozen.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from . import _common, _data

NAME = "nci-tpsa-mtr"
FINGERPRINT = {"radius": 2, "size": 1024}
LAYER_SIZES = [256, 64]
EPOCHS = 30


def recipe_sha256() -> str:
    """Hash of this recipe's sources (recorded in the card; hubgen rebuilds when it changes)."""
    return _common.sources_sha256(__name__)


@functools.lru_cache(maxsize=1)
def train() -> tuple[Any, Any, list[Any], Any]:
    """Train the model (deterministic); returns ``(model, featurizer, transformers, split)``.

    Cached, so that the fine-tuned recipe built in the same process starts from these exact weights.
    """
    import deepchem as dc

    _common.seed_everything()
    featurizer = dc.feat.CircularFingerprint(**FINGERPRINT)
    split = _common.featurize_and_split(featurizer, _data.nci_tpsa())
    normalize = dc.trans.NormalizationTransformer(transform_y=True, dataset=split.train)
    model = dc.models.MultitaskRegressor(1, FINGERPRINT["size"], layer_sizes=LAYER_SIZES, dropouts=0.0,
                                         learning_rate=1e-3, batch_size=64)
    _common.seed_everything()
    model.fit(normalize.transform(split.train), nb_epoch=EPOCHS)
    return model, featurizer, [normalize], split


def build(output_dir: Path) -> None:
    """Train, evaluate on the scaffold test split, and write the pipeline folder."""
    started = time.time()
    model, featurizer, transformers, split = train()
    data = _data.nci_tpsa()
    predicted = model.predict(split.test, transformers)
    metrics = _common.regression_metrics(split.test.y, predicted, "Å²")
    metadata = {
        "description": "Multitask regressor (torch) on 1024-bit ECFP4 predicting topological polar surface "
                       "area (TPSA, Å²) of small molecules.",
        "task": "regression",
        "training_data": {**data.describe(), "train": len(split.train), "test": len(split.test)},
        "metrics": metrics,
        "headline_metric": _common.headline(metrics),
        "featurizer": "CircularFingerprint(radius=2, size=1024)",
        "intended_use": "Teaching and testing example for dchub pipelines; TPSA is computed exactly by RDKit.",
        "limitations": "Trained on 2000 NCI molecules; not a substitute for RDKit's exact TPSA.",
        "citation": "Ertl, P., Rohde, B., Selzer, P. J. Med. Chem. 2000, 43, 3714-3717 (TPSA).",
        "tags": ["regression", "torch", "ecfp", "tpsa", "example"],
        "recipe": f"{__name__}:build",
        "recipe_sha256": recipe_sha256(),
    }
    body = (f"# {NAME}\n\nA `MultitaskRegressor` with hidden layers {LAYER_SIZES}, trained for {EPOCHS} epochs "
            "on normalized TPSA values. `dchub_client.load_pipeline` returns predictions in Å².\n")
    _common.write_pipeline(output_dir, model=model, featurizer=featurizer, transformers=transformers,
                           metadata=metadata, body=body, test_smiles=list(split.test.ids), started=started)
