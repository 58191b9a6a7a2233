"""Journeys where bad luck meets the client: a mirror serving wrong bytes, a cache this user cannot write.

Each runs ``dchub`` (and a plain Python script that configured no logging) in a new process against real
loopback servers, and checks what a user reads on stderr and what the cache holds afterwards.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dchub_client.format.hashing import sha256_file
from dchub_client.hub.cache import Cache
from tests._support.folders import make_folder
from tests._support.hubs import build_hub
from tests.journeys._cli import run

_DOWNLOAD = """
import sys
import dchub_client
print(dchub_client.download(sys.argv[1]))
"""


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    """A model with a small weight (received in memory), a 1.2 MB one (streamed) and a 2.4 MB one in two parts."""
    rng = np.random.default_rng(0)
    weights = {f"toy-dense.{i}-0": rng.standard_normal(n).astype("<f4") for i, n in enumerate((64, 300_000, 600_000))}
    return build_hub(tmp_path, {("m", "1.0"): make_folder(tmp_path / "src", weights, card=None)}, part_size=2_000_000)


def _trusted(cache_root: Path) -> None:
    """Every blob is named by its own sha256 and nothing is left half-written."""
    for blob in Cache(cache_root).blobs():
        assert sha256_file(blob) == blob.name, blob
    assert not [p for p in cache_root.rglob("*") if p.name.endswith((".tmp", ".old"))]


def test_a_mirror_serving_wrong_bytes_is_named_while_the_next_one_serves(hub, serve, tmp_path):
    bad, good = serve(hub, {"blobs/": "corrupt", "models/": "corrupt"}), serve(hub)
    env = {"DEEPCHEM_MODEL_HUB": f"{bad.url} {good.url}"}
    done = run("pull", "m@1.0", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("/test-hub/m/1.0")
    lines = done.stderr.splitlines()
    refused = f"refused what {bad.url} served ("
    for what in ("m@1.0 manifest", "m@1.0/params.json: ", "m@1.0/toy-dense.0-0.npy: ", "m@1.0/toy-dense.1-0.npy: ",
                 "m@1.0/toy-dense.2-0.npy (part 1/2): ", "m@1.0/toy-dense.2-0.npy (part 2/2): "):
        assert [line for line in lines if line.startswith(f"dchub: warning: {what}") and refused in line
                and f"used {good.url}" in line], (what, done.stderr)
    assert len(lines) == 6, done.stderr
    _trusted(Path(os.environ["DEEPCHEM_HUB_CACHE"]))
    # a script that configured no logging reads the same lines on stderr
    script = subprocess.run([sys.executable, "-c", _DOWNLOAD, "m@1.0"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env, "DEEPCHEM_HUB_CACHE": str(tmp_path / "cache2")})
    assert script.returncode == 0, script.stderr
    assert script.stderr.count(refused) == 6 and "sha256 mismatch" in script.stderr, script.stderr


def test_a_mirror_serving_wrong_bytes_alone_is_an_error_naming_the_file(hub, serve):
    bad = serve(hub, {"blobs/": "corrupt"})
    done = run("pull", "m@1.0", env={"DEEPCHEM_MODEL_HUB": bad.url})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("dchub: error: could not fetch m@1.0/"), done.stderr
    assert f"{bad.url}: sha256 mismatch (got " in done.stderr and "Traceback" not in done.stderr
    cache = Path(os.environ["DEEPCHEM_HUB_CACHE"])
    _trusted(cache)
    assert not list(cache.glob("snapshots/*/*/*"))
