"""hubgen verify: a local folder and a real HTTP server on 127.0.0.1; damage is reported, exit is non-zero;
with trusted keys, an unsigned, wrongly signed or expired index fails too."""
from __future__ import annotations

from pathlib import Path

import pytest

from dchub_client import constants
from dchub_client.format import hubfiles, jsonstrict
from dchub_client.format.hashing import sha256_bytes
from dchub_client.hub import trust
from hubgen.build import build_hub
from hubgen.cli import main
from hubgen.errors import VerifyError
from hubgen.signing import generate_keypair, load_private_key, sign_index
from hubgen.verify import parse_trusted_keys, verify_hub


@pytest.fixture
def hub(hub_yaml, tmp_path) -> Path:
    out = tmp_path / "hub"
    build_hub(hub_yaml, out, part_size=1000)
    return out


@pytest.fixture
def served(hub, serve):
    return serve(hub).url


def _damage(hub: Path) -> tuple[str, str, str]:
    """Corrupt one blob, delete one part, corrupt the manifest of esol-ft: return their paths."""
    manifest = hubfiles.parse_manifest(jsonstrict.loads((hub / "models/esol/1.0.0/manifest.json").read_bytes()))
    whole = next(f for f in manifest.files if not f.parts)
    split = next(f for f in manifest.files if f.parts)
    corrupt = hubfiles.blob_path(whole.sha256)
    (hub / corrupt).write_bytes(b"tampered")
    missing = hubfiles.blob_path(split.parts[1].sha256)
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
    assert f"CORRUPT  {manifest}: sha256 mismatch with index.json: got " in out  # the path once, then the problem


def test_parts_that_join_wrongly_are_reported(hub):
    path = hub / "models/esol/1.0.0/manifest.json"
    data = jsonstrict.loads(path.read_bytes())
    entry = next(f for f in data["files"] if "parts" in f)
    entry["parts"][0], entry["parts"][1] = entry["parts"][1], entry["parts"][0]  # each part fine, order wrong
    new = hubfiles.dumps(data)
    path.write_bytes(new)
    index_path = hub / "index.json"
    index = jsonstrict.loads(index_path.read_bytes())
    index["models"]["esol"]["versions"]["1.0.0"].update(sha256=sha256_bytes(new), size=len(new))
    index_path.write_bytes(hubfiles.dumps(index))
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


# --- the index signature ------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path) -> dict[str, tuple[Path, Path]]:
    """Two key pairs, ``hub`` (signs the hub) and ``other``: ``(private .pem, public .pub)``."""
    return {name: generate_keypair(tmp_path / "keys", name) for name in ("hub", "other")}


@pytest.fixture
def signed(hub, hub_yaml, keys) -> Path:
    """The ``hub`` folder (also what ``served`` serves), rebuilt in place and signed with the ``hub`` key."""
    build_hub(hub_yaml, hub, part_size=1000, sign_keys=[keys["hub"][0]])
    return hub


def _keyid(keys, name: str) -> str:
    return parse_trusted_keys([str(keys[name][1])])[0].keyid


def _resign(hub: Path, key: Path, **changes) -> None:
    obj = dict(jsonstrict.loads((hub / "index.json").read_bytes()), **changes)
    (hub / "index.json").write_bytes(hubfiles.dumps(sign_index(obj, [load_private_key(key)])))


@pytest.mark.parametrize("where", ["local", "http"])
def test_signed_hub_with_the_right_key_names_the_key_version_and_expiry(signed, served, keys, where, capsys):
    location = str(signed) if where == "local" else served
    report = verify_hub(location, keys=parse_trusted_keys([str(keys["hub"][1])]))
    status = report.signature
    assert report.ok and report.checked > 10
    assert status.checked and status.signed_by == _keyid(keys, "hub") and status.version == 2
    assert status.expires == jsonstrict.loads((signed / "index.json").read_bytes())["expires"] and not status.expired
    assert main(["verify", location, "--trusted-key", str(keys["hub"][1])]) == 0
    out = capsys.readouterr().out
    assert f"SIGNED   index.json: signature verified with trusted key {_keyid(keys, 'hub')[:16]}; version 2, " \
           f"expires {status.expires}" in out
    assert out.rstrip().endswith("blob bytes checked)") and ": OK (" in out


@pytest.mark.parametrize("where", ["local", "http"])
def test_signed_by_another_key_fails(signed, served, keys, where, capsys):
    location = str(signed) if where == "local" else served
    report = verify_hub(location, keys=parse_trusted_keys([str(keys["other"][1])]))
    assert not report.ok and not report.trusted and report.signature.signed_by is None
    assert not report.missing and not report.corrupt and report.checked > 10  # the files were still checked
    assert "signed only by keys you do not trust" in report.signature.error
    assert main(["verify", location, "--trusted-key", str(keys["other"][1])]) == 1
    out = capsys.readouterr().out
    assert f"UNTRUSTED {location.rstrip('/')}/index.json: refusing the hub index: it is signed only" in out
    assert ": UNTRUSTED index (" in out and "DAMAGED" not in out


