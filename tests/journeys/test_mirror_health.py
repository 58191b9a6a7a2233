"""Journeys: a hung or hostile mirror listed first costs a user seconds, once, and says so in one line.

``dchub`` runs in subprocesses against real loopback servers: a TCP server that accepts connections
and never answers, a server that drips header bytes, one that sends ``100 Continue`` forever. Each is
listed before a good mirror. The times are correctness bounds (a bad first mirror must not cost more
than a few connect timeouts over the same command with the good mirror alone), not benchmarks.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dchub_client.hub import http
from tests._support.folders import make_folder, validate_folder
from tests._support.hubs import build_hub
from tests._support.servers import HubServer
from tests.journeys._cli import ok, run, run_on_terminal

CONNECT = 1.5
TIMEOUT = 3.0


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub whose model ``many`` has 100 files (98 weights, params.json, README.md), and a small ``other``."""
    tmp = tmp_path_factory.mktemp("journey-health")
    many = make_folder(tmp / "many", seed=1, n_weights=98, size=200)
    assert len(list(many.iterdir())) == 100
    return build_hub(tmp, {("many", "1.0"): many, ("other", "1.0"): make_folder(tmp / "other", seed=2)})


def _environment(cache: Path, mirrors: list[str]) -> dict[str, str | None]:
    return {"DEEPCHEM_MODEL_HUB": " ".join(mirrors), "DEEPCHEM_HUB_CACHE": str(cache),
            "DEEPCHEM_HUB_CONNECT_TIMEOUT": str(CONNECT), "DEEPCHEM_HUB_TIMEOUT": str(TIMEOUT)}


