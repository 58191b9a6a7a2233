"""hubgen publish to a git branch: a local bare repository, cloned and served over HTTP on 127.0.0.1."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from dchub_client.format import layout
from hubgen.cli import main
from hubgen.errors import PublishError
from hubgen.publish import publish
from hubgen.verify import verify_hub
from tests.hubgen.publish.support import blob_keys, build, load_weights, serve, use_hub

PYTHON_KILL_BEFORE_REF = """
import os, signal, sys
from hubgen.publish import git
def die(self, commit):
    open(sys.argv[1], "w").write(commit)
    os.kill(os.getpid(), signal.SIGKILL)
git.GitTarget._move_branch = die
from hubgen.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def bare(tmp_path) -> Path:
    repo = tmp_path / "pages.git"
    _git("init", "-q", "--bare", str(repo))
    return repo


def _tip(repo: Path, branch: str = "gh-pages") -> str:
    return _git("--git-dir", str(repo), "rev-parse", f"refs/heads/{branch}")


def _tree(repo: Path, ref: str = "gh-pages") -> set[str]:
    return set(_git("--git-dir", str(repo), "ls-tree", "-r", "--name-only", ref).splitlines())


def test_publish_clone_serve_and_load(bare, tmp_path, monkeypatch):
    hub = build(tmp_path)
    summary = publish(hub, f"git:{bare}")
    files = {p.relative_to(hub).as_posix() for p in hub.rglob("*") if p.is_file()} - layout.PRIVATE_NAMES
    assert _tree(bare) == files and ".nojekyll" in files
    assert summary.plan.files_to_send == len(files)

    clone = tmp_path / "clone"
    _git("clone", "-q", "--branch", "gh-pages", str(bare), str(clone))
    with serve(clone) as url:
        assert verify_hub(url).ok
        use_hub(monkeypatch, url)
        weights = load_weights("esol@1.0.0")
    assert np.array_equal(weights["mtr-layers.0-0"], np.load(tmp_path / "base" / "mtr-layers.0-0.npy"))


def test_incremental_commits_and_no_change(bare, tmp_path):
    hub = build(tmp_path)
    publish(hub, f"git:{bare}")
    first = _tip(bare)
    again = publish(hub, f"git:{bare}")
    assert again.plan.files_to_send == 0 and _tip(bare) == first  # no empty commit

    old_files = _tree(bare)
    build(tmp_path, v2=True)
    publish(hub, f"git:{bare}")
    second = _tip(bare)
    assert _git("--git-dir", str(bare), "rev-parse", f"{second}^") == first
    changed = set(_git("--git-dir", str(bare), "diff-tree", "-r", "--name-only", "--no-commit-id", first,
                       second).splitlines())
    assert blob_keys(hub, "esol", "2.0.0") - old_files <= changed
    assert not any(p.startswith("blobs/") for p in changed - blob_keys(hub, "esol", "2.0.0"))
    assert {"index.json", "SHA256SUMS", "models/esol/2.0.0/manifest.json"} <= changed
    assert old_files <= _tree(bare)  # nothing published is removed


def test_branch_and_commit_are_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    for var, value in {"GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.org",
                       "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.org"}.items():
        monkeypatch.setenv(var, value)
    hub = build(tmp_path)
    tips = []
    for name in ("a.git", "b.git"):
        _git("init", "-q", "--bare", str(tmp_path / name))
        publish(hub, f"git:{tmp_path / name}#pages")
        tips.append(_tip(tmp_path / name, "pages"))
    assert tips[0] == tips[1]
    assert _git("--git-dir", str(tmp_path / "a.git"), "log", "-1", "--format=%at %an", "pages") == "1700000000 ci"


def test_killed_publish_does_not_move_the_branch(bare, tmp_path):
    hub = build(tmp_path)
    publish(hub, f"git:{bare}")
    before = _tip(bare)
    build(tmp_path, v2=True)
    marker = tmp_path / "commit-written"
    proc = subprocess.Popen([__import__("sys").executable, "-c", PYTHON_KILL_BEFORE_REF, str(marker), "publish",
                             str(hub), "--to", f"git:{bare}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.communicate(timeout=60)
    assert proc.returncode < 0 and marker.is_file()  # killed after its commit was complete
    commit = marker.read_text()
    assert _git("--git-dir", str(bare), "cat-file", "-t", commit) == "commit"
    assert _tip(bare) == before
    clone = tmp_path / "clone"
    _git("clone", "-q", "--branch", "gh-pages", str(bare), str(clone))
    assert verify_hub(clone).ok and "esol" in (clone / "index.json").read_text()
    assert "2.0.0" not in (clone / "index.json").read_text()

    publish(hub, f"git:{bare}")  # the next publish completes it
    assert _git("--git-dir", str(bare), "rev-parse", "gh-pages^") == before


def test_remote_url_is_cloned_and_pushed(bare, tmp_path):
    hub = build(tmp_path)
    publish(hub, f"git:file://{bare}#site")
    first = _tip(bare, "site")
    assert "index.json" in _tree(bare, "site")
    build(tmp_path, v2=True)
    summary = publish(hub, f"git:file://{bare}#site")
    assert summary.plan.send["blob"] and _git("--git-dir", str(bare), "rev-parse", "site^") == first


def test_refusals(tmp_path, capsys):
    hub = build(tmp_path)
    with pytest.raises(PublishError, match="is not a git repository.*git init --bare"):
        publish(hub, f"git:{tmp_path / 'base'}")
    work = tmp_path / "work"
    _git("init", "-q", "-b", "gh-pages", str(work))
    with pytest.raises(PublishError, match="gh-pages is checked out in .*publish to a bare repository"):
        publish(hub, f"git:{work}")
    with pytest.raises(PublishError, match="invalid branch name"):
        publish(hub, f"git:{work}#bad..name")
    assert main(["publish", str(hub), "--to", f"git:{work}", "--public-read"]) == 1
    assert "apply to s3:// targets only" in capsys.readouterr().err
