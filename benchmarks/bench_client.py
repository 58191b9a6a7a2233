"""dchub_client: cold pulls over a loopback HTTP server and warm loads from the cache, against peers.

Rows:
* cold pull of one 256 MB weight (stored as 3 parts) vs ``curl`` fetching the same blobs from the
  same server (throughput ratio, target >= 0.8) and vs plain ``pooch.retrieve`` (time ratio);
* cold pull of a model of 500 small weights vs fetching the same blobs sequentially with pooch;
* warm load (resolve + ``np.load`` of every weight) of a cached model vs pooch's fetch of the same
  cached files (which re-hashes them) and vs raw ``np.load`` of the files.

The server is Python's ``http.server`` (listen backlog 128) in its own process on 127.0.0.1. Data lives under
``benchmarks/_out/client`` (removed after the run).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import Row, best_of

HERE = Path(__file__).resolve().parent


def _model(folder: Path, n: int, elements: int, seed: int) -> Path:
    from dchub_client.format.pretrained import write_pretrained

    rng = np.random.default_rng(seed)
    weights = ((f"m-layer{i}-0", f"layer{i}.weight", rng.random(elements, dtype=np.float32)) for i in range(n))
    write_pretrained(folder, class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters={"n_tasks": 1}, weights=weights, overwrite=True)
    return folder


def _build(root: Path, models: dict[str, Path]) -> Path:
    from hubgen.build import build_hub

    lines = ["name: bench-hub", "models:"]
    lines += [f"  - {{name: {n}, version: '1.0', path: {p}}}" for n, p in models.items()]
    (root / "hub.yaml").write_text("\n".join(lines) + "\n")
    build_hub(root / "hub.yaml", root / "hub")
    return root / "hub"


#: ``http.server`` with a listen backlog of 128 (its default of 5 drops the SYNs of parallel clients,
#: which then wait a second to retry; real static servers use hundreds).
_SERVER = """
import functools, http.server, sys
http.server.ThreadingHTTPServer.request_queue_size = 128
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
handler.func.log_message = lambda *a: None
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


class _Server:
    """Python's ``http.server`` serving *root* on a free loopback port, in its own process."""

    def __init__(self, root: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(self.port), str(root)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _manifest(hub: Path, name: str):  # type: ignore[no-untyped-def]
    from dchub_client.format import hubfiles, jsonstrict

    raw = (hub / hubfiles.manifest_path(name, "1.0")).read_bytes()
    return hubfiles.parse_manifest(jsonstrict.loads(raw))


def _blob_urls(url: str, hub: Path, name: str) -> list[tuple[str, str]]:
    from dchub_client.format import hubfiles

    return [(url + hubfiles.blob_path(b.sha256), b.sha256) for f in _manifest(hub, name).files for b in f.blobs]


def _pull(spec: str) -> Path:
    from dchub_client.hub.resolve import resolve_pretrained

    return resolve_pretrained(spec, refresh=True).path


def _clear(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _pooch_all(blobs: list[tuple[str, str]], dest: Path) -> None:
    import pooch

    for url, sha in blobs:
        pooch.retrieve(url, known_hash=f"sha256:{sha}", fname=sha, path=dest, progressbar=False)


def _curl_all(blobs: list[tuple[str, str]], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    args = ["curl", "-sSf"]
    for url, sha in blobs:
        args += ["-o", str(dest / sha), url]
    subprocess.run(args, check=True)


def run(quick: bool) -> list[Row]:
    import logging

    import pooch

    pooch.get_logger().setLevel(logging.WARNING)
    root = HERE / "_out" / "client"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    big_mb = 64 if quick else 256
    n_small = 100 if quick else 500
    models = {"big": _model(root / "src-big", 1, (big_mb << 20) // 4 - 32, 0),
              "small": _model(root / "src-small", n_small, 1000, 1),
              "warm": _model(root / "src-warm", 10, (4 if quick else 16) << 18, 2)}
    hub = _build(root, models)
    server = _Server(hub)
    cache = root / "cache"
    old_env = {k: os.environ.get(k) for k in ("DEEPCHEM_MODEL_HUB", "DEEPCHEM_HUB_CACHE")}
    os.environ.update(DEEPCHEM_MODEL_HUB=server.url, DEEPCHEM_HUB_CACHE=str(cache))
    try:
        return _rows(root, hub, server, cache, big_mb, n_small)
    finally:
        server.close()
        for key, value in old_env.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        shutil.rmtree(root, ignore_errors=True)


def _rows(root: Path, hub: Path, server: _Server, cache: Path, big_mb: int, n_small: int) -> list[Row]:
    big_blobs = _blob_urls(server.url, hub, "big")
    nbytes = sum(f.size for f in _manifest(hub, "big").files)
    ours = best_of(lambda: _pull("big@1.0"), setup=lambda: _clear(cache))
    curl = best_of(lambda: _curl_all(big_blobs, root / "curl"), setup=lambda: _clear(root / "curl"))
    plain = best_of(lambda: _pooch_all(big_blobs, root / "pooch"), repeat=2, setup=lambda: _clear(root / "pooch"))
    mbps = 1 / (1 << 20)
    what = f"cold pull, one {big_mb} MB weight ({len(big_blobs) - 1} blobs)"
    rows = [
        Row(f"{what}, MB/s", nbytes / ours * mbps, "curl (same blobs)", nbytes / curl * mbps, unit="", target=0.8,
            higher_is_better=True, note="ours also hashes every byte, reassembles parts and builds the snapshot"),
        Row(what, ours, "pooch.retrieve", plain, target=1.0),
    ]
    small_blobs = _blob_urls(server.url, hub, "small")
    ours = best_of(lambda: _pull("small@1.0"), setup=lambda: _clear(cache))
    plain = best_of(lambda: _pooch_all(small_blobs, root / "pooch"), repeat=2, setup=lambda: _clear(root / "pooch"))
    rows.append(Row(f"cold pull, {n_small} small weights", ours, "sequential pooch", plain, target=1.0))
    rows += _warm_rows(root, hub, server, cache)
    return rows


def _warm_rows(root: Path, hub: Path, server: _Server, cache: Path) -> list[Row]:
    import pooch

    from dchub_client.hub.resolve import resolve_pretrained

    folder = _pull("warm@1.0")
    names = sorted(p.name for p in folder.glob("*.npy"))
    files = _manifest(hub, "warm").files
    registry = {f"blobs/sha256/{f.sha256[:2]}/{f.sha256}": f"sha256:{f.sha256}" for f in files}
    store = pooch.create(path=root / "pooch-warm", base_url=server.url, registry=registry)
    for key in registry:
        store.fetch(key)
    npy = [k for k, f in zip(registry, files) if f.path.endswith(".npy")]

    def ours() -> None:
        path = resolve_pretrained("warm@1.0").path
        for name in names:
            np.load(path / name)

    def with_pooch() -> None:
        for key in registry:
            store.fetch(key)
        for key in npy:
            np.load(root / "pooch-warm" / key)

    def raw() -> None:
        for name in names:
            np.load(folder / name)

    t_ours, t_pooch, t_raw = best_of(ours, 5), best_of(with_pooch, 5), best_of(raw, 5)
    label = f"warm load of a cached model ({sum(f.size for f in files) >> 20} MB, {len(names)} weights)"
    return [Row(label, t_ours, "pooch fetch (re-hashes)", t_pooch, target=1.0),
            Row(label, t_ours, "raw np.load", t_raw, target=1.2)]
