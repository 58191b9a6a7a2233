"""The whole DeepChem zoo: every model class that runs here saves, loads in a fresh process, and keeps training.

The census (:mod:`tests.models.zoo.census`) finds every concrete ``deepchem.models.Model`` subclass of the
installed DeepChem; each is either a case of :mod:`tests.models.zoo.cases` (built small, trained on real ESOL
molecules in one worker process, saved with ``include_optimizer=True``, then loaded, queried and trained on in
a second, fresh one) or has a reason it cannot run here, which is checked to still hold. A class DeepChem
adds shows up as a failure. The run also renders ``docs/coverage.md``, which must match the committed file.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

dc = pytest.importorskip("deepchem")
pytest.importorskip("torch")
pytest.importorskip("tensorflow")

from dchub_client.errors import MissingDependencyError  # noqa: E402
from dchub_client.models.allowlist import registry  # noqa: E402
from tests.models.zoo import cases as zoo  # noqa: E402
from tests.models.zoo import census, coverage  # noqa: E402
from tests.models.zoo.worker import RELOAD, TRAIN, folder_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
#: Continuing training from the restored optimizer must reproduce the original's continued outputs to within
#: this fraction of what one epoch changed (a fresh optimizer misses by far more).
CONTINUED_TOLERANCE = 0.02


#: The cases run in this many pairs of worker processes at once (train, then reload in fresh interpreters).
SHARDS = 2


@dataclass
class Runs:
    """What the worker processes reported, and where each case's files are."""

    folders: dict[str, Path]
    train: dict[str, Any]
    reload: dict[str, Any]

    def outputs(self, name: str, phase: str, stage: str) -> dict[str, np.ndarray]:
        with np.load(self.folders[name] / folder_name(name) / f"{phase}-{stage}.npz", allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


def _workers(phase: str, shards: dict[Path, list[str]]) -> dict[str, Any]:
    """Run one worker process per shard, all at once; their merged results."""
    running = [(workdir, _start(phase, workdir, names)) for workdir, names in shards.items() if names]
    results: dict[str, Any] = {}
    for workdir, process in running:
        process.wait(timeout=1800)
        if process.returncode != 0:
            log = (workdir / f"{phase}.log").read_text(errors="replace")
            raise AssertionError(f"zoo worker ({phase}, {workdir.name}) crashed:\n{log[-8000:]}")
        results.update(json.loads((workdir / f"{phase}.json").read_text()))
    return results


def _start(phase: str, workdir: Path, names: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3",
               HOME=str(workdir / "home"), DEEPCHEM_MODEL_HUB=str(workdir / "no-hub"))
    with open(workdir / f"{phase}.log", "w") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "tests.models.zoo.worker", phase, str(workdir), *names],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def discovered() -> dict[str, census.Found]:
    return {found.name: found for found in census.discover()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Train and save every case, then load them all in fresh processes (each shard's cases in one interpreter)."""
    root = tmp_path_factory.mktemp("zoo")
    shards = {root / f"shard{i}": list(zoo.CASES)[i::SHARDS] for i in range(SHARDS)}
    for workdir in shards:
        workdir.mkdir()
    train = _workers(TRAIN, shards)
    reload = _workers(RELOAD, {d: [n for n in names if train[n]["status"] == "ok"] for d, names in shards.items()})
    folders = {name: workdir for workdir, names in shards.items() for name in names}
    return Runs(folders, train, reload)


# --- the census ---------------------------------------------------------------------------------------


def test_every_deepchem_model_class_has_a_case_or_a_reason(discovered: dict[str, census.Found]) -> None:
    listed = set(zoo.CASES) | set(zoo.NOT_HERE)
    new = sorted(set(discovered) - listed)
    assert not new, f"DeepChem model classes with neither a case nor a reason in tests/models/zoo/cases.py: {new}"
    gone = sorted(name for name in listed if not name.startswith("tests.") and name not in discovered)
    assert not gone, f"tests/models/zoo/cases.py lists classes DeepChem no longer has: {gone}"
    assert len(discovered) >= 69, "the census walks all of deepchem.models (DeepChem 2.8 has 69 model classes)"


@pytest.mark.parametrize("name", sorted(n for n, r in zoo.NOT_HERE.items() if r.kind == zoo.MISSING_PACKAGE))
def test_missing_packages_are_really_missing(discovered: dict[str, census.Found], name: str) -> None:
    reason = zoo.NOT_HERE[name]
    assert reason.package and importlib.util.find_spec(reason.package) is None, \
        f"{reason.package} is installed now: give {name} a case in tests/models/zoo/cases.py"
    if discovered[name].import_error is not None:
        assert reason.package in discovered[name].import_error
        # a folder of this class says what is missing, not that dchub's allowlist refuses the class
        with pytest.raises(MissingDependencyError, match=r"needs .*, which is not installed"):
            registry.resolve(name, "class")
    if reason.probe is not None:
        with pytest.raises(ImportError, match=re.compile(re.escape(reason.package), re.I)):
            reason.probe()


@pytest.mark.parametrize("name", sorted(n for n, r in zoo.NOT_HERE.items() if r.kind == zoo.ABSTRACT))
def test_abstract_bases_are_covered_by_concrete_subclasses(runs: Runs, name: str) -> None:
    base = _import_class(name)
    covered = zoo.NOT_HERE[name].covered_by
    assert covered and all(issubclass(_import_class(sub), base) for sub in covered)
    assert all(not _problems(runs, sub) for sub in covered), f"a subclass covering {name} does not round-trip"


def _import_class(name: str) -> type:
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


# --- round trips ---------------------------------------------------------------------------------------


ROUND_TRIPS = sorted(n for n, c in zoo.CASES.items() if c.deepchem_error is None)
DEEPCHEM_FAILURES = sorted(n for n, c in zoo.CASES.items() if c.deepchem_error is not None)


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_round_trip_in_a_fresh_process_predicts_equally_and_trains_on(runs: Runs, name: str) -> None:
    problems = _problems(runs, name)
    assert not problems, f"{name}: " + "; ".join(problems)


def _problems(runs: Runs, name: str) -> list[str]:
    """Everything that keeps *name* from round-tripping (empty when it does)."""
    train, reload = runs.train[name], runs.reload.get(name)
    if train["status"] != "ok":
        return [f"{train['stage']} failed ({train['origin']}): {train['error']}\n{train['traceback']}"]
    if reload is None or reload["status"] != "ok":
        detail = "" if reload is None else f"{reload['stage']} failed: {reload['error']}\n{reload['traceback']}"
        return [f"fresh process: {detail}"]
    problems = []
    if reload["global_step"] != train["global_step"] or reload["global_step_continued"] != train["global_step_continued"]:
        problems.append(f"global step {reload['global_step']}->{reload['global_step_continued']} after loading, "
                        f"{train['global_step']}->{train['global_step_continued']} before")
    problems += _compare(runs.outputs(name, TRAIN, "saved"), runs.outputs(name, RELOAD, "saved"), "outputs")
    if train["global_step"] is not None:
        problems += _continued(runs, name)
    return problems


def _compare(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray], what: str) -> list[str]:
    problems = []
    for key, value in expected.items():
        got = actual[key]
        if value.shape != got.shape:
            problems.append(f"{what} {key!r}: shape {got.shape}, expected {value.shape}")
        elif value.dtype.kind in "US" and not np.array_equal(value, got):
            problems.append(f"{what} {key!r}: {got[:3]} differ from {value[:3]}")
        elif value.dtype.kind not in "US" and not np.allclose(got, value, rtol=1e-5, atol=1e-6):
            problems.append(f"{what} {key!r}: max difference {np.max(np.abs(got - value)):.3g}")
    return problems


def _continued(runs: Runs, name: str) -> list[str]:
    """One more epoch after loading: it changes the outputs, and (unless the model samples) as the original's did."""
    saved, original = runs.outputs(name, TRAIN, "saved"), runs.outputs(name, TRAIN, "continued")
    again, continued = runs.outputs(name, RELOAD, "saved"), runs.outputs(name, RELOAD, "continued")
    numeric = [k for k in saved if saved[k].dtype.kind not in "US"]
    if numeric and all(np.array_equal(again[k], continued[k]) for k in numeric):
        return ["fit() after loading changed nothing"]
    if zoo.CASES[name].stochastic:
        return []
    problems = []
    for key in numeric:
        step = float(np.max(np.abs(original[key] - saved[key])))
        miss = float(np.max(np.abs(continued[key] - original[key])))
        if miss > CONTINUED_TOLERANCE * step + 1e-6:
            problems.append(f"one more epoch after loading moved {key!r} {miss:.3g} away from the original's "
                            f"(one epoch changes it by {step:.3g}): the optimizer state was not restored")
    return problems


@pytest.mark.parametrize("name", DEEPCHEM_FAILURES)
def test_classes_deepchem_cannot_fit_here_fail_in_deepchem_with_the_recorded_error(runs: Runs, name: str) -> None:
    result = runs.train[name]
    assert result["status"] == "error", f"{name} trains now: remove its deepchem_error and round-trip it"
    assert result["origin"] == "deepchem" and result["stage"] in ("build", "fit"), result["traceback"]
    assert re.search(zoo.CASES[name].deepchem_error, result["error"]), result["error"]


# --- docs/coverage.md --------------------------------------------------------------------------------------


def test_coverage_doc_is_generated_from_this_run(discovered: dict[str, census.Found], runs: Runs) -> None:
    text = coverage.render(_rows(discovered, runs), dc.__version__)
    if os.environ.get("DCHUB_WRITE_COVERAGE") == "1":
        coverage.COVERAGE_DOC.write_text(text, encoding="utf-8")
    committed = coverage.COVERAGE_DOC.read_text(encoding="utf-8") if coverage.COVERAGE_DOC.exists() else ""
    assert committed == text, ("docs/coverage.md is not what this run found; regenerate it with "
                               "DCHUB_WRITE_COVERAGE=1 .venv/bin/python -m pytest tests/models/test_zoo.py")


def _rows(discovered: dict[str, census.Found], runs: Runs) -> list[coverage.Row]:
    rows = []
    for name in sorted(set(discovered) | set(zoo.CASES)):
        framework = discovered[name].framework if name in discovered else census._framework(_import_class(name))
        if name in zoo.NOT_HERE:
            reason = zoo.NOT_HERE[name]
            detail = reason.detail if not reason.covered_by else \
                f"{reason.detail}; covered by " + ", ".join(f"`{c.rsplit('.', 1)[1]}`" for c in reason.covered_by)
            rows.append(coverage.Row(name, framework, reason.kind, detail))
        elif zoo.CASES[name].deepchem_error is not None:
            result = runs.train[name]
            rows.append(coverage.Row(name, framework, coverage.DEEPCHEM_FAILS,
                                     f"{result['stage']}: {coverage.clean_error(result['error'])}"))
        else:
            problems = _problems(runs, name)
            status = coverage.FAILS if problems else coverage.ROUND_TRIP
            rows.append(coverage.Row(name, framework, status,
                                     coverage.clean_error(problems[0]) if problems else _summary(runs, name)))
    return rows


def _summary(runs: Runs, name: str) -> str:
    step = runs.train[name]["global_step"]
    user = " (a user's subclass of an abstract DeepChem base)" if name.startswith("tests.") else ""
    if step is None:
        return f"outputs equal; fit() refits the estimators{user}"
    if zoo.CASES[name].stochastic:
        return f"outputs equal; global step {step} kept; trains on (samples noise, so not compared){user}"
    return f"outputs equal; global step {step} kept; one more epoch matches the original's{user}"
