"""Hostile mirrors must be given up on quickly: a one-second stall timeout for these tests."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPCHEM_HUB_TIMEOUT", "1")
