"""``nci-clogp-finetuned``: ``nci-tpsa-mtr`` with its hidden layers frozen and a new head for cLogP.

The 200 NCI molecules with a Daylight cLogP are too few to train the ECFP network from scratch;
the hidden layers learned on 2000 molecules (TPSA) are reused unchanged, so their weight files are
byte-identical to the base model's and the hub stores them once.
"""
from __future__ import annotations

import time
from pathlib import Path

from . import _common, _data, nci_tpsa_mtr

NAME = "nci-clogp-finetuned"
BASE = "nci-tpsa-mtr@1.0.0"
EPOCHS = 150


def recipe_sha256() -> str:
    """Hash of this recipe's and its base recipe's sources."""
    return _common.sources_sha256(__name__, nci_tpsa_mtr.__name__)


def frozen_weight_names(model: object) -> list[str]:
    """The weights kept from the base model (every hidden layer)."""
    import dchub_client

    return sorted(n for n in dchub_client.get_weights(model) if n.startswith("multitaskregressor-layers."))


def build(output_dir: Path) -> None:
    """Fine-tune the head of the base model on cLogP and write the pipeline folder."""
    import deepchem as dc


    started = time.time()
    base, featurizer, _, _ = nci_tpsa_mtr.train()
    data = _data.nci_property("CLOGP")
    split = _common.featurize_and_split(featurizer, data)
    normalize = dc.trans.NormalizationTransformer(transform_y=True, dataset=split.train)
    model = dc.models.MultitaskRegressor(1, nci_tpsa_mtr.FINGERPRINT["size"], layer_sizes=nci_tpsa_mtr.LAYER_SIZES,
                                         dropouts=0.0, learning_rate=3e-3, batch_size=32)
    for name in frozen_weight_names(base):
        model.set_weight(name, base[name])
    for parameter in model.model.layers.parameters():
        parameter.requires_grad_(False)
    _common.seed_everything()
    model.fit(normalize.transform(split.train), nb_epoch=EPOCHS)
    metrics = _common.regression_metrics(split.test.y, model.predict(split.test, [normalize]), "log units")
    metadata = {
        "description": "cLogP regressor fine-tuned from nci-tpsa-mtr: the ECFP4 hidden layers are frozen, only "
                       "the output layer was retrained.",
        "task": "regression",
        "training_data": {**data.describe(), "train": len(split.train), "test": len(split.test)},
        "metrics": metrics,
        "headline_metric": _common.headline(metrics),
        "base_model": BASE,
        "frozen_weights": frozen_weight_names(model),
        "featurizer": "CircularFingerprint(radius=2, size=1024)",
        "intended_use": "Example of fine-tuning and of weight-level deduplication in a dchub hub.",
        "limitations": "160 training molecules; the Daylight cLogP labels are themselves estimates.",
        "citation": "Leo, A. J. Chem. Rev. 1993, 93, 1281-1306 (cLogP).",
        "tags": ["regression", "torch", "ecfp", "logp", "fine-tuned", "example"],
        "recipe": f"{__name__}:build",
        "recipe_sha256": recipe_sha256(),
    }
    body = (f"# {NAME}\n\nStarts from `{BASE}`: its hidden layers are frozen "
            f"(`requires_grad=False`) and the output layer is retrained for {EPOCHS} epochs on cLogP.\n")
    _common.write_pipeline(output_dir, model=model, featurizer=featurizer, transformers=[normalize],
                           metadata=metadata, body=body, test_smiles=list(split.test.ids), started=started)
