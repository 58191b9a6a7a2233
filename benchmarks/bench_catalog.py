"""The catalogue side (issue 16): a 10,000-model index, resolving one name warm, and a no-op ``dchub pull``.

Rows, each against a peer measured in the same run and graded against issue 16's targets:

* ``index.json`` of 10,000 models: bytes of the compact 2.0 index, against the 2 MB budget (and the
  1.0 encoding of the same index, indented with every manifest path, for reference);
* resolving one name on a warm 10,000-model index, in process (``resolve_pretrained(name)`` with the
  index and the model cached): against ``json.loads`` of that index (the cost the lookup file avoids)
  and against the 50 ms budget;
* the lookup alone (read the cached lookup file, bisect, validate one entry): against a 1 ms budget;
* a warm no-op ``dchub pull NAME`` (a new process; everything cached): against ``python -c pass`` with the
  same interpreter and against the 150 ms budget; ``dchub --version`` the same way.

The hub is a real one built by hubgen with one model, whose index is then extended with 9,999
synthetic models (realistic names; 10% with three versions) and served over loopback HTTP by
Python's ``http.server``. Data lives under ``benchmarks/_out/catalog`` (removed after the run).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import Row, best_of

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
FAMILIES = ("tox21", "esol", "freesolv", "lipo", "bace", "bbbp", "clintox", "hiv", "muv", "qm9", "sider", "pcba")
MODELS = ("graphconv", "mpnn", "attentivefp", "gcn", "gat", "chemberta", "ecfp-mtr", "rf", "xgb", "weave")
NAME = "esol-graphconv-05000"
#: Issue 16's targets.
RESOLVE_BUDGET, LOOKUP_BUDGET, PULL_BUDGET, INDEX_BUDGET = 0.050, 0.001, 0.150, 2_000_000


def _synthetic_index(index, n: int):
    """*index* (one real model) plus synthetic models up to *n*, as a parsed Index."""
    from dchub_client.format import hubfiles
    from dchub_client.format.hubfiles import ModelEntry, VersionRef

    models = dict(index.models)
    i = 0
    while len(models) < n:
        name = f"{FAMILIES[i % len(FAMILIES)]}-{MODELS[i // len(FAMILIES) % len(MODELS)]}-{i:05d}"
        versions = ("1.0.0", "1.1.0", "2.0.0") if i % 10 == 0 else ("1.0.0",)
        refs = {v: VersionRef(hubfiles.manifest_path(name, v), f"{i:08x}{j:056x}", 1200 + i % 900)
                for j, v in enumerate(versions)}
        models.setdefault(name, ModelEntry(name, versions[-1], refs))
        i += 1
    return hubfiles.Index(name=index.name, models=dict(sorted(models.items())), title="Benchmark hub",
                          generated=index.generated)


def _hub(root: Path, n: int) -> tuple[Path, int, int]:
    """A hubgen-built hub extended to *n* models; returns (hub, bytes of index 2.0, bytes of the same as 1.0)."""
    import numpy as np

    from dchub_client.format import hubfiles, jsonstrict
    from dchub_client.format.pretrained import write_pretrained
    from hubgen.build import build_hub

    rng = np.random.default_rng(0)
    write_pretrained(root / "src", class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters={"n_tasks": 1}, overwrite=True,
                     weights=[(f"w{i}", f"layer{i}", rng.random(256, dtype=np.float32)) for i in range(4)])
    (root / "hub.yaml").write_text(f"name: bench-hub\nmodels:\n  - {{name: {NAME}, version: '1.0.0', "
                                   f"path: {root / 'src'}}}\n")
    build_hub(root / "hub.yaml", root / "hub")
    index_path = root / "hub" / "index.json"
    index = hubfiles.parse_index(jsonstrict.loads(index_path.read_bytes()))
    big = _synthetic_index(index, n)
    data = hubfiles.index_dumps(hubfiles.index_to_json(big))
    index_path.write_bytes(data)
    v1 = hubfiles.index_to_json(big)
    v1["format_version"] = "1.0"
    for name, entry in v1["models"].items():
        for version, ref in entry["versions"].items():
            ref["manifest"] = hubfiles.manifest_path(name, version)
    return root / "hub", len(data), len(hubfiles.dumps(v1))


_SERVER = """
import functools, http.server, sys
http.server.ThreadingHTTPServer.request_queue_size = 128
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
handler.func.log_message = lambda *a: None
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def _serve(folder: Path) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(port), str(folder)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/"


