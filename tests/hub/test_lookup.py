"""Malformed or unknown-version indexes and manifests: precise errors, nothing cached."""
from __future__ import annotations

import json

import pytest

from dchub_client.errors import HubFormatError, MirrorError
from dchub_client.format import hubfiles
from dchub_client.format.hashing import sha256_bytes
from dchub_client.hub import catalog
from dchub_client.hub.cache import Cache
from dchub_client.hub.resolve import resolve_pretrained


def _edit_index(hub, edit):
    path = hub / "index.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_malformed_index_names_the_url(toy_hub, serve, monkeypatch):
    (toy_hub / "index.json").write_text('{"format": "dchub-index", "models": {')
    server = serve(toy_hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    with pytest.raises(HubFormatError, match="not valid JSON") as info:
        resolve_pretrained("esol-gc")
    assert server.url + "index.json" in str(info.value)
    assert catalog.cached_hub_names(Cache()) == []


def test_unknown_index_format_version(toy_hub, serve, monkeypatch):
    _edit_index(toy_hub, lambda d: d.update(format_version="3.0"))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(toy_hub).url)
    with pytest.raises(HubFormatError, match="format version 3.0 is not supported"):
        resolve_pretrained("esol-gc")


def test_a_good_mirror_wins_over_a_malformed_one(toy_hub, tmp_path, serve, dead_url, monkeypatch):
    import shutil

    bad_root = tmp_path / "bad"
    shutil.copytree(toy_hub, bad_root)
    (bad_root / "index.json").write_text("[]")
    bad, good = serve(bad_root), serve(toy_hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{bad.url} {good.url}")
    assert resolve_pretrained("esol-gc").verified
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{bad.url} {dead_url}")
    with pytest.raises(MirrorError) as info:
        resolve_pretrained("esol-gc", refresh=True)
    assert "must be a JSON object" in info.value.failures[bad.url]


def _rewrite_manifest(hub, name, version, edit):
    """Change a manifest and record its new sha256 in the index (a hub that is consistently wrong)."""
    rel = hubfiles.manifest_path(name, version)
    data = json.loads((hub / rel).read_text())
    edit(data)
    raw = json.dumps(data).encode()
    (hub / rel).write_bytes(raw)

    def fix(index):
        index["models"][name]["versions"][version].update(sha256=sha256_bytes(raw), size=len(raw))
    _edit_index(hub, fix)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(format_version="7.1"), "format version 7.1 is not supported"),
    (lambda m: m["files"][0].update(sha256="xyz"), "'sha256' must be 64 lower-case hex digits"),
    (lambda m: m["files"][0].update(path="../../etc/passwd"), "invalid path"),
    (lambda m: m.update(name="other-model"), "manifest is for name 'other-model'"),
])
def test_malformed_manifest(toy_hub, serve, monkeypatch, edit, message):
    _rewrite_manifest(toy_hub, "esol-gc", "1.0.0", edit)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(toy_hub).url)
    with pytest.raises(HubFormatError, match=message) as info:
        resolve_pretrained("esol-gc@1.0.0")
    assert "esol-gc/1.0.0/manifest.json" in str(info.value)
    assert Cache().snapshot_manifest("esol-gc", "1.0.0", hub="test-hub") is None


def test_manifest_not_matching_the_index_is_refused(toy_hub, serve, monkeypatch):
    """Same size, different bytes: only the sha256 the index gives catches it."""
    rel = toy_hub / hubfiles.manifest_path("esol-gc", "1.0.0")
    rel.write_bytes(rel.read_bytes().replace(b"toy model", b"bad model"))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(toy_hub).url)
    with pytest.raises(MirrorError, match="sha256 mismatch"):
        resolve_pretrained("esol-gc@1.0.0")


@pytest.mark.parametrize("spec", ["esol gc", "esol-gc@", "esol-gc@1.0@2", "-esol"])
def test_invalid_names(spec, toy_hub, serve, monkeypatch):
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(toy_hub).url)
    with pytest.raises(HubFormatError, match="invalid"):
        resolve_pretrained(spec)
