"""Fixtures shared by every test: an isolated environment, and real molecules."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before anything imports TensorFlow
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every cache, home and hub setting at a temporary folder; never the real hub."""
    root = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "xdg-cache"))
    monkeypatch.setenv("DEEPCHEM_HUB_CACHE", str(root / "dchub-cache"))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(root / "no-hub-configured"))
    monkeypatch.delenv("DEEPCHEM_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("DEEPCHEM_HUB_TRUSTED_KEYS", raising=False)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
