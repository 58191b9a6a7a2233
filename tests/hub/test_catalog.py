"""A hub's index in the cache, kept by identity, checked once, looked up by bisection (dchub_client.hub.catalog)."""
from __future__ import annotations

import json
import time

import pytest

from dchub_client.errors import TrustError
from dchub_client.format import hubfiles
from dchub_client.format.hubfiles import Index, ModelEntry, VersionRef
from dchub_client.hub import catalog, sidecar
from dchub_client.hub.cache import Cache
from dchub_client.hub.resolve import resolve_pretrained
from tests._support.folders import make_folder
from tests._support.hubs import build_hub

SHA = "ab" * 32


def _index(names: list[str]) -> Index:
    models = {n: ModelEntry(n, "1.0", {"0.9": VersionRef(hubfiles.manifest_path(n, "0.9"), SHA, 5),
                                      "1.0": VersionRef(f"elsewhere/{n}.json", SHA, 7)}) for n in names}
    return Index(name="big-hub", models=models, title="Big", version=3)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 500])
def test_every_name_is_found_by_bisection_and_no_other(tmp_path, n):
    names = [f"m{i:05d}" for i in range(n)] + ["a", "a-1", "a.1", "a1", "ab", "b" * 100][:max(n, 0) and 6]
    index = _index(names)
    path = tmp_path / "index.lookup"
    sidecar.write_lookup(path, index, {"hub": index.name, "count": len(names), "version": 3})
    lookup = sidecar.read_lookup(path)
    assert lookup is not None and lookup.header["version"] == 3
    models = lookup.models
    assert len(models) == len(names) and list(models) == sorted(names)
    for name in names:
        assert models[name] == index.models[name]
    for missing in ("", "0", "a-", "a0", "m", "m99999", "zz", "é", "a\tb", "b" * 101):
        assert missing not in models and models.get(missing) is None
    assert lookup.index().models == index.models and lookup.index().name == "big-hub"


def test_a_damaged_line_is_refused_not_trusted(tmp_path):
    path = tmp_path / "index.lookup"
    sidecar.write_lookup(path, _index(["good", "x"]), {"hub": "big-hub", "count": 2})
    data = path.read_bytes().replace(b'"elsewhere/x.json"', b'"../../x.json"')
    path.write_bytes(data)
    models = sidecar.read_lookup(path).models
    assert models["good"].latest == "1.0"
    with pytest.raises(ValueError, match="invalid path"):
        models["x"]
    path.write_bytes(b"not a lookup file")
    assert sidecar.read_lookup(path) is None


@pytest.fixture
def hub_url(toy_hub, serve, monkeypatch):
    server = serve(toy_hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    return server


def test_the_cache_keeps_the_index_by_the_name_it_declares(hub_url, monkeypatch, isolated_environment):
    first = resolve_pretrained("esol-gc")
    assert catalog.cached_hub_names(Cache()) == ["test-hub"] and first.hub == "test-hub"
    blobs = hub_url.blob_hits()
    port = hub_url.url.rsplit(":", 1)[1].rstrip("/")
    for spelling in (f"http://localhost:{port}", f"HTTP://LOCALHOST:{port}/index.html", f"http://127.0.0.1:{port}"):
        monkeypatch.setenv("DEEPCHEM_MODEL_HUB", spelling)
        assert resolve_pretrained("esol-gc") == first
    assert catalog.cached_hub_names(Cache()) == ["test-hub"] and hub_url.blob_hits() == blobs
    assert sorted(p.name for p in (isolated_environment / "hubs" / "test-hub").iterdir()) == \
        ["index.json", "index.lookup", "served-by"]
    served = (isolated_environment / "hubs" / "test-hub" / "served-by").read_text().splitlines()
    assert served[1:] == [hub_url.url, f"http://localhost:{port}/"]  # the index is the same: two roots served it


def test_two_unrelated_hubs_that_chose_one_name_never_answer_for_each_other(tmp_path, serve, monkeypatch):
    lab = build_hub(tmp_path, {("victim", "1.0"): make_folder(tmp_path / "a", seed=1)}, out="lab")
    other = build_hub(tmp_path, {("m", "1"): make_folder(tmp_path / "b", seed=2)}, out="other")
    lab_url, other_url = serve(lab).url, serve(other).url
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "3600")
    for _ in range(2):  # both call themselves "test-hub": they take turns in the cache
        monkeypatch.setenv("DEEPCHEM_MODEL_HUB", lab_url)
        assert resolve_pretrained("victim").version == "1.0"
        monkeypatch.setenv("DEEPCHEM_MODEL_HUB", other_url)
        assert resolve_pretrained("m").version == "1"
        with pytest.raises(LookupError, match="no model named 'victim' in hub 'test-hub'"):
            resolve_pretrained("victim")


def test_a_warm_resolve_never_parses_the_whole_index(hub_url, monkeypatch):
    first = resolve_pretrained("esol-gc")

    loads = catalog.jsonstrict.loads

    def whole_index_parsed(*args, **kwargs):
        raise AssertionError("the whole index was parsed again")

    def loads_but_no_index(data, *args, **kwargs):  # manifests are still read (small, one per model)
        if b'"dchub-index"' in bytes(data):
            whole_index_parsed()
        return loads(data, *args, **kwargs)

    monkeypatch.setattr(catalog.hubfiles, "parse_index", whole_index_parsed)
    monkeypatch.setattr(catalog.jsonstrict, "loads", loads_but_no_index)
    assert resolve_pretrained("esol-gc") == first
    assert resolve_pretrained("esol-mtr@0.1").version == "0.1"
    assert hub_url.hits["index.json"] == 1


