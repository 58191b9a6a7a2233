"""The ``dchub`` command against a real loopback hub."""
from __future__ import annotations

import os
import time

import pytest

from dchub_client.cache import Cache
from dchub_client.cli import main
from dchub_client.pretrained import read_pretrained
from dchub_client.resolve import resolve_pretrained

from .hubutil import build_hub, make_folder


@pytest.fixture
def hub_url(toy_hub, serve, monkeypatch):
    url = serve(toy_hub).url
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", url)
    return url


def test_ls_and_info(hub_url, capsys):
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    assert "Test hub (2 models)" in out
    assert [line.split()[:3] for line in out.splitlines()[3:]] == [["esol-gc", "1.1.0", "2"], ["esol-mtr", "0.1", "1"]]
    assert main(["info", "esol-gc@1.0.0"]) == 0
    out = capsys.readouterr().out
    assert "esol-gc@1.0.0  (tests.Toy, numpy" in out and "description: toy model esol-gc" in out
    assert "versions: 1.0.0, 1.1.0 (latest)" in out and "toy-dense.2-0.npy" in out and "cached: no" in out


def test_pull_and_path(hub_url, capsys):
    assert main(["path", "esol-gc", "--offline"]) == 1
    assert "offline mode and no cached index" in capsys.readouterr().err
    assert main(["pull", "esol-gc"]) == 0
    captured = capsys.readouterr()
    snapshot = Cache().snapshot("esol-gc", "1.1.0")
    assert captured.out.strip() == str(snapshot)
    assert "esol-gc@1.1.0" in captured.err  # the progress bar
    read_pretrained(snapshot, verify=True)
    assert main(["path", "esol-gc", "--offline"]) == 0
    assert capsys.readouterr().out.strip() == str(snapshot)


def test_errors_are_one_line_and_exit_1(hub_url, capsys, monkeypatch):
    assert main(["info", "esol-g"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dchub: error: no model named 'esol-g'") and "did you mean 'esol-gc'" in err
    assert "Traceback" not in err
    monkeypatch.setenv("DCHUB_DEBUG", "1")
    with pytest.raises(LookupError):
        main(["info", "esol-g"])


def test_cache_ls_verify_prune_rm(hub_url, capsys, client_env):
    main(["pull", "-q", "esol-gc@1.0.0"])
    main(["pull", "-q", "esol-mtr"])
    capsys.readouterr()
    assert main(["cache", "ls"]) == 0
    out = capsys.readouterr().out
    assert "esol-gc   1.0.0" in out and "esol-mtr  0.1" in out
    assert main(["cache", "verify"]) == 0
    assert "of" in capsys.readouterr().out
    stale = client_env / "blobs" / "sha256" / "ab" / ".abandoned.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a download")
    os.utime(stale, (time.time() - 86400, time.time() - 86400))
    n_blobs = len(list(Cache().blobs()))
    assert main(["cache", "rm", "esol-gc"]) == 0
    assert not stale.exists()
    assert 0 < len(list(Cache().blobs())) < n_blobs  # esol-mtr shares esol-gc 1.0.0's files
    read_pretrained(Cache().snapshot("esol-mtr", "0.1"), verify=True)
    assert main(["cache", "rm", "esol-mtr@0.2"]) == 1
    assert "did you mean 'esol-mtr@0.1'" in capsys.readouterr().err
    blob = next(Cache().blobs())
    os.chmod(blob, 0o600)
    blob.write_bytes(b"corrupt")
    assert main(["cache", "verify"]) == 1
    assert "snapshot removed: esol-mtr@0.1" in capsys.readouterr().out


def test_mirror_makes_a_valid_hub(hub_url, tmp_path, capsys, monkeypatch):
    from hubgen.verify import verify_hub

    dest = tmp_path / "airgap"
    assert main(["mirror", "-q", "esol-gc@1.0.0", "--to", str(dest)]) == 0
    assert main(["mirror", "-q", "esol-mtr", "--to", str(dest)]) == 0
    report = verify_hub(dest)
    assert report.ok, report
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(dest))
    monkeypatch.setenv("DEEPCHEM_HUB_CACHE", str(tmp_path / "other-cache"))
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    assert "esol-gc   1.0.0   1 " in out and "esol-mtr  0.1" in out  # only what was mirrored
    read_pretrained(resolve_pretrained("esol-gc").path, verify=True)


def test_mirror_rewrites_parts(tmp_path, serve, monkeypatch):
    from hubgen.verify import verify_hub

    hub = build_hub(tmp_path, {("big", "1.0"): make_folder(tmp_path / "big", size=5000)}, part_size=4096)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    dest = tmp_path / "copy"
    assert main(["mirror", "-q", "big", "--to", str(dest)]) == 0
    assert verify_hub(dest).ok
    assert sorted(p.name for p in (dest / "blobs").rglob("*") if p.is_file()) == \
        sorted(p.name for p in (hub / "blobs").rglob("*") if p.is_file())
