"""The seed's plain layout (<root>/<name>/params.json + weights) over HTTP, S3 and folders (dchub_client.hub.plain)."""
from __future__ import annotations

import functools
import http.server
import json
import shutil
import socket
import threading
from pathlib import Path

import pytest

from dchub_client.errors import MirrorError, ModelNotFoundError, NotAHubError, OfflineError
from dchub_client.format import layout
from dchub_client.hub import plain
from dchub_client.hub.cache import Cache
from dchub_client.hub.resolve import resolve_pretrained
from tests._support.folders import load_weights, make_folder, validate_folder


@pytest.fixture
def plain_root(tmp_path: Path) -> Path:
    """A plain root: esol/ (3 weights) and tox/ (2 weights), no index.json."""
    root = tmp_path / "modelhub"
    make_folder(root / "esol", seed=1, n_weights=3, size=3000)
    make_folder(root / "tox", seed=2, n_weights=2, size=500)
    return root


def _weight_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == layout.WEIGHT_SUFFIX)


def test_a_plain_root_over_http_is_fetched_verified_and_cached(plain_root, serve, monkeypatch):
    server = serve(plain_root)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    resolved = resolve_pretrained("esol")
    assert resolved.verified and resolved.version is None and resolved.hub == plain.namespace(server.url)
    assert resolved.path == Cache().snapshot("esol", plain.PLAIN_VERSION, hub=plain.namespace(server.url))
    validate_folder(resolved.path)
    assert load_weights(resolved.path).keys() == load_weights(plain_root / "esol").keys()
    assert _weight_files(resolved.path) == _weight_files(plain_root / "esol")
    assert server.hits["index.json"] == 1 and server.hits["esol/params.json"] == 1
    assert all(server.hits[f"esol/{f}"] == 1 for f in _weight_files(plain_root / "esol"))
    assert resolve_pretrained("esol") == resolved  # params.json is asked again, nothing else
    assert server.hits["esol/params.json"] == 2 and sum(n for p, n in server.hits.items() if p.endswith(".npy")) == 3
    server.close()
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    assert resolve_pretrained("esol").path == resolved.path
    monkeypatch.delenv("DEEPCHEM_MODEL_HUB")  # offline, by identity: whatever DEEPCHEM_MODEL_HUB says
    assert resolve_pretrained("esol").path == resolved.path
    with pytest.raises(OfflineError, match="tox is not in the cache"):
        resolve_pretrained("tox")


def test_a_changed_model_on_the_root_is_fetched_again(plain_root, serve, monkeypatch):
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(plain_root).url)
    before = load_weights(resolve_pretrained("tox").path)
    shutil.rmtree(plain_root / "tox")
    make_folder(plain_root / "tox", seed=9, n_weights=2, size=500)
    after = load_weights(resolve_pretrained("tox").path)
    assert before.keys() == after.keys() and any((before[k] != after[k]).any() for k in before)


def test_a_corrupt_weight_is_refused_and_another_mirror_is_used(plain_root, tmp_path, serve, monkeypatch):
    weight = _weight_files(plain_root / "esol")[1]
    bad = serve(plain_root, {f"esol/{weight}": "corrupt"})
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", bad.url)
    with pytest.raises(MirrorError, match=rf"esol/{weight}(.|\n)*sha256 mismatch"):
        resolve_pretrained("esol")
    assert not Cache().snapshots()
    good_root = tmp_path / "copy"
    shutil.copytree(plain_root, good_root)
    good = serve(good_root)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{bad.url} {good.url}")
    resolved = resolve_pretrained("esol")
    validate_folder(resolved.path)
    assert good.hits[f"esol/{weight}"] == 1 and good.hits["esol/params.json"] == 0  # only the weight came from it


def test_a_params_json_that_lists_a_missing_weight_names_it(plain_root, serve, monkeypatch):
    weight = _weight_files(plain_root / "tox")[0]
    (plain_root / "tox" / weight).unlink()
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(plain_root).url)
    with pytest.raises(MirrorError, match=rf"tox/{weight}(.|\n)*HTTP 404"):
        resolve_pretrained("tox")


def test_what_the_plain_layout_cannot_do_is_said(plain_root, tmp_path, serve, monkeypatch):
    server = serve(plain_root)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    with pytest.raises(ModelNotFoundError, match="has no versions"):
        resolve_pretrained("esol@1.0")
    with pytest.raises(NotAHubError, match="no model 'nothing' at .*no index.json .*Expected at a hub root"):
        resolve_pretrained("nothing")
    (plain_root / "broken").mkdir()
    (plain_root / "broken" / "params.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken/params.json"):
        resolve_pretrained("broken")


def test_a_local_plain_folder_is_loaded_in_place(plain_root, monkeypatch):
    for spelling in (str(plain_root), f"file://{plain_root}/"):
        monkeypatch.setenv("DEEPCHEM_MODEL_HUB", spelling)
        resolved = resolve_pretrained("esol")
        assert resolved.path == plain_root / "esol" and not resolved.verified
    assert not Cache().snapshots()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_a_plain_s3_bucket_over_its_rest_endpoint(plain_root, moto_endpoint, monkeypatch, tmp_path):
    """A real S3 API (moto on loopback), read anonymously, as the client reads DeepChem's bucket."""
    import boto3
    import requests

    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_CONFIG_FILE", str(tmp_path / "none")),
                       ("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))):
        monkeypatch.setenv(var, value)
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    client.create_bucket(Bucket="plain-models")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": "arn:aws:s3:::plain-models/modelhub/*"}]}
    client.put_bucket_policy(Bucket="plain-models", Policy=json.dumps(policy))
    for path in sorted(plain_root.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), "plain-models", f"modelhub/{path.relative_to(plain_root).as_posix()}")
    url = f"{moto_endpoint}/plain-models/modelhub/"
    assert requests.get(url + "index.json", timeout=10).status_code in (403, 404)  # S3: 403 without ListBucket
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", url)
    resolved = resolve_pretrained("tox")
    assert load_weights(resolved.path).keys() == load_weights(plain_root / "tox").keys()
    assert all((load_weights(resolved.path)[k] == load_weights(plain_root / "tox")[k]).all()
               for k in load_weights(resolved.path))


class _ForbiddenMissing(http.server.SimpleHTTPRequestHandler):
    """What S3 (REST or website endpoint) answers for a missing key when listing is not public: 403, HTML."""

    def log_message(self, *args: object) -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        super().send_error(403 if code == 404 else code, "AccessDenied", explain)


def test_403_for_a_missing_index_is_read_as_no_index(plain_root, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_ForbiddenMissing, directory=str(plain_root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"http://127.0.0.1:{server.server_address[1]}/")
        validate_folder(resolve_pretrained("esol").path)
        with pytest.raises(NotAHubError, match="no model 'nope'"):
            resolve_pretrained("nope")
    finally:
        server.shutdown()
        server.server_close()
