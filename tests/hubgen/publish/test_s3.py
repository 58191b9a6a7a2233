"""hubgen publish to S3: a real S3 API (moto server on 127.0.0.1), anonymous HTTP reads by the client."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests

from dchub_client.format import layout
from dchub_client.format.hashing import sha256_bytes
from hubgen.cli import main
from hubgen.errors import PublishError, TargetError
from hubgen.publish import publish
from hubgen.verify import verify_hub
from tests.hubgen.publish.support import (
    PYTHON,
    REPO,
    blob_keys,
    build,
    free_port,
    kill_when,
    load_weights,
    start_slow_publish,
    use_hub,
)

PREFIX = "modelhub/v1"
_names = itertools.count()


@pytest.fixture(scope="module")
def moto_endpoint() -> str:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch, tmp_path):
    """A fresh versioned bucket; fake credentials in the environment (boto3's usual chain)."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    bucket = f"hub-bucket-{next(_names)}"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client, bucket


def _url(moto_endpoint: str, bucket: str) -> str:
    return f"{moto_endpoint}/{bucket}/{PREFIX}/"


def _publish(hub: Path, bucket: str, endpoint: str, **options):
    return publish(hub, f"s3://{bucket}/{PREFIX}", endpoint_url=endpoint, **options)


def _versions(client, bucket: str) -> dict[str, int]:
    """How many times each key (relative to the prefix) was written: the server's own record."""
    counts: dict[str, int] = {}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=PREFIX + "/"):
        for version in page.get("Versions", ()):
            rel = version["Key"][len(PREFIX) + 1:]
            counts[rel] = counts.get(rel, 0) + 1
    return counts


def _local_files(hub: Path) -> set[str]:
    return {p.relative_to(hub).as_posix() for p in hub.rglob("*") if p.is_file()}


def test_publish_refuses_anonymous_reads_until_public_read(s3, moto_endpoint, tmp_path, monkeypatch):
    client, bucket = s3
    hub = build(tmp_path)
    summary = _publish(hub, bucket, moto_endpoint)
    url = _url(moto_endpoint, bucket)
    assert summary.public_url == url
    assert summary.public_ok is False  # moto, like S3, refuses anonymous GETs without a policy
    assert requests.get(url + "index.json", timeout=10).status_code == 403
    assert any("--public-read" in note and "put-public-access-block" in note for note in summary.notes)

    again = _publish(hub, bucket, moto_endpoint, public_read=True)
    assert again.plan.files_to_send == 0 and again.public_ok is True
    policy = json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])
    assert [s["Resource"] for s in policy["Statement"]] == [f"arn:aws:s3:::{bucket}/{PREFIX}/*"]
    client.put_object(Bucket=bucket, Key="private/secret", Body=b"x")
    assert requests.get(f"{moto_endpoint}/{bucket}/private/secret", timeout=10).status_code == 403

    use_hub(monkeypatch, url)
    weights = load_weights("esol@1.0.0")
    source = {n: np.load(tmp_path / "base" / f"{n}.npy") for n in weights}
    assert weights.keys() == {"mtr-layers.0-0", "mtr-layers.0-1", "mtr-head-0"}
    assert all(np.array_equal(weights[n], source[n]) for n in weights)
    assert verify_hub(url).ok


def test_objects_have_content_type_cache_control_and_sha256(s3, moto_endpoint, tmp_path):
    client, bucket = s3
    hub = build(tmp_path)
    (hub / "extra").mkdir()
    for name in ("page.html", "style.css", "app.js", "logo.svg"):
        (hub / "extra" / name).write_text("x")
    _publish(hub, bucket, moto_endpoint, public_read=True)
    blob = sorted(blob_keys(hub, "esol", "1.0.0"))[0]
    expected = {blob: ("application/octet-stream", "public, max-age=31536000, immutable"),
                "models/esol/1.0.0/manifest.json": ("application/json", "public, max-age=31536000, immutable"),
                "index.json": ("application/json", "public, max-age=60"),
                "SHA256SUMS": ("text/plain; charset=utf-8", "public, max-age=60"),
                "extra/page.html": ("text/html; charset=utf-8", "public, max-age=60"),
                "extra/style.css": ("text/css; charset=utf-8", "public, max-age=60"),
                "extra/app.js": ("application/javascript", "public, max-age=60"),
                "extra/logo.svg": ("image/svg+xml", "public, max-age=60")}
    url = _url(moto_endpoint, bucket)
    for rel, (ctype, cache) in expected.items():
        response = requests.get(url + rel, timeout=10)
        assert response.status_code == 200, rel
        assert (response.headers["Content-Type"], response.headers["Cache-Control"]) == (ctype, cache), rel
        assert response.headers["x-amz-meta-sha256"] == sha256_bytes((hub / rel).read_bytes())


