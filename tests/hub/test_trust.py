"""The signed index: hubgen keygen / build --sign-key, and the client's signature, rollback and freeze checks."""
from __future__ import annotations

import datetime
import json
import logging
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dchub_client.errors import MirrorError, TrustError
from dchub_client.format import hubfiles
from dchub_client.hub import trust
from dchub_client.hub.export import export_models
from dchub_client.hub.hubs import default_hub
from dchub_client.hub.resolve import resolve_pretrained
from hubgen.cli import main as hubgen_main
from hubgen.errors import SigningError
from hubgen.signing import generate_keypair, index_bytes, load_private_key, sign_index
from tests._support.hubs import build_hub


def _pub(keys, name: str) -> str:
    return keys[name][1].read_text().strip()


def _index(hub: Path) -> dict:
    return json.loads((hub / "index.json").read_bytes())


def _signed_hub(tmp_path, sources, keys, names=("new",), out="hub", **options) -> Path:
    models = {("esol-gc", "1.0.0"): sources["a"], ("esol-mtr", "0.1"): sources["b"]}
    return build_hub(tmp_path, models, out=out, sign_keys=[keys[n][0] for n in names], **options)


def _rewrite(hub: Path, obj: dict) -> None:
    (hub / "index.json").write_bytes(hubfiles.dumps(obj))


# --- hubgen keygen and build --------------------------------------------------------------


