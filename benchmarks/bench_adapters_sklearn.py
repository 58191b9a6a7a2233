"""SklearnModel: ``from_pretrained`` vs DeepChem's own joblib reload, for a 500-tree random forest.

The forest is trained once on the Delaney solubility set (ECFP, 1024 bits) and saved by DeepChem
under ``benchmarks/_out/sklearn``; later runs reuse that and write our folder anew. Both loads read
from a warm page cache;
ours verifies every weight's sha256 (the default for a local folder), joblib checks nothing.
"""
from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import numpy as np
from _common import SHARED_DATA, Row, best_of

HERE = Path(__file__).resolve().parent
DELANEY = SHARED_DATA / "delaney-processed.csv"


def _data() -> tuple[np.ndarray, np.ndarray]:
    import deepchem as dc

    with open(DELANEY, newline="") as handle:
        rows = list(csv.DictReader(handle))
    smiles = [r["smiles"] for r in rows]
    y = np.array([float(r["measured log solubility in mols per litre"]) for r in rows])
    return dc.feat.CircularFingerprint(size=1024).featurize(smiles).astype(np.float64), y


def _prepare(root: Path, n_trees: int) -> tuple[Path, Path]:
    import deepchem as dc
    from sklearn.ensemble import RandomForestRegressor

    import dchub_client as hub

    ours, theirs = root / "pretrained", root / "deepchem"
    if any(theirs.glob("*.joblib")):  # the trained forest is reused; ours is always written anew
        model = dc.models.SklearnModel(None, model_dir=str(theirs))
        model.reload()
        model = dc.models.SklearnModel(model.model, model_dir=str(theirs))
    else:
        shutil.rmtree(root, ignore_errors=True)
        x, y = _data()
        model = dc.models.SklearnModel(RandomForestRegressor(n_estimators=n_trees, n_jobs=2, random_state=0),
                                       model_dir=str(theirs))
        model.fit(dc.data.NumpyDataset(x, y))
        model.save()
    hub.to_pretrained(model, ours, overwrite=True)
    return ours, theirs


def run(quick: bool) -> list[Row]:
    import deepchem as dc

    import dchub_client as hub

    n_trees = 100 if quick else 500
    root = HERE / "_out" / "sklearn" / f"forest-{n_trees}"
    ours, theirs = _prepare(root, n_trees)

    def deepchem_reload() -> None:
        dc.models.SklearnModel(None, model_dir=str(theirs)).reload()

    peer = best_of(deepchem_reload, repeat=5)
    mine = best_of(lambda: hub.from_pretrained(ours), repeat=5)
    unverified = best_of(lambda: hub.from_pretrained(ours, verify=False), repeat=5)
    size = sum(p.stat().st_size for p in ours.iterdir()) / 2**20
    files = len(os.listdir(ours))
    return [
        Row(f"sklearn {n_trees}-tree forest: from_pretrained (sha256 checked)", mine, "SklearnModel.reload (joblib)",
            peer, target=1.0, note=f"{files} files, {size:.1f} MiB; stacked tree arrays, every node index checked"),
        Row(f"sklearn {n_trees}-tree forest: from_pretrained(verify=False)", unverified,
            "SklearnModel.reload (joblib)", peer, target=1.0),
    ]