def test_second_publish_uploads_nothing_and_private_files_never_go_up(s3, moto_endpoint, tmp_path):
    client, bucket = s3
    hub = build(tmp_path)
    assert (hub / ".hubgen-cache.json").is_file()
    first = _publish(hub, bucket, moto_endpoint, check_public=False)
    before = _versions(client, bucket)
    assert set(before) == _local_files(hub) - layout.PRIVATE_NAMES
    assert all(n == 1 for n in before.values())
    assert first.plan.files_to_send == len(before)

    second = _publish(hub, bucket, moto_endpoint, check_public=False)
    assert second.plan.files_to_send == 0 and second.plan.bytes_to_send == 0
    assert _versions(client, bucket) == before  # the server saw no PUT


def test_new_version_uploads_only_its_new_blobs_and_index_last(s3, moto_endpoint, tmp_path, monkeypatch):
    client, bucket = s3
    hub = build(tmp_path)
    _publish(hub, bucket, moto_endpoint, public_read=True)
    before = _versions(client, bucket)
    old_digests = _digests(hub)

    build(tmp_path, v2=True)
    summary = _publish(hub, bucket, moto_endpoint)
    after = _versions(client, bucket)
    written = {k for k in after if after[k] != before.get(k, 0)}
    new_blobs = blob_keys(hub, "esol", "2.0.0") - set(before)
    assert new_blobs and {k for k in written if k.startswith("blobs/")} == new_blobs
    changed = {rel for rel, digest in _digests(hub).items() if old_digests.get(rel) != digest}
    assert written == changed - layout.PRIVATE_NAMES  # exactly the files whose bytes are new
    assert {"index.json", "SHA256SUMS", "models/esol/2.0.0/manifest.json"} <= written
    assert [f.rel for f in summary.plan.send["index"]] == ["index.json"]

    use_hub(monkeypatch, _url(moto_endpoint, bucket))
    assert "mtr-extra-0" in load_weights("esol@2.0.0")


def _digests(hub: Path) -> dict[str, str]:
    return {rel: sha256_bytes((hub / rel).read_bytes()) for rel in _local_files(hub)}


def test_killed_publish_leaves_the_old_hub_readable(s3, moto_endpoint, tmp_path, monkeypatch):
    client, bucket = s3
    hub = build(tmp_path)
    _publish(hub, bucket, moto_endpoint, public_read=True)
    old_index = (hub / "index.json").read_bytes()
    build(tmp_path, v2=True)
    new_blobs = blob_keys(hub, "esol", "2.0.0") - set(_versions(client, bucket))
    assert len(new_blobs) >= 6

    proc = start_slow_publish(["publish", str(hub), "--to", f"s3://{bucket}/{PREFIX}", "--endpoint-url",
                               moto_endpoint, "--workers", "1"])
    kill_when(proc, lambda: len(new_blobs & set(_versions(client, bucket))) >= 3)
    uploaded = new_blobs & set(_versions(client, bucket))
    assert 3 <= len(uploaded) < len(new_blobs)

    url = _url(moto_endpoint, bucket)
    assert requests.get(url + "index.json", timeout=10).content == old_index
    assert "models/esol/2.0.0/manifest.json" not in _versions(client, bucket)
    assert verify_hub(url).ok
    use_hub(monkeypatch, url)
    assert "mtr-head-0" in load_weights("esol@1.0.0")

    finished = _publish(hub, bucket, moto_endpoint)  # the next publish completes it
    assert {f.rel for f in finished.plan.send["blob"]} == new_blobs - uploaded
    assert verify_hub(url).ok and "mtr-extra-0" in load_weights("esol@2.0.0")