def test_keygen_writes_a_private_0600_and_a_public_key_and_never_overwrites(tmp_path, capsys):
    assert hubgen_main(["keygen", "--out", str(tmp_path / "k")]) == 0
    private, public = tmp_path / "k" / "hub-key.pem", tmp_path / "k" / "hub-key.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    pub = trust.parse_public_key(public.read_bytes(), str(public))
    assert pub.raw == trust.parse_public_key(public.read_text().strip(), "env").raw
    assert public.read_text().strip() in capsys.readouterr().out
    before = private.read_bytes()
    assert hubgen_main(["keygen", "--out", str(tmp_path / "k")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert private.read_bytes() == before
    assert not [p for p in (tmp_path / "k").iterdir() if p.name.startswith(".")]


def test_private_key_loads_from_pem_only_and_refuses_others(tmp_path, keys):
    """A raw 32-byte key is refused even when it is a real seed: it cannot be told from a public key, and a
    public key read as a seed is a signing key anybody can rebuild."""
    from cryptography.hazmat.primitives import serialization

    key = load_private_key(keys["old"][0])
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    (tmp_path / "raw.key").write_text(__import__("base64").b64encode(raw).decode())
    with pytest.raises(SigningError, match="raw.key: a public key .base64 of 32 bytes, as in a .pub file., not a "
                                           "private key"):
        load_private_key(tmp_path / "raw.key")
    with pytest.raises(SigningError, match=r"old.pub: a public key .* the .pem file `hubgen keygen` wrote "
                                           r"\(.*old.pem, beside it\?\)"):
        load_private_key(keys["old"][1])
    pem_public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "public.pem").write_bytes(pem_public)
    with pytest.raises(SigningError, match="public.pem: a PEM public key, not a private key"):
        load_private_key(tmp_path / "public.pem")
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(SigningError, match="bad.key"):
        load_private_key(tmp_path / "bad.key")
    with pytest.raises(SigningError, match="cannot read"):
        load_private_key(tmp_path / "missing.key")


def test_signed_build_has_version_expiry_and_a_valid_signature(tmp_path, sources, keys):
    before = datetime.datetime.now(datetime.timezone.utc)
    hub = _signed_hub(tmp_path, sources, keys, expires_days=7)
    obj = _index(hub)
    assert obj["version"] == 1
    expires = hubfiles.parse_time(obj["expires"])
    assert before + datetime.timedelta(days=7, seconds=-2) <= expires <= before + datetime.timedelta(days=7, seconds=5)
    pub = trust.parse_public_key(_pub(keys, "new"), "k")
    assert trust.verify_signatures(obj, [pub], "index") == pub.keyid
    assert hubfiles.parse_index(obj).version == 1  # old readers: the signatures are not part of the content


def test_version_increases_on_every_signed_build_and_on_changes_only_when_unsigned(tmp_path, sources, keys):
    hub = _signed_hub(tmp_path, sources, keys)
    _signed_hub(tmp_path, sources, keys)  # re-signing (a fresh expiry) is a new version
    assert _index(hub)["version"] == 2
    unsigned = build_hub(tmp_path, {("m", "1"): sources["a"]}, out="plain")
    first = (unsigned / "index.json").read_bytes()
    assert json.loads(first)["version"] == 1 and "signatures" not in json.loads(first)
    build_hub(tmp_path, {("m", "1"): sources["a"]}, out="plain")
    assert (unsigned / "index.json").read_bytes() == first  # a no-op build changes nothing
    build_hub(tmp_path, {("m", "1"): sources["a"], ("m", "2"): sources["b"]}, out="plain")
    assert _index(unsigned)["version"] == 2


def test_index_bytes_unsigned_rebuild_of_a_signed_hub_warns(caplog, keys):
    old = sign_index({"format": "dchub-index", "name": "h", "version": 3, "expires": "2030-01-01T00:00:00Z"},
                     [load_private_key(keys["old"][0])])
    with caplog.at_level(logging.WARNING):
        out = json.loads(index_bytes({"format": "dchub-index", "name": "h", "title": "changed"}, old))
    assert out["version"] == 4 and "signatures" not in out
    assert "clients with trusted keys will refuse" in caplog.text
    assert index_bytes({"format": "dchub-index", "name": "h"}, old) == hubfiles.index_dumps(old)  # unchanged: kept


def test_hubgen_build_cli_signs_with_several_keys(tmp_path, sources, keys, capsys):
    yaml_path = tmp_path / "hub.yaml"
    yaml_path.write_text(f"name: cli-hub\nmodels:\n  - name: m\n    version: '1'\n    path: {sources['a']}\n")
    argv = ["build", str(yaml_path), "--out", str(tmp_path / "hub"), "--sign-key", str(keys["old"][0]),
            "--sign-key", str(keys["new"][0]), "--expires-days", "2"]
    assert hubgen_main(argv) == 0
    obj = _index(tmp_path / "hub")
    assert len(obj["signatures"]) == 2
    for name in ("old", "new"):
        trust.verify_signatures(obj, [trust.parse_public_key(_pub(keys, name), name)], "index")
    with pytest.raises(SystemExit):
        hubgen_main(argv[:-2] + ["--expires-days", "0"])
    (tmp_path / "bad.pem").write_text("-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n")
    assert hubgen_main(argv[:4] + ["--sign-key", str(tmp_path / "bad.pem")]) == 1
    assert "bad.pem" in capsys.readouterr().err
    assert _index(tmp_path / "hub") == obj  # a bad key changes nothing


# --- the client ---------------------------------------------------------------------------


@pytest.fixture
def signed(tmp_path, sources, keys, serve, monkeypatch):
    """A signed hub on 127.0.0.1; the client trusts the ``new`` key."""
    hub = _signed_hub(tmp_path, sources, keys)
    server = serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", _pub(keys, "new"))
    return hub, server


def _assert_nothing_cached(cache_root: Path) -> None:
    assert not list(cache_root.glob("hubs/*/index.json"))
    assert not list(cache_root.glob("snapshots/*/*/*"))


def test_client_accepts_a_correctly_signed_index(signed, isolated_environment):
    folder = resolve_pretrained("esol-gc").path
    assert (folder / "params.json").is_file()
    assert trust.VersionStore(isolated_environment).highest("test-hub") == 1


def test_client_refuses_an_unsigned_index(signed, isolated_environment):
    hub, _ = signed
    obj = _index(hub)
    del obj["signatures"]
    _rewrite(hub, obj)
    with pytest.raises(TrustError, match="not signed, but trusted keys are configured"):
        resolve_pretrained("esol-gc")
    _assert_nothing_cached(isolated_environment)


def test_client_refuses_a_tampered_index(signed, isolated_environment):
    hub, _ = signed
    obj = _index(hub)
    obj["models"]["esol-gc"]["versions"]["1.0.0"]["size"] += 1
    _rewrite(hub, obj)
    with pytest.raises(TrustError, match="changed after signing"):
        resolve_pretrained("esol-gc")
    _assert_nothing_cached(isolated_environment)


def test_client_refuses_an_index_signed_only_by_an_untrusted_key(signed, keys, monkeypatch, isolated_environment):
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", _pub(keys, "old"))
    with pytest.raises(TrustError, match="only by keys you do not trust"):
        resolve_pretrained("esol-gc")
    _assert_nothing_cached(isolated_environment)


@pytest.mark.parametrize("signers, trusted", [(("old", "new"), ("old",)), (("old", "new"), ("new",)),
                                              (("new",), ("old", "new"))])
def test_key_rotation_any_trusted_key_suffices(tmp_path, sources, keys, serve, monkeypatch, signers, trusted):
    hub = _signed_hub(tmp_path, sources, keys, names=signers)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", ", ".join(_pub(keys, n) for n in trusted))
    assert resolve_pretrained("esol-mtr").name == "esol-mtr"


def test_trusted_keys_from_pub_files_and_the_config_file(signed, keys, monkeypatch, isolated_environment):
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", f"{keys['old'][1]} {keys['new'][1]}")
    assert [k.raw for k in trust.trusted_keys()] == [trust.parse_public_key(_pub(keys, n), n).raw
                                                     for n in ("old", "new")]
    resolve_pretrained("esol-gc")
    monkeypatch.delenv("DEEPCHEM_HUB_TRUSTED_KEYS")
    isolated_environment.mkdir(exist_ok=True)
    (isolated_environment / "trusted_keys").write_text(f"# the old key, retired\n{keys['old'][1]}\n")
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")
    with pytest.raises(TrustError, match="only by keys you do not trust"):
        resolve_pretrained("esol-gc")
    (isolated_environment / "trusted_keys").write_text(f"{_pub(keys, 'new')}  # current\n")
    resolve_pretrained("esol-gc")


def test_a_bad_trusted_key_entry_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", "no-such-file.pub")
    with pytest.raises(TrustError, match="DEEPCHEM_HUB_TRUSTED_KEYS: 'no-such-file.pub' is neither a key file "
                                         r"\(there is no file /.*/no-such-file.pub\) nor a base64"):
        trust.trusted_keys()
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", "AAAA")
    with pytest.raises(TrustError, match="32 bytes"):
        trust.trusted_keys()
    rsa = tmp_path / "rsa.pub"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_mod

    key = rsa_mod.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    rsa.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", str(rsa))
    with pytest.raises(TrustError, match="not an ed25519 public key"):
        trust.trusted_keys()


def test_rollback_to_an_older_index_is_refused(tmp_path, sources, keys, serve, monkeypatch, isolated_environment):
    old_hub = _signed_hub(tmp_path, sources, keys, out="old")
    new_hub = _signed_hub(tmp_path, sources, keys, out="new")
    _signed_hub(tmp_path, sources, keys, out="new")  # version 2, same key
    assert _index(old_hub)["version"] == 1 and _index(new_hub)["version"] == 2
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", _pub(keys, "new"))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(new_hub).url)
    resolve_pretrained("esol-gc")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(old_hub).url)  # a mirror replays the old, validly signed index
    with pytest.raises(TrustError, match="version 1 of hub 'test-hub' is older than version 2"):
        resolve_pretrained("esol-gc")
    assert not list(isolated_environment.glob("hubs/*/index.json")) or all(
        json.loads(p.read_bytes())["version"] == 2 for p in isolated_environment.glob("hubs/*/index.json"))


