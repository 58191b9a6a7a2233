"""hubgen publish to a plain folder (dir:PATH), served over HTTP on 127.0.0.1 or used as a local mirror."""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from dchub_client.format import layout
from hubgen.cli import main
from hubgen.errors import PublishError
from hubgen.publish import publish
from hubgen.verify import verify_hub
from tests.hubgen.publish.support import (
    REPO,
    blob_keys,
    build,
    kill_when,
    load_weights,
    serve,
    start_slow_publish,
    use_hub,
)


def _files(root) -> dict[str, tuple[int, int]]:
    """rel path -> (inode, mtime_ns): changes whenever a file is written again."""
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def test_publish_serve_and_load(tmp_path, monkeypatch):
    hub = build(tmp_path)
    out = tmp_path / "www"
    publish(hub, f"dir:{out}")
    assert set(_files(out)) == set(_files(hub)) - layout.PRIVATE_NAMES
    assert not (out / ".hubgen-tmp").exists()
    with serve(out) as url:
        assert verify_hub(url).ok
        use_hub(monkeypatch, url)
        weights = load_weights("esol@1.1.0")
    assert np.array_equal(weights["mtr-head-0"], np.load(tmp_path / "tuned" / "mtr-head-0.npy"))


def test_incremental_and_never_deletes(tmp_path):
    hub = build(tmp_path)
    out = tmp_path / "www"
    publish(hub, f"dir:{out}")
    (out / "mirror-note.txt").write_text("kept")
    before = _files(out)
    assert publish(hub, f"dir:{out}").plan.files_to_send == 0
    assert _files(out) == before  # nothing rewritten

    build(tmp_path, v2=True)
    publish(hub, f"dir:{out}")
    after = _files(out)
    rewritten = {rel for rel in before if after[rel] != before[rel]}
    assert not any(rel.startswith(("blobs/", "models/esol/1.0.0/")) for rel in rewritten)
    assert blob_keys(hub, "esol", "2.0.0") <= set(after)
    assert (out / "mirror-note.txt").read_text() == "kept"
    assert verify_hub(out).ok


def test_killed_publish_keeps_old_index(tmp_path, monkeypatch):
    hub = build(tmp_path)
    out = tmp_path / "www"
    publish(hub, f"dir:{out}")
    old_index = (out / "index.json").read_bytes()
    build(tmp_path, v2=True)
    new_blobs = blob_keys(hub, "esol", "2.0.0") - set(_files(out))
    proc = start_slow_publish(["publish", str(hub), "--to", f"dir:{out}", "--workers", "1"])
    kill_when(proc, lambda: sum((out / b).is_file() for b in new_blobs) >= 2)
    assert (out / "index.json").read_bytes() == old_index
    assert verify_hub(out).ok
    use_hub(monkeypatch, out)
    assert "mtr-head-0" in load_weights("esol@1.0.0")
    publish(hub, f"dir:{out}")
    assert not (out / ".hubgen-tmp").exists() and verify_hub(out).ok


def test_a_changed_hub_file_is_caught_and_targets_refused(tmp_path, capsys):
    hub = build(tmp_path)
    with pytest.raises(PublishError, match="is the hub folder .* itself"):
        publish(hub, f"dir:{hub}")
    with pytest.raises(PublishError, match="unknown publish target 'ftp://x'"):
        publish(hub, "ftp://x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(PublishError, match="exists and is not a folder"):
        publish(hub, f"dir:{tmp_path / 'file'}")
    manifest = hub / "models/esol/1.0.0/manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b"regression", b"regressioN"))
    assert main(["publish", str(hub), "--to", f"dir:{tmp_path / 'www'}"]) == 1
    assert "manifest.json: sha256 mismatch with index.json" in capsys.readouterr().err
    assert not (tmp_path / "www").exists()


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("bash")), reason="needs curl and bash")
def test_documented_http_mirror_recipe(tmp_path, monkeypatch):
    """The SHA256SUMS + curl recipe of docs/mirrors.md, run as written against a served hub."""
    text = (REPO / "docs" / "mirrors.md").read_text()
    section = text[text.index("### From any HTTP mirror"):]
    script = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    hub = build(tmp_path)
    out = tmp_path / "www"
    publish(hub, f"dir:{out}")
    with serve(out) as url:
        script = re.sub(r"^HUB=.*$", f"HUB={url.rstrip('/')}", script, count=1, flags=re.M)
        for _ in range(2):  # the second run only refreshes the index and the small files
            subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, check=True, timeout=120)
    mirror = tmp_path / "dchub-mirror"
    assert verify_hub(mirror).ok
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=mirror).returncode == 0
    use_hub(monkeypatch, mirror)
    assert "mtr-head-0" in load_weights("esol@1.0.0")


def test_a_signed_target_is_not_rolled_back_to_an_older_index(tmp_path):
    from hubgen.build import build_hub
    from hubgen.signing import generate_keypair

    hub = build(tmp_path)
    private, _public = generate_keypair(tmp_path / "keys")
    yaml = tmp_path / "hub_manifest.yaml"
    build_hub(yaml, hub, part_size=1024, sign_keys=[private])  # signed: version N
    stale = tmp_path / "stale"
    shutil.copytree(hub, stale)
    build_hub(yaml, hub, part_size=1024, sign_keys=[private])  # re-signed: version N + 1
    out = tmp_path / "www"
    publish(hub, f"dir:{out}")
    before = (out / "index.json").read_bytes()
    with pytest.raises(PublishError, match=r"index is version (\d+), newer than this hub.s \((\d+)\).*rollback"):
        publish(stale, f"dir:{out}")
    assert (out / "index.json").read_bytes() == before