def test_dry_run_changes_nothing(s3, moto_endpoint, tmp_path, capsys):
    client, bucket = s3
    hub = build(tmp_path)
    code = main(["publish", str(hub), "--to", f"s3://{bucket}/{PREFIX}", "--endpoint-url", moto_endpoint,
                 "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and "dry run" in out
    n_blobs = len([p for p in (hub / "blobs").rglob("*") if p.is_file()])
    assert f"blobs {n_blobs} to send" in " ".join(out.split())
    assert "index.json 1 to send" in " ".join(out.split())
    _plan_columns(out)
    assert _versions(client, bucket) == {}


def test_cli_exit_code_says_whether_readers_can_fetch(s3, moto_endpoint, tmp_path, capsys):
    client, bucket = s3
    hub = build(tmp_path)
    target = ["publish", str(hub), "--to", f"s3://{bucket}/{PREFIX}", "--endpoint-url", moto_endpoint]
    assert main(target) == 1
    assert "anonymous GET failed (HTTP 403)" in capsys.readouterr().out
    assert main(target + ["--public-read"]) == 0
    assert f"readers fetch the hub anonymously from {_url(moto_endpoint, bucket)}" in capsys.readouterr().out


#: ``hubgen ARGS`` in a child process that records every host it resolves or connects to (in the JSON file argv[1]).
_RECORDING_HUBGEN = """
import json, sys
hosts = set()
def record(event, args):
    if event == "socket.getaddrinfo":
        hosts.add(str(args[0]))
    elif event == "socket.connect" and isinstance(args[1], tuple):
        hosts.add(str(args[1][0]))
sys.addaudithook(record)
from hubgen.cli import main
try:
    code = main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as handle:
        json.dump(sorted(hosts), handle)
sys.exit(code)
"""


def _plan_columns(out: str) -> None:
    """The plan table's columns line up: every "to send" (and every "unchanged") at one position."""
    rows = [line for line in out.splitlines() if " to send " in line]
    assert len(rows) >= 5 and len({row.index(" to send ") for row in rows}) == 1, out
    kept = [row for row in rows if " unchanged " in row]
    assert len(kept) == len(rows) - 1 and len({row.index(" unchanged ") for row in kept}) == 1, out


def test_publish_to_boto3s_endpoint_checks_that_endpoint_and_says_so_quietly(s3, moto_endpoint, tmp_path,
                                                                            dead_url):
    """``AWS_ENDPOINT_URL`` (boto3's own setting, no --endpoint-url): the uploads and the anonymous check go there
    and nowhere else; no boto3 chatter on stderr; the plan's columns line up."""
    client, bucket = s3
    hub = build(tmp_path)
    hosts = tmp_path / "hosts.json"
    command = [PYTHON, "-c", _RECORDING_HUBGEN, str(hosts), "publish", str(hub), "--to", f"s3://{bucket}/{PREFIX}",
               "--public-read"]
    env = dict(os.environ, AWS_ENDPOINT_URL=moto_endpoint)
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"readers fetch the hub anonymously from {_url(moto_endpoint, bucket)}" in done.stdout
    assert json.loads(hosts.read_text()) == ["127.0.0.1"]
    assert "credentials" not in done.stderr.lower(), done.stderr
    _plan_columns(done.stdout)

    dead = subprocess.run(command + ["--public-url", dead_url], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert dead.returncode == 1, dead.stdout + dead.stderr
    assert "an anonymous GET failed" in dead.stdout and "although the bucket policy now grants" in dead.stdout
    assert "--public-read" not in dead.stdout  # it was given: advising it again would send the user in a circle
    assert json.loads(hosts.read_text()) == ["127.0.0.1"]


def test_refuses_a_bucket_holding_another_hub_or_more_versions(s3, moto_endpoint, tmp_path):
    client, bucket = s3
    hub = build(tmp_path)
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/index.json",
                      Body=(hub / "index.json").read_bytes().replace(b'"test-hub"', b'"other-hub"'))
    with pytest.raises(PublishError, match="holds hub 'other-hub', not 'test-hub'.*--force"):
        _publish(hub, bucket, moto_endpoint)
    assert set(_versions(client, bucket)) == {"index.json"}

    v2 = build(tmp_path / "second", v2=True)
    _publish(v2, bucket, moto_endpoint, force=True, check_public=False)
    with pytest.raises(PublishError, match=r"publishes esol@2\.0\.0, which this hub lacks"):
        _publish(hub, bucket, moto_endpoint)


def test_unusable_targets_have_precise_errors(s3, moto_endpoint, tmp_path):
    hub = build(tmp_path)
    with pytest.raises(TargetError, match=r"s3://no-such-bucket.*NoSuchBucket.*create the bucket"):
        publish(hub, "s3://no-such-bucket/x", endpoint_url=moto_endpoint)
    with pytest.raises(PublishError, match="no index.json; build the hub first"):
        publish(tmp_path / "base", "s3://x/y", endpoint_url=moto_endpoint)
    (hub / sorted(blob_keys(hub, "esol", "1.0.0"))[0]).unlink()
    with pytest.raises(PublishError, match="blob of esol@1.0.0 is missing; the hub is not whole"):
        _publish(hub, s3[1], moto_endpoint)
    assert _versions(*s3) == {}


def test_aws_s3_sync_makes_a_mirror_that_verifies_and_loads(s3, moto_endpoint, tmp_path, monkeypatch):
    client, bucket = s3
    hub = build(tmp_path)
    _publish(hub, bucket, moto_endpoint, public_read=True)
    mirror = tmp_path / "mirror"
    aws = REPO / ".venv" / "bin" / "aws"
    common = ["--endpoint-url", moto_endpoint, "--only-show-errors"]
    # as docs/mirrors.md says: everything but index.json, then index.json
    subprocess.run([str(aws), "s3", "sync", f"s3://{bucket}/{PREFIX}", str(mirror), "--exclude", "index.json",
                    *common], check=True, timeout=120)
    assert not (mirror / "index.json").exists() and (mirror / "SHA256SUMS").is_file()
    subprocess.run([str(aws), "s3", "cp", f"s3://{bucket}/{PREFIX}/index.json", str(mirror / "index.json"),
                    *common], check=True, timeout=120)
    assert verify_hub(mirror).ok
    assert main(["verify", str(mirror)]) == 0
    use_hub(monkeypatch, mirror)
    base = load_weights("esol@1.0.0")
    assert np.array_equal(base["mtr-head-0"], np.load(tmp_path / "base" / "mtr-head-0.npy"))


@pytest.mark.slow
def test_deepchem_model_round_trip_through_the_bucket(s3, moto_endpoint, tmp_path, monkeypatch):
    """A real DeepChem model: to_pretrained → hubgen build → publish → from_pretrained over anonymous HTTP."""
    import dchub_client  # before deepchem, so constructor arguments are recorded

    dc = pytest.importorskip("deepchem")
    client, bucket = s3
    model = dc.models.MultitaskRegressor(n_tasks=1, n_features=16, layer_sizes=[8], model_dir=str(tmp_path / "md"))
    x = np.random.default_rng(3).random((5, 16), dtype=np.float32)
    expected = model.predict_on_batch(x)
    dchub_client.to_pretrained(model, tmp_path / "mtr")
    (tmp_path / "hub_manifest.yaml").write_text(
        "name: dc-hub\nmodels:\n  - name: esol-mtr\n    version: 1.0.0\n    path: mtr\n", encoding="utf-8")
    from hubgen.build import build_hub

    build_hub(tmp_path / "hub_manifest.yaml", tmp_path / "hub")
    assert _publish(tmp_path / "hub", bucket, moto_endpoint, public_read=True).public_ok
    use_hub(monkeypatch, _url(moto_endpoint, bucket))
    loaded = dchub_client.from_pretrained("esol-mtr@1.0.0", model_dir=str(tmp_path / "md2"))
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict_on_batch(x), expected)
