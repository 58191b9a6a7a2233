"""Helpers for the publish tests: hubs built in tmp_path, a moto S3 server, an HTTP server, a killer."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from dchub_client.format import hubfiles, jsonstrict
from dchub_client.hub.resolve import download
from hubgen.build import build_hub
from tests._support import folders
from tests._support.servers import HubServer
from tests.hubgen.support import HUB_YAML, regressor_folder

REPO = Path(__file__).resolve().parents[3]
PYTHON = sys.executable

#: A second version of ``esol``: a new head and a new, larger weight (many new parts).
V2_YAML = HUB_YAML + """
  - name: esol
    version: 2.0.0
    path: v2
"""


def make_sources(root: Path) -> dict[str, np.ndarray]:
    """The folders HUB_YAML names (``base``, ``tuned``) and ``v2``; return base's arrays."""
    rng = np.random.default_rng(7)
    arrays = {"mtr-layers.0-0": rng.random((64, 32), dtype=np.float32),
              "mtr-layers.0-1": rng.random(32, dtype=np.float32),
              "mtr-head-0": rng.random((32, 4), dtype=np.float32)}
    regressor_folder(root / "base", arrays, card=b"# base\n")
    regressor_folder(root / "tuned", dict(arrays, **{"mtr-head-0": arrays["mtr-head-0"] + 1}))
    v2 = dict(arrays, **{"mtr-head-0": arrays["mtr-head-0"] + 2,
                         "mtr-extra-0": rng.random((96, 64), dtype=np.float32)})
    regressor_folder(root / "v2", v2)
    return arrays


def build(root: Path, *, v2: bool = False, out: str = "hub") -> Path:
    """Build the test hub (with ``esol@2.0.0`` when *v2*) into ``root/out``; small parts, many blobs."""
    if not (root / "base").is_dir():
        make_sources(root)
    yaml = root / "hub_manifest.yaml"
    yaml.write_text(textwrap.dedent(V2_YAML if v2 else HUB_YAML).lstrip("\n"), encoding="utf-8")
    build_hub(yaml, root / out, part_size=1024)
    return root / out


def blob_keys(hub: Path, name: str, version: str) -> set[str]:
    """Relative paths of every blob of one model version."""
    index = hubfiles.parse_index(jsonstrict.loads((hub / "index.json").read_bytes()))
    ref = index.models[name].versions[version]
    manifest = hubfiles.parse_manifest(jsonstrict.loads((hub / ref.manifest).read_bytes()))
    return {hubfiles.blob_path(b.sha256) for f in manifest.files for b in f.blobs}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve *folder* over HTTP on 127.0.0.1; yield its root URL."""
    server = HubServer(folder)
    try:
        yield server.url
    finally:
        server.close()


def use_hub(monkeypatch: pytest.MonkeyPatch, *roots: str | Path) -> None:
    """Point the client at *roots* with a fresh index on every call."""
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", " ".join(str(r) for r in roots))
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")


def load_weights(spec: str) -> dict[str, np.ndarray]:
    """Download *spec* with the client, validate the folder, return its weights by name."""
    return folders.load_weights(download(spec))


#: Runs ``hubgen publish`` in a child process, sleeping *delay* s after each send of *slow_kind*.
_SLOW_PUBLISH = """
import sys, time
from hubgen.publish import s3
from hubgen.publish import folder
DELAY, KIND = float(sys.argv[1]), sys.argv[2]
for cls in (s3.S3Target, folder.FolderTarget):
    method = "_put" if cls is s3.S3Target else "_copy"
    original = getattr(cls, method)
    def slow(self, item, *args, _original=original):
        _original(self, item, *args)
        if item.kind == KIND:
            time.sleep(DELAY)
    setattr(cls, method, slow)
from hubgen.cli import main
sys.exit(main(sys.argv[3:]))
"""


def start_slow_publish(args: list[str], *, delay: float = 0.3, kind: str = "blob") -> subprocess.Popen:
    """Start ``hubgen publish ARGS`` in a child that sleeps after each upload of *kind* (to be killed)."""
    return subprocess.Popen([PYTHON, "-c", _SLOW_PUBLISH, str(delay), kind, *args], cwd=REPO,
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_when(proc: subprocess.Popen, condition: Callable[[], bool], timeout: float = 30) -> None:
    """SIGKILL *proc* as soon as *condition()* holds; fail if it finished or timed out first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"publish ended before it could be killed (rc {proc.returncode}): {err.decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("publish made no progress")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
