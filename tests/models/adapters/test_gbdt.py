"""GBDTModel round trips with xgboost and lightgbm (their own non-pickle formats), fresh process."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dchub_client as hub
from dchub_client.errors import UntrustedClassError, WeightFileError
from tests.models.adapters.test_sklearn_state import (
    check_fresh_prediction,
    dataset,
    ecfp_data,
    estimator_spec,
    fresh_predictions,
    read_params,
    write_params,
)

xgboost = pytest.importorskip("xgboost")
lightgbm = pytest.importorskip("lightgbm")

CASES = ["xgb-regressor", "xgb-classifier", "lgbm-regressor", "lgbm-classifier"]


def _estimator(name: str) -> Any:
    options = {"n_estimators": 20, "random_state": 0}
    return {"xgb-regressor": lambda: xgboost.XGBRegressor(max_depth=3, **options),
            "xgb-classifier": lambda: xgboost.XGBClassifier(max_depth=3, **options),
            "lgbm-regressor": lambda: lightgbm.LGBMRegressor(num_leaves=7, verbose=-1, **options),
            "lgbm-classifier": lambda: lightgbm.LGBMClassifier(num_leaves=7, verbose=-1, **options)}[name]()


def _fit(model: Any, data: Any) -> None:
    if type(model.model).__module__.startswith("xgboost"):
        # DeepChem 2.8's GBDTModel.fit passes callbacks/eval_metric to fit(), which xgboost >= 2 removed.
        model.model.fit(data.X, data.y)
    else:
        model.fit(data)  # DeepChem's own path: early stopping on a split, then a refit


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import deepchem as dc

    root = tmp_path_factory.mktemp("gbdt")
    x, y_reg, y_bin = ecfp_data()
    np.save(root / "x.npy", x, allow_pickle=False)
    models, folders = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in CASES:
            model = dc.models.GBDTModel(_estimator(name), early_stopping_rounds=5)
            _fit(model, dataset(x, y_bin if "classifier" in name else y_reg))
            models[name], folders[name] = model, hub.to_pretrained(model, root / name)
    return {"root": root, "x": x, "models": models, "folders": folders}


@pytest.fixture(scope="module")
def fresh(trained: dict[str, Any]) -> dict[str, np.ndarray]:
    """All folders loaded and predicted in ONE new interpreter."""
    return fresh_predictions(trained, CASES, "GBDTModel")


@pytest.mark.parametrize("name", CASES)
def test_fresh_process_predictions_equal(name: str, trained: dict[str, Any], fresh: dict[str, np.ndarray]) -> None:
    check_fresh_prediction(name, trained, fresh)


@pytest.mark.parametrize("name", CASES)
def test_predict_and_predict_proba_equal(name: str, trained: dict[str, Any]) -> None:
    original = trained["models"][name]
    loaded = hub.from_pretrained(trained["folders"][name])
    assert type(loaded) is type(original) and type(loaded.model) is type(original.model)
    assert loaded.early_stopping_rounds == 5 and loaded.eval_metric == original.eval_metric
    x = trained["x"]
    np.testing.assert_array_equal(loaded.model.predict(x), original.model.predict(x))
    if "classifier" in name:
        np.testing.assert_array_equal(loaded.model.predict_proba(x), original.model.predict_proba(x))


@pytest.mark.parametrize("name", CASES)
def test_booster_is_one_uint8_weight_in_its_own_format(name: str, trained: dict[str, Any]) -> None:
    folder = trained["folders"][name]
    data = read_params(folder)
    assert data["framework"] == "gbdt"
    entry = data["weights"]["gbdtmodel-model-0"]
    assert entry["key"] == "model._Booster" and entry["dtype"] == "|u1"
    raw = np.load(folder / "gbdtmodel-model-0.npy", allow_pickle=False).tobytes()
    if name.startswith("lgbm"):
        assert raw.startswith(b"tree\nversion=")
    else:
        assert raw[:1] == b"{"  # UBJSON object
    weights = hub.get_weights(hub.from_pretrained(folder))
    assert list(weights) == list(data["weights"])


def test_disallowed_class_is_refused(trained: dict[str, Any], tmp_path: Path) -> None:
    folder = Path(shutil.copytree(trained["folders"]["xgb-regressor"], tmp_path / "copy"))
    data = read_params(folder)
    estimator_spec(data)["class"]["name"] = "xgboost.core.Booster"  # a trusted package, but not an estimator
    write_params(folder, data)
    with pytest.raises(UntrustedClassError, match="xgboost.core.Booster"):
        hub.from_pretrained(folder)


def test_corrupt_booster_bytes_are_refused(trained: dict[str, Any], tmp_path: Path) -> None:
    from tests._support.folders import write_weight

    folder = Path(shutil.copytree(trained["folders"]["lgbm-regressor"], tmp_path / "copy"))
    data = read_params(folder)
    name = "gbdtmodel-model-0"
    junk = np.frombuffer(b"\xff\xfe not a model", dtype=np.uint8)
    data["weights"][name] = write_weight(folder, name, "model._Booster", junk)
    estimator_spec(data)["state"]["_Booster"]["shape"] = [junk.size]
    write_params(folder, data)
    with pytest.raises(WeightFileError, match=r"gbdtmodel-model-0.npy.*not a valid lightgbm model"):
        hub.from_pretrained(folder)
