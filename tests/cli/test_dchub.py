"""The ``dchub`` command against a real loopback hub."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from dchub_client.cli import main
from dchub_client.hub.cache import Cache
from dchub_client.hub.resolve import resolve_pretrained
from dchub_client.humanize import human_size
from tests._support.folders import make_folder, validate_folder
from tests._support.hubs import build_hub, rewrite_manifest
from tests._support.servers import HubServer, _Handler


@pytest.fixture
def hub_url(toy_hub, serve, monkeypatch):
    url = serve(toy_hub).url
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", url)
    return url


def test_ls_and_info(hub_url, capsys):
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    assert "Test hub (2 models)" in out
    assert [line.split()[:3] for line in out.splitlines()[3:]] == [["esol-gc", "1.1.0", "numpy"],
                                                                   ["esol-mtr", "0.1", "numpy"]]
    assert main(["info", "esol-gc@1.0.0"]) == 0
    out = capsys.readouterr().out
    assert "esol-gc@1.0.0  (tests.Toy, numpy" in out and "description: toy model esol-gc" in out
    assert "versions: 1.0.0, 1.1.0 (latest)" in out and "toy-dense.2-0.npy" in out and "cached: no" in out


def test_pull_and_path(hub_url, capsys):
    assert main(["path", "esol-gc", "--offline"]) == 1
    assert "offline mode and esol-gc is not in the cache" in capsys.readouterr().err
    assert main(["pull", "esol-gc"]) == 0
    captured = capsys.readouterr()
    snapshot = Cache().snapshot("esol-gc", "1.1.0", hub="test-hub")
    assert captured.out.strip() == str(snapshot)
    assert "esol-gc@1.1.0" not in captured.err  # no progress bar: stderr is not a terminal here
    validate_folder(snapshot)
    assert main(["path", "esol-gc", "--offline"]) == 0
    assert capsys.readouterr().out.strip() == str(snapshot)


def test_pull_takes_several_models_and_stops_at_the_first_failure(hub_url):
    from tests.journeys._cli import run

    both = run("pull", "esol-gc", "esol-mtr@0.1")
    assert both.returncode == 0, both.stderr
    cache = Cache()
    assert both.stdout.splitlines() == [str(cache.snapshot("esol-gc", "1.1.0", hub="test-hub")),
                                        str(cache.snapshot("esol-mtr", "0.1", hub="test-hub"))]
    for line in both.stdout.splitlines():
        validate_folder(Path(line))
    failed = run("pull", "esol-gc@1.0.0", "esol-g", "esol-mtr")
    assert failed.returncode == 1 and "no model named 'esol-g'" in failed.stderr, failed.stderr
    assert failed.stdout.splitlines() == [str(cache.snapshot("esol-gc", "1.0.0", hub="test-hub"))]


def test_errors_are_one_line_and_exit_1(hub_url, capsys, monkeypatch):
    assert main(["info", "esol-g"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dchub: error: no model named 'esol-g'") and "did you mean 'esol-gc'" in err
    assert "Traceback" not in err
    monkeypatch.setenv("DCHUB_DEBUG", "1")
    with pytest.raises(LookupError):
        main(["info", "esol-g"])


def test_cache_ls_verify_prune_rm(hub_url, capsys, isolated_environment):
    main(["pull", "-q", "esol-gc@1.0.0"])
    main(["pull", "-q", "esol-mtr"])
    capsys.readouterr()
    assert main(["cache", "ls"]) == 0
    out = capsys.readouterr().out
    assert "esol-gc   1.0.0" in out and "esol-mtr  0.1" in out
    assert main(["cache", "verify"]) == 0
    assert "of" in capsys.readouterr().out
    stale = isolated_environment / "blobs" / "sha256" / ".abandoned.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a download")
    os.utime(stale, (time.time() - 86400, time.time() - 86400))
    n_blobs = len(list(Cache().blobs()))
    assert main(["cache", "rm", "esol-gc"]) == 0
    assert not stale.exists()
    assert 0 < len(list(Cache().blobs())) < n_blobs  # esol-mtr shares esol-gc 1.0.0's files
    validate_folder(Cache().snapshot("esol-mtr", "0.1", hub="test-hub"))
    assert main(["cache", "rm", "esol-mtr@0.2"]) == 1
    assert "did you mean 'esol-mtr@0.1'" in capsys.readouterr().err
    blob = next(Cache().blobs())
    os.chmod(blob, 0o600)
    blob.write_bytes(b"corrupt")
    from tests.journeys._cli import run

    said = run("cache", "verify")  # a new process, as a user runs it: its own logging on stderr
    assert said.returncode == 1
    assert "snapshot removed: test-hub:esol-mtr@0.1 (`dchub pull test-hub:esol-mtr@0.1`" in said.stdout
    assert f"corrupt blob removed: {blob.name}" in said.stdout and blob.name not in said.stderr, said.stderr


def test_cache_rm_default_is_the_default_hub_whatever_it_is_called(hub_url, tmp_path, serve, monkeypatch, capsys):
    assert main(["pull", "-q", "esol-gc"]) == 0 and main(["pull", "-q", "esol-mtr"]) == 0
    assert main(["cache", "rm", "default:esol-gc"]) == 0  # the default hub's index declares 'test-hub'
    assert "removed test-hub:esol-gc@1.1.0" in capsys.readouterr().out
    make_folder(tmp_path / "plain" / "esol", seed=1)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(tmp_path / "plain").url)  # now a plain-layout default hub
    assert main(["pull", "-q", "esol"]) == 0
    assert main(["cache", "rm", "default:esol-mtr"]) == 1  # test-hub is no longer the default hub
    assert "did you mean 'esol-mtr', 'test-hub:esol-mtr', 'esol-mtr@0.1'?" in capsys.readouterr().err
    assert main(["cache", "rm", "default:esol"]) == 0
    assert "removed (plain layout):esol@plain" in capsys.readouterr().out
    assert [s.name for s in Cache().snapshots()] == ["esol-mtr"]


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
    assert "esol-gc   1.0.0   numpy" in out and "esol-mtr  0.1     numpy" in out  # only what was mirrored
    validate_folder(resolve_pretrained("esol-gc").path)


def test_mirror_rewrites_parts(tmp_path, serve, monkeypatch):
    from hubgen.verify import verify_hub

    hub = build_hub(tmp_path, {("big", "1.0"): make_folder(tmp_path / "big", size=5000)}, part_size=4096)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    dest = tmp_path / "copy"
    assert main(["mirror", "-q", "big", "--to", str(dest)]) == 0
    assert verify_hub(dest).ok
    assert sorted(p.name for p in (dest / "blobs").rglob("*") if p.is_file()) == \
        sorted(p.name for p in (hub / "blobs").rglob("*") if p.is_file())


LONG = "a multitask regressor on ECFP4 fingerprints predicting aqueous solubility " * 3


@pytest.fixture
def card_hub(tmp_path):
    """esol-gc 1.0.0 (plain card) and 1.1.0 (task, headline metric, long title), esol-mtr 0.1."""
    a = make_folder(tmp_path / "src" / "a", seed=1, n_weights=3, size=2000)
    (a / "README.md").write_text(f"---\ntask: regression\nheadline_metric: RMSE 0.58 (scaffold test)\n"
                                 f"title: {LONG}\n---\n# A\n", encoding="utf-8")
    b = make_folder(tmp_path / "src" / "b", seed=2)
    hub = build_hub(tmp_path, {("esol-gc", "1.0.0"): b, ("esol-gc", "1.1.0"): a, ("esol-mtr", "0.1"): b})
    return hub, {"a": _folder_size(a), "b": _folder_size(b)}


def _folder_size(folder):
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _cells(out):
    return [[c.strip() for c in line.split("  ") if c.strip()] for line in out.splitlines()[3:]]


def test_ls_shows_latest_manifest_details(card_hub, serve, monkeypatch, capsys):
    hub, sizes = card_hub
    server = serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["NAME", "LATEST", "FRAMEWORK", "TASK", "SIZE", "LICENSE", "METRIC",
                                           "DESCRIPTION"]
    assert _cells(out) == [
        ["esol-gc", "1.1.0", "numpy", "regression", human_size(sizes["a"]), "MIT", "RMSE 0.58 (scaffold test)",
         "toy model esol-gc"],
        ["esol-mtr", "0.1", "numpy", "-", human_size(sizes["b"]), "MIT", "-", "toy model esol-mtr"]]
    # only the latest manifests were fetched, once each, and verified into the cache
    assert {p: n for p, n in server.hits.items() if "manifest" in p} == {
        "models/esol-gc/1.1.0/manifest.json": 1, "models/esol-mtr/0.1/manifest.json": 1}


def test_ls_second_and_offline_need_no_network(card_hub, serve, monkeypatch, capsys):
    hub, _ = card_hub
    server = serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    assert main(["ls"]) == 0
    first = capsys.readouterr().out
    hits = sum(server.hits.values())
    assert main(["ls"]) == 0
    assert capsys.readouterr().out == first and sum(server.hits.values()) == hits
    assert main(["ls", "--refresh"]) == 0  # a new index; the manifests are content-addressed, still cached
    assert capsys.readouterr().out == first
    assert server.hits["index.json"] == 2 and sum(server.hits.values()) == hits + 1
    server.close()
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    assert main(["ls"]) == 0
    captured = capsys.readouterr()
    assert captured.out == first and "offline" not in captured.err


def test_ls_offline_with_uncached_manifests_shows_dashes(card_hub, serve, monkeypatch, capsys):
    hub, sizes = card_hub
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    assert main(["pull", "-q", "esol-mtr"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["ls"]) == 0
    captured = capsys.readouterr()
    assert _cells(captured.out) == [["esol-gc", "1.1.0", "-", "-", "-", "-", "-", "-"],
                                    ["esol-mtr", "0.1", "numpy", "-", human_size(sizes["b"]), "MIT", "-",
                                     "toy model esol-mtr"]]
    assert "no cached details for esol-gc;" in captured.err and "while online" in captured.err


def test_ls_refuses_a_corrupt_manifest_and_lists_the_rest(card_hub, serve, monkeypatch, capsys):
    hub, _ = card_hub
    server = serve(hub, {"models/esol-gc/": "corrupt"})
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    assert main(["ls"]) == 0
    captured = capsys.readouterr()
    cells = _cells(captured.out)
    assert cells[0] == ["esol-gc", "1.1.0", "-", "-", "-", "-", "-", "-"] and cells[1][2] == "numpy"
    assert "dchub: warning: esol-gc:" in captured.err and "sha256 mismatch" in captured.err
    server.faults.clear()  # the corrupt answer was not cached: the next ls fetches it again
    assert main(["ls"]) == 0
    assert _cells(capsys.readouterr().out)[0][2:4] == ["numpy", "regression"]


def test_ls_truncates_the_description_to_the_terminal(card_hub, serve, monkeypatch, capsys):
    hub, _ = card_hub
    (hub.parent / "hub.yaml").write_text(
        (hub.parent / "hub.yaml").read_text(encoding="utf-8").replace("toy model esol-mtr", LONG.strip()),
        encoding="utf-8")
    from hubgen.build import build_hub as hubgen_build
    hubgen_build(hub.parent / "hub.yaml", hub.parent / "hub2")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub.parent / "hub2").url)
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines[1:]) == 100
    assert lines[-1].endswith("…") and lines[-1].split("  ")[-1].strip()[:-1] in LONG
    monkeypatch.setenv("COLUMNS", "80")  # the columns alone are wider: the least needed are left out
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines[1:]) <= 80 and lines[-1].endswith("…")
    shown = lines[1].split()
    assert "LICENSE" not in shown and "SIZE" not in shown, shown  # the first to go
    assert shown[0] == "NAME" and shown[-1] == "DESCRIPTION" and "FRAMEWORK" in shown and "METRIC" in shown
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["ls"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(LONG.strip())
    monkeypatch.delenv("COLUMNS")  # stdout is not a terminal here (as in `dchub ls > models.txt`): nothing is cut
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].endswith(LONG.strip()) and max(len(line) for line in lines) > 100


class _SlowManifests(_Handler):
    def do_GET(self) -> None:
        if "manifest" in self.path:
            time.sleep(0.5)
        super().do_GET()


def test_ls_fetches_manifests_in_parallel(tmp_path, monkeypatch, capsys):
    folder = make_folder(tmp_path / "m")
    hub = build_hub(tmp_path, {(f"model-{i}", "1.0"): folder for i in range(4)})

    class Server(HubServer):
        handler_class = _SlowManifests

    server = Server(hub)
    try:
        monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
        start = time.monotonic()
        assert main(["ls"]) == 0
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert [c[:3] for c in _cells(capsys.readouterr().out)] == [[f"model-{i}", "1.0", "numpy"] for i in range(4)]
    assert elapsed < 1.5, f"4 manifests of 0.5 s each took {elapsed:.2f} s: not fetched in parallel"


def test_ls_plain_layout_folder(tmp_path, monkeypatch, capsys):
    root = tmp_path / "models"
    a = make_folder(root / "esol-a", seed=1, n_weights=2, size=100)
    make_folder(root / "esol-b", seed=2)
    (root / "broken").mkdir()
    (root / "broken" / "params.json").write_text("{not json", encoding="utf-8")
    (root / "not-a-model").mkdir()
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(root))
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    assert main(["ls"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == f"{root} (plain folder, 3 models)"
    assert _cells(captured.out) == [["broken", "-", human_size(len("{not json")), "-"],
                                    ["esol-a", "numpy", human_size(_folder_size(a)), "tests.Toy"],
                                    ["esol-b", "numpy", human_size(_folder_size(root / "esol-b")), "tests.Toy"]]
    assert "dchub: warning:" in captured.err and str(root / "broken" / "params.json") in captured.err
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(tmp_path / "missing"))
    assert main(["ls"]) == 1
    assert f"{tmp_path / 'missing'}: no such folder" in capsys.readouterr().err


def test_a_strangers_card_cannot_drive_the_terminal(card_hub, serve, monkeypatch, capsys):
    """A card is a stranger's text: escape sequences (clear the screen, retitle the window, colour) and
    bidirectional overrides are shown as escapes in `dchub ls` and `dchub info`, never sent to the
    terminal; a multi-line value (a BibTeX entry) keeps its lines."""
    hub, _ = card_hub

    def forge(manifest):
        manifest["card"].update(description="fine\x1b[2J\x1b]0;pwned\x07 text", title="\u202eevil",
                                headline_metric="rmse\x1b[31m", metrics={"rmse\x1b[31m": 0.5},
                                citation="@misc{x,\n  title = {T}\x1b[8m\n}\n", **{"k\x1b[1m": "v\x9b1m"})
    rewrite_manifest(hub, "esol-gc", "1.1.0", forge)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["ls"]) == 0 and main(["info", "esol-gc@1.1.0"]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in ("\x1b", "\x07", "\x9b", "\u202e")), repr(out)
    assert "fine\\x1b[2J\\x1b]0;pwned\\x07 text" in out and "\\u202eevil" in out and "rmse\\x1b[31m 0.5" in out
    assert "  citation:\n    @misc{x,\n      title = {T}\\x1b[8m\n    }\n" in out
    assert "  k\\x1b[1m: v\\x9b1m" in out
    index = json.loads((hub / "index.json").read_bytes())
    index["title"] = "Title\x1b[2J"
    (hub / "index.json").write_bytes(json.dumps(index).encode())
    assert main(["ls", "--refresh"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.startswith("Title\\x1b[2J (")
