"""hub_manifest.yaml validation: every bad input gives the file, line and key."""
from __future__ import annotations

import pytest

from hubgen.errors import ManifestError
from hubgen.manifest import DEFAULT_PART_SIZE, load_hub_manifest


def test_valid_manifest(hub_yaml, tmp_path):
    spec = load_hub_manifest(hub_yaml)
    assert spec.name == "test-hub" and spec.part_size == DEFAULT_PART_SIZE
    assert spec.mirrors == ("https://example.org/hub/", "https://mirror.example.net/hub/")
    assert [m.ref for m in spec.models] == ["esol@1.0.0", "esol@1.1.0", "esol-ft@0.1"]
    assert spec.models[0].path == (tmp_path / "base").resolve()
    assert spec.models[0].card["dataset"] == "delaney"  # further keys kept as-is


def test_unquoted_version_keeps_its_text(write_yaml):
    spec = load_hub_manifest(write_yaml("""
        name: h
        models:
          - {name: m, version: 1.10, path: x}
          - {name: m, version: 2, path: y, latest: true}
        """))
    assert [m.version for m in spec.models] == ["1.10", "2"]
    assert spec.models[1].latest


BAD = [
    ("name: h\nmodels: [\n", 3, None, "YAML syntax error"),
    ("models: []\n", 1, "name", "missing required key"),
    ("name: h\nmodels:\n  - name: m\n    version: '1'\n    path: a\n  - name: m\n    version: '1'\n    path: b\n",
     6, "models[1]", "duplicate model version m@1 (first on line 3)"),
    ("name: h\nmodels:\n  - name: a/b\n    version: '1'\n    path: a\n", 3, "models[0].name", "invalid model name 'a/b'"),
    ("name: h\nmodels:\n  - name: m\n    version: 1 beta\n    path: a\n", 4, "models[0].version",
     "invalid version '1 beta'"),
    ("name: h\nmodels:\n  - name: 'm?x'\n    version: '1'\n    path: a\n", 3, "models[0].name", "invalid model name"),
    ("name: h\nmodels:\n  - name: m\n    version: '1'\n    path: a\n    licence: MIT\n", 6, "models[0].licence",
     "unknown key"),
    ("name: h\nmodels:\n  - name: m\n    version: '1'\n", 3, "models[0].path", "missing required key"),
    ("name: h\nmodels:\n  - name: m\n    version: '1'\n    path: a\n    recipe: not a recipe\n", 6,
     "models[0].recipe", "must look like 'package.module:function'"),
    ("name: h\nmodels:\n  - name: m\n    version: '1'\n    path: a\n    card:\n      tags: solubility\n", 7,
     "models[0].card.tags", "must be a list of strings"),
    ("name: h\nmodels:\n  - name: m\n    version: '1'\n    path: a\n    card:\n      released: 2020-01-01\n", 7,
     "models[0].card.released", "not representable in JSON"),
    ("name: h\nmirrors: [ftp://x]\nmodels: []\n", 2, "mirrors[0]", "is not an http(s)"),
    ("name: h\npart_size: -3\nmodels: []\n", 2, "part_size", "must be a positive number"),
    ("name: h\nname: g\nmodels: []\n", 2, "name", "duplicate key (first on line 1)"),
    ("name: h\nmodels:\n  - {name: m, version: '1', path: a, latest: true}\n"
     "  - {name: m, version: '2', path: b, latest: true}\n", 4, "models[1].latest", "already has 'latest: true'"),
]


@pytest.mark.parametrize("text, line, key, message", BAD)
def test_bad_manifest_names_line_and_key(write_yaml, text, line, key, message):
    path = write_yaml(text)
    with pytest.raises(ManifestError) as info:
        load_hub_manifest(path)
    err = info.value
    assert (err.line, err.key) == (line, key)
    assert message in str(err)
    assert str(err).startswith(f"{path}:{line}: ")


def test_missing_manifest_file(tmp_path):
    with pytest.raises(ManifestError, match="file not found"):
        load_hub_manifest(tmp_path / "nope.yaml")