def test_rollback_mirror_is_skipped_when_another_serves_the_current_index(tmp_path, sources, keys, serve,
                                                                          monkeypatch, caplog):
    old_hub = _signed_hub(tmp_path, sources, keys, out="old")
    new_hub = _signed_hub(tmp_path, sources, keys, out="new")
    _signed_hub(tmp_path, sources, keys, out="new")
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", _pub(keys, "new"))
    stale, fresh = serve(old_hub), serve(new_hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", fresh.url)
    resolve_pretrained("esol-gc")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{stale.url} {fresh.url}")
    with caplog.at_level(logging.INFO, logger="dchub_client"):
        resolve_pretrained("esol-mtr", refresh=True)  # the cached index is the same hub's: refresh to ask the mirrors
    assert stale.hits["index.json"] == 1 and fresh.hits["index.json"] == 2
    # a mirror only behind is no warning (a forged index is, below): said at INFO
    assert [r.levelno for r in caplog.records if "older than version" in r.getMessage()] == [logging.INFO]


def test_a_mirror_serving_a_forged_index_is_named_in_a_warning(signed, tmp_path, sources, keys, serve, monkeypatch,
                                                                caplog):
    hub, good = signed
    forged = serve(_signed_hub(tmp_path, sources, keys, names=("old",), out="forged"))  # a key nobody trusts
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{forged.url} {good.url}")
    with caplog.at_level(logging.INFO, logger="dchub_client"):
        resolve_pretrained("esol-gc")  # served by the good mirror
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith(f"index.json: refused what {forged.url} served (")
    assert "signed only by keys you do not trust" in warned[0] and warned[0].endswith(f"; used {good.url}")


def test_a_forged_index_stops_a_pull_and_says_that_cached_models_load_offline(signed, tmp_path, sources, keys,
                                                                               isolated_environment):
    from tests.journeys._cli import ok, run

    hub, _ = signed
    folder = ok("pull", "-q", "esol-gc").strip()
    # the mirror now serves an index by a key nobody trusts (a forger's fresh start: --new-signer)
    _signed_hub(tmp_path, sources, keys, names=("old",), new_signer=True)
    forged = run("pull", "-q", "esol-gc", "--refresh")
    assert forged.returncode == 1 and "signed only by keys you do not trust" in forged.stderr
    assert "dchub: hint: the copy of this hub's index cached earlier is still trusted: models already in the cache " \
           "load offline (DEEPCHEM_HUB_OFFLINE=1)" in forged.stderr
    assert ok("path", "esol-gc", env={"DEEPCHEM_HUB_OFFLINE": "1"}).strip() == folder


def _expired_hub(tmp_path, sources, keys) -> Path:
    hub = _signed_hub(tmp_path, sources, keys)
    obj = _index(hub)
    obj["expires"] = "2020-01-01T00:00:00Z"
    _rewrite(hub, sign_index(obj, [load_private_key(keys["new"][0])]))
    return hub


def test_an_expired_index_is_refused(tmp_path, sources, keys, serve, monkeypatch, isolated_environment):
    hub = _expired_hub(tmp_path, sources, keys)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", _pub(keys, "new"))
    with pytest.raises(TrustError, match="expired at 2020-01-01T00:00:00Z"):
        resolve_pretrained("esol-gc")
    _assert_nothing_cached(isolated_environment)


def test_cached_index_that_expired_is_refreshed_online_and_refused_offline(signed, keys, monkeypatch, isolated_environment):
    hub, server = signed
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "3600")
    pulled = resolve_pretrained("esol-gc")
    cached = next(isolated_environment.glob("hubs/*/index.json"))
    obj = json.loads(cached.read_bytes())
    obj["expires"] = "2020-01-01T00:00:00Z"

    def expire_the_cached_copy():
        # index.lookup records what was checked when the index was accepted (its expiry included);
        # without it the client checks index.json whole again, as it does once that expiry passed
        cached.write_bytes(hubfiles.dumps(sign_index(obj, [load_private_key(keys["new"][0])])))
        cached.with_name("index.lookup").unlink(missing_ok=True)

    expire_the_cached_copy()
    assert resolve_pretrained("esol-gc") == pulled  # online: expired in the cache, so fetched again
    assert server.hits["index.json"] == 2
    expire_the_cached_copy()
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    with pytest.raises(TrustError, match="expired.*DEEPCHEM_HUB_ALLOW_EXPIRED"):
        resolve_pretrained("esol-gc")
    monkeypatch.setenv("DEEPCHEM_HUB_ALLOW_EXPIRED", "1")  # offline only, by explicit choice
    assert resolve_pretrained("esol-gc") == pulled
    monkeypatch.delenv("DEEPCHEM_HUB_OFFLINE")
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")
    server.faults["index.json"] = "500"  # online, the mirror fails: the expired cached copy is no fallback
    with pytest.raises(TrustError, match="expired"):
        resolve_pretrained("esol-gc")