def _wall(args: list[str], env: dict[str, str], repeat: int) -> float:
    """Best wall time of *repeat* runs of the command *args* (a new process each)."""
    def once() -> None:
        subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return best_of(once, repeat)


def run(quick: bool) -> list[Row]:
    from dchub_client.hub import catalog, sidecar
    from dchub_client.hub.cache import Cache
    from dchub_client.hub.resolve import resolve_pretrained

    n = 1000 if quick else 10_000
    repeat = 5 if quick else 15
    root = HERE / "_out" / "catalog"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    saved = {k: os.environ.get(k) for k in ("DEEPCHEM_MODEL_HUB", "DEEPCHEM_HUB_CACHE", "DCHUB_CONFIG",
                                            "DEEPCHEM_HUB_OFFLINE", "DEEPCHEM_HUB_INDEX_TTL")}
    hub, size, size_v1 = _hub(root, n)
    server, url = _serve(hub)
    try:
        env = {**os.environ, "DEEPCHEM_MODEL_HUB": url, "DEEPCHEM_HUB_CACHE": str(root / "cache"),
               "DCHUB_CONFIG": str(root / "no-config.toml"), "DEEPCHEM_HUB_INDEX_TTL": "3600"}
        env.pop("DEEPCHEM_HUB_OFFLINE", None)
        os.environ.update({k: env[k] for k in saved if k in env})
        resolve_pretrained(NAME)  # cold: the index enters the cache (checked whole, once), the model is fetched
        data = (hub / "index.json").read_bytes()
        t_json = best_of(lambda: json.loads(data), repeat)
        t_resolve = best_of(lambda: resolve_pretrained(NAME), repeat * 4)
        lookup_file = catalog.hub_folder(Cache(), "bench-hub") / catalog.LOOKUP_FILE
        t_lookup = best_of(lambda: sidecar.read_lookup(lookup_file).models[NAME], repeat * 4)
        subprocess.run([str(BIN / "dchub"), "pull", "-q", NAME], env=env, check=True, stdout=subprocess.DEVNULL)
        t_pull = _wall([str(BIN / "dchub"), "pull", "-q", NAME], env, repeat)
        t_version = _wall([str(BIN / "dchub"), "--version"], env, repeat)
        t_pass = _wall([sys.executable, "-c", "pass"], env, repeat)
    finally:
        server.terminate()
        server.wait()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)
    label = f"{n:,}-model index"
    return [
        Row(f"index.json size, {label} (format 2.0, compact)", size / 1e6, "budget (issue 16)", INDEX_BUDGET / 1e6,
            unit="M", target=1.0),
        Row(f"index.json size, {label}: 2.0 vs 1.0 encoding", size / 1e6, "same index as 1.0", size_v1 / 1e6,
            unit="M", target=None),
        Row(f"resolve one name, warm {label} (in process)", t_resolve * 1e3, "json.loads of index.json", t_json * 1e3,
            unit="ms", target=None, note="the lookup file replaces parsing the whole index on every call"),
        Row(f"resolve one name, warm {label} (in process)", t_resolve * 1e3, "budget (issue 16)",
            RESOLVE_BUDGET * 1e3, unit="ms", target=1.0),
        Row(f"lookup of one name in the cached {label}", t_lookup * 1e3, "budget: well under 1 ms",
            LOOKUP_BUDGET * 1e3, unit="ms", target=1.0),
        Row("warm no-op `dchub pull` (new process)", t_pull * 1e3, "python -c pass", t_pass * 1e3, unit="ms",
            target=None),
        Row("warm no-op `dchub pull` (new process)", t_pull * 1e3, "budget (issue 16)", PULL_BUDGET * 1e3,
            unit="ms", target=1.0),
        Row("`dchub --version` (new process)", t_version * 1e3, "python -c pass", t_pass * 1e3, unit="ms",
            target=None),
    ]


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(row)
