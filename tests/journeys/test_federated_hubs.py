"""Journey (issue 15, federated hubs): a lab's hub beside DeepChem's, set up and used with the CLI only.

Two hubs over loopback HTTP with a colliding model name, each signed by its own key; ``dchub hub add``
with ``--key``; ``hub:name``; a search list that makes the bare name ambiguous; a mirror that serves
the other hub's index.
"""
from __future__ import annotations

from pathlib import Path

from tests._support.folders import make_folder
from tests._support.hubs import build_hub
from tests.journeys._cli import ok, run


def test_two_hubs_with_a_colliding_name(tmp_path: Path, keys, serve, monkeypatch):
    src = {n: make_folder(tmp_path / "src" / n, seed=i, n_weights=2, size=400) for i, n in enumerate("abc")}
    deepchem = build_hub(tmp_path, {("tox21-gc", "1.0"): src["a"], ("esol", "1.0"): src["b"]}, out="dc",
                         hub_name="deepchem", sign_keys=[keys["old"][0]])
    acme = build_hub(tmp_path, {("tox21-gc", "2.0.0"): src["c"]}, out="acme", hub_name="acme",
                     sign_keys=[keys["new"][0]])
    dc_server, acme_server = serve(deepchem), serve(acme)
    monkeypatch.setenv("DCHUB_CONFIG", str(tmp_path / "config" / "dchub.toml"))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", dc_server.url)
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", str(keys["old"][1]))  # the default hub's key

    ok("hub", "add", "acme", acme_server.url, "--key", str(keys["new"][1]))
    acme_path = ok("pull", "-q", "acme:tox21-gc@2.0.0").strip()
    assert acme_path.endswith("/acme/tox21-gc/2.0.0")
    assert ok("pull", "-q", "tox21-gc").strip().endswith("/deepchem/tox21-gc/1.0")  # the default hub
    assert "tox21-gc  2.0.0" in ok("ls", "acme")

    ok("hub", "search", "default", "acme")
    clash = run("pull", "-q", "tox21-gc")
    assert clash.returncode == 1
    assert "default:tox21-gc (hub 'deepchem', 1.0)" in clash.stderr
    assert "acme:tox21-gc (hub 'acme', 2.0.0)" in clash.stderr
    assert ok("path", "acme:tox21-gc").strip() == acme_path  # naming the hub settles it
    assert ok("pull", "-q", "esol").strip().endswith("/deepchem/esol/1.0")  # in one hub only: fine

    ok("hub", "add", "acme", dc_server.url, "--key", str(keys["old"][1]), "--replace")  # a mirror of another hub
    wrong = run("pull", "-q", "acme:tox21-gc", "--refresh")
    assert wrong.returncode == 1
    assert "this index is of hub 'deepchem', but the mirror is configured for hub 'acme'" in wrong.stderr

    ok("hub", "add", "acme", acme_server.url, "--key", str(keys["old"][1]), "--replace")  # the wrong key
    refused = run("pull", "-q", "acme:tox21-gc", "--refresh")
    assert refused.returncode == 1 and "signed only by keys you do not trust" in refused.stderr

    listing = ok("hub", "ls")
    assert "acme     acme" in listing and "default  deepchem" in listing
    ok("hub", "rm", "acme")
    assert ok("pull", "-q", "tox21-gc").strip().endswith("/deepchem/tox21-gc/1.0")  # search list lost acme