def test_signed_index_without_version_or_expiry_is_refused(signed, keys):
    hub, _ = signed
    obj = _index(hub)
    del obj["expires"]
    _rewrite(hub, sign_index(obj, [load_private_key(keys["new"][0])]))
    with pytest.raises(TrustError, match="must carry 'version' and 'expires'"):
        resolve_pretrained("esol-gc")


def test_without_trusted_keys_nothing_is_checked_and_a_notice_is_logged_once(tmp_path, sources, keys, serve,
                                                                           monkeypatch, caplog):
    hub = _expired_hub(tmp_path, sources, keys)  # signed, and expired: nobody checks
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")
    with caplog.at_level(logging.WARNING, logger="dchub_client.hub.trust"):
        resolve_pretrained("esol-gc")
        resolve_pretrained("esol-mtr")
    notices = [r for r in caplog.records if "no trusted hub keys are configured" in r.getMessage()]
    assert len(notices) == 1 and "signatures are not checked" in notices[0].getMessage()


def test_an_unsigned_hub_without_trusted_keys_gives_no_notice(toy_hub, serve, monkeypatch, caplog):
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(toy_hub).url)
    with caplog.at_level(logging.DEBUG, logger="dchub_client.hub.trust"):
        resolve_pretrained("esol-gc")
    assert not [r for r in caplog.records if "trusted" in r.getMessage()]


