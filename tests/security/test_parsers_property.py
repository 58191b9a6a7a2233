"""Property-based tests: whatever bytes or structures a parser is fed, only documented errors escape.

Parsers: ``hubfiles.loads`` / ``parse_index`` / ``parse_manifest``, ``trust.check_index``,
``pretrained.parse_params`` / ``read_params``, ``encoding.decode_parameters`` and
``hubgen.manifest.load_hub_manifest``. Inputs: arbitrary JSON-like structures, mutations of valid
documents (a value replaced, a key dropped), and raw bytes.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dchub_client.errors import DchubError
from dchub_client.format import hubfiles, jsonstrict, pretrained
from dchub_client.hub import trust
from dchub_client.models import encoding
from hubgen.errors import HubgenError
from hubgen.manifest import load_hub_manifest

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SHA = "ab" * 32

_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
            | st.sampled_from(["../x", "/etc/passwd", "a\\b", "a\x00b", "x" * 300, "C:x", "", ".", "..",
                               "__dchub__", "ndarray", "tuple", "dict", "float", "ref", "object", "state",
                               "<f4", "|O", "latest", SHA]))
json_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8) | st.sampled_from(["__dchub__", "items",
                                                                                    "shape", "dtype", "data",
                                                                                    "value", "class", "name"]),
                                             inner, max_size=4),
                           max_leaves=20)

VALID_INDEX = {
    "format": "dchub-index", "format_version": "1.0", "name": "hub", "title": "t", "description": "d",
    "mirrors": ["https://x/"], "generated": "2026-01-01T00:00:00Z", "version": 3,
    "expires": "2999-01-01T00:00:00Z",
    "models": {"m": {"latest": "1.0", "versions": {"1.0": {"manifest": "models/m/1.0/manifest.json",
                                                           "sha256": SHA, "size": 10}}}},
}
VALID_MANIFEST = {
    "format": "dchub-manifest", "format_version": "1.0", "name": "m", "version": "1.0", "class": "a.B",
    "framework": "torch", "card": {"license": "MIT"},
    "files": [{"path": "params.json", "sha256": SHA, "size": 3},
              {"path": "w.npy", "sha256": SHA, "size": 4, "parts": [{"sha256": SHA, "size": 2},
                                                                    {"sha256": SHA, "size": 2}]}],
}
VALID_PARAMS = {
    "format": "dchub-pretrained", "format_version": "1.0", "class": "deepchem.models.X", "framework": "torch",
    "parameters": {"n": 1, "t": {"__dchub__": "tuple", "items": [1, 2]},
                   "a": {"__dchub__": "ndarray", "dtype": "<f4", "shape": [2], "data": [1.0, 2.0]},
                   "f": {"__dchub__": "float", "value": "nan"},
                   "d": {"__dchub__": "dict", "items": [[1, "x"]]}},
    "versions": {"dchub": "0.1"},
    "weights": {"x-l-0": {"file": "x-l-0.npy", "shape": [2, 3], "dtype": "<f4", "sha256": SHA, "key": "l.w"}},
    "extra": {},
}


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            out += _paths(value, prefix + (i,))
    return out


@st.composite
def mutations(draw: Any, valid: dict) -> Any:
    """*valid* with a few values replaced by arbitrary JSON values or keys/items removed."""
    doc = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            parent[path[-1]] = draw(json_values)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return doc


def _only_documented(fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except (DchubError, HubgenError):
        pass


# --- index.json and manifests ---------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
       | st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b"\xff\xfe", b'{"a":1,"a":2}', b"NaN"]))
def test_loads_raises_only_hub_format_errors(data: bytes) -> None:
    _only_documented(jsonstrict.loads, data, "x")


@SETTINGS
@given(json_values | mutations(VALID_INDEX))
def test_parse_index_raises_only_documented_errors(data: Any) -> None:
    _only_documented(hubfiles.parse_index, data, "index.json")


@SETTINGS
@given(json_values | mutations(VALID_MANIFEST))
def test_parse_manifest_raises_only_documented_errors(data: Any) -> None:
    _only_documented(hubfiles.parse_manifest, data, "manifest.json", name="m", version="1.0")


@SETTINGS
@given(mutations(VALID_INDEX) | json_values)
def test_trust_checks_raise_only_documented_errors(tmp_path_factory: Any, data: Any) -> None:
    from hubgen.signing import sign_index

    store = trust.VersionStore(tmp_path_factory.mktemp("store"))
    key = trust.PublicKey(bytes(32))
    try:
        index = hubfiles.parse_index(data, "i")
    except DchubError:
        return
    signed = sign_index(data, [_KEY]) if isinstance(data, dict) else data
    for obj in (data, signed):
        _only_documented(trust.check_index, obj, index, "i", store=store, keys=[key, _PUB])


def _rotated_index() -> dict:
    """VALID_INDEX moved from _KEY to a second key by a valid rotation record (signed by both)."""
    from hubgen.signing import rotation_record

    return dict(VALID_INDEX, key_rotations=[rotation_record("hub", 1, [_new_key()], threshold=1, signers=[_KEY])])


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


@SETTINGS
@given(st.data())
def test_rotation_records_raise_only_documented_errors(tmp_path_factory: Any, data: Any) -> None:
    obj = data.draw(mutations(_rotated_index()))
    store = trust.TrustStore(tmp_path_factory.mktemp("store"))
    try:
        index = hubfiles.parse_index(obj, "i")
    except DchubError:
        return
    from hubgen.signing import sign_index

    for candidate, threshold in ((obj, 1), (sign_index(obj, [_new_key()]), 1), (sign_index(obj, [_KEY]), 2)):
        _only_documented(trust.check_index, candidate, index, "i", store=store,
                         keys=[trust.PublicKey(bytes(32)), _PUB], threshold=threshold)


def _private_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


_KEY = _private_key()
_PUB = trust.parse_public_key(__import__("hubgen.signing", fromlist=["x"]).public_key_text(_KEY), "test")


def test_valid_documents_parse() -> None:  # the mutations start from documents that are valid
    assert hubfiles.parse_index(VALID_INDEX).version == 3
    assert hubfiles.parse_manifest(VALID_MANIFEST).files[1].parts
    assert pretrained.parse_params(VALID_PARAMS).weights["x-l-0"].shape == (2, 3)
    assert encoding.decode_parameters(VALID_PARAMS["parameters"])["t"] == (1, 2)


# --- params.json ------------------------------------------------------------------------------


@SETTINGS
@given(json_values | mutations(VALID_PARAMS))
def test_parse_params_raises_only_documented_errors(data: Any) -> None:
    _only_documented(pretrained.parse_params, data, source="params.json")


@SETTINGS
@given(st.binary(max_size=300) | mutations(VALID_PARAMS).map(lambda d: json.dumps(d).encode()))
def test_read_params_raises_only_documented_errors(tmp_path_factory: Any, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("p")
    (folder / "params.json").write_bytes(data)
    _only_documented(pretrained.read_params, folder)


@SETTINGS
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=4) | mutations(VALID_PARAMS["parameters"]))
def test_decode_parameters_raises_only_documented_errors(data: Any) -> None:
    _only_documented(encoding.decode_parameters, data, source="params.json")


# --- hub_manifest.yaml ------------------------------------------------------------------------

_VALID_YAML = """name: hub
title: A hub
mirrors: [https://x/]
models:
  - name: m
    version: "1.0"
    path: folder
    card: {description: d, tags: [a]}
"""
_yaml_text = st.text(alphabet=st.sampled_from(list("abcmnpv:-[]{}&*!|>'\"#\n .0123456789\t,")), max_size=120)


@st.composite
def yaml_mutations(draw: Any) -> str:
    text = _VALID_YAML
    cut = draw(st.integers(0, len(text)))
    return text[:cut] + draw(_yaml_text) + text[cut + draw(st.integers(0, 10)):]


@SETTINGS
@given(_yaml_text | yaml_mutations() | json_values.map(json.dumps)
       | st.sampled_from(["&a [*a]", "a: &a {b: *a}", "- &x [*x, *x]", "!!python/object:os.system x",
                          "name: !!binary aGk=", "[" * 10_000, "\x00", "a: 2026-01-01"]))
def test_hub_manifest_loader_raises_only_documented_errors(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("m") / "hub_manifest.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _only_documented(load_hub_manifest, path)


@pytest.mark.parametrize("text", ["&a [*a]", "name: x\nmodels: &m [*m]\n", "[" * 10_000])
def test_recursive_or_deep_yaml_is_a_manifest_error(tmp_path: Path, text: str) -> None:
    from hubgen.errors import ManifestError

    path = tmp_path / "hub_manifest.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError):
        load_hub_manifest(path)
