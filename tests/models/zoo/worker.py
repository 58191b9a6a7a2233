"""Run zoo cases in this process: ``python -m tests.models.zoo.worker {train,reload} WORKDIR NAME...``.

``train``: build each case, fit two epochs on real molecules, record its outputs and global step, save it with
``to_pretrained(include_optimizer=True)``, then fit one more epoch and record the outputs again.
``reload`` (meant for a fresh interpreter): load each saved folder with ``from_pretrained`` and no constructor
arguments, record its outputs and ``get_global_step()``, fit one more epoch the same way and record again.

One interpreter handles many cases (importing TensorFlow, torch and DeepChem costs seconds). Results go to
``WORKDIR/<phase>.json``; outputs to ``WORKDIR/<case>/<phase>-<stage>.npz``. A failing case is recorded with
the step that failed and the innermost library (``deepchem`` or ``dchub``) in its traceback, and the next
case runs.
"""
from __future__ import annotations

import json
import os
import random
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TRAIN, RELOAD = "train", "reload"
EPOCHS = 2


def folder_name(name: str) -> str:
    """The case's sub-folder of the work directory."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def seed_all(seed: int) -> None:
    """Seed every random number generator a model may draw from."""
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)


def global_step(model: Any) -> int | None:
    """``get_global_step()`` where the class has one (not sklearn models)."""
    method = getattr(model, "get_global_step", None)
    return None if method is None else int(method())


def describe(err: BaseException) -> dict[str, str]:
    """The error's type and first line, and which library raised it (innermost of deepchem / dchub_client)."""
    origin = "other"
    for frame in traceback.extract_tb(err.__traceback__):
        path = frame.filename.replace(os.sep, "/")
        if path.endswith("/dchub_client/models/recording.py"):
            continue  # the constructor-recording wrapper only passes the call through
        if "/dchub_client/" in path:
            origin = "dchub"
        elif "/deepchem/" in path:
            origin = "deepchem"
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return {"error": f"{type(err).__name__}: {message}"[:300], "origin": origin,
            "traceback": "".join(traceback.format_exception(err))[-4000:]}


class Stage:
    """Names the step in progress, so that a failure says where it happened."""

    def __init__(self) -> None:
        self.name = "start"

    def __call__(self, name: str) -> "Stage":
        self.name = name
        return self


def _save_outputs(path: Path, outputs: dict[str, np.ndarray]) -> None:
    np.savez(path, **{k: np.asarray(v) for k, v in outputs.items()})


def _train(case: Any, ctx: Any, folder: Path, stage: Stage) -> dict[str, Any]:
    import dchub_client

    seed_all(0)
    stage("build")
    model = case.build(ctx)
    inputs = case.inputs(ctx)
    stage("fit")
    (case.fit or _fit)(model, inputs, EPOCHS)
    stage("predict")
    _save_outputs(folder / "train-saved.npz", _outputs(case, model, inputs))
    saved_step = global_step(model)
    stage("save")
    dchub_client.to_pretrained(model, folder / "pretrained", include_optimizer=True, overwrite=True)
    stage("continue")
    seed_all(1)
    (case.fit or _fit)(model, inputs, 1)
    _save_outputs(folder / "train-continued.npz", _outputs(case, model, inputs))
    return {"class": f"{type(model).__module__}.{type(model).__qualname__}", "global_step": saved_step,
            "global_step_continued": global_step(model)}


def _reload(case: Any, ctx: Any, folder: Path, stage: Stage) -> dict[str, Any]:
    import dchub_client

    stage("load")
    model = dchub_client.from_pretrained(folder / "pretrained")
    stage("global_step")
    loaded_step = global_step(model)
    inputs = case.inputs(ctx)
    stage("predict")
    _save_outputs(folder / "reload-saved.npz", _outputs(case, model, inputs))
    stage("continue")
    seed_all(1)
    (case.fit or _fit)(model, inputs, 1)
    _save_outputs(folder / "reload-continued.npz", _outputs(case, model, inputs))
    return {"class": f"{type(model).__module__}.{type(model).__qualname__}", "global_step": loaded_step,
            "global_step_continued": global_step(model)}


def _outputs(case: Any, model: Any, inputs: Any) -> dict[str, np.ndarray]:
    seed_all(2)  # predictions that sample (MolGAN's generator, fit-transformers) draw the same numbers
    return (case.outputs or _predict)(model, inputs)


def _fit(model: Any, inputs: Any, epochs: int) -> Any:
    from tests.models.zoo.cases import fit_dataset

    return fit_dataset(model, inputs, epochs)


def _predict(model: Any, inputs: Any) -> dict[str, np.ndarray]:
    from tests.models.zoo.cases import predict

    return predict(model, inputs)


def run(phase: str, workdir: Path, names: list[str]) -> dict[str, Any]:
    """Run *names* through *phase*; return (and write to ``workdir/<phase>.json``) one result per case."""
    from tests.models.zoo.cases import CASES, Context

    ctx = Context(workdir)
    results: dict[str, Any] = {}
    for name in names:
        folder = workdir / folder_name(name)
        folder.mkdir(parents=True, exist_ok=True)
        stage = Stage()
        start = time.perf_counter()
        try:
            result = (_train if phase == TRAIN else _reload)(CASES[name], ctx, folder, stage)
            result["status"] = "ok"
        except Exception as err:  # noqa: BLE001 - every failure is a result to report
            result = {"status": "error", "stage": stage.name, **describe(err)}
        result["seconds"] = round(time.perf_counter() - start, 2)
        results[name] = result
        (workdir / f"{phase}.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    return results


def main(argv: list[str]) -> None:
    phase, workdir, names = argv[0], Path(argv[1]), argv[2:]
    if phase not in (TRAIN, RELOAD):
        raise SystemExit(f"usage: python -m tests.models.zoo.worker {{{TRAIN},{RELOAD}}} WORKDIR NAME...")
    import dchub_client  # noqa: F401  (records constructor arguments: import before DeepChem)
    import tests.models.zoo.user_models  # noqa: F401  (registers the user classes, as a user script would)

    run(phase, workdir, names)


if __name__ == "__main__":
    main(sys.argv[1:])
