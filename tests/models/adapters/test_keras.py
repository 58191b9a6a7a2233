"""Every DeepChem KerasModel listed in the issue: train on real molecules, save, reload in a fresh process.

All folders are reloaded in ONE new interpreter (importing DeepChem and TensorFlow costs seconds).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dchub_client
from tests._support.fresh import Job, featurize, predict_in_fresh_process
from tests._support.molecules import binary_labels, nci_molecules

dc = pytest.importorskip("deepchem")
tf = pytest.importorskip("tensorflow")
from tests.models.adapters import user_keras_models  # noqa: E402  (registers TwoLayerKerasNet, DAGFeaturizer)

ECFP = {"class": "deepchem.feat.CircularFingerprint", "kwargs": {"size": 128, "radius": 2}}
CONVMOL = {"class": "deepchem.feat.ConvMolFeaturizer", "kwargs": {}}
N_MOLECULES = 32
SMALL_ATOMS = 30
MAX_HEAVY_ATOMS = 40  # nci_molecules keeps molecules of at most 40 heavy atoms
DAG_ATOMS = 16
IRV_K = 5


@dataclass
class Case:
    """How to build, featurize and train one model class.

    ``features``: a function computing X in the test process, saved as ``.npy`` for the fresh one
    (for featurizers that are slow or draw random conformers); otherwise ``featurizer`` runs in both.
    """

    build: Callable[[dict[str, Any]], Any]
    featurizer: dict[str, Any] | None = None
    features: Callable[[list[str], dict[str, Any]], np.ndarray] | None = None
    classification: bool = False
    n_tasks: int = 1
    small: bool = False  # only molecules of at most SMALL_ATOMS atoms (with H) and Z < 30 (DTNN's table)
    max_heavy: int | None = None  # only molecules of at most this many heavy atoms


def _ecfp(smiles: list[str], _data: dict[str, Any]) -> np.ndarray:
    return dc.feat.CircularFingerprint(size=128, radius=2).featurize(smiles).astype(np.float32)


def _scscore_pairs(smiles: list[str], data: dict[str, Any]) -> np.ndarray:
    fp = _ecfp(smiles, data)
    return np.stack([fp, fp[::-1]], axis=1)


def _irv(smiles: list[str], data: dict[str, Any]) -> np.ndarray:
    """IRV features as ``IRVTransformer`` computes them: top-K Tanimoto similarities, then their labels.

    ``dc.trans.IRVTransformer`` itself fails under NumPy 2 in DeepChem 2.8 (it calls ``np.float_``),
    so the same computation is done here.
    """
    fp = _ecfp(smiles, data) > 0
    inter = fp.astype(np.float64) @ fp.T.astype(np.float64)
    union = fp.sum(1)[:, None] + fp.sum(1)[None, :] - inter
    similarity = inter / np.maximum(union, 1)
    np.fill_diagonal(similarity, -1.0)  # a molecule is not its own neighbour
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :IRV_K]
    labels = binary_labels(data["y"])[:, 0]
    return np.hstack([np.take_along_axis(similarity, top, 1), labels[top]]).astype(np.float32)


def _coulomb(smiles: list[str], _data: dict[str, Any]) -> np.ndarray:
    return dc.feat.CoulombMatrix(max_atoms=SMALL_ATOMS).featurize(smiles).astype(np.float32)


def _images(smiles: list[str], _data: dict[str, Any]) -> np.ndarray:
    return dc.feat.SmilesToImage(img_size=80, img_spec="std").featurize(smiles).astype(np.float32)


def _sequences(smiles: list[str], data: dict[str, Any]) -> np.ndarray:
    return dc.feat.SmilesToSeq(data["char_to_idx"], max_len=100, pad_len=5).featurize(smiles)


CASES: dict[str, Case] = {
    "GraphConvModel": Case(lambda d: dc.models.GraphConvModel(
        1, graph_conv_layers=[8, 8], dense_layer_size=16, mode="regression", batch_size=8), CONVMOL),
    "RobustMultitaskRegressor": Case(lambda d: dc.models.RobustMultitaskRegressor(
        1, 128, layer_sizes=[16], bypass_layer_sizes=[8], batch_size=8), ECFP),
    "RobustMultitaskClassifier": Case(lambda d: dc.models.RobustMultitaskClassifier(
        1, 128, layer_sizes=[16], bypass_layer_sizes=[8], batch_size=8), ECFP, classification=True),
    "ProgressiveMultitaskRegressor": Case(lambda d: dc.models.ProgressiveMultitaskRegressor(
        2, 128, layer_sizes=[16, 8], batch_size=8), ECFP, n_tasks=2),
    "ProgressiveMultitaskClassifier": Case(lambda d: dc.models.ProgressiveMultitaskClassifier(
        2, 128, layer_sizes=[16], batch_size=8), ECFP, classification=True, n_tasks=2),
    "TextCNNModel": Case(lambda d: dc.models.TextCNNModel(
        1, char_dict=d["char_dict"], seq_length=d["seq_length"], n_embedding=8, kernel_sizes=[1, 2, 3],
        num_filters=[4, 4, 4], mode="regression", batch_size=8)),
    "ScScoreModel": Case(lambda d: dc.models.ScScoreModel(128, layer_sizes=[16, 8], batch_size=8),
                         features=_scscore_pairs),
    "MultitaskIRVClassifier": Case(lambda d: dc.models.MultitaskIRVClassifier(1, K=IRV_K, batch_size=8),
                                   features=_irv, classification=True),
    "DAGModel": Case(lambda d: dc.models.DAGModel(
        1, max_atoms=DAG_ATOMS, n_graph_feat=8, n_outputs=8, layer_sizes=[8], layer_sizes_gather=[8],
        mode="regression", batch_size=16),
        {"class": "tests.models.adapters.user_keras_models.DAGFeaturizer", "kwargs": {"max_atoms": DAG_ATOMS}},
        max_heavy=DAG_ATOMS),
    "DTNNModel": Case(lambda d: dc.models.DTNNModel(1, n_embedding=8, n_hidden=8, n_distance=20, batch_size=8),
                      features=_coulomb, small=True),
    "ChemCeption": Case(lambda d: dc.models.ChemCeption(
        img_spec="std", img_size=80, base_filters=4, inception_blocks={"A": 1, "B": 1, "C": 1}, n_tasks=1,
        mode="regression", batch_size=8), features=_images),
    "Smiles2Vec": Case(lambda d: dc.models.Smiles2Vec(
        d["char_to_idx"], n_tasks=1, max_seq_len=110, embedding_dim=8, filters=8, rnn_sizes=[8],
        rnn_types=["GRU"], mode="regression", batch_size=8), features=_sequences),
    "MPNNModel": Case(lambda d: dc.models.MPNNModel(
        1, n_atom_feat=75, n_pair_feat=14, n_hidden=75, T=1, M=1, mode="regression", batch_size=8),
        {"class": "deepchem.feat.WeaveFeaturizer", "kwargs": {}}),
    "KerasModel(user model)": Case(lambda d: dc.models.KerasModel(
        user_keras_models.TwoLayerKerasNet(hidden=8, activation="tanh"), dc.models.losses.L2Loss(),
        batch_size=8), ECFP),
}


def _molecules(case: Case) -> tuple[list[str], np.ndarray]:
    from rdkit import Chem

    smiles, y = nci_molecules(64)
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    keep = list(range(len(smiles)))
    if case.small:
        keep = [i for i in keep if Chem.AddHs(mols[i]).GetNumAtoms() <= SMALL_ATOMS
                and max(a.GetAtomicNum() for a in mols[i].GetAtoms()) < 30]
    if case.max_heavy is not None:
        keep = [i for i in keep if mols[i].GetNumAtoms() <= case.max_heavy]
    keep = keep[:N_MOLECULES]
    return [smiles[i] for i in keep], y[keep]


def _shared_data(smiles: list[str]) -> dict[str, Any]:
    ids = dc.data.NumpyDataset(np.zeros((len(smiles), 1)), ids=np.array(smiles))
    char_dict, seq_length = dc.models.TextCNNModel.build_char_dict(ids)
    chars = sorted({c for s in nci_molecules(64)[0] for c in s})
    char_to_idx = {c: i for i, c in enumerate(["<pad>", "<unk>", *chars])}
    return {"char_dict": char_dict, "seq_length": seq_length, "char_to_idx": char_to_idx}


def _dataset(case: Case, name: str, smiles: list[str], y: np.ndarray, data: dict[str, Any],
             workdir: Path) -> tuple[Any, Job]:
    labels = binary_labels(y) if case.classification else y
    labels = np.hstack([labels] * case.n_tasks)
    if case.features is not None:
        path = workdir / f"{name.split('(')[0]}-x.npy"
        np.save(path, case.features(smiles, {**data, "y": y}), allow_pickle=False)
        job = Job(folder="", smiles=smiles, x=str(path))
    else:
        job = Job(folder="", smiles=smiles, featurizer=case.featurizer)
    dataset = featurize(job.smiles, job.featurizer, job.x)
    return dc.data.NumpyDataset(dataset.X, labels, np.ones_like(labels), ids=np.array(smiles)), job


def _folder_name(name: str) -> str:
    return name.replace("(", "-").replace(")", "").replace(" ", "-")


def train_and_save(name: str, workdir: Path, data: dict[str, Any]) -> tuple[Any, np.ndarray, Job]:
    """Build, train briefly and save one case; return the model, its predictions and the reload job."""
    case = CASES[name]
    smiles, y = _molecules(case)
    dataset, job = _dataset(case, name, smiles, y, data, workdir)
    tf.random.set_seed(0)
    model = case.build(data)
    model.fit(dataset, nb_epoch=2)
    folder = model.to_pretrained(workdir / _folder_name(name))
    job.folder, job.expected_class = str(folder), type(model).__name__
    return model, np.asarray(model.predict(dataset)), job


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, np.ndarray, np.ndarray]]:
    """Train every case, save it, and predict with the reloaded copies in one fresh process."""
    workdir = tmp_path_factory.mktemp("keras-round-trips")
    data = _shared_data(nci_molecules(N_MOLECULES)[0])
    trained, originals, jobs = {}, {}, []
    for name in CASES:
        trained[name], originals[name], job = train_and_save(name, workdir, data)
        jobs.append(job)
    reloaded = predict_in_fresh_process(jobs, workdir, imports=("tests.models.adapters.user_keras_models",))
    return {name: (trained[name], originals[name], pred) for name, pred in zip(CASES, reloaded)}


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_in_fresh_process_predicts_identically(round_trips: dict, name: str) -> None:
    _model, original, reloaded = round_trips[name]
    assert original.shape == reloaded.shape
    np.testing.assert_allclose(reloaded, original, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", list(CASES))
def test_weights_are_named_per_variable_and_cover_the_keras_model(round_trips: dict, name: str) -> None:
    model = round_trips[name][0]
    weights = model.get_weights()
    prefix = type(model).__name__.lower() + "-"
    assert weights and all(n.startswith(prefix) for n in weights)
    assert len(weights) == len(model.model.weights), "every Keras variable is exactly one weight"
    total = sum(w.size for w in weights.values())
    assert total == sum(int(np.prod(v.shape)) for v in model.model.weights)


def test_graphconv_variables_exist_and_hold_stored_values_before_any_predict(round_trips: dict,
                                                                             tmp_path: Path) -> None:
    model = round_trips["GraphConvModel"][0]
    folder = model.to_pretrained(tmp_path / "gc")
    again = dc.models.GraphConvModel.from_pretrained(folder)
    assert again.model.built, "variables are created by from_pretrained, not by the first predict"
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(again[name], value)


_NAMES_SCRIPT = """
import os, sys, json
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tf_keras
import dchub_client
if sys.argv[1] == "noise":
    for _ in range(3):  # unrelated Keras layers and models first: global counters move on
        m = tf_keras.Sequential([tf_keras.layers.Dense(3), tf_keras.layers.Dense(2)])
        m.build((None, 4))
