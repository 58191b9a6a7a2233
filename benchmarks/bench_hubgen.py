"""hubgen build: cold build vs ``sha256sum`` over the same weights; no-change and one-model rebuilds vs cold.

Data (10 pretrained folders, 1 GB of float32 weights; ~100 MB with ``quick``) is generated once
under ``benchmarks/_out/hubgen`` and reused by later runs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from _common import Row, best_of

HERE = Path(__file__).resolve().parent
N_MODELS = 10
WEIGHTS_PER_MODEL = 4


def _make_models(root: Path, total_bytes: int) -> list[Path]:
    from dchub_client.format.pretrained import write_pretrained

    per_weight = total_bytes // (N_MODELS * WEIGHTS_PER_MODEL) // 4
    folders = []
    for i in range(N_MODELS):
        folder = root / f"model-{i:02d}"
        if not (folder / "params.json").is_file():
            rng = np.random.default_rng(i)
            weights = [(f"m-layer{j}-0", f"layer{j}.weight", rng.random(per_weight, dtype=np.float32))
                       for j in range(WEIGHTS_PER_MODEL)]
            write_pretrained(folder, class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                             parameters={"n_tasks": 1}, weights=weights, overwrite=True)
        folders.append(folder)
    return folders


def _write_yaml(root: Path, folders: list[Path], extra: str = "") -> Path:
    lines = ["name: bench-hub", "models:"]
    lines += [f"  - {{name: {f.name}, version: '1.0', path: {f.name}}}" for f in folders]
    path = root / "hub_manifest.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def run(quick: bool) -> list[Row]:
    from hubgen.build import build_hub

    size = (100 << 20) if quick else (1 << 30)
    root = HERE / "_out" / "hubgen" / ("quick" if quick else "full")
    root.mkdir(parents=True, exist_ok=True)
    folders = _make_models(root, size)
    manifest = _write_yaml(root, folders)
    files = sorted(str(p) for f in folders for p in f.iterdir())
    out = root / "hub"

    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(root / "changed", ignore_errors=True)
        _write_yaml(root, folders)

    def sha256sum() -> None:
        subprocess.run(["sha256sum", *files], check=True, stdout=subprocess.DEVNULL)

    repeat = 3 if quick else 2
    peer = best_of(sha256sum, repeat=repeat)
    cold = best_of(lambda: build_hub(manifest, out), repeat=repeat, setup=fresh)
    warm = best_of(lambda: build_hub(manifest, out), repeat=repeat)
    changed = _one_changed(root, folders, out, manifest, build_hub)
    fresh()  # keep the generated weights for the next run, not the hub built from them
    total = sum(os.path.getsize(f) for f in files)
    note = f"{N_MODELS} models, {total / 2**20:.0f} MiB of weights"
    return [
        Row("hubgen build, cold (hash + copy + manifests)", cold, "sha256sum", peer, target=1.3, note=note),
        Row("hubgen build, rebuild with no change", warm, "hubgen cold build", cold, target=0.05),
        Row("hubgen build, rebuild with 1 of 10 models changed", changed, "hubgen cold build", cold, target=0.2,
            note="the changed model is published as a new version"),
    ]


def _one_changed(root: Path, folders: list[Path], out: Path, manifest: Path, build_hub) -> float:
    import time

    from dchub_client.format.pretrained import read_params

    changed = root / "changed"
    shutil.rmtree(changed, ignore_errors=True)
    shutil.copytree(folders[0], changed)
    info = read_params(changed)
    name = next(iter(info.weights))
    array = np.load(changed / f"{name}.npy")
    array[0] += 1
    from dchub_client.format.pretrained import write_pretrained

    weights = [(n, e.key, array if n == name else np.load(changed / e.file)) for n, e in info.weights.items()]
    write_pretrained(changed, class_name=info.class_name, framework=info.framework, parameters=info.parameters,
                     weights=weights, overwrite=True)
    _write_yaml(root, folders, extra=f"  - {{name: {folders[0].name}, version: '1.1', path: changed}}\n")
    start = time.perf_counter()
    build_hub(manifest, out)
    elapsed = time.perf_counter() - start
    _write_yaml(root, folders)
    return elapsed
