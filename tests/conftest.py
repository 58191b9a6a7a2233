"""Fixtures shared by every test: one isolated environment; the shared fixtures of tests/_support."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before anything imports TensorFlow
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from dchub_client import constants  # noqa: E402
from dchub_client.hub import trust  # noqa: E402

pytest_plugins = ["tests._support.fixtures"]

#: Seconds a loopback test server may stall before the client gives up (tests of hostile servers lower it).
TEST_TIMEOUT = "5"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every variable of ``constants.ENV_VARS`` cleared; cache, home and config in *tmp_path*; no hub configured.

    Returns the cache folder (``DEEPCHEM_HUB_CACHE``).
    """
    for var in constants.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    env = tmp_path / "env"
    cache = tmp_path / "cache"
    monkeypatch.setenv("HOME", str(env / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(env / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env / "xdg-config"))
    monkeypatch.setenv("DEEPCHEM_HUB_CACHE", str(cache))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(env / "no-hub-configured"))
    monkeypatch.setenv("DEEPCHEM_HUB_TIMEOUT", TEST_TIMEOUT)
    monkeypatch.setattr(trust, "_notice_given", False)
    return cache
