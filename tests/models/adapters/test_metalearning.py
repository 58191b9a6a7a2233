"""MetaLearner (TensorFlow MAML and torch MAML) and Policy (A2C): train, save, reload in a fresh process."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dchub_client
from tests._support.fresh import ROOT

dc = pytest.importorskip("deepchem")
tf = pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")
from tests.models.adapters import user_meta_models as U  # noqa: E402

STATES = np.linspace(-3, 3, 7, dtype=np.float32).reshape(-1, 1)
_RELOAD = """
import sys, json
import numpy as np
import dchub_client
from tests.models.adapters import user_meta_models as U
out = {}
for folder in sys.argv[1:]:
    obj = dchub_client.from_pretrained(folder)
    if isinstance(obj, U.RollPolicy):
        from dchub_client.models.adapters.rl import network
        probs, value = network(obj)(U_STATES)
        out[folder] = np.asarray(probs).tolist()
    else:
        x = np.linspace(-5, 5, 9, dtype=np.float32).reshape(-1, 1)
        out[folder] = np.asarray(obj.compute_model([x, x], obj.variables, False)[1][0].detach().numpy()
                                 if hasattr(obj.w1, "detach") else obj.compute_model([x, x], obj.variables, False)[1][0]
                                 ).tolist()
print(json.dumps(out))
""".replace("U_STATES", "np.linspace(-3, 3, 7, dtype=np.float32).reshape(-1, 1)")


def _outputs(obj: object) -> np.ndarray:
    if isinstance(obj, U.RollPolicy):
        from dchub_client.models.adapters.rl import network

        return np.asarray(network(obj)(STATES)[0])
    x = np.linspace(-5, 5, 9, dtype=np.float32).reshape(-1, 1)
    result = obj.compute_model([x, x], obj.variables, False)[1][0]
    return np.asarray(result.detach().numpy() if hasattr(result, "detach") else result)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, Path]]:
    work = tmp_path_factory.mktemp("meta")
    learner = U.SineLearner(hidden=8, seed=1)
    dc.metalearning.MAML(learner, meta_batch_size=2, model_dir=str(work / "maml")).fit(5)
    torch_learner = U.TorchSineLearner(hidden=8, seed=2)
    from deepchem.metalearning.torch_maml import MAML as TorchMAML

    TorchMAML(torch_learner, meta_batch_size=2, model_dir=str(work / "tmaml")).fit(5)
    policy = U.RollPolicy(hidden=8)
    a2c = dc.rl.A2C(U.RollEnvironment(), policy, model_dir=str(work / "a2c"))
    a2c.fit(50)
    from dchub_client.models.adapters.rl import attach_network

    attach_network(policy, a2c._model.model)
    objects = {"SineLearner": learner, "TorchSineLearner": torch_learner, "RollPolicy": policy}
    return {name: (obj, dchub_client.to_pretrained(obj, work / name)) for name, obj in objects.items()}


@pytest.fixture(scope="module")
def reloaded(trained: dict) -> dict[str, np.ndarray]:
    folders = [str(folder) for _obj, folder in trained.values()]
    result = subprocess.run([sys.executable, "-c", _RELOAD, *folders], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    return {name: np.asarray(out[str(folder)]) for name, (_obj, folder) in trained.items()}


@pytest.mark.parametrize("name", ["SineLearner", "TorchSineLearner", "RollPolicy"])
def test_round_trip_in_fresh_process_gives_identical_outputs(trained: dict, reloaded: dict, name: str) -> None:
    original = _outputs(trained[name][0])
    np.testing.assert_allclose(reloaded[name], original, rtol=1e-6)


def test_learner_weights_are_named_by_attribute(trained: dict) -> None:
    learner = trained["SineLearner"][0]
    weights = dchub_client.get_weights(learner)
    assert list(weights) == ["sinelearner-w1-0", "sinelearner-b1-0", "sinelearner-w2-0", "sinelearner-b2-0"]
    np.testing.assert_array_equal(weights["sinelearner-w1-0"], learner.w1.numpy())
    torch_names = list(dchub_client.get_weights(trained["TorchSineLearner"][0]))
    assert torch_names[0] == "torchsinelearner-w1-0"


def test_training_moved_the_weights_and_loading_restores_them(trained: dict) -> None:
    learner, folder = trained["SineLearner"]
    fresh = U.SineLearner(hidden=8, seed=1)
    assert not np.array_equal(fresh.w1.numpy(), learner.w1.numpy()), "MAML changed the variables"
    loaded = dchub_client.from_pretrained(folder)
    np.testing.assert_array_equal(loaded.w1.numpy(), learner.w1.numpy())
    assert dchub_client.get_parameters(loaded) == {"hidden": 8, "seed": 1}


def test_policy_weights_are_those_of_the_trained_a2c_network(trained: dict) -> None:
    policy, _folder = trained["RollPolicy"]
    weights = dchub_client.get_weights(policy)
    assert list(weights)[0] == "rollpolicy-layers.1-0"
    untrained = U.RollPolicy(hidden=8)
    names = list(dchub_client.get_weights(untrained))
    assert names == list(weights), "names do not depend on Keras' global layer counters"


def test_unregistered_learner_cannot_be_saved(tmp_path: Path) -> None:
    class Unregistered(U.SineLearner):
        pass

    with pytest.raises(dchub_client.errors.ParameterEncodingError, match="register_class"):
        dchub_client.to_pretrained(Unregistered(), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_wrong_shape_is_refused(trained: dict, tmp_path: Path) -> None:
    folder = dchub_client.to_pretrained(trained["SineLearner"][0], tmp_path / "s")
    params = json.loads((folder / "params.json").read_text())
    params["parameters"]["hidden"] = 4
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(dchub_client.errors.WeightFileError, match="sinelearner-w1-0"):
        dchub_client.from_pretrained(folder)
