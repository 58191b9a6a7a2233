"""``freewilson-pic50-rf``: a scikit-learn random forest on 12 RDKit descriptors, regressing pIC50."""
from __future__ import annotations

import time
from pathlib import Path

from . import _common, _data

NAME = "freewilson-pic50-rf"
DESCRIPTORS = ["MolWt", "MolLogP", "TPSA", "NumHDonors", "NumHAcceptors", "NumRotatableBonds", "RingCount",
               "NumAromaticRings", "FractionCSP3", "HeavyAtomCount", "NumHeteroatoms", "qed"]
N_ESTIMATORS = 50


def recipe_sha256() -> str:
    """Hash of this recipe's sources."""
    return _common.sources_sha256(__name__)


def build(output_dir: Path) -> None:
    """Train, evaluate on the scaffold test split, and write the pipeline folder."""
    import deepchem as dc
    from sklearn.ensemble import RandomForestRegressor

    started = time.time()
    _common.seed_everything()
    data = _data.freewilson_pic50()
    featurizer = dc.feat.RDKitDescriptors(descriptors=DESCRIPTORS)
    split = _common.featurize_and_split(featurizer, data)
    model = dc.models.SklearnModel(RandomForestRegressor(n_estimators=N_ESTIMATORS, min_samples_leaf=2,
                                                         random_state=_common.SEED, n_jobs=1))
    model.fit(split.train)
    metrics = _common.regression_metrics(split.test.y, model.predict(split.test), "pIC50")
    metadata = {
        "description": f"Random forest (scikit-learn, {N_ESTIMATORS} trees) on {len(DESCRIPTORS)} RDKit "
                       "descriptors, predicting pIC50 for compounds of the CHEMBL2321810 series.",
        "task": "regression",
        "training_data": {**data.describe(), "train": len(split.train), "test": len(split.test)},
        "metrics": metrics,
        "headline_metric": _common.headline(metrics),
        "featurizer": f"RDKitDescriptors(descriptors={DESCRIPTORS})",
        "intended_use": "Example descriptor baseline for the graph and fingerprint models of this series.",
        "limitations": "One congeneric series; whole-molecule descriptors cannot tell close analogues apart.",
        "citation": "Breiman, L. Random Forests. Machine Learning 2001, 45, 5-32.",
        "tags": ["regression", "sklearn", "random-forest", "descriptors", "chembl", "example"],
        "recipe": f"{__name__}:build",
        "recipe_sha256": recipe_sha256(),
    }
    body = (f"# {NAME}\n\nA `RandomForestRegressor` wrapped in DeepChem's `SklearnModel`, stored without "
            "pickle: every tree's arrays are weights.\n")
    _common.write_pipeline(output_dir, model=model, featurizer=featurizer, transformers=[], metadata=metadata,
                           body=body, test_smiles=list(split.test.ids), started=started)
