"""``dchub hub``, ``--version``, and what ``ls``/``info``/``cache prune`` show (a real loopback hub)."""
from __future__ import annotations

import pytest

from dchub_client import __version__
from dchub_client.cli import main
from dchub_client.hub.config import load_config
from tests._support.folders import make_folder
from tests._support.hubs import build_hub

CARD = """---
task: regression
headline_metric: rmse (pIC50)
metrics:
  - {name: rmse (pIC50), value: 0.41234, split: scaffold test}
  - {name: r2, value: 0.5, split: scaffold test}
training_data:
  name: FreeWilson
  molecules: 1017
license: MIT
---
# a card
"""


@pytest.fixture
def card_hub(tmp_path, serve, monkeypatch):
    a = make_folder(tmp_path / "src" / "a", seed=1, n_weights=2, size=3000, card=CARD.encode())
    hub = build_hub(tmp_path, {("pic50", "1.0"): a, ("other", "0.1"): make_folder(tmp_path / "src" / "b")},
                    part_size=4096)
    server = serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    monkeypatch.setenv("COLUMNS", "200")
    return hub, server


def test_version_flags(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip().startswith(f"dchub {__version__}")
    from hubgen.cli import main as hubgen_main

    with pytest.raises(SystemExit):
        hubgen_main(["--version"])
    assert capsys.readouterr().out.strip().startswith(f"hubgen {__version__}")


def test_ls_shows_the_headline_metric_with_its_value(card_hub, capsys):
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Test hub (2 models) - hub 'test-hub' (default)"
    row = next(line for line in out.splitlines() if line.startswith("pic50"))
    assert "rmse (pIC50) 0.4123" in row


def test_info_writes_metrics_and_data_as_text_and_fills_stored(card_hub, capsys):
    assert main(["info", "pic50"]) == 0
    out = capsys.readouterr().out
    assert "  metrics:\n    rmse (pIC50): 0.4123 (scaffold test)\n    r2: 0.5 (scaffold test)" in out
    assert "  training_data:\n    molecules: 1017\n    name: FreeWilson" in out
    assert "{" not in out and "[" not in out  # no dict or list reprs
    files = out[out.index("FILE "):].splitlines()[2:-1]
    stored = {line.split()[0]: " ".join(line.split()[3:5]) for line in files}
    assert stored == {"README.md": "1 blob", "params.json": "1 blob", "toy-dense.0-0.npy": "3 parts",
                      "toy-dense.1-0.npy": "3 parts"}  # 12 KB weights in 4 KiB parts
    assert "hub: 'test-hub' (the default hub, from DEEPCHEM_MODEL_HUB)" in out
    assert "signature: not signed: no trusted keys are configured for this hub" in out
    assert "cached: no" in out


def test_info_on_a_plain_folder_describes_it(tmp_path, monkeypatch, capsys):
    make_folder(tmp_path / "plain" / "pic50", seed=1, card=CARD.encode())
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(tmp_path / "plain"))
    assert main(["info", "pic50"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pic50  (tests.Toy, numpy,") and f"plain folder: {tmp_path / 'plain' / 'pic50'}" in out
    assert "rmse (pIC50): 0.4123" in out and "mirror" not in out
    assert main(["info", "pic5"]) == 1
    assert "did you mean 'pic50'" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert main(["info", "./plain/pic50"]) == 0  # a folder, as `dchub predict FOLDER` takes
    assert capsys.readouterr().out.startswith("pic50  (tests.Toy, numpy,")


def test_cache_prune_keeps_what_an_offline_ls_shows(card_hub, monkeypatch, capsys):
    assert main(["ls"]) == 0
    online = capsys.readouterr().out
    assert main(["cache", "prune"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    assert main(["ls"]) == 0
    captured = capsys.readouterr()
    assert captured.out == online and "no cached details" not in captured.err


def test_ls_of_a_folder_above_a_hub_says_what_was_expected(card_hub, tmp_path, monkeypatch, capsys):
    hub, _ = card_hub
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(tmp_path))
    assert main(["ls"]) == 1
    err = capsys.readouterr().err
    assert "neither a hub (no index.json) nor a plain folder of models" in err
    assert f"use DEEPCHEM_MODEL_HUB={hub}" in err
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(tmp_path / "nowhere"))
    assert main(["ls"]) == 1
    assert "no such folder" in capsys.readouterr().err


def test_ls_of_an_http_root_without_an_index_is_an_error(tmp_path, serve, monkeypatch, capsys):
    make_folder(tmp_path / "plain" / "m")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(tmp_path / "plain").url)
    assert main(["ls"]) == 1
    assert "no index.json at" in capsys.readouterr().err
    assert main(["pull", "-q", "m"]) == 0  # the plain layout still loads by name


def test_a_private_bucket_is_told_from_a_missing_hub(card_hub, tmp_path, monkeypatch, capsys):
    _, server = card_hub
    server.faults[""] = "403"  # a private S3 prefix answers 403 for every key
    assert main(["ls"]) == 1
    err = capsys.readouterr().err
    assert f"no index.json at {server.url} (HTTP 403 Forbidden: " in err and "does not allow public reads" in err
    assert "give its URL or path in DEEPCHEM_MODEL_HUB" in err
    monkeypatch.setenv("DCHUB_CONFIG", str(tmp_path / "dchub.toml"))
    assert main(["hub", "add", "lab", server.url, "--no-check"]) == 0
    assert main(["ls"]) == 1
    assert "dchub: hint: `dchub ls` lists the hubs bare names resolve in (default); list your other hubs by " \
           "name: `dchub ls lab`" in capsys.readouterr().err
    assert main(["ls", "lab"]) == 1
    err = capsys.readouterr().err
    assert "(HTTP 403 Forbidden: " in err and f"give its URL or path as a mirror of hub 'lab' ({tmp_path / 'dchub.toml'} [hubs.lab])" in err


def test_a_cache_path_that_is_a_file_is_said_so(card_hub, tmp_path, monkeypatch, capsys):
    (tmp_path / "cache-file").write_text("not a folder")
    monkeypatch.setenv("DEEPCHEM_HUB_CACHE", str(tmp_path / "cache-file"))
    for command in (["pull", "-q", "pic50"], ["ls"], ["cache", "ls"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err == f"dchub: error: {tmp_path / 'cache-file'}: the cache (DEEPCHEM_HUB_CACHE) must be a folder, " \
                      "and this is a file\n"
    assert (tmp_path / "cache-file").read_text() == "not a folder"


def test_hub_add_ls_search_rm(card_hub, tmp_path, keys, monkeypatch, capsys, caplog):
    _, server = card_hub
    config = tmp_path / "cfg" / "dchub.toml"
    monkeypatch.setenv("DCHUB_CONFIG", str(config))
    add = ["hub", "add", "acme", server.url + "index.html", "/mnt/acme/", "--key", str(keys["old"][1])]
    assert main(add) == 1  # the server holds hub 'test-hub': said at once, not at the next use
    err = capsys.readouterr().err
    assert f"{server.url} serves hub 'test-hub', not 'acme'" in err and "`dchub hub add test-hub ...`" in err
    assert "mirror /mnt/acme/: there is no folder /mnt/acme now (a disk not mounted?)" in caplog.text
    assert not config.exists()
    assert main([*add, "--no-check"]) == 0
    assert "added hub 'acme'" in capsys.readouterr().out
    entry = load_config().hubs["acme"]
    assert entry.mirrors == (server.url, "/mnt/acme") and len(entry.keys) == 1
    assert keys["old"][1].read_text().strip() == entry.keys[0]  # the key itself, not the path
    assert main(["hub", "add", "acme", server.url]) == 1
    assert "already configured" in capsys.readouterr().err
    assert main(["hub", "add", "bad", server.url, "--key", "not-a-key"]) == 1
    assert "--key: 'not-a-key' is neither a key file (there is no file /" in capsys.readouterr().err
    assert main(["hub", "add", "two", server.url, "--threshold", "2", "--key", str(keys["old"][1])]) == 1
    assert main(["hub", "search", "default", "acme"]) == 0
    assert "bare names resolve in: default, acme (a name in more than one is an error)" in capsys.readouterr().out
    assert main(["hub", "search", "nope"]) == 1
    assert "'search' names hub 'nope'" in capsys.readouterr().err
    assert main(["pull", "-q", "default:pic50"]) == 0
    capsys.readouterr()
    assert main(["hub", "ls"]) == 0
    out = capsys.readouterr().out
    assert "default  test-hub" in out and "2 models, version 1" in out
    assert f"acme     acme      {server.url} /mnt/acme  1" in out  # a named hub's name is its identity
    assert "bare names resolve in: default, acme" in out
    assert main(["hub", "rm", "acme"]) == 0 and main(["hub", "rm", "acme"]) == 1
    assert load_config().hubs == {} and load_config().search == ("default",)
