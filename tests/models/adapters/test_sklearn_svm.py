"""Forged SVMs (inconsistent libsvm arrays in params.json or the .npy files) are refused before libsvm sees them."""
from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dchub_client as hub
from dchub_client.errors import PretrainedFormatError, WeightFileError
from dchub_client.models import adapters
from tests._support.folders import write_weight
from tests.models.adapters.test_sklearn_state import dataset, ecfp_data, estimator_spec, read_params, write_params

_DELETE = object()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A binary SVC, a 3-class SVC (both ``probability=True``) and an SVR, fitted through DeepChem and saved."""
    import deepchem as dc
    from sklearn.svm import SVC, SVR

    root = tmp_path_factory.mktemp("svm")
    x, y_reg, y_bin = ecfp_data()
    y_three = np.digitize(y_reg, np.quantile(y_reg, [1 / 3, 2 / 3])).astype(np.float64)
    cases = {"binary": (SVC(probability=True, random_state=0), y_bin),
             "three": (SVC(probability=True, random_state=0), y_three),
             "svr": (SVR(), y_reg)}
    models, folders = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (estimator, y) in cases.items():
            models[name] = dc.models.SklearnModel(estimator)
            models[name].fit(dataset(x, y))
            folders[name] = hub.to_pretrained(models[name], root / name)
    return {"x": x, "models": models, "folders": folders}


def _copy(saved: dict[str, Any], case: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved["folders"][case], tmp_path / case))


def _weight_of(data: dict[str, Any], attr: str) -> str:
    return next(name for name, entry in data["weights"].items() if entry["key"] == f"model.{attr}")


def forge_array(folder: Path, attr: str, change: Callable[[np.ndarray], np.ndarray]) -> str:
    """Replace array *attr* by ``change(old)``: new .npy, its sha256/shape/dtype and the description's slot."""
    data = read_params(folder)
    name = _weight_of(data, attr)
    new = np.ascontiguousarray(change(np.load(folder / f"{name}.npy", allow_pickle=False)))
    data["weights"][name] = write_weight(folder, name, f"model.{attr}", new)
    estimator_spec(data)["state"][attr] = {"sk": "array", "shape": list(new.shape),
                                           "dtype": np.lib.format.dtype_to_descr(new.dtype)}
    write_params(folder, data)
    return name


def forge_json(folder: Path, part: str, attr: str, value: Any) -> None:
    """Set (or delete) ``params``/``state`` entry *attr* of the stored estimator description."""
    data = read_params(folder)
    section = estimator_spec(data)[part]
    if value is _DELETE:
        del section[attr]
    else:
        section[attr] = value
    write_params(folder, data)


def _more(index: int, by: int) -> Callable[[np.ndarray], np.ndarray]:
    def change(array: np.ndarray) -> np.ndarray:
        array = array.copy()
        array[index] += by
        return array
    return change


# (case, attribute, change, expected message) — each forged in the .npy and its params.json entry.
ARRAY_FORGERIES = [
    ("binary", "_n_support", _more(0, 5), r"_n_support counts \d+ support vectors \(summed over classes\) but support_ lists \d+"),
    ("three", "_n_support", _more(2, 1000), r"_n_support counts \d+ support vectors \(summed"),
    ("binary", "_n_support", lambda a: np.array([-1, a.sum() + 1], dtype=np.int32),
     "_n_support holds a negative count -1"),
    ("three", "_n_support", lambda a: np.array([a.sum()], dtype=np.int32), "_n_support has 1 entries"),
    ("svr", "_n_support", lambda a: a + 7, r"_n_support counts \d+ support vectors \(first entry\)"),
    ("three", "_dual_coef_", lambda a: a[:1], r"_dual_coef_ has shape \[1, \d+\], libsvm reads \[2, \d+\]"),
    ("binary", "_dual_coef_", lambda a: a[:, :-1], r"_dual_coef_ has shape \[1, (\d+)\], libsvm reads \[1, "),
    ("three", "_intercept_", lambda a: a[:2], "_intercept_ has 2 entries, libsvm reads 3"),
    ("svr", "_intercept_", lambda a: np.concatenate([a, a]), "_intercept_ has 2 entries, libsvm reads 1"),
    ("three", "_probA", lambda a: a[:1], "_probA has 1 entries, expected 0 or 3"),
    ("three", "_probB", lambda a: a[:0], "_probB has 0 entries but _probA has 3"),
    ("binary", "support_", lambda a: np.where(np.arange(a.size) == 0, 10**6, a).astype(np.int32),
     r"support_ indexes training sample 1000000 outside \[0, \d+\)"),
    ("svr", "support_", lambda a: -a - 1, r"support_ indexes training sample -\d+ outside"),
    ("binary", "support_", lambda a: a.astype(np.int64), "support_ must be a C-contiguous 1-D int32 array"),
    ("svr", "support_vectors_", lambda a: a[:, :-1], r"support_vectors_ has shape \[\d+, 255\], expected \[\d+, 256\]"),
    ("svr", "support_vectors_", lambda a: a[:-1], r"support_vectors_ has shape \[\d+, 256\]"),
    ("binary", "support_vectors_", lambda a: a.astype(np.float32), "support_vectors_ must be a C-contiguous 2-D float64"),
    ("three", "classes_", lambda a: a[:2], "classes_ must be an array of 3 labels"),
    ("three", "class_weight_", lambda a: a[:1], "class_weight_ must be a float64 array of 3 class weights"),
]


