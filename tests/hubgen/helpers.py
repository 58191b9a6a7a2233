"""Helpers for hubgen tests: tiny pretrained folders and a hub manifest."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dchub_client.format.pretrained import write_pretrained

CLASS = "deepchem.models.fcnet.MultitaskRegressor"


def make_folder(folder: Path, weights: dict[str, np.ndarray], card: bytes | None = None) -> Path:
    """A valid pretrained folder holding *weights* (name -> array)."""
    write_pretrained(folder, class_name=CLASS, framework="torch", parameters={"n_tasks": 1},
                     weights=[(name, name.replace("-", "."), array) for name, array in weights.items()],
                     files={"README.md": card} if card is not None else None)
    return folder


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
