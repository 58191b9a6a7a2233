"""Load models in a fresh Python process and return their predictions (the one fresh-process runner).

Round-trip tests save models in the test process, then call :func:`predict_in_fresh_process`
once for all of them: a new interpreter imports only dchub_client (and the modules named in
``imports``), loads each folder with no constructor arguments, featurizes the given SMILES
itself and predicts. :func:`predict_pipelines` does the same for ``load_pipeline(name)`` of hub
models. Nothing is pickled between the processes: inputs are SMILES or ``.npy``, outputs ``.npy``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Job:
    """One folder to load and predict with.

    ``featurizer``: ``{"class": "deepchem.feat.ConvMolFeaturizer", "kwargs": {...}}`` to featurize
    ``smiles``; or None with ``x`` (path of an ``.npy`` of features) or raw ``smiles`` as X.
    """

    folder: str
    smiles: list[str] = field(default_factory=list)
    featurizer: dict[str, Any] | None = None
    x: str | None = None
    method: str = "predict"
    expected_class: str | None = None
    seed: int | None = None


def featurize(smiles: list[str], featurizer: dict[str, Any] | None, x: str | None) -> Any:
    """The same inputs in either process: featurized SMILES, an ``.npy``, or the SMILES themselves."""
    import deepchem as dc

    if x is not None:
        features = np.load(x, allow_pickle=False)
    elif featurizer is not None:
        module, name = featurizer["class"].rsplit(".", 1)
        cls = getattr(__import__(module, fromlist=[name]), name)
        features = cls(**featurizer.get("kwargs", {})).featurize(smiles)
    else:
        features = np.array(smiles)
    return dc.data.NumpyDataset(features, ids=np.array(smiles) if smiles else None)


def predict_in_fresh_process(jobs: list[Job], workdir: Path, imports: tuple[str, ...] = (),
                             extra_path: tuple[str, ...] = ()) -> list[np.ndarray]:
    """Run every job in one new interpreter; return the predictions in order."""
    spec = workdir / "fresh-jobs.json"
    spec.write_text(json.dumps({"kind": "folders", "jobs": [asdict(j) for j in jobs], "imports": list(imports),
                                "out": str(workdir)}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *extra_path]))
    return _run(spec, workdir, env, len(jobs))


def predict_pipelines(jobs: list[dict], workdir: Path, env: dict[str, str]) -> list[np.ndarray]:
    """``load_pipeline(job["name"]).predict(job["smiles"])`` for each job, from the hub in *env*, in one new process."""
    spec = workdir / "pipeline-jobs.json"
    spec.write_text(json.dumps({"kind": "pipelines", "jobs": jobs, "out": str(workdir)}))
    return _run(spec, workdir, dict(os.environ, **env, PYTHONPATH=str(ROOT)), len(jobs))


def _run(spec: Path, workdir: Path, env: dict[str, str], n: int) -> list[np.ndarray]:
    result = subprocess.run([sys.executable, "-m", "tests._support.fresh", str(spec)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise AssertionError(f"fresh process failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return [np.load(workdir / f"fresh-pred-{i}.npy", allow_pickle=False) for i in range(n)]


def _main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    if spec["kind"] == "pipelines":
        _pipelines(spec)
    else:
        _folders(spec)


def _pipelines(spec: dict[str, Any]) -> None:
    import dchub_client

    for i, job in enumerate(spec["jobs"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prediction = dchub_client.load_pipeline(job["name"]).predict(job["smiles"])
        np.save(Path(spec["out"]) / f"fresh-pred-{i}.npy", prediction, allow_pickle=False)


def _folders(spec: dict[str, Any]) -> None:
    import importlib

    import dchub_client

    for module in spec["imports"]:
        importlib.import_module(module)
    for i, job in enumerate(spec["jobs"]):
        model = dchub_client.from_pretrained(job["folder"])
        if job["expected_class"] and type(model).__name__ != job["expected_class"]:
            raise SystemExit(f"{job['folder']}: got {type(model).__name__}")
        out = Path(spec["out"]) / f"fresh-pred-{i}.npy"
        if job["method"] == "get_weights":  # models without a molecule-prediction API: compare every weight
            weights = model.get_weights()
            np.save(out, np.concatenate([weights[n].ravel().astype(np.float64) for n in sorted(weights)]))
            continue
        dataset = featurize(job["smiles"], job["featurizer"], job["x"])
        if job["seed"] is not None:
            np.random.seed(job["seed"])
        prediction = getattr(model, job["method"])(dataset)
        np.save(out, np.asarray(prediction), allow_pickle=False)


if __name__ == "__main__":
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    _main(sys.argv[1])
