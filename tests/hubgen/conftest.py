"""Fixtures for hubgen tests: tiny pretrained folders and hub manifests built in tmp_path."""
from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.hubgen.support import HUB_YAML, regressor_folder


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    return {"mtr-layers.0-0": rng.random((64, 32), dtype=np.float32),
            "mtr-layers.0-1": rng.random(32, dtype=np.float32),
            "mtr-head-0": rng.random((32, 4), dtype=np.float32)}


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "hub_manifest.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path
    return write


@pytest.fixture
def base_and_finetune(tmp_path: Path, arrays: dict[str, np.ndarray]) -> tuple[Path, Path]:
    """A base model and a fine-tune that changes only its head (the body is frozen)."""
    base = regressor_folder(tmp_path / "base", arrays, card=b"# base\n")
    tuned = dict(arrays, **{"mtr-head-0": arrays["mtr-head-0"] + 1})
    return base, regressor_folder(tmp_path / "tuned", tuned)


@pytest.fixture
def hub_yaml(write_yaml, base_and_finetune) -> Path:
    return write_yaml(HUB_YAML)
