"""Self-hosting: what ``hubgen build``, ``hubgen publish --to dir:``, ``dchub mirror`` and ``hubgen keygen``
write is readable by a web server running as another Unix user (``python -m http.server`` as ``nobody``),
and modes follow the user's umask like ``cp``."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dchub_client.format import layout
from tests._support.folders import make_folder
from tests._support.servers import HubServer

SYSTEM_PYTHON = "/usr/bin/python3"  # readable by nobody (our interpreter may live under /root)
BIN = Path(sys.executable).parent


def _run(args: list[str], *, umask: int, cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run a dchub/hubgen command in a subprocess under *umask*."""
    done = subprocess.run(["sh", "-c", f"umask {umask:03o}; exec \"$@\"", "sh", *args], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every user may enter (pytest's own tmp folders are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="dchub-selfhost-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _hub_sources(root: Path) -> Path:
    make_folder(root / "src" / "m1", seed=1, n_weights=3, size=500)
    make_folder(root / "src" / "m2", seed=2, n_weights=2, size=500)
    (root / "src" / "hub_manifest.yaml").write_text(textwrap.dedent("""
        name: self-hosted
        models:
          - {name: alpha, version: "1.0", path: m1, card: {description: one, license: MIT}}
          - {name: beta, version: "2.0", path: m2, card: {description: two, license: MIT}}
        """))
    return root / "src" / "hub_manifest.yaml"


def _produce_everything(root: Path, umask: int) -> dict[str, Path]:
    """Build a hub, publish it to a folder, mirror it with dchub, make a key pair: the user's commands."""
    manifest = _hub_sources(root)
    _run([str(BIN / "hubgen"), "keygen", "--out", str(root / "keys"), "--name", "hub"], umask=umask, cwd=root)
    _run([str(BIN / "hubgen"), "build", str(manifest), "--out", str(root / "hub"),
          "--sign-key", str(root / "keys" / "hub.pem")], umask=umask, cwd=root)
    _run([str(BIN / "hubgen"), "publish", str(root / "hub"), "--to", f"dir:{root / 'www'}"], umask=umask, cwd=root)
    server = HubServer(root / "hub")
    try:
        _run([str(BIN / "dchub"), "mirror", "alpha", "beta", "--to", str(root / "usb")], umask=umask, cwd=root,
             env={"DEEPCHEM_MODEL_HUB": server.url,
                  "DEEPCHEM_HUB_TRUSTED_KEYS": str(root / "keys" / "hub.pub")})
    finally:
        server.close()
    return {"hub": root / "hub", "www": root / "www", "usb": root / "usb"}


def _served_files(hub: Path) -> list[str]:
    listed = [line.split("  ", 1)[1] for line in (hub / "SHA256SUMS").read_text().splitlines()]
    return [*listed, "SHA256SUMS", "index.json"]


def _private_files(folder: Path) -> list[Path]:
    """hubgen's own bookkeeping in a hub folder (its hash cache, site cache, page record)."""
    return sorted(p for p in folder.iterdir() if p.name in layout.PRIVATE_NAMES and p.is_file())


def _modes(folder: Path) -> tuple[set[int], set[int]]:
    files, dirs = set(), set()
    for path in folder.rglob("*"):
        if path.name.startswith(".hubgen"):
            continue  # hubgen's private caches: see _private_files
        (dirs if path.is_dir() else files).add(stat.S_IMODE(path.stat().st_mode))
    return files, dirs


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_everything_written_follows_the_umask_like_cp(shared_tmp: Path, umask: int) -> None:
    made = _produce_everything(shared_tmp, umask)
    for name, folder in made.items():
        private = {path: stat.S_IMODE(path.stat().st_mode) for path in _private_files(folder)}
        files, dirs = _modes(folder)
        assert files <= {0o666 & ~umask, 0o444 & ~umask}, (name, sorted(map(oct, files)))
        assert dirs == {0o777 & ~umask}, (name, sorted(map(oct, dirs)))
        assert set(private.values()) <= {0o600}, (name, private)  # the build's bookkeeping: its owner's only
    assert _private_files(made["hub"]), "the built hub keeps its hash cache, site cache and page record"
    assert stat.S_IMODE((shared_tmp / "keys" / "hub.pem").stat().st_mode) == 0o600  # the secret stays private
    assert stat.S_IMODE((shared_tmp / "keys" / "hub.pub").stat().st_mode) == 0o666 & ~umask


@pytest.mark.skipif(os.geteuid() != 0 or not Path(SYSTEM_PYTHON).exists(),
                    reason="switching to the nobody user needs root (CI runs as root) and a system python")
def test_a_web_server_running_as_nobody_serves_every_file(shared_tmp: Path) -> None:
    made = _produce_everything(shared_tmp, 0o022)
    for name, folder in made.items():
        proc, url = _serve_as_nobody(folder)
        try:
            failures = [(rel, _status(url + rel)) for rel in _served_files(folder)]
            assert [f for f in failures if f[1] != 200] == [], name
            # the build's bookkeeping names the builder's own files (absolute paths): not for the web
            shown = [(p.name, _status(url + p.relative_to(folder).as_posix())) for p in _private_files(folder)]
            assert all(status == 404 for _, status in shown), (name, shown)
            if name != "usb":
                assert _status(url + "index.html") == 200
        finally:
            proc.kill()
            proc.wait()
    read = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat",
                           str(shared_tmp / "keys" / "hub.pub")], capture_output=True, text=True)
    assert read.returncode == 0 and read.stdout.strip()
    secret = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat",
                             str(shared_tmp / "keys" / "hub.pem")], capture_output=True, text=True)
    assert secret.returncode != 0 and "Permission denied" in secret.stderr


def _serve_as_nobody(folder: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", SYSTEM_PYTHON,
                             "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_served(url)
    except AssertionError:
        proc.kill()
        raise
    return proc, url


def _free_port() -> int:
    """A free loopback port (released for the server about to bind it)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_a_pull_from_python_http_server_after_ls_does_not_stall(tmp_path: Path) -> None:
    """``python -m http.server`` (what a self-hoster tries first) queues 5 connections. After ``dchub ls`` the
    manifests are cached, so ``dchub pull`` starts with nothing learnt of the mirror and eight download
    threads: opened all at once, their connections overflowed that queue and the pull waited a second for
    the kernel to retry the dropped ones. It now takes about as long as with four threads."""
    from tests._support.hubs import build_hub
    from tests.journeys._cli import run

    hub = build_hub(tmp_path, {("many", "1.0"): make_folder(tmp_path / "many", seed=4, n_weights=98, size=100)})
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(hub)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_served(url)

        def ls_then_pull(cache: str, workers: str | None) -> float:
            env = {"DEEPCHEM_MODEL_HUB": url, "DEEPCHEM_HUB_CACHE": str(tmp_path / cache),
                   "DEEPCHEM_HUB_WORKERS": workers}
            assert run("ls", env=env).returncode == 0
            start = time.monotonic()
            pulled = run("pull", "-q", "many", env=env)
            assert pulled.returncode == 0, pulled.stderr
            return time.monotonic() - start

        four = min(ls_then_pull(f"c4-{i}", "4") for i in range(2))
        default = min(ls_then_pull(f"cd-{i}", None) for i in range(2))
        assert default < four + 0.7, (default, four)  # a dropped connection costs a full second
    finally:
        proc.kill()
        proc.wait()


def _wait_until_served(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            _status(url)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start")
