"""Journey: a plain crawl of the catalogue site is a complete mirror (issue 13, "The site serves itself").

A hub with two versions of a model and a weight stored in parts is served on 127.0.0.1; Debian's
``wget -r -np`` copies the site by following its links only; ``hubgen verify`` accepts the copy,
and ``dchub pull`` fetches every model from it, served as the only mirror.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dchub_client.format import hubfiles
from hubgen.serve import make_server
from tests.hubgen.site.support import build_site_hub

WGET = shutil.which("wget")


def _serve(root: Path):
    server = make_server(root, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _cli(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name(name)), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def test_wget_crawl_of_the_site_is_a_mirror_hubgen_verify_accepts(tmp_path):
    assert WGET, "wget is missing: scripts/setup.sh installs Debian's wget"
    hub = build_site_hub(tmp_path, part_size=64 << 10)  # big-net's weight is stored in parts
    index = json.loads((hub / "index.json").read_text())
    manifests = {ref.manifest for m in hubfiles.parse_index(index).models.values() for ref in m.versions.values()}
    assert any(f.get("parts") for path in manifests for f in json.loads((hub / path).read_text())["files"])
    server = _serve(hub)
    crawl = tmp_path / "crawl"
    try:
        result = subprocess.run([WGET, "-r", "-np", "-nH", "-l", "inf", "-q", "-e", "robots=off", "-P", str(crawl),
                                 server.url], capture_output=True, text=True, timeout=600)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    wanted = {"index.json"} | manifests
    wanted |= {p.relative_to(hub).as_posix() for p in (hub / "blobs").rglob("*") if p.is_file()}
    got = {p.relative_to(crawl).as_posix() for p in crawl.rglob("*") if p.is_file()}
    assert wanted <= got, sorted(wanted - got)[:5]
    verify = _cli("hubgen", "verify", str(crawl), env={})
    assert verify.returncode == 0, verify.stdout + verify.stderr
    mirror = _serve(crawl)  # the crawl, served as the only mirror
    try:
        env = {"DEEPCHEM_MODEL_HUB": mirror.url, "DEEPCHEM_HUB_CACHE": str(tmp_path / "cache")}
        for name, model in index["models"].items():
            for version in model["versions"]:
                pulled = _cli("dchub", "pull", f"{name}@{version}", "-q", env=env)
                assert pulled.returncode == 0, pulled.stderr
    finally:
        mirror.shutdown()
        mirror.server_close()
    assert len(list((tmp_path / "cache").rglob("params.json"))) == sum(len(m["versions"]) for m in index["models"].values())


def test_a_crawl_missing_a_blob_is_refused(tmp_path):
    """The check above can fail: without one blob the copy is not a mirror."""
    hub = build_site_hub(tmp_path)
    crawl = tmp_path / "copy"
    shutil.copytree(hub, crawl)
    victim = next(p for p in (crawl / "blobs").rglob("*") if p.is_file())
    victim.unlink()
    verify = _cli("hubgen", "verify", str(crawl), env={})
    assert verify.returncode != 0 and victim.name in verify.stdout + verify.stderr


@pytest.fixture(autouse=True)
def _quiet_tensorflow(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
