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

    typo = run("hub", "add", "acme", acme_server.url.replace("http://", ""), "--key", str(keys["new"][1]))
    assert typo.returncode == 1 and f"a web server is given by its URL: {acme_server.url}" in typo.stderr
    scheme = run("hub", "add", "acme", acme_server.url.replace("http", "htp"))
    assert scheme.returncode == 1 and "dchub: error: dchub hub add: unsupported mirror 'htp://" in scheme.stderr
    added = ok("hub", "add", "acme", acme_server.url, "--key", str(keys["new"][1]))
    assert "checked: hub 'acme', 1 model(s), signed by the keys given" in added  # fetched and verified at once
    acme_path = ok("pull", "-q", "acme:tox21-gc@2.0.0").strip()
    assert acme_path.endswith("/acme/tox21-gc/2.0.0")
    assert ok("pull", "-q", "tox21-gc").strip().endswith("/deepchem/tox21-gc/1.0")  # the default hub
    assert "tox21-gc  2.0.0" in ok("ls", "acme")
    assert "\nhub: 'acme' (configured in " in ok("info", "acme:tox21-gc")

    ok("hub", "search", "default", "acme")
    clash = run("pull", "-q", "tox21-gc")
    assert clash.returncode == 1
    assert "default:tox21-gc (hub 'deepchem', 1.0)" in clash.stderr
    assert "acme:tox21-gc (hub 'acme', 2.0.0)" in clash.stderr
    assert ok("path", "acme:tox21-gc").strip() == acme_path  # naming the hub settles it
    assert ok("pull", "-q", "esol").strip().endswith("/deepchem/esol/1.0")  # in one hub only: fine
    assert "esol" in ok("info", "esol")  # info and mirror decide which hub as pull does
    assert "acme:tox21-gc (hub 'acme', 2.0.0)" in run("info", "tox21-gc").stderr
    pinned = run("pull", "-q", "tox21-gc@2.0.0")  # only acme has 2.0.0, but a version never picks the hub
    assert pinned.returncode == 1
    assert "default:tox21-gc@2.0.0 (hub 'deepchem', which has no 2.0.0: 1.0)" in pinned.stderr

    other = ("hub", "add", "acme", dc_server.url, "--key", str(keys["old"][1]), "--replace")  # another hub's mirror
    said = run(*other)
    assert said.returncode == 1 and f"{dc_server.url} serves hub 'deepchem', not 'acme'" in said.stderr
    assert ok("path", "acme:tox21-gc").strip() == acme_path  # nothing was changed
    ok(*other, "--no-check")  # added anyway: every use refuses it
    wrong = run("pull", "-q", "acme:tox21-gc", "--refresh")
    assert wrong.returncode == 1
    assert "this index is of hub 'deepchem', but the mirror is configured for hub 'acme'" in wrong.stderr

    wrong_key = ("hub", "add", "acme", acme_server.url, "--key", str(keys["old"][1]), "--replace")
    said = run(*wrong_key)
    assert said.returncode == 1 and "signed only by keys you do not trust" in said.stderr
    ok(*wrong_key, "--no-check")
    refused = run("pull", "-q", "acme:tox21-gc", "--refresh")
    assert refused.returncode == 1 and "signed only by keys you do not trust" in refused.stderr

    listing = ok("hub", "ls")
    assert "acme     acme" in listing and "default  deepchem" in listing
    ok("hub", "rm", "acme")
    assert ok("pull", "-q", "tox21-gc").strip().endswith("/deepchem/tox21-gc/1.0")  # search list lost acme
    both = run("cache", "rm", "tox21-gc")  # cached from both hubs: which one?
    assert both.returncode == 1 and "acme:tox21-gc" in both.stderr and "deepchem:tox21-gc" in both.stderr
    assert Path(acme_path).is_dir()
    assert "removed acme:tox21-gc@2.0.0" in ok("cache", "rm", "acme:tox21-gc")
    assert not Path(acme_path).exists() and ok("path", "tox21-gc").strip().endswith("/deepchem/tox21-gc/1.0")


def test_cache_rm_takes_default_as_the_default_hub(tmp_path: Path, serve, monkeypatch):
    """The newcomer's journey: `dchub pull NAME` says to write `default:NAME`, and `dchub cache rm` takes it."""
    src = {n: make_folder(tmp_path / "src" / n, seed=i, n_weights=2, size=400) for i, n in enumerate("ab")}
    deepchem = build_hub(tmp_path, {("sol-rf", "1.0.0"): src["a"]}, out="dc", hub_name="deepchem")
    acme = build_hub(tmp_path, {("sol-rf", "2.0.0"): src["b"]}, out="acme", hub_name="acme")
    monkeypatch.setenv("DCHUB_CONFIG", str(tmp_path / "config" / "dchub.toml"))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(deepchem).url)
    ok("hub", "add", "acme", serve(acme).url)
    ok("hub", "search", "default", "acme")
    clash = run("pull", "-q", "sol-rf")
    assert clash.returncode == 1 and "default:sol-rf (hub 'deepchem', 1.0.0)" in clash.stderr
    dc_path = ok("pull", "-q", "default:sol-rf@1.0.0").strip()
    acme_path = ok("pull", "-q", "acme:sol-rf").strip()
    assert ok("path", "--offline", "default:sol-rf").strip() == dc_path  # path takes it too, offline

    typo = run("cache", "rm", "default:sol-rff")
    assert typo.returncode == 1
    assert "did you mean 'default:sol-rf', 'default:sol-rf@1.0.0', 'acme:sol-rf'?" in typo.stderr  # never 'sol-rf'
    bare = run("cache", "rm", "sol-rff")  # sol-rf alone is refused (cached from two hubs): not suggested
    assert bare.returncode == 1 and "'acme:sol-rf'" in bare.stderr and "'sol-rf'" not in bare.stderr
    assert "removed deepchem:sol-rf@1.0.0" in ok("cache", "rm", "default:sol-rf")
    assert not Path(dc_path).exists() and Path(acme_path).is_dir()
    again = run("cache", "rm", "default:sol-rf")
    assert again.returncode == 1 and "no model named 'default:sol-rf' in the cache" in again.stderr
    assert "'acme:sol-rf'" in again.stderr and "'sol-rf'" in again.stderr  # now cached from one hub only
    assert ok("path", "--offline", "acme:sol-rf").strip() == acme_path
    assert "removed acme:sol-rf@2.0.0" in ok("cache", "rm", "sol-rf")
