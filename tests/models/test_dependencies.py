"""What a user is told when a model needs a package that is not installed: the package's name and the extra
of ``dchub`` that installs it, never a name taken from the folder being loaded."""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import tomllib

import dchub_client
from dchub_client import errors
from dchub_client.models import dependencies
from dchub_client.models.allowlist import registry

ROOT = Path(__file__).resolve().parents[2]


def test_every_extra_named_exists_in_the_distribution() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    named = {extra for _label, extra in dependencies.PACKAGES.values()}
    assert named <= set(extras), f"no such extra in pyproject.toml: {sorted(named - set(extras))}"
    for package, (label, extra) in dependencies.PACKAGES.items():
        message = str(dependencies.missing(package, "this model"))
        assert message == f"this model needs {label}, which is not installed: pip install 'dchub[{extra}]'"


def test_require_finds_without_importing(monkeypatch) -> None:
    dependencies.require("numpy", "x")  # installed
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(errors.MissingDependencyError, match=r"^dchub predict needs PyTorch, .*'dchub\[torch\]'$"):
        dependencies.require("torch", "dchub predict")


def _failing_import(missing: str):
    def import_module(name: str):
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)
    return import_module


def test_a_trusted_class_whose_framework_is_missing_names_the_extra(monkeypatch) -> None:
    """``import torch`` failing inside ``deepchem.models.fcnet`` once read as 'not on dchub's allowlist'."""
    monkeypatch.setattr(registry.importlib, "import_module", _failing_import("torch"))
    with pytest.raises(errors.MissingDependencyError) as caught:
        registry.resolve("deepchem.models.fcnet.MultitaskRegressor", "class", source="m/params.json")
    assert str(caught.value) == ("m/params.json: deepchem.models.fcnet.MultitaskRegressor needs PyTorch, which is not "
                                 "installed: pip install 'dchub[torch]'")
    assert isinstance(caught.value, ImportError)  # as before for code that caught the framework's own error


def test_a_package_no_extra_installs_is_named_without_a_pip_command(monkeypatch) -> None:
    """DeepChem's DGL models need ``dgl``, which no extra of dchub installs (no wheel for this torch)."""
    monkeypatch.setattr(registry.importlib, "import_module", _failing_import("dgl"))
    with pytest.raises(errors.MissingDependencyError) as caught:
        registry.resolve("deepchem.models.torch_models.gat.GATModel", "class")
    assert str(caught.value) == ("deepchem.models.torch_models.gat.GATModel needs the package 'dgl', which is not "
                                 "installed (no extra of dchub installs it)")


def test_other_import_failures_are_still_refusals_without_advice(monkeypatch) -> None:
    """A module missing inside a package (a name that points nowhere) is not something to install: the
    allowlist's refusal stands, and no pip name is offered; an untrusted package is never imported."""
    monkeypatch.setattr(registry.importlib, "import_module", _failing_import("deepchem.models.nothing_here"))
    with pytest.raises(errors.UntrustedClassError) as caught:
        registry.resolve("deepchem.models.nothing_here.Thing", "class", source="m/params.json")
    assert "module cannot be imported" in str(caught.value) and "pip install" not in str(caught.value)
    with pytest.raises(errors.UntrustedClassError, match="package 'evilpkg' is not trusted") as caught:
        registry.resolve("evilpkg.Thing", "class", source="m/params.json")
    assert "pip install" not in str(caught.value)


class NeedsDgl(dchub_client.Model):
    """A class whose constructor needs a package missing here, as DeepChem's DGL models do."""

    BROKEN = False

    def __init__(self, size: int) -> None:
        if NeedsDgl.BROKEN:
            raise ImportError("This class requires dgl.")
        self.size = size
        self.w = np.zeros(size)

    def get_weights(self) -> dict:
        return {"needsdgl-root-0": self.w.copy()}

    def set_weight(self, name: str, value) -> None:
        self.w[...] = value

    def get_parameters(self) -> dict:
        return {"size": self.size}


def test_a_constructor_that_needs_a_missing_package_says_so(tmp_path, monkeypatch) -> None:
    dchub_client.register_class(NeedsDgl)
    folder = NeedsDgl(2).to_pretrained(tmp_path / "m")
    monkeypatch.setattr(NeedsDgl, "BROKEN", True)
    with pytest.raises(errors.MissingDependencyError) as caught:
        NeedsDgl.from_pretrained(folder)
    assert str(caught.value) == (f"{folder / 'params.json'}: cannot build NeedsDgl, a package it needs is missing "
                                 "(This class requires dgl.)")