@pytest.mark.parametrize("where", ["local", "http"])
def test_unsigned_hub_with_keys_fails(hub, served, keys, where, capsys):
    location = str(hub) if where == "local" else served
    assert main(["verify", location, "--trusted-key", str(keys["hub"][1])]) == 1
    out = capsys.readouterr().out
    assert f"UNTRUSTED {location.rstrip('/')}/index.json: the hub index is not signed" in out


@pytest.mark.parametrize("where", ["local", "http"])
def test_expired_index_fails(signed, served, keys, where, capsys):
    _resign(signed, keys["hub"][0], expires="2001-02-03T04:05:06Z")  # validly signed, but expired
    location = str(signed) if where == "local" else served
    report = verify_hub(location, keys=parse_trusted_keys([str(keys["hub"][1])]))
    assert not report.ok and report.signature.expired and "expired at 2001-02-03T04:05:06Z" in report.signature.error
    assert main(["verify", location, "--trusted-key", str(keys["hub"][1])]) == 1
    assert f"UNTRUSTED {location.rstrip('/')}/index.json: the hub index expired at 2001" in capsys.readouterr().out
    assert main(["verify", location]) == 0  # without keys: reported, not checked
    assert "expires 2001-02-03T04:05:06Z (EXPIRED)" in capsys.readouterr().out


def test_index_changed_after_signing_fails(signed, keys, capsys):
    obj = jsonstrict.loads((signed / "index.json").read_bytes())
    (signed / "index.json").write_bytes(hubfiles.dumps(dict(obj, title="Forged")))
    assert main(["verify", str(signed), "--trusted-key", str(keys["hub"][1])]) == 1
    assert "the index was changed after signing" in capsys.readouterr().out


def test_signed_index_without_expiry_fails(signed, keys):
    obj = {k: v for k, v in jsonstrict.loads((signed / "index.json").read_bytes()).items() if k != "expires"}
    (signed / "index.json").write_bytes(hubfiles.dumps(sign_index(obj, [load_private_key(keys["hub"][0])])))
    report = verify_hub(signed, keys=parse_trusted_keys([str(keys["hub"][1])]))
    assert not report.ok and "must carry 'version' and 'expires'" in report.signature.error


def test_without_keys_signatures_are_reported_not_checked(signed, keys, capsys):
    report = verify_hub(signed)
    assert report.ok and not report.signature.checked and report.signature.signed_by is None
    assert report.signature.keyids == (_keyid(keys, "hub"),)
    assert main(["verify", str(signed)]) == 0
    out = capsys.readouterr().out
    assert f"UNCHECKED index.json: signed by key {_keyid(keys, 'hub')[:16]}; version 2" in out  # as errors show it
    assert "signatures NOT checked (no trusted keys" in out
    _resign(signed, keys["hub"][0], title="Re-signed by someone else")  # still only reported
    obj = jsonstrict.loads((signed / "index.json").read_bytes())
    (signed / "index.json").write_bytes(hubfiles.dumps(dict(obj, signatures="junk")))
    assert main(["verify", str(signed)]) == 0
    assert "UNCHECKED index.json: malformed signatures (" in capsys.readouterr().out


def test_unsigned_hub_without_keys_says_so(hub, capsys):
    assert main(["verify", str(hub)]) == 0
    assert "UNSIGNED index.json: carries no signatures; version 1, expires never; signatures NOT checked" \
        in capsys.readouterr().out


def test_client_trusted_keys_are_the_default_and_the_option_overrides_them(signed, keys, monkeypatch, capsys):
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", str(keys["other"][1]))
    assert main(["verify", str(signed)]) == 1
    assert "signed only by keys you do not trust" in capsys.readouterr().out
    hub_key = keys["hub"][1].read_text().strip()  # the base64 form
    assert main(["verify", str(signed), "--trusted-key", hub_key]) == 0
    assert f"trusted key {_keyid(keys, 'hub')[:16]};" in capsys.readouterr().out
    monkeypatch.delenv("DEEPCHEM_HUB_TRUSTED_KEYS")
    constants.cache_dir().mkdir(parents=True, exist_ok=True)
    constants.trusted_keys_file().write_text(f"# the hub key\n{hub_key}\n")
    assert main(["verify", str(signed)]) == 0
    assert "SIGNED   index.json" in capsys.readouterr().out


def test_verify_is_stateless_about_rollback(signed, keys):
    store = trust.VersionStore(constants.cache_dir())
    store.record("test-hub", 99)  # the client has seen a newer index: verify does not care
    report = verify_hub(signed, keys=parse_trusted_keys([str(keys["hub"][1])]))
    assert report.ok and report.signature.version == 2
    assert store.highest("test-hub") == 99  # and records nothing
    assert sorted(p.name for p in (constants.cache_dir() / "trust").iterdir()) == [".test-hub.lock", "test-hub.version"]


def test_bad_trusted_key_is_a_clear_error(signed, tmp_path, capsys):
    assert main(["verify", str(signed), "--trusted-key", "not-a-key"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hubgen: error: --trusted-key") and "not-a-key" in err and "base64" in err
    rsa = tmp_path / "rsa.pub"
    rsa.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert main(["verify", str(signed), "--trusted-key", str(rsa)]) == 1
    assert f"hubgen: error: {rsa}: unreadable PEM public key" in capsys.readouterr().err
