"""Every DeepChem TorchModel that runs here: train on real molecules, save, reload in a fresh process.

DGL and torch-geometric models are not installable here and are not covered (that includes the torch
``DTNNModel``, whose layer calls ``torch_geometric.utils.scatter`` in its forward pass).
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
import dchub_client.models.adapters
from tests._support.fresh import Job, featurize, predict_in_fresh_process
from tests._support.molecules import binary_labels, nci_molecules

dc = pytest.importorskip("deepchem")
torch = pytest.importorskip("torch")
from tests.models.adapters import user_torch_models  # noqa: E402  (registers TwoLayerNet)

ECFP = {"class": "deepchem.feat.CircularFingerprint", "kwargs": {"size": 128, "radius": 2}}
N_MOLECULES = 24
SMALL_ATOMS = 30


@dataclass
class Case:
    """How to build, featurize and train one model class."""

    build: Callable[[dict[str, Any]], Any]
    featurizer: dict[str, Any] | None = None
    classification: bool = False
    x_transform: Callable[[np.ndarray], np.ndarray] | None = None
    seed: int | None = None
    small: bool = False  # 3-D featurizers: only molecules of at most SMALL_ATOMS atoms (with hydrogens)


def _small_molecules(smiles: list[str], y: np.ndarray) -> tuple[list[str], np.ndarray]:
    from rdkit import Chem

    keep = [i for i, s in enumerate(smiles) if Chem.AddHs(Chem.MolFromSmiles(s)).GetNumAtoms() <= SMALL_ATOMS]
    return [smiles[i] for i in keep], y[keep]


def _coulomb_regressor(data: dict[str, Any]) -> Any:
    transformer = dc.trans.CoulombFitTransformer(data["train"])
    return dc.models.MultitaskFitTransformRegressor(
        n_tasks=1, n_features=list(data["train"].X.shape[1:]), layer_sizes=[16], fit_transformers=[transformer],
        batch_size=8)


CASES: dict[str, Case] = {
    "MultitaskRegressor": Case(lambda d: dc.models.MultitaskRegressor(
        1, 128, layer_sizes=[32, 16], dropouts=0.1, batch_size=8, learning_rate=dc.models.optimizers.ExponentialDecay(
            0.01, 0.9, 5)), ECFP),
    "MultitaskClassifier": Case(lambda d: dc.models.MultitaskClassifier(
        1, 128, layer_sizes=[32], batch_size=8, optimizer=dc.models.optimizers.Adam(learning_rate=0.003)), ECFP,
        classification=True),
    # CoulombMatrix embeds 3-D conformers with RDKit's process-wide random generator: the features are computed
    # once and handed to the fresh process as .npy (x_transform), or they would depend on earlier tests.
    "MultitaskFitTransformRegressor": Case(_coulomb_regressor, {
        "class": "deepchem.feat.CoulombMatrix", "kwargs": {"max_atoms": SMALL_ATOMS}}, seed=3, small=True,
        x_transform=lambda x: x),
    "ProgressiveMultitaskModel": Case(lambda d: dc.models.torch_models.ProgressiveMultitaskModel(
        2, 128, layer_sizes=[16, 8], mode="regression", batch_size=8), ECFP),
    "CNN": Case(lambda d: dc.models.CNN(1, 1, dims=1, layer_filters=[4, 4], kernel_size=3, mode="regression",
                                        batch_size=8, residual=True, padding="same"), ECFP,
                x_transform=lambda x: x.reshape(len(x), -1, 1)),
    "TextCNNModel": Case(lambda d: dc.models.torch_models.TextCNNModel(
        1, char_dict=d["char_dict"], seq_length=d["seq_length"], n_embedding=8, kernel_sizes=[1, 2, 3],
        num_filters=[4, 4, 4], mode="classification", batch_size=8), None, classification=True),
    "WeaveModel": Case(lambda d: dc.models.torch_models.WeaveModel(
        1, n_hidden=8, n_graph_feat=16, fully_connected_layer_sizes=[16, 8], mode="regression", batch_size=8),
        {"class": "deepchem.feat.WeaveFeaturizer", "kwargs": {}}),
    "MATModel": Case(lambda d: dc.models.torch_models.MATModel(
        n_encoders=1, h=2, sa_hsize=16, d_input=16, d_hidden=16, d_output=16, encoder_hsize=16,
        gen_attn_hidden=8, batch_size=8), {"class": "deepchem.feat.MATFeaturizer", "kwargs": {}}),
    "TorchModel(user module)": Case(lambda d: dc.models.TorchModel(
        user_torch_models.TwoLayerNet(128, hidden=8, activation="tanh"), dc.models.losses.L2Loss(),
        batch_size=8), ECFP),
}


def _dataset(case: Case, smiles: list[str], y: np.ndarray, workdir: Path, name: str) -> tuple[Any, Job]:
    job = Job(folder="", smiles=smiles, featurizer=case.featurizer, seed=case.seed)
    dataset = featurize(smiles, case.featurizer, None)
    if case.x_transform is not None:
        path = workdir / f"{name}-x.npy"
        np.save(path, case.x_transform(np.asarray(dataset.X, dtype=np.float32)))
        job = Job(folder="", smiles=smiles, x=str(path), seed=case.seed)
        dataset = featurize(smiles, None, str(path))
    y = binary_labels(y) if case.classification else y
    if y.shape[1] == 1 and name == "ProgressiveMultitaskModel":
        y = np.hstack([y, y * 0.5])
    return dc.data.NumpyDataset(dataset.X, y, ids=np.array(smiles)), job


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, np.ndarray, np.ndarray]]:
    """Train every case, save it, and predict with the reloaded copies in one fresh process."""
    workdir = tmp_path_factory.mktemp("torch-round-trips")
    smiles, y = nci_molecules(N_MOLECULES)
    char_dict, seq_length = dc.models.torch_models.TextCNNModel.build_char_dict(
        dc.data.NumpyDataset(np.zeros((len(smiles), 1)), ids=np.array(smiles)))
    trained, jobs, originals = {}, [], {}
    for name, case in CASES.items():
        mols, labels = _small_molecules(*nci_molecules(64)) if case.small else (smiles, y)
        dataset, job = _dataset(case, mols, labels, workdir, name.split("(")[0])
        torch.manual_seed(0)
        model = case.build({"train": dataset, "char_dict": char_dict, "seq_length": seq_length})
        model.fit(dataset, nb_epoch=2)
        folder = workdir / name.replace("(", "-").replace(")", "").replace(" ", "-")
        model.to_pretrained(folder)
        if case.seed is not None:
            np.random.seed(case.seed)
        originals[name] = np.asarray(model.predict(dataset))
        job.folder, job.expected_class = str(folder), type(model).__name__
        jobs.append(job)
        trained[name] = model
    reloaded = predict_in_fresh_process(jobs, workdir, imports=("tests.models.adapters.user_torch_models",))
    return {name: (trained[name], originals[name], pred) for name, pred in zip(CASES, reloaded)}


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_in_fresh_process_predicts_identically(round_trips: dict, name: str) -> None:
    _model, original, reloaded = round_trips[name]
    assert original.shape == reloaded.shape
    np.testing.assert_array_equal(original, reloaded)


@pytest.mark.parametrize("name", list(CASES))
def test_weights_are_named_per_variable_and_round_trip(round_trips: dict, name: str, tmp_path: Path) -> None:
    model = round_trips[name][0]
    weights = model.get_weights()
    prefix = type(model).__name__.lower() + "-"
    assert weights and all(n.startswith(prefix) for n in weights)
    lazy = torch.nn.parameter.UninitializedTensorMixin  # lazy layers a model never used have no values yet
    tensors = list(model.model.state_dict(keep_vars=True).values())
    tensors += [t for m in model.model.modules() for n, t in vars(m).items()
                if isinstance(t, torch.Tensor) and not n.startswith("_") and t.grad_fn is None]
    unique_tensors = {id(t) for t in tensors if not isinstance(t, lazy)}
    assert len(weights) == len(unique_tensors), "every parameter, buffer and tensor attribute is a weight, once"
    folder = model.to_pretrained(tmp_path / "again")
    again = dchub_client.from_pretrained(folder)
    for weight_name, value in again.get_weights().items():
        np.testing.assert_array_equal(value, weights[weight_name])


def test_batchnorm_running_statistics_are_weights(round_trips: dict) -> None:
    model = round_trips["TorchModel(user module)"][0]
    names = list(model.get_weights())
    assert names[:6] == ["torchmodel-root-0", "torchmodel-body.0-0", "torchmodel-body.0-1",
                         "torchmodel-body.1-0", "torchmodel-body.1-1", "torchmodel-body.1-2"]
    stats = model["torchmodel-body.1-2"]  # BatchNorm running_mean
    np.testing.assert_array_equal(stats, model.model.body[1].running_mean.numpy())
    assert not np.allclose(stats, 0), "training moved the running mean"


def test_params_json_records_constructor_arguments_but_not_model_dir(round_trips: dict, tmp_path: Path) -> None:
    model = round_trips["MultitaskRegressor"][0]
    folder = model.to_pretrained(tmp_path / "m")
    params = json.loads((folder / "params.json").read_text())
    assert params["class"] == "deepchem.models.fcnet.MultitaskRegressor"
    assert params["parameters"]["layer_sizes"] == [32, 16]
    assert params["parameters"]["learning_rate"]["class"] == "deepchem.models.optimizers.ExponentialDecay"
    assert "model_dir" not in params["parameters"]
    assert params["versions"]["torch"] and params["versions"]["deepchem"] == dc.__version__
    assert model.get_parameters()["layer_sizes"] == [32, 16]


def test_lazy_layers_initialized_by_training_are_restored(round_trips: dict, tmp_path: Path) -> None:
    model = round_trips["CNN"][0]  # its output layer is a LazyLinear, sized by the first batch
    assert "cnn-output_layer-0" in model.get_weights()
    assert "cnn-uncertainty_layer-0" not in model.get_weights(), "never used, so never initialized"
    again = dchub_client.from_pretrained(model.to_pretrained(tmp_path / "cnn"))
    np.testing.assert_array_equal(again["cnn-output_layer-0"], model["cnn-output_layer-0"])


def test_tensors_outside_state_dict_are_weights(round_trips: dict) -> None:
    """DeepChem's WeaveLayer keeps W_AA... as plain tensors: its own checkpoints lose them, dchub does not."""
    model = round_trips["WeaveModel"][0]
    layer = model.model.layers[0]
    assert "W_AA" not in dict(layer.named_parameters()) and "layers.0.W_AA" not in model.model.state_dict()
    key_to_name = {key: name for name, key, _ in dchub_client.models.adapters.for_model(model).read(model)}
    np.testing.assert_array_equal(model[key_to_name["layers.0.W_AA"]], layer.W_AA.numpy())


