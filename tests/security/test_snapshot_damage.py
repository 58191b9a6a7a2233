"""A hostile manifest can never damage what the cache holds for other models (issue 15, items 1 and 2).

Snapshots are folders of hard links into the blob store, so a write into a snapshot that went
through a link would change a blob another model (maybe from another hub) uses. The journeys run
``dchub`` in subprocesses, as the current user (root in CI, where the read-only blob mode stops
nothing) and as ``nobody`` (where it stops the write but must not end in a raw ``PermissionError``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dchub_client.errors import CacheError, HubFormatError
from dchub_client.format import layout
from dchub_client.format.hashing import sha256_file
from dchub_client.hub.cache import MARKER, Cache
from dchub_client.hub.resolve import resolve_pretrained
from tests._support.folders import make_folder, validate_folder
from tests._support.hubs import build_hub, rewrite_manifest

DCHUB = str(Path(sys.executable).with_name("dchub"))
ROOT = Path(__file__).resolve().parents[2]


def _file(manifest: dict, path: str) -> dict:
    return next(f for f in manifest["files"] if f["path"] == path)


@pytest.fixture
def two_hubs(tmp_path, serve) -> dict:
    """``lab`` serves ``victim``; ``evil`` serves ``m``, whose manifest is edited by each test."""
    lab = build_hub(tmp_path, {("victim", "1.0"): make_folder(tmp_path / "src" / "victim", seed=1)}, out="lab")
    evil = build_hub(tmp_path, {("m", "1"): make_folder(tmp_path / "src" / "m", seed=2)}, out="evil")
    victim = (lab / "models/victim/1.0/manifest.json").read_text()
    params = _file(json.loads(victim), layout.PARAMS_FILE)
    return {"lab": serve(lab).url, "evil": serve(evil).url, "evil_dir": evil, "victim_params": params}


@pytest.fixture
def user_cache(request) -> Iterator[tuple[str | None, Path]]:
    """``(user, cache folder)``: the cache belongs to the user the ``dchub`` subprocesses run as."""
    user = request.param
    if user is not None and os.geteuid() != 0:
        pytest.skip("switching to another user needs root (CI runs as root)")
    base = Path(tempfile.mkdtemp(prefix="dchub-user-cache-"))
    os.chmod(base, 0o755)
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    yield user, base
    shutil.rmtree(base, ignore_errors=True)


def _dchub(user: str | None, cache: Path, hub: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPCHEM_", "DCHUB_"))}
    env.update(DEEPCHEM_HUB_CACHE=str(cache / "cache"), HOME=str(cache / "home"), DEEPCHEM_MODEL_HUB=hub,
               DEEPCHEM_HUB_TIMEOUT="10", XDG_CACHE_HOME=str(cache / "xdg"), XDG_CONFIG_HOME=str(cache / "xdg"))
    command = [DCHUB, *args]
    if user is not None:
        import pwd

        gid = pwd.getpwnam(user).pw_gid
        command = ["setpriv", f"--reuid={user}", f"--regid={gid}", "--clear-groups", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=cache)


def _blob(cache: Path, sha: str) -> Path:
    return cache / "cache" / "blobs" / "sha256" / sha


# --- item 1: a hostile manifest naming the snapshot marker -------------------------------------------


@pytest.mark.parametrize("user_cache", [None, "nobody"], indirect=True, ids=["current-user", "nobody"])
def test_a_manifest_naming_the_marker_cannot_write_through_into_another_models_blob(two_hubs, user_cache):
    user, cache = user_cache
    victim = two_hubs["victim_params"]
    first = _dchub(user, cache, two_hubs["lab"], "pull", "victim")
    assert first.returncode == 0, first.stderr
    blob = _blob(cache, victim["sha256"])
    before = blob.read_bytes()

    def add_marker(manifest: dict) -> None:
        manifest["files"].append({"path": MARKER, "sha256": victim["sha256"], "size": victim["size"]})

    rewrite_manifest(two_hubs["evil_dir"], "m", "1", add_marker)
    hostile = _dchub(user, cache, two_hubs["evil"], "pull", "m")
    assert hostile.returncode == 1, hostile.stdout + hostile.stderr
    assert "Traceback" not in hostile.stderr
    assert "models/m/1/manifest.json" in hostile.stderr and f"{MARKER!r} is reserved" in hostile.stderr
    assert blob.read_bytes() == before and sha256_file(blob) == victim["sha256"]
    assert not list((cache / "cache" / "snapshots").glob("*/m/*"))
    verify = _dchub(user, cache, two_hubs["lab"], "cache", "verify")
    assert verify.returncode == 0 and "corrupt" not in verify.stdout.lower().replace("0 corrupt", ""), verify.stdout
    again = _dchub(user, cache, two_hubs["lab"], "path", "victim")
    assert again.returncode == 0, again.stderr
    validate_folder(Path(again.stdout.strip()))


@pytest.mark.parametrize("variant", [MARKER, ".DCHUB-MANIFEST", f"sub/{MARKER}"])
def test_the_client_refuses_reserved_names_in_a_manifest(two_hubs, monkeypatch, isolated_environment, variant):
    victim = two_hubs["victim_params"]
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", two_hubs["lab"])
    resolve_pretrained("victim")
    rewrite_manifest(two_hubs["evil_dir"], "m", "1", lambda m: m["files"].append(
        {"path": variant, "sha256": victim["sha256"], "size": victim["size"]}))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", two_hubs["evil"])
    with pytest.raises(HubFormatError, match=r"models/m/1/manifest\.json.*is reserved"):
        resolve_pretrained("m")
    assert sha256_file(Cache().blob(victim["sha256"])) == victim["sha256"]


def test_build_snapshot_itself_refuses_the_marker_and_never_writes_through_a_link(tmp_path):
    cache = Cache(tmp_path / "cache")
    sha = "ab" * 32
    with cache.blob_writer(sha) as handle:
        handle.write(b"somebody else's bytes")
    with pytest.raises(CacheError, match="reserved"):
        cache.build_snapshot("m", "1", "cd" * 32, [(MARKER, sha)], hub="test-hub")
    with pytest.raises(CacheError, match="reserved"):
        cache.build_snapshot("m", "1", "cd" * 32, [("a/.Dchub-Manifest", sha)], hub="test-hub")
    assert cache.blob(sha).read_bytes() == b"somebody else's bytes"
    assert not [p for p in (tmp_path / "cache" / "snapshots").rglob("*") if p.is_file()]


def test_the_marker_is_never_written_through_an_existing_file(tmp_path):
    from dchub_client.hub.cache import _write_new_file

    target = tmp_path / "blob"
    target.write_bytes(b"keep")
    os.link(target, tmp_path / "link")
    with pytest.raises(FileExistsError):
        _write_new_file(tmp_path / "link", b"x")
    os.symlink(target, tmp_path / "symlink")
    with pytest.raises(FileExistsError):
        _write_new_file(tmp_path / "symlink", b"x")
    assert target.read_bytes() == b"keep"


def test_a_copy_fallback_never_opens_an_existing_file(tmp_path, monkeypatch):
    """Where links fail (a case-insensitive or link-less file system), copies are made into new files only."""
    from dchub_client.hub import cache as cache_module

    blob, dest = tmp_path / "blob", tmp_path / "dest"
    blob.write_bytes(b"blob bytes")
    dest.write_bytes(b"another blob")
    monkeypatch.setattr(cache_module.os, "link", _refuse)
    monkeypatch.setattr(cache_module.os, "symlink", _refuse)
    with pytest.raises(FileExistsError):
        cache_module._link_or_copy(str(blob), str(dest))
    assert dest.read_bytes() == b"another blob"
    fresh = tmp_path / "fresh"
    cache_module._link_or_copy(str(blob), str(fresh))
    assert fresh.read_bytes() == b"blob bytes"


def _refuse(*args: object, **kwargs: object) -> None:
    raise PermissionError("no links here")


# --- item 2: a file and a folder of the same name ------------------------------------------------


def _clash(order: str):
    def edit(manifest: dict) -> None:
        card = _file(manifest, layout.CARD_FILE)
        inner = {"path": f"{layout.CARD_FILE}/x", "sha256": card["sha256"], "size": card["size"]}
        if order == "folder-first":
            manifest["files"].insert(0, inner)
        else:
            manifest["files"].append(inner)
    return edit


@pytest.mark.parametrize("order", ["file-first", "folder-first"])
def test_a_file_and_a_folder_of_the_same_name_is_a_clear_error_from_the_cli(two_hubs, order, tmp_path):
    rewrite_manifest(two_hubs["evil_dir"], "m", "1", _clash(order))
    cache = tmp_path / "cli"
    cache.mkdir()
    result = _dchub(None, cache, two_hubs["evil"], "pull", "m")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "FileExistsError" not in result.stderr
    assert "models/m/1/manifest.json" in result.stderr
    assert "'README.md' is both a file and a folder" in result.stderr
    assert not list((cache / "cache").glob("snapshots/*/m/*"))


@pytest.mark.parametrize("order", ["file-first", "folder-first"])
def test_a_file_and_a_folder_of_the_same_name_is_a_hub_format_error_from_load_pipeline(
        two_hubs, order, monkeypatch, isolated_environment):
    from dchub_client import load_pipeline

    rewrite_manifest(two_hubs["evil_dir"], "m", "1", _clash(order))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", two_hubs["evil"])
    with pytest.raises(HubFormatError, match=r"models/m/1/manifest\.json.*'README\.md' is both a file and a folder"):
        load_pipeline("m")
    assert not list(isolated_environment.glob("snapshots/*/m/*"))


def test_build_snapshot_turns_a_file_folder_clash_into_a_cache_error(tmp_path):
    cache = Cache(tmp_path / "cache")
    sha = "ab" * 32
    with cache.blob_writer(sha) as handle:
        handle.write(b"x")
    for files in ([("a", sha), ("a/b", sha)], [("a/b", sha), ("a", sha)]):
        with pytest.raises(CacheError, match="both a file and a folder"):
            cache.build_snapshot("m", "1", "cd" * 32, files, hub="test-hub")
    assert not list((tmp_path / "cache" / "snapshots").glob("*/m/*"))
