"""Tests for dchub_client.format.hubfiles: the index and manifest definitions shared by hubgen and the client."""
from __future__ import annotations

import pytest

from dchub_client.errors import HubFormatError
from dchub_client.format import hubfiles as hf
from dchub_client.format import jsonstrict

SHA = "a" * 64
SHB = "b" * 64


def _index() -> dict:
    """A 2.0 index: manifest paths that follow from name and version are left out."""
    return {"format": "dchub-index", "format_version": "2.0", "name": "hub", "title": "T", "description": "",
            "mirrors": ["https://x/"], "generated": "2020-01-01T00:00:00Z",
            "models": {"m": {"latest": "1.0", "versions": {"1.0": {"sha256": SHA, "size": 10}}}}}


def _index_v1() -> dict:
    """The same index in format 1.0 (every manifest path written out, indented)."""
    data = _index()
    data["format_version"] = "1.0"
    data["models"]["m"]["versions"]["1.0"]["manifest"] = "models/m/1.0/manifest.json"
    return data


def _manifest() -> dict:
    return {"format": "dchub-manifest", "format_version": "1.0", "name": "m", "version": "1.0",
            "class": "deepchem.models.X", "framework": "torch", "card": {"license": "MIT"},
            "files": [{"path": "params.json", "sha256": SHA, "size": 3},
                      {"path": "w.npy", "sha256": SHB, "size": 5,
                       "parts": [{"sha256": SHA, "size": 3}, {"sha256": SHB, "size": 2}]}]}


def test_index_round_trip():
    index = hf.parse_index(_index(), "idx")
    assert index.models["m"].versions["1.0"].size == 10
    assert index.models["m"].versions["1.0"].manifest == "models/m/1.0/manifest.json"
    assert hf.index_to_json(index) == _index()


def test_a_v1_index_is_read_and_written_back_as_v2():
    old = hf.parse_index(_index_v1(), "idx")
    assert old.format_version == "1.0"
    assert old.models == hf.parse_index(_index(), "idx").models
    assert hf.index_to_json(old) == _index()


def test_a_manifest_path_that_does_not_follow_from_name_and_version_is_kept():
    data = _index()
    data["models"]["m"]["versions"]["1.0"]["manifest"] = "elsewhere/m-1.0.json"
    index = hf.parse_index(data, "idx")
    assert index.models["m"].versions["1.0"].manifest == "elsewhere/m-1.0.json"
    assert hf.index_to_json(index)["models"]["m"]["versions"]["1.0"]["manifest"] == "elsewhere/m-1.0.json"


def test_index_dumps_is_compact_sorted_and_parses_back():
    data = hf.index_dumps(_index())
    assert b"\n" not in data[:-1] and b": " not in data and data.endswith(b"}\n")
    assert data.index(b'"description"') < data.index(b'"format"') < data.index(b'"models"')
    assert hf.parse_index(jsonstrict.loads(data), "idx") == hf.parse_index(_index(), "idx")
    assert len(data) < len(hf.dumps(_index_v1()))


