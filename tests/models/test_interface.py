"""The weights interface on DeepChem models: hooks, names, set_weight, loading rules and bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dchub_client
from dchub_client import errors
from tests._support.molecules import nci_molecules

dc = pytest.importorskip("deepchem")
torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ecfp() -> "dc.data.NumpyDataset":
    smiles, y = nci_molecules(32)
    X = dc.feat.CircularFingerprint(size=64).featurize(smiles)
    return dc.data.NumpyDataset(X, y, ids=np.array(smiles))


@pytest.fixture()
def regressor(ecfp) -> "dc.models.MultitaskRegressor":
    torch.manual_seed(0)
    model = dc.models.MultitaskRegressor(1, 64, layer_sizes=[16], dropouts=0.0, batch_size=8, learning_rate=0.01)
    model.fit(ecfp, nb_epoch=2)
    return model


def test_deepchem_models_are_dchub_models_with_all_methods(regressor) -> None:
    assert isinstance(regressor, dchub_client.Model)
    for method in ("get_weights", "set_weight", "get_parameters", "to_pretrained", "from_pretrained"):
        assert callable(getattr(regressor, method))
    name = "multitaskregressor-layers.0-0"
    np.testing.assert_array_equal(regressor[name], regressor.get_weights()[name])
    assert regressor[name] is not regressor[name], "reads are copies, safe to modify"


def test_subclass_defined_after_import_records_outermost_arguments(ecfp) -> None:
    class Wide(dc.models.MultitaskRegressor):
        def __init__(self, width: int, **kwargs) -> None:
            super().__init__(1, 64, layer_sizes=[width], **kwargs)

    model = Wide(12, batch_size=4, model_dir=None)
    assert model.get_parameters() == {"width": 12, "batch_size": 4}
    assert model["wide-layers.0-0"].shape == (12, 64)


def test_hooks_are_idempotent() -> None:
    from dchub_client.models import deepchem_hooks

    init = dc.models.MultitaskRegressor.__init__
    deepchem_hooks.install()
    deepchem_hooks.patch_model_class(dc.models.Model)
    assert dc.models.MultitaskRegressor.__init__ is init
    model = dc.models.MultitaskRegressor(2, 8)
    assert model.get_parameters() == {"n_tasks": 2, "n_features": 8}


def test_set_weight_checks_name_shape_and_dtype(regressor) -> None:
    name = "multitaskregressor-layers.0-1"
    regressor.set_weight(name, np.full(16, 0.5))  # float64 -> float32 is a same-kind cast
    np.testing.assert_array_equal(regressor.model.layers[0].bias.detach().numpy(), np.full(16, 0.5, np.float32))
    regressor[name] = np.arange(16, dtype=np.float32)
    assert regressor[name][3] == 3
    with pytest.raises(errors.UnknownWeightError, match="did you mean 'multitaskregressor-layers.0-1'"):
        regressor.set_weight("multitaskregressor-layer.0-1", np.zeros(16))
    with pytest.raises(KeyError):
        regressor["nope"]
    with pytest.raises(errors.WeightMismatchError, match=r"shape \(16,\), got a value of shape \(15,\)"):
        regressor[name] = np.zeros(15)
    with pytest.raises(errors.WeightMismatchError, match="dtype float32, got complex128"):
        regressor[name] = np.zeros(16, dtype=complex)


def test_set_weight_changes_predictions(regressor, ecfp) -> None:
    before = regressor.predict(ecfp)
    regressor["multitaskregressor-layers.0-0"] = np.zeros((16, 64))
    after = regressor.predict(ecfp)
    assert not np.allclose(before, after)
    assert np.allclose(after, after[0]), "with zero first-layer weights every molecule predicts the same"


def test_optimizer_state_round_trip_lets_training_resume(regressor, ecfp, tmp_path: Path) -> None:
    folder = regressor.to_pretrained(tmp_path / "m", include_optimizer=True)
    params = json.loads((folder / "params.json").read_text())
    assert params["extra"]["training"]["global_step"] == 8  # 2 epochs x 4 batches
    assert any(n.startswith("optimizer-state-") for n in params["weights"])
    loaded = dchub_client.from_pretrained(folder)
    assert loaded.get_global_step() == 8
    ours = loaded._pytorch_optimizer.state_dict()["state"]
    theirs = regressor._pytorch_optimizer.state_dict()["state"]
    for key in theirs:
        torch.testing.assert_close(ours[key]["exp_avg"], theirs[key]["exp_avg"])
    regressor.fit(ecfp, nb_epoch=1, deterministic=True)
    loaded.fit(ecfp, nb_epoch=1, deterministic=True)
    fresh = dchub_client.from_pretrained(folder)
    fresh._pytorch_optimizer.state.clear()  # the same weights without the optimizer state train differently
    fresh.fit(ecfp, nb_epoch=1, deterministic=True)
    assert not np.allclose(fresh["multitaskregressor-layers.0-0"], regressor["multitaskregressor-layers.0-0"])
    for name, value in regressor.get_weights().items():
        np.testing.assert_allclose(loaded[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
    assert set(dchub_client.from_pretrained(folder).get_weights()) == set(regressor.get_weights()), \
        "optimizer arrays are not model weights"


def test_from_pretrained_on_a_class_refuses_unrelated_folders(regressor, tmp_path: Path) -> None:
    folder = regressor.to_pretrained(tmp_path / "m")
    assert type(dc.models.MultitaskRegressor.from_pretrained(folder)) is dc.models.MultitaskRegressor
    assert type(dc.models.Model.from_pretrained(folder)) is dc.models.MultitaskRegressor
    with pytest.raises(errors.ModelClassMismatchError, match="not a deepchem.models.fcnet.MultitaskClassifier"):
        dc.models.MultitaskClassifier.from_pretrained(folder)


def test_overrides_and_model_dir_are_not_recorded(regressor, tmp_path: Path, ecfp) -> None:
    folder = regressor.to_pretrained(tmp_path / "m")
    loaded = dchub_client.from_pretrained(folder, model_dir=str(tmp_path / "ckpt"), batch_size=3)
    assert loaded.model_dir == str(tmp_path / "ckpt") and loaded.batch_size == 3
    np.testing.assert_allclose(loaded.predict(ecfp), regressor.predict(ecfp), rtol=1e-6)  # other batches
    assert "model_dir" not in loaded.get_parameters()


def test_untrusted_class_in_params_json_is_never_imported(regressor, tmp_path: Path) -> None:
    folder = regressor.to_pretrained(tmp_path / "m")
    params = json.loads((folder / "params.json").read_text())
    params["class"] = "os.system"
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(errors.UntrustedClassError, match="'os.system'.*package 'os' is not trusted"):
        dchub_client.from_pretrained(folder)
    params["class"] = "deepchem.utils.save.save_to_disk"
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(errors.UntrustedClassError, match="not allowed as class"):
        dchub_client.from_pretrained(folder)


def test_weight_file_problems_stop_loading_before_a_model_is_returned(regressor, tmp_path: Path) -> None:
    folder = regressor.to_pretrained(tmp_path / "m")
    target = folder / "multitaskregressor-layers.0-0.npy"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 1
    target.write_bytes(bytes(raw))
    with pytest.raises(errors.ChecksumError, match="multitaskregressor-layers.0-0.npy: sha256 mismatch"):
        dchub_client.from_pretrained(folder)
    assert dchub_client.from_pretrained(folder, verify=False) is not None, "verify=False skips the hash"
    target.unlink()
    with pytest.raises(errors.WeightFileError, match="missing"):
        dchub_client.from_pretrained(folder)


def test_a_folder_loaded_before_is_hashed_again_only_when_changed(regressor, tmp_path: Path,
                                                                    isolated_environment: Path) -> None:
    """The journey in two processes: load a folder (every weight hashed, then noted in the user's cache),
    load it again (nothing to hash), then a weight edited in place is caught by the next load."""
    from dchub_client.format import stamps

    folder = regressor.to_pretrained(tmp_path / "m")
    time.sleep(stamps.RACY_SECONDS + 0.1)  # files written just now are not noted (see format/stamps.py)
    load = [sys.executable, "-c", "import sys, dchub_client; dchub_client.from_pretrained(sys.argv[1])", str(folder)]
    first = subprocess.run(load, capture_output=True, text=True, env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    assert first.returncode == 0, first.stderr
    notes = stamps.Stamps.of(folder)
    info = dchub_client.format.pretrained.read_params(folder)
    assert all(notes.known(e.file, os.stat(folder / e.file), e.sha256) for e in info.weights.values())
    target = folder / "multitaskregressor-layers.0-0.npy"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 1
    with open(target, "r+b") as handle:  # in place: same inode, same size
        handle.write(raw)
    again = subprocess.run(load, capture_output=True, text=True, env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    assert again.returncode == 1 and "multitaskregressor-layers.0-0.npy: sha256 mismatch" in again.stderr, \
        again.stderr
    with pytest.raises(errors.ChecksumError, match="multitaskregressor-layers.0-0.npy"):
        dchub_client.from_pretrained(folder, verify=True)


def test_folder_from_a_different_architecture_is_refused(regressor, tmp_path: Path) -> None:
    folder = regressor.to_pretrained(tmp_path / "m")
    params = json.loads((folder / "params.json").read_text())
    params["parameters"]["layer_sizes"] = [8]
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(errors.WeightFileError, match=r"is \[16, 64\] but the model expects \[8, 64\]"):
        dchub_client.from_pretrained(folder)
    params["parameters"]["layer_sizes"] = [16, 4]
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(errors.WeightFileError, match="missing \\['multitaskregressor-layers.1-0'"):
        dchub_client.from_pretrained(folder)


def test_unsavable_argument_is_named(tmp_path: Path) -> None:
    model = dc.models.MultitaskRegressor(1, 8, layer_sizes=[4], activation_fns=[lambda x: x])
    with pytest.raises(errors.ParameterEncodingError, match=r"'activation_fns\[0\]'"):
        model.to_pretrained(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_local_hub_directory_by_name_and_existing_path_wins(regressor, tmp_path: Path, monkeypatch,
                                                            ecfp) -> None:
    hub = tmp_path / "modelhub"
    regressor.to_pretrained(hub / "esol-mtr")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(hub))
    loaded = dchub_client.from_pretrained("esol-mtr")
    np.testing.assert_array_equal(loaded.predict(ecfp), regressor.predict(ecfp))
    other = dc.models.MultitaskRegressor(1, 64, layer_sizes=[3])
    other.to_pretrained(tmp_path / "esol-mtr")
    monkeypatch.chdir(tmp_path)
    assert dchub_client.from_pretrained("esol-mtr")["multitaskregressor-layers.0-0"].shape == (3, 64)


class Affine(dchub_client.Model):
    """A user's own model implementing the interface directly."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.w = np.ones((size, size))
        self.b = np.zeros(size)

    def get_weights(self) -> dict:
        return {"affine-root-0": self.w.copy(), "affine-root-1": self.b.copy()}

    def set_weight(self, name: str, value) -> None:
        target = {"affine-root-0": self.w, "affine-root-1": self.b}[name]
        target[...] = value

    def get_parameters(self) -> dict:
        return {"size": self.size}


def test_user_class_implementing_the_interface(tmp_path: Path) -> None:
    dchub_client.register_class(Affine)
    model = Affine(3)
    model["affine-root-1"] = np.arange(3.0)
    folder = model.to_pretrained(tmp_path / "affine")
    loaded = Affine.from_pretrained(folder)
    assert isinstance(loaded, Affine) and loaded.size == 3
    np.testing.assert_array_equal(loaded["affine-root-1"], np.arange(3.0))


def test_weight_names_are_stable_across_processes(regressor) -> None:
    code = ("import dchub_client, deepchem as dc, torch; torch.nn.Linear(3, 3);"
            "m = dc.models.MultitaskRegressor(1, 64, layer_sizes=[16]);"
            "print('\\n'.join(m.get_weights()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == list(regressor.get_weights())


def test_featurizers_record_their_constructor_arguments() -> None:
    from dchub_client.models import encoding

    featurizer = dc.feat.RDKitDescriptors(descriptors=["MolWt", "TPSA"])  # kept under another name
    encoded = encoding.encode_value(featurizer, "featurizer")
    assert encoded["kwargs"] == {"descriptors": ["MolWt", "TPSA"]}
    rebuilt = encoding.decode_value(encoded, None)
    np.testing.assert_array_equal(rebuilt.featurize(["CCO"]), featurizer.featurize(["CCO"]))


@pytest.mark.parametrize("auxiliary", [["nope"], [["x"]], "optimizer-state"])
def test_malformed_auxiliary_weight_list_is_a_format_error(regressor, tmp_path: Path, auxiliary) -> None:
    folder = regressor.to_pretrained(tmp_path / "m", include_optimizer=True)
    params = json.loads((folder / "params.json").read_text())
    params["extra"]["auxiliary_weights"] = auxiliary
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(errors.PretrainedFormatError, match="params.json: 'extra.auxiliary_weights' must list"):
        dchub_client.from_pretrained(folder)


def test_parameters_the_constructor_does_not_take_name_the_file(tmp_path: Path) -> None:
    dchub_client.register_class(Affine)
    folder = Affine(2).to_pretrained(tmp_path / "affine")
    params = json.loads((folder / "params.json").read_text())
    params["parameters"]["colour"] = "red"
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(errors.PretrainedFormatError, match=r"params.json: cannot build Affine .*colour"):
        dchub_client.from_pretrained(folder)


def test_a_model_created_before_the_import_is_saved_the_way_the_error_says(tmp_path: Path) -> None:
    code = f"""
import deepchem as dc, numpy as np
old = dc.models.MultitaskRegressor(1, 64, layer_sizes=[16])  # before dchub_client: arguments not recorded
import dchub_client
try:
    dchub_client.to_pretrained(old, {str(tmp_path / 'm')!r})
except dchub_client.errors.UnsupportedModelError as err:
    print(err)
new = dc.models.MultitaskRegressor(1, 64, layer_sizes=[16])  # what the message says to do
for name, value in dchub_client.get_weights(old).items():
    new.set_weight(name, value)
dchub_client.to_pretrained(new, {str(tmp_path / 'm')!r})
x = np.random.default_rng(0).random((3, 64)).astype(np.float32)
back = dchub_client.from_pretrained({str(tmp_path / 'm')!r})
print(np.array_equal(back.predict_on_batch(x), old.predict_on_batch(x)))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    message, same = out.stdout.strip().splitlines()[-2:]
    assert "were not recorded: import dchub_client before creating the model" in message
    assert "copy the weights over" in message and same == "True"
