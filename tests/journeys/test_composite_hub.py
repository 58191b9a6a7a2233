"""Journey: a composite model (SingletaskToMultitask, one member model per task) published by ``hubgen build``,
pulled over HTTP by ``dchub pull`` and loaded in a new process: its ``members/<i>`` folders travel with it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dchub_client
from dchub_client.format import hubfiles, jsonstrict, stamps
from hubgen.build import build_hub
from hubgen.errors import BuildError
from tests.journeys._cli import ok
from tests.models.zoo import data

dc = pytest.importorskip("deepchem")
pytest.importorskip("sklearn")

TASKS = ["solubility", "above_median"]
_LOAD = """
import sys
import numpy as np
import deepchem as dc
import dchub_client
model = dchub_client.from_pretrained("stm@1.0", model_dir=sys.argv[2])
np.save(sys.argv[3], model.predict(dc.data.NumpyDataset(np.load(sys.argv[1]))))
"""


def ridge_member(model_dir: str) -> object:
    from sklearn.linear_model import Ridge

    return dc.models.SklearnModel(Ridge(alpha=1.0), model_dir=model_dir)


@pytest.fixture(scope="module")
def composite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A SingletaskToMultitask fitted on real ESOL molecules, saved; its inputs and predictions."""
    tmp = tmp_path_factory.mktemp("composite")
    smiles, y = data.esol(24)
    X = data.ecfp(smiles)
    labels = np.hstack([data.labels(y), data.labels(y, classification=True)])
    dataset = dc.data.DiskDataset.from_numpy(X, labels, np.ones_like(labels), ids=np.array(smiles), tasks=TASKS,
                                             data_dir=str(tmp / "disk"))
    model = dc.models.SingletaskToMultitask(TASKS, ridge_member, model_dir=str(tmp / "stm"))
    model.fit(dataset)
    return dchub_client.to_pretrained(model, tmp / "src" / "stm"), X, model.predict(dataset)


def test_a_composite_is_published_pulled_and_loaded_with_its_members(composite, serve, tmp_path, monkeypatch):
    folder, X, expected = composite
    (tmp_path / "hub_manifest.yaml").write_text(f"name: composites\nmodels:\n"
                                                f"  - {{name: stm, version: '1.0', path: {folder}}}\n")
    ok("hubgen", "build", str(tmp_path / "hub_manifest.yaml"), "--out", str(tmp_path / "hub"))
    manifest = hubfiles.parse_manifest(jsonstrict.loads(
        (tmp_path / "hub" / hubfiles.manifest_path("stm", "1.0")).read_bytes()))
    paths = {f.path for f in manifest.files}
    assert {"params.json", "members/0/params.json", "members/1/params.json"} <= paths
    assert len(paths) == len([p for p in folder.rglob("*") if p.is_file()])  # every file, nothing else
    assert "stm" in (tmp_path / "hub" / "models" / "stm" / "index.html").read_text()  # its page was rendered
    ok("hubgen", "verify", str(tmp_path / "hub"))
    server = serve(tmp_path / "hub")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    snapshot = Path(ok("pull", "-q", "stm@1.0").strip())
    assert (snapshot / "members" / "1" / "params.json").is_file()
    np.save(tmp_path / "x.npy", X)
    done = subprocess.run([sys.executable, "-c", _LOAD, str(tmp_path / "x.npy"), str(tmp_path / "m"),
                           str(tmp_path / "y.npy")], env={**os.environ, "DEEPCHEM_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-6)
    # the members came with the snapshot, verified when they entered the cache: not noted as folders given by path
    assert not (Path(os.environ["DEEPCHEM_HUB_CACHE"]) / stamps.FOLDER).exists()


def test_a_folder_under_members_that_params_json_does_not_list_is_refused(composite, tmp_path):
    folder, _, _ = composite
    copy = shutil.copytree(folder, tmp_path / "stm")
    shutil.copytree(copy / "members" / "0", copy / "members" / "7")
    (tmp_path / "hub_manifest.yaml").write_text(f"name: composites\nmodels:\n"
                                                f"  - {{name: stm, version: '1.0', path: {copy}}}\n")
    with pytest.raises(BuildError, match=r"members holds \['0', '1', '7'\]; params.json lists the members"):
        build_hub(tmp_path / "hub_manifest.yaml", tmp_path / "hub")
    assert not (tmp_path / "hub" / "index.json").exists()
