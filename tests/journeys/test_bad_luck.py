"""Journeys where bad luck meets the client: a mirror serving wrong bytes, a cache this user cannot write.

Each runs ``dchub`` (and a plain Python script that configured no logging) in a new process against real
loopback servers, and checks what a user reads on stderr and what the cache holds afterwards.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dchub_client.format.hashing import sha256_file
from dchub_client.hub.cache import Cache
from tests._support.folders import make_folder, validate_folder
from tests._support.hubs import build_hub
from tests.journeys._cli import BIN, run

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


# --- a cache this user cannot write ------------------------------------------------------------------


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A folder every user can enter (``tmp_path`` is private to the test's user), removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("running as another user needs root (CI runs as root)")
    base = Path(tempfile.mkdtemp(prefix="dchub-bad-luck-"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _as_nobody(base: Path, cache: Path, hub_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``dchub ARGS`` (or ``python -c SCRIPT`` when the first argument is ``-c``) run as ``nobody``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPCHEM_", "DCHUB_"))}
    environment.update(DEEPCHEM_HUB_CACHE=str(cache), DEEPCHEM_MODEL_HUB=hub_url, HOME=str(base / "home"),
                       XDG_CACHE_HOME=str(base / "home"), XDG_CONFIG_HOME=str(base / "home"), **env)
    command = [sys.executable, *args] if args[0] == "-c" else [str(BIN / "dchub"), *args]
    return subprocess.run(["setpriv", "--reuid=nobody", f"--regid={pwd.getpwnam('nobody').pw_gid}", "--clear-groups",
                           "--", *command], capture_output=True, text=True, timeout=120, env=environment, cwd=base)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_cache_of_another_user_is_named_never_blamed_on_the_mirror(hub, serve, shared):
    url = serve(hub).url
    cache = shared / "cache"  # root's: what `sudo dchub pull` leaves behind, or a lab's shared cache
    done = run("pull", "-q", "m@1.0", env={"DEEPCHEM_MODEL_HUB": url, "DEEPCHEM_HUB_CACHE": str(cache)})
    assert done.returncode == 0, done.stderr
    before = {p: p.read_bytes() for p in _files(cache)}
    # what it holds loads from it, and a refresh of the index that cannot be written is a warning naming the cache
    done = _as_nobody(shared, cache, url, "pull", "m@1.0", DEEPCHEM_HUB_INDEX_TTL="0")
    assert done.returncode == 0 and done.stdout.strip().endswith("/test-hub/m/1.0"), done.stderr
    assert done.stderr.startswith(f"dchub: warning: could not refresh the index of hub 'test-hub' (cannot write to "
                                  f"the cache {cache} (DEEPCHEM_HUB_CACHE): Permission denied: {cache}/"), done.stderr
    assert url not in done.stderr and done.stderr.count("\n") == 1
    # what it does not hold: one line naming the cache, the file, its owner and what to do; the mirror is not blamed
    rebuilt = build_hub(shared, {("m", "2.0"): make_folder(shared / "src", seed=3, card=None)}, out="hub2")
    url = serve(rebuilt).url
    for args in (("pull", "m@2.0"), ("-c", _DOWNLOAD, "m@2.0")):
        done = _as_nobody(shared, shared / "cache", url, *args)
        assert done.returncode == 1 and done.stdout == ""
        message = done.stderr.splitlines()[-1]
        assert re.search(rf"cannot write to the cache {cache} \(DEEPCHEM_HUB_CACHE\): Permission denied: {cache}/\S+ "
                         rf"\({cache}\S* belongs to root\); make it writable by this user, or set DEEPCHEM_HUB_CACHE "
                         "to a folder of your own$", message), done.stderr
        assert "from any mirror" not in done.stderr and f"{url}:" not in done.stderr
    assert done.stderr.count("\n") > 1  # a script shows the traceback, ending in the CacheError
    assert run("pull", "m@1.0", env={"DEEPCHEM_MODEL_HUB": None, "DEEPCHEM_HUB_OFFLINE": "1",
                                     "DEEPCHEM_HUB_CACHE": str(cache)}).returncode == 0
    assert {p: p.read_bytes() for p in _files(cache)} == before


def test_ls_in_a_cache_this_user_cannot_write_says_so_once(serve, shared):
    hub = build_hub(shared, {(name, "1.0"): make_folder(shared / name, seed=i, card=None)
                             for i, name in enumerate(("a", "b", "c"))}, out="hub3")
    url = serve(hub).url
    cache = shared / "cache"  # root's, holding the index and model a's details only
    assert run("pull", "-q", "a", env={"DEEPCHEM_MODEL_HUB": url, "DEEPCHEM_HUB_CACHE": str(cache)}).returncode == 0
    done = _as_nobody(shared, cache, url, "ls")
    assert done.returncode == 0 and "a    " in done.stdout, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line for b and c, not one each
    assert done.stderr.startswith(f"dchub: warning: b, c: cannot write to the cache {cache} "), done.stderr


def test_a_read_only_cache_folder_is_named(hub, serve, shared):
    cache = shared / "cache"
    cache.mkdir()
    os.chown(cache, pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)
    os.chmod(cache, 0o555)
    done = _as_nobody(shared, cache, serve(hub).url, "pull", "m@1.0")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"dchub: error: cannot write to the cache {cache} (DEEPCHEM_HUB_CACHE): Permission denied: "
                           f"{cache}/hubs; make it writable by this user, or set DEEPCHEM_HUB_CACHE to a folder of "
                           "your own\n")
    assert not list(cache.iterdir())


# --- a damaged folder: one error, without the frameworks' start-up lines --------------------------------

_SAVE = """
import sys
import dchub_client
import deepchem as dc
model = dc.models.MultitaskRegressor(1, 64, layer_sizes=[8])
dchub_client.to_pretrained(model, sys.argv[1], featurizer=dc.feat.CircularFingerprint(size=64))
"""
_LOAD = """
import sys
import dchub_client
dchub_client.from_pretrained(sys.argv[1])
"""
_TRACEBACK = ("Traceback (most recent call last):", "  ", "dchub_client.errors.")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DeepChem MultitaskRegressor with its featurizer, saved by ``to_pretrained`` in another process."""
    pytest.importorskip("deepchem")
    folder = tmp_path_factory.mktemp("saved") / "m"
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "DEEPCHEM_HUB_CACHE": str(folder.parent / "cache")}
    done = subprocess.run([sys.executable, "-c", _SAVE, str(folder)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return folder


def test_a_damaged_weight_is_one_error_without_what_the_frameworks_printed_meanwhile(saved, tmp_path):
    """Building the model imports DeepChem, and TensorFlow prints its native start-up lines (absl, oneDNN,
    CUDA); they are captured while the model is built and replayed when the build fails, except when dchub
    refused the folder's own files: then the error says everything, and they would only bury it."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    weight = "multitaskregressor-layers.0-0.npy"
    truncated, edited = shutil.copytree(saved, tmp_path / "truncated"), shutil.copytree(saved, tmp_path / "edited")
    os.truncate(truncated / weight, (truncated / weight).stat().st_size - 100)
    before = (edited / weight).stat()
    with open(edited / weight, "r+b") as handle:  # one byte changed in place, size and mtime kept
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 1]))
    os.utime(edited / weight, ns=(before.st_atime_ns, before.st_mtime_ns))
    done = run("predict", str(truncated), "CCO", env={"TF_USE_LEGACY_KERAS": "1"})
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (f"dchub: error: {truncated / weight}: file truncated: "
                           f"{before.st_size - 100} bytes, expected {before.st_size}\n")
    script = subprocess.run([sys.executable, "-c", _LOAD, str(edited)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert script.returncode == 1
    lines = script.stderr.splitlines()
    assert lines[-1].startswith(f"dchub_client.errors.ChecksumError: {edited / weight}: sha256 mismatch: "), lines[-1]
    assert [line for line in lines if line and not line.startswith(_TRACEBACK)] == [], script.stderr


# --- a download killed halfway -------------------------------------------------------------------------


def _temp_files(cache: Path) -> list[Path]:
    return sorted((cache / "blobs" / "sha256").glob(".*.tmp"))


def _started(process: subprocess.Popen, cache: Path) -> Path:
    """The temp file *process* is downloading into, once some bytes arrived."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        found = [p for p in _temp_files(cache) if p.stat().st_size > 0]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no download under way in {cache}")


def _backdate(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _dchub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "dchub"), *args], env=env, capture_output=True, text=True, timeout=60)


