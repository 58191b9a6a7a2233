"""k-of-n signatures and signed key rotation, checked by the client over loopback HTTP (issue 15, signing)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dchub_client.errors import TrustError
from dchub_client.format import hubfiles
from dchub_client.format.hashing import sha256_file
from dchub_client.hub import trust
from dchub_client.hub.resolve import resolve_pretrained
from hubgen.errors import SigningError
from hubgen.signing import (
    add_signatures,
    generate_keypair,
    load_private_key,
    rotate_hub,
    rotation_record,
    sign_hub,
    sign_index,
)
from hubgen.verify import parse_trusted_keys, verify_hub
from tests._support.hubs import build_hub


@pytest.fixture
def ring(tmp_path) -> dict[str, tuple[Path, Path]]:
    """Key pairs ``a`` to ``e``: ``(private .pem, public .pub)``."""
    return {n: generate_keypair(tmp_path / "ring", n) for n in "abcde"}


def _pub(ring, *names: str) -> str:
    return " ".join(str(ring[n][1]) for n in names)


def _priv(ring, *names: str) -> list:
    return [load_private_key(ring[n][0]) for n in names]


def _keyid(ring, name: str) -> str:
    return trust.parse_public_key(ring[name][1].read_bytes(), name).keyid


def _index(hub: Path) -> dict:
    return json.loads((hub / "index.json").read_bytes())


@pytest.fixture
def hub_of(tmp_path, sources):
    def make(*signers: Path, out: str = "hub") -> Path:
        return build_hub(tmp_path, {("esol-gc", "1.0.0"): sources["a"], ("esol-mtr", "0.1"): sources["b"]},
                         out=out, sign_keys=list(signers))
    return make


def _trust(monkeypatch, ring, *names: str, threshold: int | None = None) -> None:
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", _pub(ring, *names))
    if threshold is None:
        monkeypatch.delenv("DEEPCHEM_HUB_KEY_THRESHOLD", raising=False)
    else:
        monkeypatch.setenv("DEEPCHEM_HUB_KEY_THRESHOLD", str(threshold))


def _nothing_cached(cache: Path) -> bool:
    return not list(cache.glob("hubs/*/index.json")) and not list(cache.glob("snapshots/*/*"))


# --- k of n -----------------------------------------------------------------------------------


def test_two_of_three_keys_accepts_an_index_signed_by_two(hub_of, ring, serve, monkeypatch, isolated_environment):
    hub = hub_of(ring["a"][0], ring["b"][0])
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    _trust(monkeypatch, ring, "a", "b", "c", threshold=2)
    assert resolve_pretrained("esol-gc").verified
    assert trust.TrustStore(isolated_environment).highest("test-hub") == 1


def test_two_of_three_with_one_signature_missing_is_refused(hub_of, ring, serve, monkeypatch, isolated_environment):
    hub = hub_of(ring["a"][0])  # the holder of b never signed
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    _trust(monkeypatch, ring, "a", "b", "c", threshold=2)
    with pytest.raises(TrustError, match=r"valid signatures by 1 trusted key\(s\).*but 2 are required"):
        resolve_pretrained("esol-gc")
    assert _nothing_cached(isolated_environment)
    _trust(monkeypatch, ring, "a", "b", "c")  # the default threshold is one key
    assert resolve_pretrained("esol-gc").verified


def test_one_key_signing_twice_counts_once(hub_of, ring):
    hub = hub_of(ring["a"][0])
    obj = _index(hub)
    obj["signatures"] = obj["signatures"] * 2
    keyset = trust.KeySet(tuple(parse_trusted_keys([_pub(ring, "a", "b")])), 2)
    with pytest.raises(TrustError, match="1 trusted key"):
        trust.verify_threshold(obj, keyset, "index.json")


def test_holders_of_k_of_n_keys_sign_in_turn_with_hubgen_sign_add(hub_of, ring, serve, monkeypatch):
    hub = hub_of(ring["a"][0])
    before = _index(hub)
    summary = sign_hub(hub, _priv(ring, "b"), add=True)
    after = _index(hub)
    assert {k: v for k, v in after.items() if k != "signatures"} == \
        {k: v for k, v in before.items() if k != "signatures"}  # same content, version and expiry
    assert set(summary.keyids) == {_keyid(ring, "a"), _keyid(ring, "b")} and summary.version == before["version"]
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    _trust(monkeypatch, ring, "a", "b", "c", threshold=2)
    assert resolve_pretrained("esol-mtr").verified


def test_bad_thresholds_are_clear_errors(monkeypatch, ring):
    _trust(monkeypatch, ring, "a", "b", threshold=3)
    with pytest.raises(TrustError) as info:
        trust.TrustPolicy.from_environment()
    assert str(info.value) == (f"DEEPCHEM_HUB_KEY_THRESHOLD=3: more signatures than there are distinct trusted keys "
                               f"(2, from {ring['a'][1]}, {ring['b'][1]}); lower it to at most 2, or trust more keys")
    monkeypatch.setenv("DEEPCHEM_HUB_KEY_THRESHOLD", "two")
    with pytest.raises(TrustError, match="DEEPCHEM_HUB_KEY_THRESHOLD='two'"):
        trust.key_threshold()


# --- rotation ---------------------------------------------------------------------------------


def test_a_client_follows_a_rotation_without_a_config_change(hub_of, ring, serve, monkeypatch,
                                                             isolated_environment):
    hub = hub_of(ring["a"][0])
    server = serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", server.url)
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")
    _trust(monkeypatch, ring, "a")
    resolve_pretrained("esol-gc")
    summary = rotate_hub(hub, _priv(ring, "a"), _priv(ring, "b", "c"), threshold=2)
    obj = _index(hub)
    assert summary.rotation == 1 and obj["version"] == 2
    assert {s["keyid"] for s in obj["signatures"]} == {_keyid(ring, "b"), _keyid(ring, "c")}
    assert resolve_pretrained("esol-mtr").verified  # same configuration: the record moved it to b and c
    state = trust.TrustStore(isolated_environment).keyset("test-hub", trust.KeySet(tuple(
        parse_trusted_keys([_pub(ring, "a")]))))
    assert state.version == 1 and state.threshold == 2 and set(state.keyids) == {_keyid(ring, "b"),
                                                                                 _keyid(ring, "c")}
    # the retired key can no longer sign for the hub, even with a higher version and no rotation record
    forged = {k: v for k, v in obj.items() if k not in ("signatures", "key_rotations")}
    (hub / "index.json").write_bytes(hubfiles.dumps(sign_index(dict(forged, version=99), _priv(ring, "a"))))
    with pytest.raises(TrustError, match="signed only by keys you do not trust.*since key rotation 1"):
        resolve_pretrained("esol-gc")


def test_a_forked_rotation_signed_by_the_retired_key_is_refused(hub_of, ring, serve, monkeypatch):
    hub = hub_of(ring["a"][0])
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")
    _trust(monkeypatch, ring, "a")
    rotate_hub(hub, _priv(ring, "a"), _priv(ring, "b"))
    resolve_pretrained("esol-gc")  # the client is at rotation 1 (key b)
    obj = _index(hub)
    fork = rotation_record("test-hub", 2, _priv(ring, "e"), threshold=1, signers=_priv(ring, "a"))
    forged = dict(obj, key_rotations=[*obj["key_rotations"], fork], version=obj["version"] + 1)
    (hub / "index.json").write_bytes(hubfiles.dumps(sign_index(forged, _priv(ring, "e"))))
    with pytest.raises(TrustError, match="key rotation 2 of hub 'test-hub' is not signed by 1 of the keys trusted "
                                         "since rotation 1"):
        resolve_pretrained("esol-gc")


@pytest.mark.parametrize("defect, message", [
    ("unsigned-by-new-keys", "not signed by 1 of its own new keys"),
    ("other-hub", "is a key rotation of hub 'other', not of 'test-hub'"),
    ("duplicate-version", "two key rotations share a version"),
    ("bad-key", "not a PEM or base64 ed25519 public key"),
])
def test_malformed_rotation_records_are_refused(hub_of, ring, defect, message):
    hub = hub_of(ring["a"][0])
    rotate_hub(hub, _priv(ring, "a"), _priv(ring, "b"), check=False)
    obj = _index(hub)
    record = dict(obj["key_rotations"][0])
    if defect == "unsigned-by-new-keys":
        record["signatures"] = [s for s in record["signatures"] if s["keyid"] == _keyid(ring, "a")]
    elif defect == "other-hub":
        record["hub"] = "other"
    elif defect == "bad-key":
        record["keys"] = ["not base64!"]
    chain = [record, record] if defect == "duplicate-version" else [record]
    obj = sign_index(dict(obj, key_rotations=chain), _priv(ring, "b"))
    with pytest.raises(TrustError, match=message):
        trust.check_index(obj, hubfiles.parse_index(obj), "index.json", store=None,
                          keys=parse_trusted_keys([_pub(ring, "a")]))


def test_a_rotation_below_the_old_threshold_is_not_followed(hub_of, ring, serve, monkeypatch, isolated_environment):
    hub = hub_of(ring["a"][0], ring["b"][0])
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    _trust(monkeypatch, ring, "a", "b", threshold=2)
    before = (hub / "index.json").read_bytes()
    rotate_hub(hub, _priv(ring, "a"), _priv(ring, "c"))  # b's holder did not agree
    with pytest.raises(TrustError, match="signed only by keys you do not trust"):
        resolve_pretrained("esol-gc")
    assert _nothing_cached(isolated_environment)
    (hub / "index.json").write_bytes(before)  # the operators start again, both agreeing this time
    rotate_hub(hub, _priv(ring, "a", "b"), _priv(ring, "d"), check=False)
    assert resolve_pretrained("esol-gc").verified


def test_clients_configured_with_later_keys_and_changed_configurations(hub_of, ring, serve, monkeypatch,
                                                                       isolated_environment):
    hub = hub_of(ring["a"][0])
    rotate_hub(hub, _priv(ring, "a"), _priv(ring, "b"))
    rotate_hub(hub, _priv(ring, "b"), _priv(ring, "c"), check=False)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    monkeypatch.setenv("DEEPCHEM_HUB_INDEX_TTL", "0")
    _trust(monkeypatch, ring, "b")  # a new user given key b: rotation 1 (a -> b) is skipped, 2 is followed
    resolve_pretrained("esol-gc")
    _trust(monkeypatch, ring, "d")  # the user changes their keys: what was remembered for b no longer applies
    with pytest.raises(TrustError, match="only by keys you do not trust"):
        resolve_pretrained("esol-gc")
    _trust(monkeypatch, ring, "c")
    assert resolve_pretrained("esol-gc").verified


def test_rebuilding_after_a_rotation_keeps_the_chain_and_verify_follows_it(hub_of, ring, serve, monkeypatch):
    hub = hub_of(ring["a"][0])
    rotate_hub(hub, _priv(ring, "a"), _priv(ring, "b"))
    hub_of(ring["b"][0])  # the next build signs with the new key only
    obj = _index(hub)
    assert len(obj["key_rotations"]) == 1 and obj["version"] == 3
    report = verify_hub(hub, keys=parse_trusted_keys([_pub(ring, "a")]))
    assert report.ok and report.signature.rotation == 1 and report.signature.signed_by == _keyid(ring, "b")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", serve(hub).url)
    _trust(monkeypatch, ring, "a")
    assert resolve_pretrained("esol-mtr").verified


def test_rotate_refuses_keys_that_are_not_the_hubs_current_ones(hub_of, ring):
    hub = hub_of(ring["a"][0])
    before = (hub / "index.json").read_bytes()
    with pytest.raises(SigningError, match="none of the --sign-key keys signed the current index"):
        rotate_hub(hub, _priv(ring, "e"), _priv(ring, "b"))
    rotate_hub(hub, _priv(ring, "a"), _priv(ring, "b", "c"), threshold=2, check=False)
    with pytest.raises(SigningError, match=r"current keys \(rotation 1\).*2 of which must sign"):
        rotate_hub(hub, _priv(ring, "b"), _priv(ring, "d"))
    assert (hub / "index.json").read_bytes() != before


# --- hubgen sign ------------------------------------------------------------------------------


def test_sign_refuses_a_damaged_folder_and_changes_nothing(hub_of, ring):
    hub = hub_of()
    blob = next(p for p in (hub / "blobs").rglob("*") if p.is_file())
    blob.unlink()
    before = (hub / "index.json").read_bytes()
    with pytest.raises(SigningError, match="refusing to sign a damaged hub: 1 missing and 0 corrupt"):
        sign_hub(hub, _priv(ring, "a"))
    assert (hub / "index.json").read_bytes() == before
    with pytest.raises(SigningError, match="not signed yet"):
        sign_hub(hub, _priv(ring, "a"), add=True, check=False)


def test_sign_bumps_the_version_renews_expiry_and_rewrites_the_checksum_files(hub_of, ring):
    hub = hub_of(ring["a"][0])
    first = _index(hub)
    summary = sign_hub(hub, _priv(ring, "b"), expires_days=3, new_signer=True)  # b replaces a: a change of signer
    obj = _index(hub)
    assert obj["version"] == first["version"] + 1 == summary.version and summary.checked > 0
    assert [s["keyid"] for s in obj["signatures"]] == [_keyid(ring, "b")]
    sums = dict(line.split("  ")[::-1] for line in (hub / "SHA256SUMS").read_text().splitlines())
    assert sums["index.json"] == sha256_file(hub / "index.json")
    assert f"index.json sha256:{sums['index.json']}" in (hub / "registry.txt").read_text()
    assert add_signatures(obj, _priv(ring, "a"))["version"] == obj["version"]


# --- hub identity -----------------------------------------------------------------------------


def test_a_policy_bound_to_a_hub_refuses_another_hubs_index_even_when_signed(hub_of, ring, tmp_path):
    hub = hub_of(ring["a"][0])
    obj = _index(hub)
    index = hubfiles.parse_index(obj)
    keys = tuple(parse_trusted_keys([_pub(ring, "a")]))
    store = trust.TrustStore(tmp_path / "state")
    with pytest.raises(TrustError, match="this index is of hub 'test-hub', but the mirror is configured for hub "
                                         "'prod'"):
        trust.TrustPolicy(keys=keys, hub="prod").check(obj, index, "https://m/index.json", store=store)
    with pytest.raises(TrustError, match="configured for hub 'prod'"):  # unsigned hubs are bound too
        trust.TrustPolicy(hub="prod").check(obj, index, "https://m/index.json", store=store)
    verdict = trust.TrustPolicy(keys=keys, hub="test-hub").check(obj, index, "https://m/index.json", store=store)
    assert verdict.checked and verdict.signed_by == (_keyid(ring, "a"),) and verdict.version == 1
    store.accept(verdict)
    assert store.highest("test-hub") == 1