def _dchub(cache: Path, mirrors: list[str], *args: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = run(*args, env=_environment(cache, mirrors), timeout=120)
    return done, time.monotonic() - start


def _skip_lines(stderr: str, url: str) -> list[str]:
    return [line for line in stderr.splitlines() if "skipping mirror" in line and url in line]


@pytest.fixture(scope="module")
def good(hub: Path):
    """The good mirror, for the whole module."""
    server = HubServer(hub)
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def base(good: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    """How long ``ls`` and ``pull many`` take with the good mirror alone (CLI start-up included)."""
    cache = tmp_path_factory.mktemp("base-cache")
    ls, t_ls = _dchub(cache, [good], "ls")
    pull, t_pull = _dchub(cache, [good], "pull", "-q", "many")
    assert ls.returncode == 0 and pull.returncode == 0, ls.stderr + pull.stderr
    return {"ls": t_ls, "pull": t_pull}


def test_a_mirror_that_accepts_and_never_answers(good, base, silent, tmp_path):
    ls, t_ls = _dchub(tmp_path / "c1", [silent.url, good], "ls")
    assert ls.returncode == 0 and "many" in ls.stdout, ls.stderr
    assert t_ls - base["ls"] < 3 * CONNECT, (t_ls, base)
    assert len(_skip_lines(ls.stderr, silent.url)) == 1, ls.stderr
    assert silent.connections == 1  # the index request; the manifests skipped it
    pull, t_pull = _dchub(tmp_path / "c1", [silent.url, good], "pull", "-q", "many")  # a later process
    assert pull.returncode == 0, pull.stderr
    assert t_pull - base["pull"] < CONNECT, (t_pull, base)  # skipped from the health record: no wait at all
    assert len(_skip_lines(pull.stderr, silent.url)) == 1, pull.stderr
    assert silent.connections == 1
    validate_folder(Path(pull.stdout.strip()))
    fresh, t_fresh = _dchub(tmp_path / "c2", [silent.url, good], "pull", "-q", "many")  # a cache with no record
    assert fresh.returncode == 0 and t_fresh - base["pull"] < 3 * CONNECT, (fresh.stderr, t_fresh, base)


def test_the_skip_line_prints_above_the_progress_bar_not_into_it(good, silent, tmp_path):
    """The mirror fails while the files download (index and manifest are cached): the bar is on screen."""
    for args in (["ls"], ["info", "many"]):
        done, _ = _dchub(tmp_path / "c", [good], *args)
        assert done.returncode == 0, done.stderr
    pull = run_on_terminal("pull", "many", env=_environment(tmp_path / "c", [silent.url, good]))  # with its bar
    assert pull.returncode == 0, pull.stderr
    assert "100%" in pull.stderr  # the bar was drawn
    shown = [line.rsplit("\r", 1)[-1] for line in pull.stderr.split("\n")]  # what the terminal shows of each line
    lines = [line for line in shown if "skipping mirror" in line]
    assert len(lines) == 1 and lines[0].startswith("dchub: warning: skipping mirror"), pull.stderr


@pytest.mark.parametrize("fault", ["drip-headers", "continue-forever"])
def test_a_mirror_that_never_finishes_its_headers(hub, good, base, serve, tmp_path, fault):
    bad = serve(hub, {"": fault})
    pull, t_pull = _dchub(tmp_path / "c", [bad.url, good], "pull", "-q", "many")
    assert pull.returncode == 0, pull.stderr
    assert t_pull - base["pull"] < TIMEOUT + 2 * CONNECT, (t_pull, base)
    skips = _skip_lines(pull.stderr, bad.url)
    assert len(skips) == 1 and f"the headers did not arrive within {TIMEOUT:g} s" in skips[0], pull.stderr
    assert bad.hits["index.json"] == 1 and bad.blob_hits() == 0
    validate_folder(Path(pull.stdout.strip()))
    again, t_again = _dchub(tmp_path / "c", [bad.url, good], "ls")  # a later process: skipped from the record
    assert again.returncode == 0 and t_again - base["ls"] < CONNECT, (again.stderr, t_again, base)
    assert sum(bad.hits.values()) == 1


def teardown_module() -> None:
    http.close_connections()


def test_a_hub_that_cannot_be_refreshed_is_one_warning_line(toy_hub, serve, tmp_path):
    """The cached index is used when no mirror answers: said once, as dchub says things (it was said
    twice, the second time as Python's 'FILE:LINE: RuntimeWarning' with a source line)."""
    server = serve(toy_hub)
    env = {"DEEPCHEM_MODEL_HUB": server.url, "DEEPCHEM_HUB_CACHE": str(tmp_path / "cache")}
    ok("pull", "-q", "esol-gc", env=env)
    server.close()
    done = run("path", "esol-gc", env={**env, "DEEPCHEM_HUB_INDEX_TTL": "0"})
    assert done.returncode == 0
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dchub: warning: could not refresh the index of hub "), done.stderr
    assert f" ({server.url}: connection error (" in lines[0] and lines[0].endswith("min ago"), done.stderr
    # A script that configured no logging: Python's one warning, its message on one line (it was two,
    # the mirror's failure on a line of its own inside the parentheses), then the script's line.
    script = subprocess.run([sys.executable, "-c", "import dchub_client\ndchub_client.download('esol-gc')"],
                            env={**os.environ, **env, "DEEPCHEM_HUB_INDEX_TTL": "0"}, capture_output=True,
                            text=True, timeout=120)
    assert script.returncode == 0, script.stderr
    first, *rest = script.stderr.splitlines()
    assert "CachedIndexWarning: could not refresh the index of hub " in first and first.endswith("min ago"), first
    assert f" ({server.url}: connection error (" in first and len(rest) <= 1, script.stderr


_LIBRARY_USER = """
import sys
import dchub_client
print(dchub_client.download(sys.argv[1]))
"""


def test_a_library_user_who_configured_no_logging_sees_the_skip_line(good, silent, tmp_path):
    """A script (a notebook) that never configured logging: dchub's warnings reach its stderr, as Python
    shows any library's, and nothing below WARNING does; a script that configures logging decides."""
    env = {**os.environ, **_environment(tmp_path / "c", [silent.url, good])}
    script = subprocess.run([sys.executable, "-c", _LIBRARY_USER, "many"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert script.returncode == 0, script.stderr
    validate_folder(Path(script.stdout.strip()))
    assert len(_skip_lines(script.stderr, silent.url)) == 1, script.stderr
    assert script.stderr.strip().count("\n") == 0, f"one line, nothing below WARNING: {script.stderr}"
    quieted = subprocess.run([sys.executable, "-c", "import logging; logging.basicConfig(level=logging.ERROR)\n"
                              + _LIBRARY_USER, "other"], env={**env, "DEEPCHEM_HUB_CACHE": str(tmp_path / "c2")},
                             capture_output=True, text=True, timeout=120)
    assert quieted.returncode == 0 and quieted.stderr == "", quieted.stderr