def test_prune_removes_what_a_killed_download_left_and_never_a_download_under_way(tmp_path, serve):
    """A 3 MB weight from a slow mirror (about 2 s; one file at a time, the weight before params.json). A download
    killed with SIGKILL leaves a temp file that `dchub cache prune` removes once a minute old (the time between
    creating a temp file and locking it); one under way, stopped (SIGSTOP: its temp file unchanged for minutes),
    is left alone and completes."""
    weights = {"big-dense.0-0": np.random.default_rng(4).standard_normal(750_000).astype("<f4")}
    hub = build_hub(tmp_path, {("m", "1.0"): make_folder(tmp_path / "src", weights, card=None)})
    env = {**os.environ, "DEEPCHEM_MODEL_HUB": serve(hub, {"blobs/": "slow"}).url, "DEEPCHEM_HUB_WORKERS": "1"}
    for case in ("killed", "stopped"):
        cache = tmp_path / case
        env["DEEPCHEM_HUB_CACHE"] = str(cache)
        pull = subprocess.Popen([str(BIN / "dchub"), "pull", "-q", "m@1.0"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            temp = _started(pull, cache)
            pull.send_signal(signal.SIGKILL if case == "killed" else signal.SIGSTOP)
            pull.wait(60) if case == "killed" else None
            prune = _dchub("cache", "prune", env=env)
            assert prune.stdout == "removed 0 files, freed 0 B\n" and temp.exists(), prune.stdout  # not a minute old
            _backdate(temp, 120)
            prune = _dchub("cache", "prune", env=env)
            if case == "killed":
                assert prune.stdout.startswith("removed 1 file, freed ") and not temp.exists(), prune.stdout
                assert _dchub("pull", "-q", "m@1.0", env=env).returncode == 0
            else:  # its writer holds it
                assert prune.stdout == "removed 0 files, freed 0 B\n" and temp.exists(), prune.stdout
        finally:
            pull.send_signal(signal.SIGCONT)
            out, err = pull.communicate(timeout=60)
        if case == "stopped":
            assert pull.returncode == 0 and out.strip().endswith("/test-hub/m/1.0"), err
        assert _temp_files(cache) == []
        _trusted(cache)
        verify = _dchub("cache", "verify", env=env)
        assert verify.returncode == 0 and verify.stdout == "3 of 3 blobs ok\n", verify.stdout  # manifest, params.json, weight


def test_a_blob_pruned_from_under_a_pull_fails_it_clearly_never_a_snapshot_missing_a_file(tmp_path, serve):
    """`dchub cache prune` run while a pull is under way (docs/client.md says not to) removes the files that pull
    fetched but has not linked into its snapshot yet (an unused blob, for prune). The pull then says so and
    builds no snapshot: it used to link the missing blob by a symlink to nothing and report success."""
    folder = make_folder(tmp_path / "src", seed=5, n_weights=1, size=750_000, card=None)  # params.json comes first
    hub = build_hub(tmp_path, {("m", "1.0"): folder})
    cache = tmp_path / "cache"
    env = {**os.environ, "DEEPCHEM_MODEL_HUB": serve(hub, {"blobs/": "slow"}).url, "DEEPCHEM_HUB_WORKERS": "1",
           "DEEPCHEM_HUB_CACHE": str(cache)}
    pull = subprocess.Popen([str(BIN / "dchub"), "pull", "-q", "m@1.0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _started(pull, cache)
        pull.send_signal(signal.SIGSTOP)
        prune = _dchub("cache", "prune", env=env)
        assert prune.stdout.startswith("removed 1 file, freed "), prune.stdout  # params.json's blob
    finally:
        pull.send_signal(signal.SIGCONT)
        out, err = pull.communicate(timeout=60)
    assert (pull.returncode, out) == (1, ""), err
    assert re.fullmatch(r"dchub: error: cannot build the snapshot of test-hub:m@1\.0 \(manifest \w+…\): the blob of "
                        r"'params\.json' is no longer in the cache \(\S+: removed meanwhile, e\.g\. by `dchub cache "
                        r"prune` in another process\); run the command again\n", err), err
    assert not list(cache.glob("snapshots/*/m/*"))
    again = _dchub("pull", "-q", "m@1.0", env=env)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in Path(again.stdout.strip()).iterdir()) == [".dchub-manifest", "params.json",
                                                                        "toy-dense.0-0.npy"]
    validate_folder(Path(again.stdout.strip()))
    _trusted(cache)


def test_ctrl_c_stops_the_downloads_under_way(tmp_path, serve):
    """Two 8 MB weights from a slow mirror (about 6 s each), two at a time: Ctrl-C stops both at once, leaving
    nothing behind (the download threads used to run to the end of their files before the command exited)."""
    rng = np.random.default_rng(6)
    weights = {f"toy-dense.{i}-0": rng.standard_normal(2_000_000).astype("<f4") for i in range(2)}
    hub = build_hub(tmp_path, {("m", "1.0"): make_folder(tmp_path / "src", weights, card=None)})
    cache = tmp_path / "cache"
    env = {**os.environ, "DEEPCHEM_MODEL_HUB": serve(hub, {"blobs/": "slow"}).url, "DEEPCHEM_HUB_WORKERS": "2",
           "DEEPCHEM_HUB_CACHE": str(cache)}
    pull = subprocess.Popen([str(BIN / "dchub"), "pull", "m@1.0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _started(pull, cache)
        pull.send_signal(signal.SIGINT)
        start = time.monotonic()
        out, err = pull.communicate(timeout=60)
    finally:
        if pull.poll() is None:
            pull.kill()
            pull.communicate()
    assert time.monotonic() - start < 3, f"{time.monotonic() - start:.1f} s after Ctrl-C"
    assert (pull.returncode, out, err) == (130, "", "dchub: interrupted\n")
    assert _temp_files(cache) == [] and not [p for p in Cache(cache).blobs() if p.stat().st_size > 1 << 20]
    _trusted(cache)


# --- a corrupt file in the cache -----------------------------------------------------------------------

_VERIFY_LOAD = """
import sys
import dchub_client
dchub_client.from_pretrained(sys.argv[1], verify=True)
print("LOADED")
"""


def test_a_corrupt_cached_file_found_by_verify_says_how_to_fetch_it_again(saved, tmp_path, serve):
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    env["DEEPCHEM_MODEL_HUB"] = serve(build_hub(tmp_path, {("m", "1.0"): saved})).url
    assert run("pull", "-q", "m@1.0", env=env).returncode == 0
    cache = Path(os.environ["DEEPCHEM_HUB_CACHE"])
    weight = Cache(cache).blob(validate_folder(saved).weights["multitaskregressor-layers.0-0"].sha256)
    os.chmod(weight, 0o644)
    with open(weight, "r+b") as handle:  # one byte flipped: a disk error, or a hand that edited the cache
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 1]))
    load = [sys.executable, "-c", _VERIFY_LOAD, "m@1.0"]
    done = subprocess.run(load, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-2:] == [
        f"dchub_client.errors.ChecksumError: {cache}/snapshots/test-hub/m/1.0/multitaskregressor-layers.0-0.npy: "
        f"sha256 mismatch: expected {weight.name}, got " + done.stderr.splitlines()[-2].rsplit(" got ", 1)[1],
        "this is the hub cache's copy of m@1.0: `dchub pull --verify m@1.0` (or dchub_client.download('m@1.0', "
        "verify=True)) fetches its corrupt files again"], done.stderr
    repair = run("pull", "-q", "--verify", "m@1.0", env=env)
    assert repair.returncode == 0 and "corrupt cached files, fetching them again" in repair.stderr, repair.stderr
    done = subprocess.run(load, capture_output=True, text=True, env=env, timeout=300)
    assert (done.returncode, done.stdout) == (0, "LOADED\n"), done.stderr