#: TorchModels that construct here but predict on inputs other than molecules (sequences, lattices,
#: protein-ligand complexes, GAN noise): their round trip compares every weight in a fresh process.
OTHER_MODELS = {
    "SeqToSeqModel": lambda: dc.models.torch_models.SeqToSeqModel(
        list("CNO()=c1"), list("CNO()=c1"), 10, encoder_layers=1, decoder_layers=1, embedding_dimension=8),
    "AtomConvModel": lambda: dc.models.torch_models.AtomConvModel(
        n_tasks=1, frag1_num_atoms=10, frag2_num_atoms=10, complex_num_atoms=20, max_num_neighbors=4,
        batch_size=2, layer_sizes=[8]),
    "BasicMolGANModel": lambda: dc.models.torch_models.BasicMolGANModel(vertices=9, edges=5, nodes=5),
    "LCNNModel": lambda: dc.models.torch_models.LCNNModel(),
}


def test_other_torch_models_round_trip_every_weight_in_a_fresh_process(tmp_path: Path) -> None:
    jobs, originals = [], []
    for name, build in OTHER_MODELS.items():
        torch.manual_seed(1)
        model = build()
        folder = model.to_pretrained(tmp_path / name)
        weights = model.get_weights()
        originals.append(np.concatenate([weights[n].ravel().astype(np.float64) for n in sorted(weights)]))
        jobs.append(Job(folder=str(folder), method="get_weights", expected_class=name))
    for name, original, reloaded in zip(OTHER_MODELS, originals, predict_in_fresh_process(jobs, tmp_path)):
        np.testing.assert_array_equal(reloaded, original, err_msg=name)


def test_seq_to_seq_translates_identically_after_loading(tmp_path: Path) -> None:
    torch.manual_seed(2)
    model = OTHER_MODELS["SeqToSeqModel"]()
    sequences = ["CCO", "c1ccccc1", "CC(=O)N"]
    model.fit_sequences(list(zip(sequences, sequences)) * 4, max_checkpoints_to_keep=1)
    again = dchub_client.from_pretrained(model.to_pretrained(tmp_path / "s2s"))
    assert again.predict_from_sequences(sequences) == model.predict_from_sequences(sequences)
