"""Helpers (no tests) shared by the sklearn and GBDT adapter tests: real ECFP features, params.json surgery."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tests._support.fresh import Job, predict_in_fresh_process
from tests._support.molecules import binary_labels, nci_molecules


def ecfp_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, y_regression, y_binary)`` for the NCI molecules, X = 256-bit ECFP."""
    import deepchem as dc

    smiles, y = nci_molecules()
    x = dc.feat.CircularFingerprint(size=256).featurize(smiles).astype(np.float64)
    return x, y.ravel(), binary_labels(y).ravel()


def dataset(x: np.ndarray, y: np.ndarray) -> Any:
    import deepchem as dc

    return dc.data.NumpyDataset(x, y)


def read_params(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "params.json").read_text())


def write_params(folder: Path, data: dict[str, Any]) -> None:
    (folder / "params.json").write_text(json.dumps(data, indent=1))


def estimator_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The stored description of the wrapped estimator inside a params.json."""
    return data["extra"]["sklearn_estimator"]


def fresh_predictions(trained: dict[str, Any], cases: list[str], expected_class: str) -> dict[str, np.ndarray]:
    """Every trained case's folder loaded and predicted in ONE new interpreter, on the same features."""
    jobs = [Job(folder=str(trained["folders"][n]), x=str(trained["root"] / "x.npy"), expected_class=expected_class)
            for n in cases]
    return dict(zip(cases, predict_in_fresh_process(jobs, trained["root"]), strict=True))


def check_fresh_prediction(name: str, trained: dict[str, Any], fresh: dict[str, np.ndarray]) -> None:
    """The fresh process predicted exactly what the trained model predicts."""
    expected = trained["models"][name].predict(dataset(trained["x"], np.zeros(len(trained["x"]))))
    np.testing.assert_array_equal(fresh[name], expected)
