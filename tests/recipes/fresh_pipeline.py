"""Run ``load_pipeline(name).predict(smiles)`` for several hub models in ONE fresh interpreter.

``python -m tests.recipes.fresh_pipeline spec.json``: the spec lists ``jobs`` (``name``, ``smiles``)
and ``out``; predictions are written as ``pipeline-pred-<i>.npy``. The hub comes from
``DEEPCHEM_MODEL_HUB`` in the environment; nothing is pickled between processes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def predict_pipelines(jobs: list[dict], workdir: Path, env: dict[str, str]) -> list[np.ndarray]:
    """Load each named pipeline from the hub in *env* in a new process; return predictions in order."""
    spec = workdir / "pipeline-jobs.json"
    spec.write_text(json.dumps({"jobs": jobs, "out": str(workdir)}))
    full_env = dict(os.environ, **env, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "tests.recipes.fresh_pipeline", str(spec)], cwd=ROOT,
                            env=full_env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"fresh process failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return [np.load(workdir / f"pipeline-pred-{i}.npy", allow_pickle=False) for i in range(len(jobs))]


def _main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    import dchub_client

    for i, job in enumerate(spec["jobs"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prediction = dchub_client.load_pipeline(job["name"]).predict(job["smiles"])
        np.save(Path(spec["out"]) / f"pipeline-pred-{i}.npy", prediction, allow_pickle=False)


if __name__ == "__main__":
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    _main(sys.argv[1])
