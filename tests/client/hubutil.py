"""Small pretrained folders for the client tests (random arrays; no framework needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dchub_client.pretrained import write_pretrained


def make_folder(folder: Path, *, seed: int = 0, n_weights: int = 2, size: int = 64) -> Path:
    """A pretrained folder with *n_weights* random float32 arrays of *size* elements and a card."""
    rng = np.random.default_rng(seed)
    weights = [(f"toy-dense.{i}-0", f"dense{i}.weight", rng.standard_normal(size).astype("<f4"))
               for i in range(n_weights)]
    write_pretrained(folder, class_name="tests.Toy", framework="numpy", parameters={"seed": seed},
                     weights=weights, files={"README.md": f"# toy {seed}\n".encode()})
    return folder