def test_manifest_round_trip_and_blobs():
    manifest = hf.parse_manifest(_manifest(), "man", name="m", version="1.0")
    assert manifest.files[0].blobs == (hf.Part(SHA, 3),)
    assert [p.size for p in manifest.files[1].blobs] == [3, 2]
    assert hf.manifest_to_json(manifest) == _manifest()
    assert manifest.size == 8


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="x"), "'format' must be 'dchub-index'"),
    (lambda d: d.update(format_version="3.0"), "not supported"),
    (lambda d: d["models"]["m"].update(latest="9"), "'latest' is '9'"),
    (lambda d: d["models"]["m"]["versions"]["1.0"].update(sha256="zz"), "'sha256' must be 64"),
    (lambda d: d["models"]["m"]["versions"]["1.0"].update(manifest="../x"), "invalid path"),
    (lambda d: d["models"].update({"a/b": d["models"]["m"]}), "invalid model name 'a/b'"),
    (lambda d: d.update(mirrors="x"), "'mirrors' must be a JSON array"),
])
def test_bad_index(mutate, message):
    data = _index()
    mutate(data)
    with pytest.raises(HubFormatError, match="idx: .*" + message.replace("(", r"\(")) as info:
        hf.parse_index(data, "idx")
    assert info.value.source == "idx"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["files"][1]["parts"][0].update(size=4), "add up to 6 bytes"),
    (lambda d: d["files"].append(dict(d["files"][0])), "listed twice"),
    (lambda d: d["files"][0].update(size=-1), "'size' must be a non-negative"),
    (lambda d: d["files"][0].update(path="/etc/passwd"), "invalid path"),
    (lambda d: d.update(version="2.0"), "expected '1.0'"),
])
def test_bad_manifest(mutate, message):
    data = _manifest()
    mutate(data)
    with pytest.raises(HubFormatError, match=message):
        hf.parse_manifest(data, "man", name="m", version="1.0")


def test_names_paths_and_blob_path():
    assert hf.blob_path(SHA) == f"blobs/sha256/aa/{SHA}"
    assert hf.manifest_path("m", "1.0") == "models/m/1.0/manifest.json"
    for bad in ["", "a b", "a/b", ".x", "-x", "é", "a" * 101, "a..b"]:
        with pytest.raises(HubFormatError):
            hf.validate_name(bad)
    assert hf.validate_relpath("sub/file.npy") == "sub/file.npy"
    for bad in ["a//b", "a/./b", "a\\b", "C:x"]:
        with pytest.raises(HubFormatError):
            hf.validate_relpath(bad)
    for bad in ["a\nb", "a\x00b", "a\x1fb", "w\x7f.npy", "a\ud800b", "d\u00e9/\udfff.npy", "\udc80"]:
        with pytest.raises(HubFormatError, match="control characters .* or lone surrogates"):
            hf.validate_relpath(bad)
    for good in ["donn\u00e9es/poids.npy", "\u6a21\u578b/w.npy", "emoji-\U0001f9ea.npy", "a\u0080b"]:
        assert hf.validate_relpath(good) == good


def test_strict_json_and_canonical_dumps():
    with pytest.raises(HubFormatError, match="duplicate key"):
        jsonstrict.loads(b'{"a": 1, "a": 2}', "f")
    with pytest.raises(HubFormatError, match="NaN"):
        jsonstrict.loads(b'{"a": NaN}', "f")
    assert hf.dumps({"b": 1, "a": "é"}) == '{\n "a": "é",\n "b": 1\n}\n'.encode()


def test_latest_version():
    assert hf.latest_version(["1.9", "1.10", "1.2"]) == "1.10"
    assert hf.latest_version(["1.0.0", "1.0.0rc1"]) == "1.0.0"
    assert hf.latest_version(["beta", "alpha"]) == "beta"


def test_a_digest_mismatch_shows_where_the_digests_differ():
    from dchub_client.errors import ManifestMismatchError
    from dchub_client.format.hashing import sha256_bytes, shown_pair

    data = b'{"format": "dchub-manifest"}'
    actual = sha256_bytes(data)
    near = actual[:-1] + ("0" if actual[-1] != "0" else "1")  # differs in the last hex digit only
    with pytest.raises(ManifestMismatchError) as info:
        hf.read_manifest(data, hf.VersionRef("models/m/1/manifest.json", near, len(data)), "m/manifest.json")
    assert f"got {actual} (" in str(info.value) and f"the index says {near} (" in str(info.value)
    assert shown_pair("a" * 64, "b" * 64) == ("a" * 12 + "…", "b" * 12 + "…")  # short when they differ early
    assert shown_pair("ab" * 32, "ab" * 10 + "ac" + "ab" * 21) == ("ab" * 11 + "…", "ab" * 10 + "ac…")