@pytest.mark.parametrize(("case", "attr", "change", "message"), ARRAY_FORGERIES,
                         ids=[f"{c}-{a}-{i}" for i, (c, a, _, _) in enumerate(ARRAY_FORGERIES)])
def test_forged_svm_arrays_are_refused(saved: dict[str, Any], tmp_path: Path, case: str, attr: str,
                                       change: Callable[[np.ndarray], np.ndarray], message: str) -> None:
    folder = _copy(saved, case, tmp_path)
    name = forge_array(folder, attr, change)
    with pytest.raises(WeightFileError, match=message) as info:
        hub.from_pretrained(folder)
    assert info.value.path == folder / f"{name}.npy" and info.value.weight == name
    assert f"refusing the fitted {'SVR' if case == 'svr' else 'SVC'}: model.{attr}" in str(info.value)


# (case, "params"/"state", attribute, forged JSON value, attribute named, expected message)
JSON_FORGERIES = [
    ("binary", "state", "shape_fit_", {"sk": "tuple", "items": [200, 300]}, "n_features_in_",
     "n_features_in_ is 256 but shape_fit_ says 300 features"),
    ("binary", "state", "shape_fit_", {"sk": "tuple", "items": [200]}, "shape_fit_", "tuple of 2 non-negative"),
    ("binary", "state", "shape_fit_", {"sk": "tuple", "items": [3, 256]}, "support_",
     r"indexes training sample \d+ outside \[0, 3\)"),
    ("svr", "state", "shape_fit_", _DELETE, "shape_fit_", "is missing"),
    ("binary", "state", "_gamma", {"sk": "np", "dtype": "<f8", "value": -1.0}, "_gamma", "finite non-negative"),
    ("binary", "state", "_gamma", "big", "_gamma", "finite non-negative number, not 'big'"),
    ("three", "state", "_sparse", 1, "_sparse", "must be a bool, not int"),
    ("three", "state", "_sparse", True, "_sparse", "sparse SVMs are not supported"),
    ("binary", "state", "_impl", "epsilon_svr", "_impl", "replaces the class attribute '_impl'"),
    ("svr", "state", "_sparse_kernels", {"sk": "list", "items": ["rbf"]}, "_sparse_kernels", "replaces the class"),
    ("svr", "state", "fit_status_", "ok", "fit_status_", "must be an integer, not str"),
    ("three", "params", "kernel", "laplacian", "kernel", "must be one of linear, poly, rbf, sigmoid, precomputed"),
    ("three", "params", "kernel", "precomputed", "support_vectors_", "precomputed-kernel SVM has no support vectors"),
    ("svr", "params", "degree", -3, "degree", "non-negative int32, not -3"),
    ("svr", "params", "degree", 2.5, "degree", "non-negative int32, not 2.5"),
    ("svr", "params", "gamma", -0.5, "gamma", "'scale', 'auto' or a finite non-negative number, not -0.5"),
    ("binary", "params", "cache_size", 0, "cache_size", "finite positive number, not 0"),
]


@pytest.mark.parametrize(("case", "part", "attr", "value", "named", "message"), JSON_FORGERIES,
                         ids=[f"{c}-{a}-{i}" for i, (c, _, a, _, _, _) in enumerate(JSON_FORGERIES)])
