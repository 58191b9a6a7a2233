"""SklearnModel round trips (fresh process, exact predictions), weight names, set_weight, bad input."""
from __future__ import annotations

import pickle
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dchub_client as hub
from dchub_client.errors import (
    ParameterEncodingError,
    PretrainedFormatError,
    UntrustedClassError,
    WeightFileError,
)
from dchub_client.models import adapters
from tests._support.folders import write_weight
from tests.models.adapters.test_sklearn_state import (
    check_fresh_prediction,
    dataset,
    ecfp_data,
    estimator_spec,
    fresh_predictions,
    read_params,
    write_params,
)


def _cases() -> dict[str, tuple[Callable[[], Any], str]]:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    return {
        "linear": (LinearRegression, "r"),
        "ridge": (lambda: Ridge(alpha=0.5), "r"),
        "lasso": (lambda: Lasso(alpha=0.01), "r"),
        "svr": (SVR, "r"),
        "knn-regressor": (lambda: KNeighborsRegressor(n_neighbors=3, algorithm="ball_tree"), "r"),
        "forest-regressor": (lambda: RandomForestRegressor(n_estimators=7, random_state=0), "r"),
        "extra-trees-regressor": (lambda: ExtraTreesRegressor(n_estimators=5, random_state=0), "r"),
        "gb-regressor": (lambda: GradientBoostingRegressor(n_estimators=6, random_state=0), "r"),
        "pipeline-ridge": (lambda: Pipeline([("scale", StandardScaler()), ("ridge", Ridge())]), "r"),
        "logistic": (lambda: LogisticRegression(max_iter=500), "c"),
        "svc": (lambda: SVC(probability=True, random_state=0), "c"),
        "knn-classifier": (lambda: KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree"), "c"),
        "forest-classifier": (lambda: RandomForestClassifier(n_estimators=7, random_state=0), "c"),
        "extra-trees-classifier": (lambda: ExtraTreesClassifier(n_estimators=5, random_state=0), "c"),
        "gb-classifier": (lambda: GradientBoostingClassifier(n_estimators=6, random_state=0), "c"),
        "pipeline-svc": (lambda: Pipeline([("scale", StandardScaler()), ("svc", SVC(probability=True,
                                                                                      random_state=0))]), "c"),
    }


CASES = list(_cases())


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case fitted on real molecules through DeepChem and saved; X saved as .npy."""
    import deepchem as dc

    root = tmp_path_factory.mktemp("sklearn")
    x, y_reg, y_bin = ecfp_data()
    np.save(root / "x.npy", x, allow_pickle=False)
    models, folders = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (factory, task) in _cases().items():
            model = dc.models.SklearnModel(factory())
            model.fit(dataset(x, y_reg if task == "r" else y_bin))
            folders[name] = hub.to_pretrained(model, root / name)
            models[name] = model
    return {"root": root, "x": x, "models": models, "folders": folders}


@pytest.fixture(scope="module")
def fresh(trained: dict[str, Any]) -> dict[str, np.ndarray]:
    """All folders loaded and predicted in ONE new interpreter."""
    return fresh_predictions(trained, CASES, "SklearnModel")


@pytest.mark.parametrize("name", CASES)
def test_fresh_process_predictions_equal(name: str, trained: dict[str, Any], fresh: dict[str, np.ndarray]) -> None:
    check_fresh_prediction(name, trained, fresh)


@pytest.mark.parametrize("name", CASES)
def test_predict_and_predict_proba_equal(name: str, trained: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle/joblib used while loading")

    for module, attr in ((pickle, "load"), (pickle, "loads"), (joblib, "load")):
        monkeypatch.setattr(module, attr, refuse)
    original = trained["models"][name].model
    loaded = hub.from_pretrained(trained["folders"][name]).model
    assert type(loaded) is type(original) and loaded is not original
    x = trained["x"]
    np.testing.assert_array_equal(loaded.predict(x), original.predict(x))
    if hasattr(original, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(x), original.predict_proba(x))
    assert loaded.get_params(deep=False).keys() == original.get_params(deep=False).keys()


@pytest.mark.parametrize("name", CASES)
def test_weights_equal_and_named_as_in_params(name: str, trained: dict[str, Any]) -> None:
    model = trained["models"][name]
    folder = trained["folders"][name]
    loaded = hub.from_pretrained(folder)
    before, after = hub.get_weights(model), hub.get_weights(loaded)
    assert list(before) == list(after) == list(read_params(folder)["weights"])
    for weight in before:
        np.testing.assert_array_equal(before[weight], after[weight])
    assert sorted(p.name for p in folder.iterdir()) == sorted(["params.json", *(f"{w}.npy" for w in before)])


def test_weight_names_are_stable(trained: dict[str, Any]) -> None:
    specs = {name: {w: s.key for w, s in adapters.for_model(m).specs(m).items()}
             for name, m in trained["models"].items()}
    assert specs["linear"] == {"sklearnmodel-model-0": "model.coef_", "sklearnmodel-model-1": "model.singular_"}
    assert specs["forest-regressor"] == {"sklearnmodel-model.estimators_-0": "model.estimators_.*.tree_.nodes",
                                         "sklearnmodel-model.estimators_-1": "model.estimators_.*.tree_.values"}
    assert specs["forest-classifier"]["sklearnmodel-model.estimators_-0"] == "model.estimators_.*.classes_"
    assert specs["pipeline-ridge"] == {"sklearnmodel-model.steps.0.1-0": "model.steps.0.1.mean_",
                                       "sklearnmodel-model.steps.0.1-1": "model.steps.0.1.scale_",
                                       "sklearnmodel-model.steps.0.1-2": "model.steps.0.1.var_",
                                       "sklearnmodel-model.steps.1.1-0": "model.steps.1.1.coef_"}
    assert "sklearnmodel-model.init_-0" in specs["gb-regressor"]  # DummyRegressor.constant_
    forest = trained["models"]["forest-regressor"].model
    nodes = hub.get_weight(trained["models"]["forest-regressor"], "sklearnmodel-model.estimators_-0")
    assert nodes.shape == (sum(t.tree_.node_count for t in forest.estimators_),)
    assert nodes.dtype.fields is not None and not nodes.dtype.hasobject


def test_set_weight_changes_predictions(trained: dict[str, Any]) -> None:
    loaded = hub.from_pretrained(trained["folders"]["ridge"])
    x = trained["x"]
    coef = hub.get_weight(loaded, "sklearnmodel-model-0")
    hub.set_weight(loaded, "sklearnmodel-model-0", coef * 2)
    np.testing.assert_allclose(loaded.model.predict(x) - loaded.model.intercept_,
                               2 * (trained["models"]["ridge"].model.predict(x) - loaded.model.intercept_))
    forest = hub.from_pretrained(trained["folders"]["forest-regressor"])
    values = hub.get_weight(forest, "sklearnmodel-model.estimators_-1")
    forest["sklearnmodel-model.estimators_-1"] = values + 1.0
    np.testing.assert_allclose(forest.model.predict(x), trained["models"]["forest-regressor"].model.predict(x) + 1.0)


def test_set_weight_refuses_unsafe_tree_nodes(trained: dict[str, Any]) -> None:
    forest = hub.from_pretrained(trained["folders"]["forest-regressor"])
    nodes = hub.get_weight(forest, "sklearnmodel-model.estimators_-0")
    bad = nodes.copy()
    inner = np.flatnonzero(bad["left_child"] != -1)[0]
    bad["left_child"][inner] = 10**6
    with pytest.raises(WeightFileError, match="child index is out of range"):
        forest["sklearnmodel-model.estimators_-0"] = bad
    np.testing.assert_array_equal(hub.get_weight(forest, "sklearnmodel-model.estimators_-0"), nodes)


def test_knn_search_tree_follows_its_data(trained: dict[str, Any]) -> None:
    knn = hub.from_pretrained(trained["folders"]["knn-classifier"])
    assert type(knn.model._tree).__name__ == "KDTree"
    specs = adapters.for_model(knn).specs(knn)
    assert specs["sklearnmodel-model-0"].key == "model._fit_X"
    fit_x = hub.get_weight(knn, "sklearnmodel-model-0")
    knn["sklearnmodel-model-0"] = fit_x[::-1].copy()
    np.testing.assert_array_equal(knn.model._tree.get_arrays()[0], fit_x[::-1])


# --- bad input ----------------------------------------------------------------------------------------


@pytest.fixture
def folder(trained: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy of the saved SVC pipeline, to damage."""
    return Path(shutil.copytree(trained["folders"]["pipeline-svc"], tmp_path / "copy"))


def _set_class(folder: Path, name: str) -> None:
    data = read_params(folder)
    estimator_spec(data)["params"]["steps"]["items"][1]["items"][1]["class"]["name"] = name
    write_params(folder, data)


@pytest.mark.parametrize("name", ["os.system", "sklearn.utils._testing.SomethingNotAnEstimator",
                                  "sklearn.utils._testing.MinimalClassifier", "sklearn.metrics.accuracy_score",
                                  "subprocess.Popen"])
def test_disallowed_estimator_class_is_refused(folder: Path, name: str) -> None:
    _set_class(folder, name)
    with pytest.raises(UntrustedClassError, match="params.json") as info:
        hub.from_pretrained(folder)
    assert name in str(info.value)


def test_allowlisted_non_estimator_class_is_refused(folder: Path) -> None:
    _set_class(folder, "deepchem.models.fcnet.MultitaskRegressor")  # trusted by DeepChem's policy, not an estimator
    with pytest.raises(PretrainedFormatError, match="params.json.*not an allowlisted estimator class"):
        hub.from_pretrained(folder)


def test_object_dtype_in_description_is_refused(folder: Path) -> None:
    data = read_params(folder)
    estimator_spec(data)["params"]["steps"]["items"][0]["items"][1]["state"]["mean_"]["dtype"] = "|O"
    write_params(folder, data)
    with pytest.raises(PretrainedFormatError, match="params.json.*object dtypes are refused"):
        hub.from_pretrained(folder)


def test_object_array_weight_is_refused(folder: Path) -> None:
    data = read_params(folder)
    entry = data["weights"]["sklearnmodel-model.steps.0.1-0"]
    entry["dtype"] = "|O"
    write_params(folder, data)
    with pytest.raises(PretrainedFormatError, match="object dtypes are refused"):
        hub.from_pretrained(folder)


def test_wrong_shape_in_description_is_refused(folder: Path) -> None:
    data = read_params(folder)
    estimator_spec(data)["params"]["steps"]["items"][0]["items"][1]["state"]["mean_"]["shape"] = [255]
    write_params(folder, data)
    with pytest.raises(WeightFileError, match=r"steps.0.1-0.npy.*\[256\] but the model expects \[255\]"):
        hub.from_pretrained(folder)


def test_wrong_shape_of_weight_file_is_refused(folder: Path) -> None:
    name = "sklearnmodel-model.steps.0.1-0"
    np.save(folder / f"{name}.npy", np.zeros(3), allow_pickle=False)
    with pytest.raises(WeightFileError, match=name):
        hub.from_pretrained(folder)


def test_forged_attribute_name_is_refused(folder: Path) -> None:
    data = read_params(folder)
    estimator_spec(data)["state"] = {"__class__": 1}
    write_params(folder, data)
    with pytest.raises(PretrainedFormatError, match="refusing attribute name '__class__'"):
        hub.from_pretrained(folder)


def test_method_shadowing_attribute_is_refused(folder: Path) -> None:
    data = read_params(folder)
    estimator_spec(data)["state"] = {"predict": 1}
    write_params(folder, data)
    with pytest.raises(PretrainedFormatError, match="would replace a method"):
        hub.from_pretrained(folder)


def test_unknown_stored_kind_is_refused(folder: Path) -> None:
    data = read_params(folder)
    estimator_spec(data)["params"]["memory"] = {"sk": "pickle", "data": "gASV"}
    write_params(folder, data)
    with pytest.raises(PretrainedFormatError, match="unknown stored value 'pickle'"):
        hub.from_pretrained(folder)


def test_forged_tree_nodes_are_refused_before_use(trained: dict[str, Any], tmp_path: Path) -> None:
    folder = Path(shutil.copytree(trained["folders"]["forest-classifier"], tmp_path / "forest"))
    name = "sklearnmodel-model.estimators_-1"
    data = read_params(folder)
    nodes = np.load(folder / f"{name}.npy", allow_pickle=False)
    nodes["feature"][nodes["left_child"] != -1] = 10_000  # a split on a feature that does not exist
    data["weights"][name] = write_weight(folder, name, data["weights"][name]["key"], nodes)
    write_params(folder, data)
    with pytest.raises(WeightFileError, match=f"{name}.*split feature index is out of range"):
        hub.from_pretrained(folder)


def test_unstorable_hyperparameter_leaves_nothing(tmp_path: Path) -> None:
    import deepchem as dc
    from sklearn.neighbors import KNeighborsRegressor

    x, y, _ = ecfp_data()
    model = dc.models.SklearnModel(KNeighborsRegressor(metric=lambda a, b: float(np.abs(a - b).sum())))
    model.fit(dataset(x[:10], y[:10]))
    with pytest.raises(ParameterEncodingError, match="model.params.metric|model.metric"):
        hub.to_pretrained(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()
