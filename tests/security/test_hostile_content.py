"""Hostile content: path traversal, absolute paths, backslashes, NUL bytes, over-long names, huge shapes
and lying ``.npy`` headers are refused when building (hubgen) and when loading (the client)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dchub_client.errors import HubFormatError, PretrainedFormatError, WeightFileError
from dchub_client.format import hubfiles, pretrained
from dchub_client.format.hashing import sha256_bytes, sha256_file
from dchub_client.hub.resolve import resolve_pretrained
from hubgen.build import build_hub as hubgen_build
from hubgen.errors import BuildError, ManifestError
from tests._support.folders import make_folder
from tests._support.hubs import build_hub

BAD_PATHS = ["../evil.npy", "a/../../evil", "/etc/passwd", "C:/x", "a\\..\\evil", "a\x00b", "x" * 300,
             "a//b", "./a", "a/\nb"]
BAD_NAMES = ["../evil", "/abs", "a\\b", "a\x00b", "x" * 201, ".hidden", "a/b", "CON", ""]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_manifest_file_paths_are_refused(path):
    doc = {"format": "dchub-manifest", "format_version": "1.0", "name": "m", "version": "1", "class": "a.B",
           "framework": "torch", "files": [{"path": path, "sha256": "ab" * 32, "size": 1}]}
    with pytest.raises(HubFormatError, match="invalid path"):
        hubfiles.parse_manifest(doc, "manifest.json")


@pytest.mark.parametrize("name", ["../x", "a/b", "x" * 101, "a\x00", "m\n", "..", ".m"])
def test_index_model_names_and_manifest_paths_are_refused(name):
    ref = {"manifest": "models/m/1/manifest.json", "sha256": "ab" * 32, "size": 1}
    doc = {"format": "dchub-index", "format_version": "1.0", "name": "h",
           "models": {name: {"latest": "1", "versions": {"1": ref}}}}
    with pytest.raises(HubFormatError):
        hubfiles.parse_index(doc, "index.json")
    doc["models"] = {"m": {"latest": "1", "versions": {"1": dict(ref, manifest="../../etc/passwd")}}}
    with pytest.raises(HubFormatError, match="invalid path"):
        hubfiles.parse_index(doc, "index.json")


def _params(folder: Path) -> dict:
    return json.loads((folder / "params.json").read_text())


@pytest.mark.parametrize("name", BAD_NAMES)
def test_params_weight_names_are_refused_when_loading(tmp_path, name):
    folder = make_folder(tmp_path / "m")
    params = _params(folder)
    entry = next(iter(params["weights"].values()))
    params["weights"] = {name: dict(entry, file=name + ".npy")}
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(PretrainedFormatError):
        pretrained.read_params(folder)


@pytest.mark.parametrize("file", ["../toy-dense.0-0.npy", "/tmp/x.npy", "sub/toy-dense.0-0.npy",
                                  "toy-dense.0-0.npy\x00"])
def test_params_file_entries_must_be_the_weight_name(tmp_path, file):
    folder = make_folder(tmp_path / "m")
    params = _params(folder)
    params["weights"]["toy-dense.0-0"]["file"] = file
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(PretrainedFormatError, match="'file' must be"):
        pretrained.read_params(folder)


@pytest.mark.parametrize("shape", [[2 ** 40, 2 ** 40], [2] * 64, [-1], [1.5], [True]])
def test_huge_or_malformed_shapes_are_refused(tmp_path, shape):
    folder = make_folder(tmp_path / "m")
    params = _params(folder)
    params["weights"]["toy-dense.0-0"]["shape"] = shape
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(PretrainedFormatError, match="shape"):
        pretrained.read_params(folder)


def _lying_header(path: Path, shape: tuple[int, ...]) -> None:
    """Rewrite a .npy header so it claims *shape*, keeping the data bytes."""
    data = path.read_bytes()
    with open(path, "rb") as handle:
        np.lib.format.read_magic(handle)
        np.lib.format.read_array_header_1_0(handle)
        body = data[handle.tell():]
    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    out = path.with_suffix(".tmp")
    with open(out, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(body)
    out.replace(path)


@pytest.mark.parametrize("shape", [(64 * 1000,), (2 ** 40,), (9, 8), (7,)])
def test_npy_headers_that_lie_about_their_size_are_refused(tmp_path, shape):
    folder = make_folder(tmp_path / "m", size=64)
    info = pretrained.read_params(folder)
    entry = info.weights["toy-dense.0-0"]
    _lying_header(folder / entry.file, shape)
    with pytest.raises(WeightFileError, match="file holds|truncated|trailing"):
        pretrained.read_header(folder / entry.file, entry)
    # and when params.json agrees with the lie, the file size still gives it away
    params = _params(folder)
    params["weights"]["toy-dense.0-0"].update(shape=list(shape), sha256=sha256_file(folder / entry.file))
    (folder / "params.json").write_text(json.dumps(params))
    if np.prod(shape) * 4 < 2 ** 40:
        entry = pretrained.read_params(folder).weights["toy-dense.0-0"]
        with pytest.raises(WeightFileError, match="truncated|trailing"):
            pretrained.read_header(folder / entry.file, entry)


# --- hubgen build -----------------------------------------------------------------------------


def _yaml(tmp_path: Path, name: str, version: str, folder: Path) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(f"name: h\nmodels:\n  - name: {json.dumps(name)}\n    version: {json.dumps(version)}\n"
                    f"    path: {json.dumps(str(folder))}\n")
    return path


@pytest.mark.parametrize("name, version", [("../evil", "1"), ("ok", "../../1"), ("a\\b", "1"), ("ok", "1\x00"),
                                           ("x" * 101, "1"), ("/abs", "1")])
def test_build_refuses_bad_names_and_versions_in_the_manifest(tmp_path, name, version):
    folder = make_folder(tmp_path / "m")
    with pytest.raises(ManifestError):
        hubgen_build(_yaml(tmp_path, name, version, folder), tmp_path / "hub")
    assert not (tmp_path / "hub").exists() and not (tmp_path / "evil").exists()


@pytest.mark.parametrize("extra", ["a\\b.txt", "x" * 256, "line\nbreak.txt"])
def test_build_refuses_hostile_file_names_in_a_pretrained_folder(tmp_path, extra):
    folder = make_folder(tmp_path / "m")
    try:
        (folder / extra).write_bytes(b"x")
    except OSError:
        pytest.skip("the file system refuses this name itself")
    with pytest.raises(BuildError, match="invalid path"):
        hubgen_build(_yaml(tmp_path, "m", "1", folder), tmp_path / "hub")
    assert not (tmp_path / "hub" / "index.json").exists()


def test_build_refuses_a_folder_whose_params_lie(tmp_path):
    folder = make_folder(tmp_path / "m")
    params = _params(folder)
    params["weights"]["toy-dense.0-0"]["file"] = "../toy-dense.0-0.npy"
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(BuildError, match="invalid pretrained folder"):
        hubgen_build(_yaml(tmp_path, "m", "1", folder), tmp_path / "hub")


# --- the client, against a hub whose index vouches for hostile manifests ------------------------


def test_client_refuses_a_manifest_with_traversal_paths_even_with_a_matching_sha(tmp_path, serve, monkeypatch,
                                                                                isolated_environment):
    hub = build_hub(tmp_path, {("m", "1"): make_folder(tmp_path / "src")})
    index = json.loads((hub / "index.json").read_bytes())
    ref = index["models"]["m"]["versions"]["1"]
    manifest_file = hub / hubfiles.manifest_path("m", "1")
    manifest = json.loads(manifest_file.read_bytes())
    manifest["files"][0]["path"] = "../../../escaped.txt"
    data = hubfiles.dumps(manifest)
    manifest_file.write_bytes(data)
    ref.update(sha256=sha256_bytes(data), size=len(data))
    (hub / "index.json").write_bytes(hubfiles.dumps(index))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    with pytest.raises(HubFormatError, match="invalid path"):
        resolve_pretrained("m")
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not list(isolated_environment.glob("snapshots/*/*/*"))
