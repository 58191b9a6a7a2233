"""dchub_client against the physical limit: cold pulls over loopback HTTP, warm loads from the cache.

Rows (issue 16):
* cold pull of one 256 MiB weight (one blob) through the API, as throughput, against ``curl -o FILE``
  (target >= 0.95), and for reference against ``curl | openssl dgst -sha256`` (what a verifying shell
  pipeline manages) and ``curl -o /dev/null`` (the socket alone);
* the same pull through ``dchub pull`` in a new process (start-up included) against the API (target >= 0.8),
  as a user runs it: the working tree built into a wheel and installed in a clean virtualenv (no
  development ``.pth`` hooks at start-up), next to the ceiling of any Python program (the API plus a bare
  ``python -c pass`` of that virtualenv) and of one that imports only the standard-library modules a pull
  cannot do without (the API plus importing those); the development checkout's ``dchub`` for reference
  (its ``site`` runs setuptools' editable finder in every process);
* cold pull of a model of 500 weights of 8 KiB against fetching the same blobs with sequential
  ``pooch.retrieve`` (target: at least 4x faster, a time ratio <= 0.25);
* warm load of the cached 256 MiB model (resolve + ``np.load``) against a raw ``np.load`` of the same
  file (target <= 1.05).

The server (``_server.py``) runs in its own process: HTTP/1.1 keep-alive, ``sendfile``, a thread per
connection, listen backlog 1024, so neither it nor connection set-up is what is measured. Every
contender of a row is timed in turns (``interleaved``), from a cold state (fresh cache, fresh
connections, fresh output file), and the best time is kept. Data is generated once under
``benchmarks/_out/client``.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
from _common import Row, interleaved, spread
from _server import BenchServer

HERE = Path(__file__).resolve().parent
MIB = 1 << 20
PROJECT = HERE.parent
#: The development checkout's ``dchub`` (installed editable).
DEV_DCHUB = str(Path(sys.executable).with_name("dchub"))
#: The standard library a pull cannot do without: its command line, logging, hashing, sockets, JSON, threads, paths.
_PULL_STDLIB = "argparse, logging, hashlib, socket, selectors, json, threading, concurrent.futures, pathlib"


def _model(folder: Path, n: int, elements: int, seed: int) -> None:
    from dchub_client.format.pretrained import write_pretrained

    rng = np.random.default_rng(seed)
    weights = ((f"m-layer{i}-0", f"layer{i}.weight", rng.random(elements, dtype=np.float32)) for i in range(n))
    write_pretrained(folder, class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters={"n_tasks": 1}, weights=weights, overwrite=True)


def _hub(root: Path, big_mib: int, n_small: int) -> Path:
    """The benchmark hub: ``big`` (one weight of *big_mib* MiB, stored as one blob) and ``small``."""
    hub = root / "hub"
    if (hub / "index.json").is_file():
        return hub
    from hubgen.build import build_hub

    _model(root / "src-big", 1, (big_mib * MIB - 128) // 4, 0)  # a .npy header is 128 bytes
    _model(root / "src-small", n_small, (8192 - 128) // 4, 1)  # files of exactly 8 KiB
    (root / "hub.yaml").write_text("name: bench-hub\npart_size: 1073741824\nmodels:\n"
                                   f"  - {{name: big, version: '1.0', path: {root / 'src-big'}}}\n"
                                   f"  - {{name: small, version: '1.0', path: {root / 'src-small'}}}\n")
    build_hub(root / "hub.yaml", hub)
    return hub


def _installed(root: Path) -> Path:
    """A clean virtualenv under *root* with the working tree installed as a user installs it (a
    wheel, no dependencies: ``dchub pull`` needs only the standard library); its ``bin`` folder."""
    import venv

    env, wheels = root / "installed", root / "wheel"
    for folder in (env, wheels):
        shutil.rmtree(folder, ignore_errors=True)
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(PROJECT)],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index",
                    *map(str, wheels.glob("*.whl"))], check=True, stdout=subprocess.DEVNULL)
    return python.parent


def _manifest(hub: Path, name: str):  # type: ignore[no-untyped-def]
    from dchub_client.format import hubfiles, jsonstrict

    raw = (hub / hubfiles.manifest_path(name, "1.0")).read_bytes()
    return hubfiles.parse_manifest(jsonstrict.loads(raw))


def run(quick: bool) -> list[Row]:
    import logging

    import pooch

    pooch.get_logger().setLevel(logging.WARNING)
    root = HERE / "_out" / ("client-quick" if quick else "client")
    root.mkdir(parents=True, exist_ok=True)
    big_mib, n_small = (64, 100) if quick else (256, 500)
    hub = _hub(root, big_mib, n_small)
    work = root / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    old_env = {k: os.environ.get(k) for k in ("DEEPCHEM_MODEL_HUB", "DEEPCHEM_HUB_CACHE")}
    try:
        with BenchServer(hub) as server:
            os.environ.update(DEEPCHEM_MODEL_HUB=server.url, DEEPCHEM_HUB_CACHE=str(work / "cache"))
            repeat = 3 if quick else 5
            return [*_big_rows(hub, server.url, work, big_mib, repeat, _installed(root)),
                    *_small_rows(hub, server.url, work, n_small, repeat),
                    *_warm_rows(hub, work, big_mib)]
    finally:
        for key, value in old_env.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        shutil.rmtree(work, ignore_errors=True)


def _fresh_cache(work: Path) -> None:
    from dchub_client.hub import http

    http.close_connections()  # a cold pull opens its connections, as a new process would
    shutil.rmtree(work / "cache", ignore_errors=True)


def _big_rows(hub: Path, url: str, work: Path, big_mib: int, repeat: int, installed: Path) -> list[Row]:
    from dchub_client.format import hubfiles
    from dchub_client.hub.resolve import resolve_pretrained

    weight = max(_manifest(hub, "big").files, key=lambda f: f.size)
    blob = url + hubfiles.blob_path(weight.sha256)
    out = work / "curl.out"
    env = {**os.environ}
    times = interleaved({
        "api": lambda: resolve_pretrained("big@1.0", refresh=True),
        "curl -o FILE": lambda: subprocess.run(["curl", "-sSf", "-o", str(out), blob], check=True),
        "curl | openssl dgst -sha256": lambda: subprocess.run(
            f"curl -sSf {blob} | openssl dgst -sha256", shell=True, check=True, stdout=subprocess.DEVNULL),
        "curl -o /dev/null": lambda: subprocess.run(["curl", "-sSf", "-o", "/dev/null", blob], check=True),
        "cli": lambda: subprocess.run([installed / "dchub", "pull", "-q", "big@1.0"], check=True, env=env,
                                      stdout=subprocess.DEVNULL),
        "dev cli": lambda: subprocess.run([DEV_DCHUB, "pull", "-q", "big@1.0"], check=True, env=env,
                                          stdout=subprocess.DEVNULL),
        "python -c pass": lambda: subprocess.run([installed / "python", "-c", "pass"], check=True, env=env),
        "dev python -c pass": lambda: subprocess.run([sys.executable, "-c", "pass"], check=True, env=env),
        "python -c 'import stdlib'": lambda: subprocess.run([installed / "python", "-c", f"import {_PULL_STDLIB}"],
                                                            check=True, env=env),
    }, repeat=repeat, setup={"api": lambda: _fresh_cache(work), "cli": lambda: _fresh_cache(work),
                             "dev cli": lambda: _fresh_cache(work),
                             "curl -o FILE": lambda: out.unlink(missing_ok=True)})
    pass_s = min(times.pop("python -c pass"))
    dev_pass_s = min(times.pop("dev python -c pass"))
    stdlib_s = min(times.pop("python -c 'import stdlib'"))
    mibs = {name: weight.size / MIB / min(t) for name, t in times.items()}
    what = f"cold pull, one {big_mib} MiB weight, loopback HTTP (API), MiB/s"
    note = f"API {spread(times['api'])}; curl -o FILE {spread(times['curl -o FILE'])}"
    return [
        Row(what, mibs["api"], "curl -o FILE", mibs["curl -o FILE"], unit="", target=0.95, higher_is_better=True,
            note=note + "; ours also hashes every byte and links the snapshot"),
        Row(what, mibs["api"], "curl | openssl dgst -sha256", mibs["curl | openssl dgst -sha256"], unit="",
            target=None, higher_is_better=True, note="a shell pipeline that verifies, for reference"),
        Row(what, mibs["api"], "curl -o /dev/null", mibs["curl -o /dev/null"], unit="", target=None,
            higher_is_better=True, note="the socket alone: nothing written, nothing hashed"),
        Row("the same through `dchub pull` (CLI, new process, installed), MiB/s", mibs["cli"], "the API", mibs["api"],
            unit="", target=0.8, higher_is_better=True,
            note=f"the wheel in a clean virtualenv; CLI {spread(times['cli'])}: start-up and exit add "
                 f"{(min(times['cli']) - min(times['api'])) * 1000:.0f} ms to the API's pull; the median of the "
                 f"rounds' own ratios (each CLI pull against the API pull just before it) is "
                 f"{statistics.median(a / c for a, c in zip(times['api'], times['cli'])):.2f}"),
        Row("the same through the development checkout's `dchub pull`, MiB/s", mibs["dev cli"], "the API",
            mibs["api"], unit="", target=None, higher_is_better=True,
            note=f"for reference: {spread(times['dev cli'])}; its `python -c pass` takes {dev_pass_s * 1000:.0f} ms "
                 f"(the installed virtualenv's {pass_s * 1000:.0f} ms): setuptools' editable finder runs at start-up"),
        Row("the API in a process that only starts Python, MiB/s", weight.size / MIB / (min(times["api"]) + pass_s),
            "the API", mibs["api"], unit="", target=None, higher_is_better=True,
            note=f"the ceiling of any Python CLI: the API + `python -c pass` ({pass_s * 1000:.0f} ms), for reference"),
        Row("the API after importing the stdlib it needs, MiB/s", weight.size / MIB / (min(times["api"]) + stdlib_s),
            "the API", mibs["api"], unit="", target=None, higher_is_better=True,
            note=f"the ceiling of a Python CLI built on the standard library's {_PULL_STDLIB}: "
                 f"the API + importing only those ({stdlib_s * 1000:.0f} ms), for reference"),
    ]


def _small_rows(hub: Path, url: str, work: Path, n_small: int, repeat: int) -> list[Row]:
    import pooch

    from dchub_client.format import hubfiles
    from dchub_client.hub.resolve import resolve_pretrained

    blobs = [(url + hubfiles.blob_path(f.sha256), f.sha256) for f in _manifest(hub, "small").files]

    def sequential_pooch() -> None:
        for blob_url, sha in blobs:
            pooch.retrieve(blob_url, known_hash=f"sha256:{sha}", fname=sha, path=work / "pooch", progressbar=False)

    times = interleaved({"api": lambda: resolve_pretrained("small@1.0", refresh=True),
                         "pooch": sequential_pooch},
                        repeat=repeat, setup={"api": lambda: _fresh_cache(work),
                                              "pooch": lambda: shutil.rmtree(work / "pooch", ignore_errors=True)})
    return [Row(f"cold pull, {n_small} weights of 8 KiB ({len(blobs)} files)", min(times["api"]),
                "sequential pooch.retrieve", min(times["pooch"]), target=0.25,
                note=f"target: 4x faster; ours {spread(times['api'])}, pooch {spread(times['pooch'])}")]


def _warm_rows(hub: Path, work: Path, big_mib: int) -> list[Row]:
    from dchub_client.hub.resolve import download

    folder = download("big@1.0")
    weight = next(folder.glob("*.npy"))
    times = interleaved({"ours": lambda: np.load(download("big@1.0") / weight.name),
                         "np.load": lambda: np.load(weight)}, repeat=25)
    return [Row(f"warm load of the cached {big_mib} MiB model (resolve + np.load)", min(times["ours"]),
                "raw np.load", min(times["np.load"]), target=1.05,
                note=f"ours {spread(times['ours'])}, np.load {spread(times['np.load'])}")]