from tests.models.adapters import test_keras as T
from tests._support.molecules import nci_molecules
from pathlib import Path
work = Path(sys.argv[2])
data = T._shared_data(nci_molecules(T.N_MOLECULES)[0])
names = {}
for case in ("GraphConvModel", "KerasModel(user model)", "RobustMultitaskRegressor"):
    model = T.train_and_save(case, work, data)[0]
    names[case] = list(model.get_weights())
print(json.dumps(names))
"""


def test_weight_names_do_not_depend_on_keras_global_counters(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests._support.fresh import ROOT

    outputs = []
    for mode in ("plain", "noise"):
        work = tmp_path / mode
        work.mkdir()
        result = subprocess.run([sys.executable, "-c", _NAMES_SCRIPT, mode, str(work)], cwd=ROOT,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        outputs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]
    assert outputs[0]["KerasModel(user model)"][:2] == ["kerasmodel-body.0-0", "kerasmodel-body.0-1"]
    assert all("dense_" not in n for names in outputs[0].values() for n in names)


def test_keras3_is_refused_with_the_fix(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests._support.fresh import ROOT

    script = ("import dchub_client\n"
              "from dchub_client.models.adapters import keras\n"
              "from dchub_client.errors import FrameworkConfigurationError\n"
              "try:\n    keras.tensorflow()\nexcept FrameworkConfigurationError as err:\n    print('REFUSED', err)\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "REFUSED" in result.stdout
    assert "TF_USE_LEGACY_KERAS=1" in result.stdout and "pip install tf-keras" in result.stdout


# --- bad input ------------------------------------------------------------------------------------


@pytest.fixture()
def saved_regressor(round_trips: dict, tmp_path: Path) -> Path:
    return Path(round_trips["RobustMultitaskRegressor"][0].to_pretrained(tmp_path / "robust"))


def test_wrong_shape_in_params_json_names_the_weight(saved_regressor: Path) -> None:
    params = json.loads((saved_regressor / "params.json").read_text())
    params["parameters"]["layer_sizes"] = [12]
    (saved_regressor / "params.json").write_text(json.dumps(params))
    with pytest.raises(dchub_client.errors.WeightFileError, match=r"robustmultitaskregressor-layers\.\d+-0.*"):
        dchub_client.from_pretrained(saved_regressor)


def test_set_weight_checks_shape_and_dtype(round_trips: dict) -> None:
    model = round_trips["RobustMultitaskRegressor"][0]
    name = next(iter(model.get_weights()))
    with pytest.raises(dchub_client.errors.WeightMismatchError, match="shape"):
        model[name] = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(dchub_client.errors.WeightMismatchError, match="dtype"):
        model[name] = np.zeros(model[name].shape, dtype=np.complex64)
    with pytest.raises(dchub_client.errors.UnknownWeightError, match="did you mean"):
        model[name + "x"]
    value = np.full(model[name].shape, 0.25, dtype=np.float64)
    model[name] = value
    np.testing.assert_array_equal(model[name], value.astype(np.float32))


def test_object_array_weight_file_is_refused(saved_regressor: Path) -> None:
    params = json.loads((saved_regressor / "params.json").read_text())
    name = next(iter(params["weights"]))
    np.save(saved_regressor / f"{name}.npy", np.array([object()] * 2, dtype=object), allow_pickle=True)
    with pytest.raises(dchub_client.errors.WeightFileError, match="object arrays are refused"):
        dchub_client.from_pretrained(saved_regressor)


def test_disallowed_class_in_params_json_is_refused_before_import(saved_regressor: Path) -> None:
    import sys

    params = json.loads((saved_regressor / "params.json").read_text())
    params["parameters"]["optimizer"] = {"__dchub__": "object", "class": "tf_keras.utils.Progbar", "kwargs": {}}
    (saved_regressor / "params.json").write_text(json.dumps(params))
    with pytest.raises(dchub_client.errors.UntrustedClassError, match="Progbar"):
        dchub_client.from_pretrained(saved_regressor)
    params["class"] = "some_evil_pkg.Model"
    (saved_regressor / "params.json").write_text(json.dumps(params))
    with pytest.raises(dchub_client.errors.UntrustedClassError, match="not trusted"):
        dchub_client.from_pretrained(saved_regressor)
    assert "some_evil_pkg" not in sys.modules


def test_missing_or_bad_input_signature_is_a_clear_error(round_trips: dict, tmp_path: Path) -> None:
    folder = Path(round_trips["GraphConvModel"][0].to_pretrained(tmp_path / "gc"))
    params = json.loads((folder / "params.json").read_text())
    params["extra"]["keras_input_signature"] = {"inputs": [[[10 ** 9, 75], "|O"]], "list": True}
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(dchub_client.errors.PretrainedFormatError, match="params.json: .*keras_input_signature"):
        dchub_client.from_pretrained(folder)


def test_params_json_records_arguments_signature_and_versions(round_trips: dict, tmp_path: Path) -> None:
    folder = Path(round_trips["GraphConvModel"][0].to_pretrained(tmp_path / "gc"))
    params = json.loads((folder / "params.json").read_text())
    assert params["class"] == "deepchem.models.graph_models.GraphConvModel"
    assert params["framework"] == "keras"
    assert params["parameters"]["graph_conv_layers"] == [8, 8] and "model_dir" not in params["parameters"]
    assert params["versions"]["tensorflow"] == tf.__version__
    assert params["extra"]["keras_input_signature"]["inputs"][0][0][1] == 75


def test_unbuilt_model_cannot_be_saved_with_a_clear_message(tmp_path: Path) -> None:
    model = dc.models.GraphConvModel(1, graph_conv_layers=[4], dense_layer_size=4, mode="regression")
    with pytest.raises(dchub_client.errors.UnsupportedModelError, match="fit\\(\\) or predict\\(\\) once"):
        model.to_pretrained(tmp_path / "unbuilt")
    assert not (tmp_path / "unbuilt").exists()
