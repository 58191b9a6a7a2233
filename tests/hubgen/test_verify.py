"""hubgen verify: a local folder and a real HTTP server on 127.0.0.1; damage is reported, exit is non-zero."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from dchub_client import hubformat
from dchub_client.hashing import sha256_bytes
from hubgen.build import build_hub
from hubgen.cli import main
from hubgen.errors import VerifyError
from hubgen.verify import verify_hub


@pytest.fixture
def hub(hub_yaml, tmp_path) -> Path:
    out = tmp_path / "hub"
    build_hub(hub_yaml, out, part_size=1000)
    return out


@pytest.fixture
def served(hub):
    handler = functools.partial(_QuietHandler, directory=str(hub))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


def _damage(hub: Path) -> tuple[str, str, str]:
    """Corrupt one blob, delete one part, corrupt the manifest of esol-ft: return their paths."""
    manifest = hubformat.parse_manifest(hubformat.loads((hub / "models/esol/1.0.0/manifest.json").read_bytes()))
    whole = next(f for f in manifest.files if not f.parts)
    split = next(f for f in manifest.files if f.parts)
    corrupt = hubformat.blob_path(whole.sha256)
    (hub / corrupt).write_bytes(b"tampered")
    missing = hubformat.blob_path(split.parts[1].sha256)
    (hub / missing).unlink()
    ft = "models/esol-ft/0.1/manifest.json"
    (hub / ft).write_bytes((hub / ft).read_bytes().replace(b'"torch"', b'"keras"'))
    return corrupt, missing, ft


@pytest.mark.parametrize("where", ["local", "http"])
def test_whole_hub_is_ok(hub, served, where, capsys):
    location = str(hub) if where == "local" else served
    report = verify_hub(location)
    assert report.ok and report.checked > 10
    assert report.bytes_checked == sum(p.stat().st_size for p in (hub / "blobs").rglob("*") if p.is_file())
    assert main(["verify", location]) == 0
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["local", "http"])
def test_damage_is_reported(hub, served, where, capsys):
    corrupt, missing, manifest = _damage(hub)
    location = str(hub) if where == "local" else served
    report = verify_hub(location)
    assert not report.ok
    assert report.missing == [missing]
    assert {path for path, _ in report.corrupt} == {corrupt, manifest}
    assert main(["verify", location]) == 1
    out = capsys.readouterr().out
    assert f"MISSING  {missing}" in out and f"CORRUPT  {corrupt}" in out and "DAMAGED: 1 missing, 2 corrupt" in out


def test_parts_that_join_wrongly_are_reported(hub):
    path = hub / "models/esol/1.0.0/manifest.json"
    data = hubformat.loads(path.read_bytes())
    entry = next(f for f in data["files"] if "parts" in f)
    entry["parts"][0], entry["parts"][1] = entry["parts"][1], entry["parts"][0]  # each part fine, order wrong
    new = hubformat.dumps(data)
    path.write_bytes(new)
    index_path = hub / "index.json"
    index = hubformat.loads(index_path.read_bytes())
    index["models"]["esol"]["versions"]["1.0.0"].update(sha256=sha256_bytes(new), size=len(new))
    index_path.write_bytes(hubformat.dumps(index))
    report = verify_hub(hub)
    assert not report.ok and report.missing == []
    assert any("parts join to sha256" in why for _, why in report.corrupt)


def test_missing_or_broken_index(hub, capsys):
    (hub / "index.json").write_text("{not json")
    report = verify_hub(hub)
    assert report.corrupt[0][0] == "index.json" and "not valid JSON" in report.corrupt[0][1]
    (hub / "index.json").unlink()
    assert verify_hub(hub).missing == ["index.json"]


def test_unreachable_hub(tmp_path, capsys):
    with pytest.raises(VerifyError, match="no such folder"):
        verify_hub(tmp_path / "nowhere")
    assert main(["verify", "http://127.0.0.1:9/"]) == 1
    assert capsys.readouterr().err.startswith("hubgen: error: http://127.0.0.1:9/index.json")
