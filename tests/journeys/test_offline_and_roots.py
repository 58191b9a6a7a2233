"""Journeys (issue 13 items 1, 5, 6): offline by identity, the plain layout over HTTP, hub URLs as users paste them.

Every step runs ``dchub``/``hubgen`` in a new process against real loopback HTTP servers.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests._support.folders import make_folder
from tests._support.hubs import build_hub
from tests.journeys._cli import BIN, ok, run


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    a = make_folder(tmp_path / "src" / "a", seed=1, n_weights=3, size=2000)
    b = make_folder(tmp_path / "src" / "b", seed=2, n_weights=3, size=2000)
    return build_hub(tmp_path, {("nci-tpsa-mtr", "1.0.0"): a, ("nci-tpsa-mtr", "1.1.0"): b, ("esol", "0.1"): a})


def test_a_model_pulled_once_loads_offline_whatever_deepchem_model_hub_says(hub, serve):
    server = serve(hub)
    port = server.url.rsplit(":", 1)[1].strip("/")
    pulled = ok("pull", "-q", "nci-tpsa-mtr@1.0.0", env={"DEEPCHEM_MODEL_HUB": server.url}).strip()
    latest = ok("pull", "-q", "nci-tpsa-mtr", env={"DEEPCHEM_MODEL_HUB": server.url}).strip()
    assert pulled.endswith("/test-hub/nci-tpsa-mtr/1.0.0") and latest.endswith("/test-hub/nci-tpsa-mtr/1.1.0")
    server.close()
    spellings = [None, f"http://127.0.0.1:{port}", f"http://localhost:{port}/", f"HTTP://LOCALHOST:{port}/index.html",
                 str(hub), f"file://{hub}/index.json", "http://127.0.0.1:9/elsewhere/"]
    for spelling in spellings:
        env = {"DEEPCHEM_HUB_OFFLINE": "1", "DEEPCHEM_MODEL_HUB": spelling}
        assert ok("path", "nci-tpsa-mtr@1.0.0", env=env).strip() == pulled, spelling
        assert ok("path", "nci-tpsa-mtr", env=env).strip() == latest, spelling
    done = run("-v", "path", "nci-tpsa-mtr", env={"DEEPCHEM_HUB_OFFLINE": "1", "DEEPCHEM_MODEL_HUB": None})
    assert "the copy cached from hub 'test-hub'" in done.stderr  # the log says where it came from
    missing = run("path", "esol", env={"DEEPCHEM_HUB_OFFLINE": "1", "DEEPCHEM_MODEL_HUB": None})
    assert missing.returncode == 1 and "esol is not in the cache" in missing.stderr
    assert "run `dchub pull esol` once while online" in missing.stderr  # true: it was never pulled


def test_a_dead_address_never_seen_says_how_to_load_what_the_cache_holds(hub, serve):
    """Filled from http://localhost:PORT/, asked through http://127.0.0.1:PORT/ once the server is gone: dchub
    cannot tell which hub that address serves, so it does not guess; it says what to do instead."""
    server = serve(hub)
    port = server.url.rsplit(":", 1)[1].strip("/")
    pulled = ok("pull", "-q", "esol", env={"DEEPCHEM_MODEL_HUB": f"http://localhost:{port}/"}).strip()
    server.close()
    done = run("pull", "-q", "esol", env={"DEEPCHEM_MODEL_HUB": f"http://127.0.0.1:{port}/"})
    assert done.returncode == 1 and "Connection refused" in done.stderr, done.stderr
    assert ("dchub: hint: the cache holds 1 hub (test-hub) fetched from other addresses; until this one answers, "
            "dchub cannot tell which hub it serves: use the address they were fetched from, or "
            "DEEPCHEM_HUB_OFFLINE=1 to load from the cache") in done.stderr, done.stderr
    for env in ({"DEEPCHEM_MODEL_HUB": f"http://localhost:{port}"},  # what the hint says works, both ways
                {"DEEPCHEM_MODEL_HUB": f"http://127.0.0.1:{port}/", "DEEPCHEM_HUB_OFFLINE": "1"}):
        assert ok("pull", "-q", "esol", env=env).strip() == pulled, env


def test_offline_default_colon_name_through_new_mirrors_names_the_hub_the_model_came_from(hub, serve):
    """``default:NAME`` offline while DEEPCHEM_MODEL_HUB names mirrors never used here: dchub cannot tell which
    hub they serve, so ``default`` is unknown; the bare name loads, and the error for ``default:`` says how."""
    server = serve(hub)
    pulled = ok("pull", "-q", "esol", env={"DEEPCHEM_MODEL_HUB": server.url}).strip()
    server.close()
    offline = {"DEEPCHEM_HUB_OFFLINE": "1", "DEEPCHEM_MODEL_HUB": "http://127.0.0.1:9/new-mirror/"}
    done = run("pull", "-q", "default:esol", env=offline)
    assert done.returncode == 1 and "is not in the cache" in done.stderr, done.stderr
    assert "esol is in the cache from 1 hub (test-hub): load it as test-hub:esol" in done.stderr, done.stderr
    assert ok("pull", "-q", "test-hub:esol", env=offline).strip() == pulled  # what the note says works
    assert ok("pull", "-q", "esol", env=offline).strip() == pulled


def test_offline_ls_and_info_show_what_the_cache_holds_whatever_deepchem_model_hub_says(hub, serve):
    """Offline, ``ls`` and ``info`` read what ``path`` and ``from_pretrained`` load: a hub cached here, when
    the searched hub was never fetched (``DEEPCHEM_MODEL_HUB`` unset, or naming somewhere else)."""
    server = serve(hub)
    ok("pull", "-q", "nci-tpsa-mtr", env={"DEEPCHEM_MODEL_HUB": server.url})
    server.close()
    for spelling in (None, "/nonexistent/hub"):
        env = {"DEEPCHEM_HUB_OFFLINE": "1", "DEEPCHEM_MODEL_HUB": spelling}
        listed = run("ls", env=env)
        assert listed.returncode == 0 and "nci-tpsa-mtr  1.1.0" in listed.stdout, listed.stderr
        assert "offline: this cache never fetched the default hub, from " in listed.stderr, listed.stderr
        assert "; listing what it holds instead: hub 'test-hub'" in listed.stderr, listed.stderr
        info = run("info", "nci-tpsa-mtr", env=env)
        assert info.returncode == 0 and info.stdout.startswith("nci-tpsa-mtr@1.1.0"), info.stderr
    never = run("path", "esol", env={"DEEPCHEM_HUB_OFFLINE": "1", "DEEPCHEM_MODEL_HUB": None})
    assert "the default hub, from the built-in default (DEEPCHEM_MODEL_HUB is unset)" in never.stderr


def test_offline_a_bare_name_gives_the_newest_cached_version(hub, serve):
    server = serve(hub)
    pulled = ok("pull", "-q", "nci-tpsa-mtr@1.0.0", env={"DEEPCHEM_MODEL_HUB": server.url}).strip()
    done = run("path", "nci-tpsa-mtr", env={"DEEPCHEM_HUB_OFFLINE": "1", "DEEPCHEM_MODEL_HUB": server.url})
    assert done.returncode == 0 and done.stdout.strip() == pulled
    assert "the latest version of nci-tpsa-mtr in hub 'test-hub' (1.1.0) is not in the cache" in done.stderr


def test_a_local_folder_hub_needs_no_cache_offline(hub, serve, tmp_path):
    usb = tmp_path / "usb"
    ok("mirror", "-q", "nci-tpsa-mtr", "--to", str(usb), env={"DEEPCHEM_MODEL_HUB": serve(hub).url})
    env = {"DEEPCHEM_HUB_OFFLINE": "1", "DEEPCHEM_MODEL_HUB": str(usb), "DEEPCHEM_HUB_CACHE": str(tmp_path / "empty")}
    assert "nci-tpsa-mtr  1.1.0" in ok("ls", env=env)
    path = Path(ok("pull", "-q", "nci-tpsa-mtr", env=env).strip())
    assert path.is_dir() and (path / "params.json").is_file()


def test_several_cached_hubs_with_the_name_are_listed_with_how_to_choose(hub, tmp_path, serve):
    other = build_hub(tmp_path, {("nci-tpsa-mtr", "7.0"): make_folder(tmp_path / "src" / "c", seed=3)},
                      out="other", hub_name="other-hub")
    ok("pull", "-q", "nci-tpsa-mtr", env={"DEEPCHEM_MODEL_HUB": serve(hub).url})
    ok("pull", "-q", "nci-tpsa-mtr", env={"DEEPCHEM_MODEL_HUB": serve(other).url})
    offline = {"DEEPCHEM_HUB_OFFLINE": "1", "DEEPCHEM_MODEL_HUB": None}
    done = run("path", "nci-tpsa-mtr", env=offline)
    assert done.returncode == 1
    assert "hub 'other-hub' (7.0): load it as other-hub:nci-tpsa-mtr" in done.stderr
    assert "hub 'test-hub' (1.1.0): load it as test-hub:nci-tpsa-mtr" in done.stderr
    assert ok("path", "other-hub:nci-tpsa-mtr", env=offline).strip().endswith("/other-hub/nci-tpsa-mtr/7.0")


def test_the_plain_layout_over_http_including_a_corrupt_weight(tmp_path, serve):
    root = tmp_path / "modelhub"
    make_folder(root / "esol", seed=1, n_weights=3, size=3000)
    good = serve(root)
    folder = Path(ok("pull", "-q", "esol", env={"DEEPCHEM_MODEL_HUB": good.url}).strip())
    fetched = {p.name for p in folder.iterdir()} - {".dchub-manifest"}  # the snapshot marker
    assert fetched == {p.name for p in (root / "esol").iterdir()} - {"README.md"}  # params.json and the weights
    listing = ok("cache", "ls")
    assert "(plain layout)  esol" in listing
    weight = sorted(p.name for p in (root / "esol").glob("*.npy"))[0]
    bad = serve(root, {f"esol/{weight}": "corrupt"})
    env = {"DEEPCHEM_MODEL_HUB": bad.url, "DEEPCHEM_HUB_CACHE": str(tmp_path / "fresh-cache")}
    done = run("pull", "-q", "esol", env=env)
    assert done.returncode == 1 and f"esol/{weight}" in done.stderr and "sha256 mismatch" in done.stderr
    assert "esol" not in ok("cache", "ls", env=env)


@pytest.mark.parametrize("suffix", ["index.html", "index.json"])
def test_a_root_url_ending_in_a_file_is_the_hub(hub, serve, suffix):
    env = {"DEEPCHEM_MODEL_HUB": serve(hub).url + suffix}
    assert "Test hub (2 models)" in ok("ls", env=env)
    assert ok("pull", "-q", "esol", env=env).strip().endswith("/test-hub/esol/0.1")


def test_hubgen_serve_prints_the_value_to_put_in_deepchem_model_hub(hub):
    proc = subprocess.Popen([str(BIN / "hubgen"), "serve", str(hub), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=dict(os.environ))
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        match = re.search(r"export DEEPCHEM_MODEL_HUB=(\S+)", "".join(lines))
        assert match, lines
        assert "Test hub (2 models)" in ok("ls", env={"DEEPCHEM_MODEL_HUB": match.group(1)})
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_a_folder_above_a_hub_is_an_error_saying_what_was_expected(hub, tmp_path, serve):
    done = run("ls", env={"DEEPCHEM_MODEL_HUB": str(tmp_path)})
    assert done.returncode == 1 and f"use DEEPCHEM_MODEL_HUB={hub}" in done.stderr
    above = serve(tmp_path)  # the same over HTTP: no listing to look into, so say what a hub root holds
    done = run("ls", env={"DEEPCHEM_MODEL_HUB": above.url})
    assert done.returncode == 1 and "no index.json at" in done.stderr and "hubgen build --out" in done.stderr
    done = run("pull", "esol", env={"DEEPCHEM_MODEL_HUB": above.url})
    assert done.returncode == 1 and "Expected at a hub root: index.json" in done.stderr
