"""SingletaskToMultitask: its members are complete pretrained folders inside its own, and it predicts after
loading without any of DeepChem's joblib files."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import dchub_client
from dchub_client import errors
from tests.models.zoo import data

dc = pytest.importorskip("deepchem")
pytest.importorskip("sklearn")

TASKS = ["solubility", "above_median"]


def ridge_member(model_dir: str) -> object:
    from sklearn.linear_model import Ridge

    return dc.models.SklearnModel(Ridge(alpha=1.0), model_dir=model_dir)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    smiles, y = data.esol(24)
    X = data.ecfp(smiles)
    labels = np.hstack([data.labels(y), data.labels(y, classification=True)])
    dataset = dc.data.DiskDataset.from_numpy(X, labels, np.ones_like(labels), ids=np.array(smiles), tasks=TASKS,
                                             data_dir=str(tmp_path_factory.mktemp("disk")))
    model = dc.models.SingletaskToMultitask(TASKS, ridge_member, model_dir=str(tmp_path_factory.mktemp("stm")))
    model.fit(dataset)
    return model, dataset


def test_members_are_pretrained_folders_inside_the_composite(fitted: tuple, tmp_path: Path) -> None:
    model, dataset = fitted
    folder = model.to_pretrained(tmp_path / "stm")
    params = json.loads((folder / "params.json").read_text())
    assert params["framework"] == "composite" and params["weights"] == {}
    assert params["parameters"] == {"tasks": TASKS}, "the model_builder function is not stored"
    assert params["extra"]["members"] == [{"task": t, "folder": f"members/{i}"} for i, t in enumerate(TASKS)]
    for i in range(len(TASKS)):
        member = dchub_client.from_pretrained(folder / "members" / str(i))
        assert type(member).__name__ == "SklearnModel"
    assert not list(folder.rglob("*.joblib")) and not list(folder.rglob("*.pkl"))


def test_loaded_composite_predicts_and_refits_without_joblib_files(fitted: tuple, tmp_path: Path) -> None:
    model, dataset = fitted
    expected = model.predict(dataset)
    again = dchub_client.from_pretrained(model.to_pretrained(tmp_path / "stm"))
    np.testing.assert_allclose(again.predict(dataset), expected, rtol=1e-6)
    assert not [p for d in again.task_model_dirs.values() for p in Path(d).glob("*.joblib")]
    weights = again.get_weights()
    assert sorted(weights) == sorted(model.get_weights())
    assert all(name.startswith("singletasktomultitask-members.") for name in weights)
    again.fit(dataset)  # members refit in memory
    np.testing.assert_allclose(again.predict(dataset), expected, rtol=1e-6)


def test_a_missing_or_renamed_member_folder_is_a_clear_error(fitted: tuple, tmp_path: Path) -> None:
    folder = fitted[0].to_pretrained(tmp_path / "stm")
    params = json.loads((folder / "params.json").read_text())
    params["extra"]["members"][1]["folder"] = "../elsewhere"
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(errors.PretrainedFormatError, match=r"params.json: 'extra.members\[1\]' must be"):
        dchub_client.from_pretrained(folder)
    folder = fitted[0].to_pretrained(tmp_path / "stm2")
    shutil.rmtree(folder / "members" / "1")
    with pytest.raises(errors.DchubError, match=r"members/1"):
        dchub_client.from_pretrained(folder)


def _tamper_member_weight(folder: Path) -> Path:
    """Change the last byte of member 0's first weight in place (a valid .npy, other values)."""
    weight = sorted((folder / "members" / "0").glob("*.npy"))[0]
    data = bytearray(weight.read_bytes())
    data[-1] ^= 0x01
    weight.write_bytes(bytes(data))
    return weight


def test_verify_reaches_the_members(fitted: tuple, tmp_path: Path, isolated_environment: Path) -> None:
    import time

    from dchub_client.format import stamps

    folder = fitted[0].to_pretrained(tmp_path / "stm")
    time.sleep(stamps.RACY_SECONDS + 0.1)  # files written just now are never noted
    dchub_client.from_pretrained(folder, verify=True)  # every byte hashed now: nothing noted, for no member
    assert not (isolated_environment / stamps.FOLDER).exists()
    dchub_client.from_pretrained(folder)  # by default each member folder is noted as verified
    assert len(list((isolated_environment / stamps.FOLDER).glob("*.json"))) == len(TASKS)
    weight = _tamper_member_weight(folder)
    with pytest.raises(errors.ChecksumError, match=rf"{weight.name}"):
        dchub_client.from_pretrained(folder)
    tampered = dchub_client.from_pretrained(folder, verify=False)  # as asked: no member hashed
    assert sorted(tampered.get_weights()) == sorted(fitted[0].get_weights())