def test_a_damaged_or_missing_lookup_file_is_rebuilt_from_the_cached_index(hub_url, isolated_environment):
    first = resolve_pretrained("esol-gc")
    lookup = isolated_environment / "hubs" / "test-hub" / catalog.LOOKUP_FILE
    lookup.write_bytes(b"dchub-index-lookup 1\n{broken")
    assert resolve_pretrained("esol-gc") == first
    assert sidecar.read_lookup(lookup) is not None
    lookup.unlink()
    assert resolve_pretrained("esol-gc") == first and lookup.exists()
    assert hub_url.hits["index.json"] == 1  # rebuilt from the cache, not fetched again


def test_an_unchanged_index_fetched_again_is_fresh_again(hub_url, monkeypatch, isolated_environment):
    resolve_pretrained("esol-gc")
    lookup = isolated_environment / "hubs" / "test-hub" / catalog.LOOKUP_FILE
    old = time.time() - 7200
    import os

    os.utime(lookup, (old, old))
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "3600")
    resolve_pretrained("esol-gc")
    assert hub_url.hits["index.json"] == 2 and lookup.stat().st_mtime > old + 3600
    resolve_pretrained("esol-gc")
    assert hub_url.hits["index.json"] == 2


def test_a_mirror_stays_bound_to_the_hub_it_served_first(tmp_path, serve, monkeypatch, isolated_environment):
    a = build_hub(tmp_path, {("m", "2.0"): make_folder(tmp_path / "a", seed=1)}, out="prod", hub_name="prod")
    b = build_hub(tmp_path, {("m", "1.0"): make_folder(tmp_path / "b", seed=2)}, out="staging", hub_name="staging")
    served = tmp_path / "served"
    served.symlink_to(a)
    server = serve(served)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    assert resolve_pretrained("m").version == "2.0"
    served.unlink()
    served.symlink_to(b)  # the same URL now serves another hub
    with pytest.raises(TrustError, match="this index is of hub 'staging', but this mirror serves hub 'prod' "
                                         r"\(it served hub 'prod' before, as recorded in .*bindings"):
        resolve_pretrained("m", refresh=True)
    with pytest.raises(TrustError):
        resolve_pretrained("m@1.0", refresh=True)
    assert catalog.cached_hub_names(Cache()) == ["prod"]
    binding = catalog.binding_file(Cache(), server.url)
    assert binding.read_text().splitlines() == [server.url, "prod"]
    binding.unlink()  # what the message says to do when the change is intended
    assert resolve_pretrained("m", refresh=True).version == "1.0"
    assert catalog.cached_hub_names(Cache()) == ["prod", "staging"]


def test_an_index_that_expires_while_cached_is_checked_again(tmp_path, keys, serve, monkeypatch):
    folder = make_folder(tmp_path / "src", seed=1)
    hub = build_hub(tmp_path, {("m", "1"): folder}, sign_keys=[keys["old"][0]], expires_days=3 / 86400)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", str(keys["old"][1]))
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "3600")
    first = resolve_pretrained("m")
    expires = hubfiles.parse_time(json.loads((hub / "index.json").read_bytes())["expires"])
    time.sleep(max(0.0, expires.timestamp() - time.time()) + 0.5)
    with pytest.raises(TrustError, match="expired"):  # the cached copy is no longer good, and the mirror's neither
        resolve_pretrained("m")
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    with pytest.raises(TrustError, match="expired.*DEEPCHEM_HUB_ALLOW_EXPIRED"):
        resolve_pretrained("m")
    monkeypatch.setenv("DEEPCHEM_HUB_ALLOW_EXPIRED", "1")
    assert resolve_pretrained("m") == first
    monkeypatch.delenv("DEEPCHEM_HUB_OFFLINE")
    build_hub(tmp_path, {("m", "1"): folder}, sign_keys=[keys["old"][0]])  # re-signed: fresh again
    assert resolve_pretrained("m") == first


def test_changing_the_trusted_keys_checks_the_cached_index_again(hub_url, keys, monkeypatch):
    first = resolve_pretrained("esol-gc")  # the toy hub is not signed
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", str(keys["old"][1]))
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    with pytest.raises(TrustError, match="not signed"):
        resolve_pretrained("esol-gc")
    monkeypatch.delenv("DEEPCHEM_HUB_TRUSTED_KEYS")
    assert resolve_pretrained("esol-gc") == first


def test_a_damaged_cached_index_is_fetched_again_online_and_refused_offline(hub_url, monkeypatch,
                                                                           isolated_environment):
    first = resolve_pretrained("esol-gc")
    folder = isolated_environment / "hubs" / "test-hub"
    (folder / catalog.LOOKUP_FILE).unlink()
    (folder / "index.json").write_bytes(b'{"format": "dchub-index", "models": {')
    assert resolve_pretrained("esol-gc") == first
    assert hub_url.hits["index.json"] == 2 and sidecar.read_lookup(folder / catalog.LOOKUP_FILE) is not None
    (folder / catalog.LOOKUP_FILE).unlink()
    (folder / "index.json").write_bytes(b"{broken")
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="index.json"):
        resolve_pretrained("esol-gc@1.1.0")