def test_forged_svm_description_is_refused(saved: dict[str, Any], tmp_path: Path, case: str, part: str, attr: str,
                                           value: Any, named: str, message: str) -> None:
    folder = _copy(saved, case, tmp_path)
    forge_json(folder, part, attr, value)
    with pytest.raises(PretrainedFormatError, match=message) as info:
        hub.from_pretrained(folder)
    assert f": model.{named} " in str(info.value)
    if isinstance(info.value, WeightFileError):  # blamed on the weight the description no longer fits
        assert info.value.path == folder / f"{info.value.weight}.npy"
    else:
        assert info.value.path == folder / "params.json"


@pytest.mark.parametrize("case", ["binary", "three", "svr"])
def test_untouched_svms_round_trip_identically(saved: dict[str, Any], case: str) -> None:
    original = saved["models"][case].model
    loaded = hub.from_pretrained(saved["folders"][case]).model
    x = saved["x"]
    np.testing.assert_array_equal(loaded.predict(x), original.predict(x))
    if case != "svr":
        np.testing.assert_array_equal(loaded.decision_function(x), original.decision_function(x))
        np.testing.assert_array_equal(loaded.predict_proba(x), original.predict_proba(x))
    for attr in ("support_", "support_vectors_", "_n_support", "_dual_coef_", "_intercept_", "_probA", "_probB"):
        assert getattr(loaded, attr).dtype == getattr(original, attr).dtype
        np.testing.assert_array_equal(getattr(loaded, attr), getattr(original, attr))
    assert loaded.shape_fit_ == original.shape_fit_ and loaded._gamma == original._gamma


def test_refused_set_weight_is_undone(saved: dict[str, Any]) -> None:
    model = hub.from_pretrained(saved["folders"]["three"])
    name = _weight_of(read_params(saved["folders"]["three"]), "_n_support")
    before = hub.get_weight(model, name)
    with pytest.raises(WeightFileError, match=r"_n_support counts \d+ support vectors \(summed") as info:
        hub.set_weight(model, name, before + 100)
    assert info.value.weight == name and info.value.path is None
    np.testing.assert_array_equal(hub.get_weight(model, name), before)
    x = saved["x"]
    np.testing.assert_array_equal(model.model.predict_proba(x), saved["models"]["three"].model.predict_proba(x))


def test_consistent_set_weight_is_accepted(saved: dict[str, Any]) -> None:
    model = hub.from_pretrained(saved["folders"]["svr"])
    name = _weight_of(read_params(saved["folders"]["svr"]), "_intercept_")
    hub.set_weight(model, name, hub.get_weight(model, name) - 1.0)
    x = saved["x"]
    np.testing.assert_allclose(model.model.predict(x), saved["models"]["svr"].model.predict(x) - 1.0)


def test_svm_inside_a_pipeline_is_checked(tmp_path: Path) -> None:
    import deepchem as dc
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import NuSVR

    x, y, _ = ecfp_data()
    model = dc.models.SklearnModel(Pipeline([("scale", StandardScaler()), ("svr", NuSVR())]))
    model.fit(dataset(x[:60], y[:60]))
    folder = hub.to_pretrained(model, tmp_path / "pipe")
    data = read_params(folder)
    name = next(n for n, e in data["weights"].items() if e["key"] == "model.steps.1.1._intercept_")
    data["weights"][name] = write_weight(folder, name, "model.steps.1.1._intercept_", np.zeros(4))
    estimator_spec(data)["params"]["steps"]["items"][1]["items"][1]["state"]["_intercept_"]["shape"] = [4]
    write_params(folder, data)
    with pytest.raises(WeightFileError, match=r"NuSVR: model.steps.1.1._intercept_ has 4 entries, libsvm reads 1"):
        hub.from_pretrained(folder)


def test_svms_inside_an_ensemble_are_checked(tmp_path: Path) -> None:
    import deepchem as dc
    from sklearn.ensemble import BaggingRegressor
    from sklearn.svm import SVR

    x, y, _ = ecfp_data()
    model = dc.models.SklearnModel(BaggingRegressor(SVR(), n_estimators=3, random_state=0))
    model.fit(dataset(x[:60], y[:60]))
    loaded = hub.from_pretrained(hub.to_pretrained(model, tmp_path / "bag"))
    np.testing.assert_array_equal(loaded.model.predict(x), model.model.predict(x))
    name = "sklearnmodel-model.estimators_.1-2"
    assert adapters.for_model(loaded).specs(loaded)[name].key == "model.estimators_.1._n_support"
    with pytest.raises(WeightFileError, match=r"SVR: model.estimators_.1._n_support counts \d+ support vectors \(first entry\)"):
        hub.set_weight(loaded, name, hub.get_weight(loaded, name) + 3)
    np.testing.assert_array_equal(loaded.model.predict(x), model.model.predict(x))
