"""What most hubgen tests build from: regressor-like pretrained folders and a hub manifest naming them."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests._support.folders import make_folder

REGRESSOR_CLASS = "deepchem.models.fcnet.MultitaskRegressor"


def regressor_folder(folder: Path, weights: dict[str, np.ndarray], card: bytes | None = None) -> Path:
    """A pretrained folder recording a torch ``MultitaskRegressor`` with *weights* (never built)."""
    return make_folder(folder, weights, card=card, class_name=REGRESSOR_CLASS, framework="torch")


#: Folders ``base`` and ``tuned`` beside it (see ``conftest.base_and_finetune``).
HUB_YAML = """
name: test-hub
title: Test hub
description: a hub for tests
mirrors: [https://example.org/hub/, https://mirror.example.net/hub/]
models:
  - name: esol
    version: "1.0.0"
    path: base
    card:
      description: base model
      task: regression
      license: MIT
      tags: [solubility]
      citation: "Someone 2020"
      dataset: delaney
  - name: esol
    version: 1.1.0
    path: tuned
  - name: esol-ft
    version: "0.1"
    path: tuned
"""
