"""Tiny pretrained folders for tests (random arrays, no framework), and tools to forge bad ones."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from dchub_client.format import layout, pretrained

#: The class recorded by :func:`make_folder` (never built: these folders are for hubs, not models).
TOY_CLASS = "tests.Toy"


def make_folder(folder: Path, weights: dict[str, np.ndarray] | None = None, *, seed: int = 0, n_weights: int = 2,
                size: int = 64, card: bytes | None = b"", class_name: str = TOY_CLASS,
                framework: str = "numpy") -> Path:
    """A valid pretrained folder with a card.

    Args:
        weights: name -> array; default *n_weights* random float32 arrays of *size* elements
            named ``toy-dense.<i>-0``.
        card: the ``README.md`` bytes; ``b""`` (the default) writes ``# toy <seed>``; None writes none.
    """
    if weights is None:
        rng = np.random.default_rng(seed)
        weights = {f"toy-dense.{i}-0": rng.standard_normal(size).astype("<f4") for i in range(n_weights)}
    pretrained.write_pretrained(
        folder, class_name=class_name, framework=framework, parameters={"seed": seed},
        weights=[(name, name.replace("-", "."), array) for name, array in weights.items()],
        files=None if card is None else {layout.CARD_FILE: card or f"# toy {seed}\n".encode()})
    return folder


def write_weight(folder: Path, name: str, key: str, array: np.ndarray) -> dict[str, Any]:
    """Write *array* as ``<name>.npy`` and return its ``params.json`` entry (to forge folders)."""
    path = folder / f"{name}{layout.WEIGHT_SUFFIX}"
    np.save(path, array, allow_pickle=False)
    return {"file": path.name, "shape": list(array.shape), "dtype": np.lib.format.dtype_to_descr(array.dtype),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "key": key}


def edit_params(folder: Path, edit: Any) -> None:
    """Rewrite ``params.json`` through ``edit(data)`` (which changes *data* in place)."""
    path = folder / layout.PARAMS_FILE
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def validate_folder(folder: Path) -> pretrained.PretrainedInfo:
    """Check a whole pretrained folder with dchub's reader: ``params.json``, every file, header and sha256."""
    info = pretrained.read_params(folder)
    pretrained.check_files(folder, info)
    for entry in info.weights.values():
        pretrained.load_weight(folder, entry, verify=True)
    return info


def load_weights(folder: Path) -> dict[str, np.ndarray]:
    """Every weight of a valid pretrained folder, verified, by name."""
    info = validate_folder(folder)
    return {name: pretrained.load_weight(folder, entry) for name, entry in info.weights.items()}
