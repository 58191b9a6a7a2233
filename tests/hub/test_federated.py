"""Federated hubs: named hubs with their own mirrors, keys, rollback state and cache (loopback HTTP)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dchub_client.errors import (
    AmbiguousModelError,
    ConfigError,
    MirrorError,
    ModelNotFoundError,
    OfflineError,
    TrustError,
)
from dchub_client.hub import catalog
from dchub_client.hub.cache import Cache
from dchub_client.hub.resolve import parse_model_ref, resolve_pretrained
from tests._support.folders import load_weights, make_folder
from tests._support.hubs import build_hub


class Hubs:
    """Two hubs sharing a model name: ``deepchem`` (tox21-gc 1.0, esol 1.0) and ``acme`` (tox21-gc 2.0.0,
    acme-only 1.0), each signed by its own key, served on loopback."""

    def __init__(self, tmp_path: Path, keys, serve, monkeypatch) -> None:
        self.tmp, self.keys, self.monkeypatch = tmp_path, keys, monkeypatch
        self.folders = {n: make_folder(tmp_path / "src" / n, seed=i, n_weights=2, size=300)
                        for i, n in enumerate(("dc-tox", "dc-esol", "acme-tox", "acme-only"))}
        self.deepchem = self.build("deepchem", {("tox21-gc", "1.0"): "dc-tox", ("esol", "1.0"): "dc-esol"}, "old")
        self.acme = self.build("acme", {("tox21-gc", "2.0.0"): "acme-tox", ("acme-only", "1.0"): "acme-only"}, "new")
        self.dc_server, self.acme_server = serve(self.deepchem), serve(self.acme)
        self.config = tmp_path / "dchub.toml"
        monkeypatch.setenv("DCHUB_CONFIG", str(self.config))
        monkeypatch.setenv("DEEPCHEM_MODEL_HUB", self.dc_server.url)
        self.configure()

    def build(self, name: str, models: dict[tuple[str, str], str], key: str) -> Path:
        return build_hub(self.tmp, {ref: self.folders[f] for ref, f in models.items()}, out=name, hub_name=name,
                         sign_keys=[self.keys[key][0]])

    def configure(self, *, acme_mirrors: list[str] | None = None, acme_key: str = "new",
                  search: list[str] | None = None) -> None:
        lines = [f"search = {json.dumps(search)}"] if search else []
        mirrors = acme_mirrors if acme_mirrors is not None else [self.acme_server.url]
        lines += ["[hubs.acme]", f"mirrors = {json.dumps(mirrors)}",
                  f"keys = {json.dumps([self.keys[acme_key][1].read_text().strip()])}"]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def hubs(tmp_path, keys, serve, monkeypatch) -> Hubs:
    return Hubs(tmp_path, keys, serve, monkeypatch)


def _same(a: Path, b: Path) -> bool:
    wa, wb = load_weights(a), load_weights(b)
    return wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)


def test_hub_name_picks_the_hub_and_each_hub_has_its_own_cache(hubs, isolated_environment):
    acme = resolve_pretrained("acme:tox21-gc@2.0.0")
    assert acme.hub == "acme" and acme.path == Cache().snapshot("tox21-gc", "2.0.0", hub="acme")
    assert _same(acme.path, hubs.folders["acme-tox"])
    bare = resolve_pretrained("tox21-gc")  # no search list: the default hub
    assert bare.hub == "deepchem" and bare.version == "1.0" and _same(bare.path, hubs.folders["dc-tox"])
    assert resolve_pretrained("default:tox21-gc") == bare
    assert resolve_pretrained("deepchem:tox21-gc") == bare  # the default hub's own name works too
    assert catalog.cached_hub_names(Cache()) == ["acme", "deepchem"]
    assert sorted(p.name for p in (isolated_environment / "snapshots").iterdir()) == ["acme", "deepchem"]
    with pytest.raises(ModelNotFoundError, match="no model named 'esol' in hub 'acme'"):
        resolve_pretrained("acme:esol")
    with pytest.raises(ConfigError, match="no hub named 'nope' is configured .*; add it with .*dchub hub add nope"):
        resolve_pretrained("nope:tox21-gc")
    with pytest.raises(ConfigError, match=r"no hub named 'acm' is configured \(known: default, acme, deepchem\); did "
                                          "you mean 'acme'\\? Or add it with"):
        resolve_pretrained("acm:tox21-gc")
    with pytest.raises(ConfigError, match=r"\(known: default, acme, deepchem\); did you mean 'deepchem'"):
        resolve_pretrained("deepchen:tox21-gc")  # the default hub's own name (as `dchub ls` shows it) is known


def test_a_name_in_two_searched_hubs_is_an_error_naming_them(hubs):
    hubs.configure(search=["default", "acme"])
    with pytest.raises(AmbiguousModelError) as info:
        resolve_pretrained("tox21-gc")
    message = str(info.value)
    assert "default:tox21-gc (hub 'deepchem', 1.0)" in message and "acme:tox21-gc (hub 'acme', 2.0.0)" in message
    assert info.value.hubs == ["default", "acme"]
    assert resolve_pretrained("acme-only").hub == "acme"
    assert resolve_pretrained("esol").hub == "deepchem"
    assert resolve_pretrained("acme:tox21-gc").version == "2.0.0"  # naming the hub settles it
    with pytest.raises(ModelNotFoundError, match="in the searched hubs \\(default, acme\\)"):
        resolve_pretrained("missing")


def test_each_hub_is_judged_by_its_own_keys(hubs, keys, monkeypatch):
    resolve_pretrained("acme:acme-only")  # acme: signed by "new", which its config trusts
    hubs.configure(acme_key="old")  # now acme's config trusts only "old", which signs deepchem
    with pytest.raises(TrustError, match="signed only by keys you do not trust"):
        resolve_pretrained("acme:acme-only", refresh=True)
    with pytest.raises(TrustError, match="signed only by keys you do not trust"):
        resolve_pretrained("acme:acme-only")  # the cached copy is checked again with the new keys
    hubs.configure()
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", str(keys["new"][1]))  # the default hub's keys only
    with pytest.raises(TrustError, match="signed only by keys you do not trust"):
        resolve_pretrained("esol", refresh=True)
    assert resolve_pretrained("acme:acme-only", refresh=True).hub == "acme"
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", str(keys["old"][1]))
    assert resolve_pretrained("esol", refresh=True).hub == "deepchem"


def test_a_mirror_serving_another_hubs_index_is_refused_even_when_signed_by_a_trusted_key(hubs):
    hubs.configure(acme_mirrors=[hubs.dc_server.url], acme_key="old")  # "old" signs deepchem's index
    with pytest.raises(TrustError, match="this index is of hub 'deepchem', but the mirror is configured for hub 'acme'"):
        resolve_pretrained("acme:tox21-gc")
    assert catalog.cached_hub_names(Cache()) == []
    hubs.configure(acme_mirrors=[hubs.dc_server.url, hubs.acme_server.url])
    assert resolve_pretrained("acme:tox21-gc").version == "2.0.0"  # the wrong mirror is skipped
    assert hubs.dc_server.hits["index.json"] == 2 and hubs.acme_server.hits["index.json"] == 1


def test_the_default_hub_may_not_serve_a_configured_hubs_index(hubs, monkeypatch):
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", hubs.acme_server.url)
    with pytest.raises(TrustError, match="index is of hub 'acme', which is configured with its own mirrors"):
        resolve_pretrained("tox21-gc")
    assert resolve_pretrained("acme:tox21-gc").hub == "acme"


def test_rollback_state_is_kept_per_hub(hubs, tmp_path, isolated_environment):
    old_acme = (hubs.acme / "index.json").read_bytes()
    resolve_pretrained("acme:tox21-gc")
    resolve_pretrained("tox21-gc")
    hubs.build("acme", {("tox21-gc", "2.0.0"): "acme-tox", ("acme-only", "1.0"): "acme-only"}, "new")  # acme v2
    resolve_pretrained("acme:tox21-gc", refresh=True)
    trust_dir = isolated_environment / "trust"
    assert (trust_dir / "acme.version").read_text().strip() == "2"
    assert (trust_dir / "deepchem.version").read_text().strip() == "1"
    (hubs.acme / "index.json").write_bytes(old_acme)  # acme's mirror replays version 1
    with pytest.raises(TrustError, match="index version 1 of hub 'acme' is older than version 2"):
        resolve_pretrained("acme:tox21-gc", refresh=True)
    assert resolve_pretrained("tox21-gc", refresh=True).hub == "deepchem"  # deepchem's version 1 is fine


def test_offline_a_name_cached_from_two_hubs_must_be_chosen(hubs, monkeypatch):
    acme = resolve_pretrained("acme:tox21-gc")
    dc = resolve_pretrained("tox21-gc")
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    monkeypatch.delenv("DEEPCHEM_MODEL_HUB")  # DeepChem's bucket: never used here, so nothing is known of it
    with pytest.raises(AmbiguousModelError, match=r"cached from several hubs(.|\n)*hub 'acme' \(2.0.0\): load it "
                                                  r"as acme:tox21-gc(.|\n)*hub 'deepchem' \(1.0\): load it as "
                                                  r"deepchem:tox21-gc"):
        resolve_pretrained("tox21-gc")
    assert resolve_pretrained("acme:tox21-gc") == acme
    assert resolve_pretrained("deepchem:tox21-gc") == dc  # the advice given works
    with pytest.raises(OfflineError, match="esol is not in the cache"):
        resolve_pretrained("esol")  # never pulled
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", hubs.dc_server.url)  # the hub as configured when pulled
    assert resolve_pretrained("tox21-gc") == dc


def test_model_refs_parse_hub_name_and_version():
    ref = parse_model_ref("acme:tox21-gc@2.0.0")
    assert (ref.hub, ref.name, ref.version, str(ref)) == ("acme", "tox21-gc", "2.0.0", "acme:tox21-gc@2.0.0")
    assert parse_model_ref("tox21-gc").hub is None
    for bad in (":x", "a/b:x", "acme:", "acme:x@", "a:b:c"):
        with pytest.raises(ValueError):
            parse_model_ref(bad)


def test_a_searched_hub_that_cannot_be_read_refuses_a_bare_name(hubs, monkeypatch):
    hubs.configure(search=["default", "acme"])
    hubs.acme_server.close()  # acme was never fetched: its index might hold the name
    with pytest.raises(MirrorError, match="index.json of hub 'acme', needed to tell whether it holds 'esol' too"):
        resolve_pretrained("esol")
    assert resolve_pretrained("default:esol").hub == "deepchem"  # naming the hub skips the question
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="index of hub 'acme' .* run `dchub ls acme` once while online"):
        resolve_pretrained("acme:tox21-gc")


def test_the_models_layer_takes_hub_names_too(hubs):
    from dchub_client.models.interface import locate

    folder, verified = locate("acme:tox21-gc@2.0.0")
    assert verified and folder == Cache().snapshot("tox21-gc", "2.0.0", hub="acme")


def test_a_hub_known_only_from_the_cache_serves_what_is_cached_and_says_how_to_get_more(hubs, monkeypatch):
    cached = resolve_pretrained("tox21-gc")  # deepchem, through DEEPCHEM_MODEL_HUB
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", hubs.acme_server.url)  # the default hub is another one now
    assert resolve_pretrained("deepchem:tox21-gc") == cached  # online too: from the cache, by its name
    with pytest.raises(ConfigError, match="hub 'deepchem' is known here only from the cache .* where "
                                          "deepchem:esol is not .*`dchub hub add deepchem MIRROR_URL`"):
        resolve_pretrained("deepchem:esol")