def test_all_mirrors_failing_trust_gives_the_trust_error_not_a_mirror_error(signed, serve, monkeypatch):
    hub, server = signed
    obj = _index(hub)
    del obj["signatures"]
    _rewrite(hub, obj)
    second = serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{server.url} {second.url}")
    with pytest.raises(TrustError):
        resolve_pretrained("esol-gc")
    server.faults["index.json"] = "500"
    with pytest.raises(MirrorError, match="HTTP 500(.|\n)*not signed"):
        resolve_pretrained("esol-gc")


def test_mirror_export_keeps_the_signed_index_for_a_whole_hub_only(signed, tmp_path, caplog):
    mirrors = default_hub()
    hub, _ = signed
    export_models(["esol-gc", "esol-mtr"], tmp_path / "copy", mirrors, all_versions=True)
    assert (tmp_path / "copy" / "index.json").read_bytes() == (hub / "index.json").read_bytes()
    from hubgen.verify import verify_hub

    assert verify_hub(tmp_path / "copy").ok
    with caplog.at_level(logging.WARNING):
        export_models(["esol-gc"], tmp_path / "part", mirrors)
    assert "not signed" in caplog.text
    assert "signatures" not in _index(tmp_path / "part")


def test_version_store_only_grows_and_reports_damage(tmp_path):
    store = trust.VersionStore(tmp_path)
    assert store.highest("h") is None
    store.record("h", 5)
    store.record("h", 3)
    assert store.highest("h") == 5
    (tmp_path / "trust" / "h.version").write_text("garbage")
    with pytest.raises(TrustError, match="not a version number"):
        store.highest("h")


def test_keygen_cli_in_a_subprocess(tmp_path):
    result = subprocess.run([str(Path(sys.executable).with_name("hubgen")), "keygen", "--out", str(tmp_path), "--name", "k"],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "k.pem").is_file() and (tmp_path / "k.pub").is_file()
    generate_keypair(tmp_path, "other")  # another name beside it is fine
    assert (tmp_path / "other.pub").read_bytes() != (tmp_path / "k.pub").read_bytes()
