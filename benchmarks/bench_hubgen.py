"""hubgen build against the physical limit: hashing the same bytes with ``openssl dgst -sha256``.

Rows (issue 16):
* cold build of 10 models holding 1 GiB of weights against ``openssl dgst -sha256`` over the same files
  (target <= 1.3); for reference, also against ``cp -r`` of the same folders (writing the same bytes);
* rebuild with no change, against the cold build (target <= 0.02);
* rebuild with 1 of the 10 models changed (published as a new version), against the cold build (target <= 0.12);
* cold build of 10,000 tiny models (two weights of 16 and 4 values, a card), in milliseconds per model
  against the issue's budget of 3 ms (target <= 1); for reference, against the file system's own cost
  of the same work: ``cp -r`` of the source folders plus ``cp -r`` of the hub the build made (the same
  files and folders created).

Cold builds and their peers are timed in turns; each cold build starts from an empty output folder
(deleting the previous one also gives its memory back, as it would be on a machine building once).
Data (1 GiB of random float32 weights; ~100 MB and 1,000 models with ``quick``) is generated once
under ``benchmarks/_out/hubgen`` and reused by later runs.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

import numpy as np
from _common import Row, interleaved, spread, warm_page_cache

HERE = Path(__file__).resolve().parent
N_MODELS = 10
WEIGHTS_PER_MODEL = 4


def _write(folder: Path, weights: list[tuple[str, str, np.ndarray]], card: bytes | None = None) -> None:
    from dchub_client.format.pretrained import write_pretrained

    write_pretrained(folder, class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters={"n_tasks": 1}, weights=weights, files={"README.md": card} if card else None,
                     overwrite=True)


def _make_models(root: Path, total_bytes: int) -> list[Path]:
    per_weight = total_bytes // (N_MODELS * WEIGHTS_PER_MODEL) // 4
    folders = []
    for i in range(N_MODELS):
        folder = root / f"model-{i:02d}"
        if not (folder / "params.json").is_file():
            rng = np.random.default_rng(i)
            _write(folder, [(f"m-layer{j}-0", f"layer{j}.weight", rng.random(per_weight, dtype=np.float32))
                            for j in range(WEIGHTS_PER_MODEL)])
        folders.append(folder)
    return folders


def _write_yaml(root: Path, folders: list[Path], extra: str = "") -> Path:
    lines = ["name: bench-hub", "models:"]
    lines += [f"  - {{name: {f.name}, version: '1.0', path: {f.name}}}" for f in folders]
    path = root / "hub_manifest.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def run(quick: bool) -> list[Row]:
    return [*_big_rows(quick), *_tiny_rows(quick)]


def _big_rows(quick: bool) -> list[Row]:
    from hubgen.build import build_hub

    size = (100 << 20) if quick else (1 << 30)
    root = HERE / "_out" / "hubgen" / ("quick" if quick else "full")
    root.mkdir(parents=True, exist_ok=True)
    folders = _make_models(root, size)
    manifest = _write_yaml(root, folders)
    files = sorted(str(p) for f in folders for p in f.iterdir())
    out, copy = root / "hub", root / "copy"

    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)
        for changed in root.glob("changed-*"):
            shutil.rmtree(changed, ignore_errors=True)
        _write_yaml(root, folders)
        warm_page_cache(files)

    def cp() -> None:
        copy.mkdir()
        subprocess.run(["cp", "-r", *map(str, folders), str(copy)], check=True)

    def fresh_copy() -> None:
        shutil.rmtree(copy, ignore_errors=True)
        warm_page_cache(files)

    times = interleaved({
        "build": lambda: build_hub(manifest, out),
        "openssl": lambda: subprocess.run(["openssl", "dgst", "-sha256", *files], check=True,
                                          stdout=subprocess.DEVNULL),
        "cp": cp,
    }, repeat=3, setup={"build": fresh, "openssl": lambda: warm_page_cache(files), "cp": fresh_copy})
    shutil.rmtree(copy, ignore_errors=True)
    cold = min(times["build"])
    warm = interleaved({"warm": lambda: build_hub(manifest, out)}, repeat=5)["warm"]
    changed = [_one_changed(root, folders, out, build_hub, k) for k in (1, 2, 3)]
    fresh()  # keep the generated weights for the next run, not the hub built from them
    total = sum(Path(f).stat().st_size for f in files)
    note = f"{N_MODELS} models, {total / 2**20:.0f} MiB of weights; build {spread(times['build'])}, " \
           f"openssl {spread(times['openssl'])}"
    return [
        Row("hubgen build, cold (hash + copy + manifests + site)", cold, "openssl dgst -sha256",
            min(times["openssl"]), target=1.3, note=note),
        Row("hubgen build, cold", cold, "cp -r (the same bytes written)", min(times["cp"]), target=None,
            note=f"cp {spread(times['cp'])}: writing 1 GiB is the other half of the work"),
        Row("hubgen build, rebuild with no change", min(warm), "hubgen cold build", cold, target=0.02,
            note=f"rebuild {spread(warm)}"),
        Row("hubgen build, rebuild with 1 of 10 models changed", min(changed), "hubgen cold build", cold,
            target=0.12, note=f"the changed model is published as a new version; {spread(changed)}"),
    ]


def _one_changed(root: Path, folders: list[Path], out: Path, build_hub, k: int) -> float:  # noqa: ANN001
    """Publish version ``1.<k>`` of the first model, one weight changed (the hub keeps growing by a version)."""
    import time

    from dchub_client.format.pretrained import read_params

    changed = root / f"changed-{k}"
    info = read_params(folders[0])
    weights = [(n, e.key, np.load(folders[0] / e.file)) for n, e in info.weights.items()]
    weights[0][2][0] += k
    _write(changed, weights)
    extra = "".join(f"  - {{name: {folders[0].name}, version: '1.{i}', path: changed-{i}}}\n" for i in range(1, k + 1))
    manifest = _write_yaml(root, folders, extra=extra)
    os.sync()  # as `interleaved` does before the cold build: the rebuild does not pay for writing its input
    start = time.perf_counter()
    build_hub(manifest, out)
    return time.perf_counter() - start


def _make_tiny(root: Path, n: int) -> Path:
    """*n* tiny models (two weights of 16 and 4 float32 values and a card) and their hub_manifest.yaml."""
    manifest = root / "hub_manifest.yaml"
    if manifest.is_file():
        return manifest
    rng = np.random.default_rng(0)
    lines = ["name: tiny-hub", "models:"]
    for i in range(n):
        name = f"tiny-{i:05d}"
        _write(root / "src" / name, [("m-dense-0", "dense.weight", rng.random(16, dtype=np.float32)),
                                     ("m-dense-1", "dense.bias", rng.random(4, dtype=np.float32))],
               card=f"# {name}\n\nA tiny model.\n".encode())
        lines.append(f"  - {{name: {name}, version: '1.0', path: src/{name}}}")
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _tiny_rows(quick: bool) -> list[Row]:
    from hubgen.build import build_hub

    n = 1000 if quick else 10_000
    root = HERE / "_out" / "hubgen" / f"tiny-{n}"
    root.mkdir(parents=True, exist_ok=True)
    manifest = _make_tiny(root, n)
    out, copy, hub_copy = root / "hub", root / "copy", root / "hub-copy"
    cpu: list[tuple[float, float, float, float]] = []  # (user, system) seconds of each build: its process, its workers

    def build() -> None:
        before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        build_hub(manifest, out)  # as `hubgen build` runs it: worker processes, one per core, for this many
        after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        cpu.append(tuple(getattr(a, k) - getattr(b, k) for a, b in zip(after, before)  # type: ignore[arg-type]
                         for k in ("ru_utime", "ru_stime")))

    times = interleaved({"build": build,
                         "cp": lambda: subprocess.run(["cp", "-r", str(root / "src"), str(copy)], check=True),
                         "cp hub": lambda: subprocess.run(["cp", "-r", str(out), str(hub_copy)], check=True)},
                        repeat=2, setup={"build": lambda: shutil.rmtree(out, ignore_errors=True),
                                         "cp": lambda: shutil.rmtree(copy, ignore_errors=True),
                                         "cp hub": lambda: shutil.rmtree(hub_copy, ignore_errors=True)})
    for folder in (copy, out, hub_copy):
        shutil.rmtree(folder, ignore_errors=True)
    per_model = min(times["build"]) / n * 1000
    user, system, workers_user, workers_system = (t / n * 1000 for t in cpu[times["build"].index(min(times["build"]))])
    floor = (min(times["cp"]) + min(times["cp hub"])) / n * 1000
    return [
        Row(f"hubgen build of {n:,} tiny models, ms per model", per_model, "issue 16 budget", 3.0, unit="",
            target=1.0, note=f"build {spread(times['build'])}; CPU per model in the best build: user {user:.2f} ms, "
                             f"system {system:.2f} ms in the build's process, user {workers_user:.2f} ms, system "
                             f"{workers_system:.2f} ms in its worker processes, on {os.cpu_count()} cores"),
        Row("hubgen build of tiny models, ms per model", per_model, "cp -r sources + cp -r hub", floor, unit="",
            target=None, note=f"the file system's own cost of reading the sources and creating the same files "
                              f"and folders: cp -r of the sources {min(times['cp']) / n * 1000:.2f} ms, of the "
                              f"built hub {min(times['cp hub']) / n * 1000:.2f} ms per model"),
    ]
