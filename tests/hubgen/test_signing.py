"""``hubgen sign``, ``build --sign-key`` and ``rotate`` as an operator runs them: the CLI in a subprocess.

After ``hubgen rotate``, the retired key must not sign again (clients that followed the rotation refuse
what it signs): ``sign`` and ``build`` refuse it before writing anything. ``rotate`` refuses a rotation
to the keys already in use and an unsigned hub (saying to sign it first), and ``--expires-days``
accepts what its message says.

Replacing the signatures of a signed hub with keys clients trusting its signers cannot follow to (none of
them, and no rotation hands over) is a change of signer: ``sign`` and ``build`` refuse it, leaving the hub
as it was, unless ``--new-signer`` says it is meant; the same key, a key added beside it, the keys a
rotation hands over to, and an unsigned hub are not a change. A signed build says so in the line
``hubgen sign`` prints.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests._support.folders import make_folder

BIN = Path(sys.executable).parent


def _hubgen(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "hubgen"), *map(str, args)], capture_output=True, text=True, timeout=180,
                          cwd=cwd, env=dict(os.environ))


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _refused(result: subprocess.CompletedProcess, *messages: str) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for message in messages:
        assert message in result.stderr, result.stderr
    return result.stderr


def _manifest(tmp_path: Path, *names: str) -> Path:
    """``lab/hub_manifest.yaml`` listing one small model per name."""
    lines = ["name: lab", "models:"]
    for seed, name in enumerate(names, 1):
        folder = tmp_path / "lab" / name
        if not folder.is_dir():
            make_folder(folder, seed=seed)
        lines += [f"  - name: {name}", "    version: '1.0'", f"    path: {folder}"]
    path = tmp_path / "lab" / "hub_manifest.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _keygen(tmp_path: Path, *names: str) -> None:
    for name in names:
        _ok(_hubgen("keygen", "--out", "keys", "--name", name, cwd=tmp_path))


def _tree(hub: Path) -> dict[str, bytes]:
    return {str(p.relative_to(hub)): p.read_bytes() for p in sorted(hub.rglob("*")) if p.is_file()}


def _fingerprint(tmp_path: Path, name: str) -> str:
    from dchub_client.hub import trust

    return trust.parse_public_key((tmp_path / "keys" / f"{name}.pub").read_text(), name).keyid[:16]


def test_sign_and_build_refuse_the_key_a_rotation_retired(tmp_path):
    _keygen(tmp_path, "hub-key", "new", "operator")
    _ok(_hubgen("build", _manifest(tmp_path, "esol-mtr"), "--out", "hubR", "--sign-key", "keys/hub-key.pem",
                cwd=tmp_path))
    _ok(_hubgen("rotate", "hubR", "--sign-key", "keys/hub-key.pem", "--new-key", "keys/new.pem", cwd=tmp_path))
    hub = tmp_path / "hubR"
    before = _tree(hub)

    for command in (["sign", "hubR"], ["sign", "hubR", "--add"],
                    ["build", _manifest(tmp_path, "esol-mtr", "tox21-mtc"), "--out", "hubR"]):
        err = _refused(_hubgen(*command, "--sign-key", "keys/hub-key.pem", cwd=tmp_path),
                       "keys/hub-key.pem: this key was retired by key rotation 1", _fingerprint(tmp_path, "new"),
                       "sign with that key")
        assert err.count("\n") == 1, err
        assert _tree(hub) == before, command  # nothing written: no blob of tox21-mtc, the same index

    assert "OK" in _ok(_hubgen("verify", "hubR", "--trusted-key", "keys/hub-key.pub", cwd=tmp_path))
    _ok(_hubgen("build", "lab/hub_manifest.yaml", "--out", "hubR", "--sign-key", "keys/new.pem", cwd=tmp_path))
    assert "OK" in _ok(_hubgen("verify", "hubR", "--trusted-key", "keys/hub-key.pub", cwd=tmp_path))
    # a key the rotations never named (an operator vouching for a copy, for clients that trust it) is not retired:
    # it signs, as the deliberate change of signer it is (without --new-signer, see test_a_change_of_signer_...)
    _ok(_hubgen("sign", "hubR", "--sign-key", "keys/operator.pem", "--new-signer", cwd=tmp_path))
    assert "OK" in _ok(_hubgen("verify", "hubR", "--trusted-key", "keys/operator.pub", cwd=tmp_path))


def test_a_key_rotated_back_to_signs_again_and_the_one_it_replaced_is_refused(tmp_path):
    _keygen(tmp_path, "a", "b")
    _ok(_hubgen("build", _manifest(tmp_path, "esol-mtr"), "--out", "hub", "--sign-key", "keys/a.pem", cwd=tmp_path))
    _ok(_hubgen("rotate", "hub", "--sign-key", "keys/a.pem", "--new-key", "keys/b.pem", cwd=tmp_path))
    _ok(_hubgen("rotate", "hub", "--sign-key", "keys/b.pem", "--new-key", "keys/a.pem", cwd=tmp_path))
    _ok(_hubgen("sign", "hub", "--sign-key", "keys/a.pem", cwd=tmp_path))
    _refused(_hubgen("sign", "hub", "--sign-key", "keys/b.pem", cwd=tmp_path), "retired by key rotation 2")


def test_rotate_refuses_the_same_keys_and_an_unsigned_hub(tmp_path):
    _keygen(tmp_path, "hub-key", "new")
    manifest = _manifest(tmp_path, "esol-mtr")
    _ok(_hubgen("build", manifest, "--out", "plain", cwd=tmp_path))
    before = _tree(tmp_path / "plain")
    _refused(_hubgen("rotate", "plain", "--sign-key", "keys/hub-key.pem", "--new-key", "keys/new.pem", cwd=tmp_path),
             "is not signed yet", "hubgen sign plain --sign-key")
    assert _tree(tmp_path / "plain") == before

    _ok(_hubgen("build", manifest, "--out", "hub", "--sign-key", "keys/hub-key.pem", cwd=tmp_path))
    _refused(_hubgen("rotate", "hub", "--sign-key", "keys/hub-key.pem", "--new-key", "keys/hub-key.pem",
                     cwd=tmp_path), "changes nothing", "hubgen keygen")
    out = _ok(_hubgen("rotate", "hub", "--sign-key", "keys/hub-key.pem", "--new-key", "keys/new.pem", cwd=tmp_path))
    assert "key rotation 1" in out
    before = _tree(tmp_path / "hub")
    _refused(_hubgen("rotate", "hub", "--sign-key", "keys/new.pem", "--new-key", "keys/new.pem", cwd=tmp_path),
             "changes nothing")
    assert _tree(tmp_path / "hub") == before


def test_expires_days_accepts_what_its_message_says(tmp_path):
    _keygen(tmp_path, "hub-key")
    _ok(_hubgen("build", _manifest(tmp_path, "esol-mtr"), "--out", "hub", "--sign-key", "keys/hub-key.pem",
                cwd=tmp_path))
    for bad in ("0", "-1", "36500.5", "nan", "inf"):
        err = _refused(_hubgen("sign", "hub", "--sign-key", "keys/hub-key.pem", "--expires-days", bad, cwd=tmp_path),
                       "must be more than 0 and at most 36500 days")
        assert "between 0" not in err
    for good in ("0.5", "36500"):
        assert "expires" in _ok(_hubgen("sign", "hub", "--sign-key", "keys/hub-key.pem", "--expires-days", good,
                                        cwd=tmp_path))


# --- a change of signer: refused unless handed over by `hubgen rotate` or asked for with --new-signer --------


def _signed_lab(tmp_path: Path) -> tuple[Path, Path]:
    """Keys hub-key and b; ``lab/hub_manifest.yaml`` (esol-mtr) built into ``hub``, signed by hub-key."""
    _keygen(tmp_path, "hub-key", "b")
    manifest = _manifest(tmp_path, "esol-mtr")
    _ok(_hubgen("build", manifest, "--out", "hub", "--sign-key", "keys/hub-key.pem", cwd=tmp_path))
    return tmp_path / "hub", manifest


def _trusts(tmp_path: Path, hub: str, key: str) -> bool:
    """Whether ``hubgen verify`` (the client's trust check) accepts *hub* for a client trusting only *key*."""
    result = _hubgen("verify", hub, "--trusted-key", f"keys/{key}.pub", cwd=tmp_path)
    return result.returncode == 0 and "OK" in result.stdout


def test_a_change_of_signer_is_refused_by_build_and_sign_and_the_hub_is_left_as_it_was(tmp_path):
    hub, _ = _signed_lab(tmp_path)
    bigger = _manifest(tmp_path, "esol-mtr", "tox21-mtc")  # a build would publish a new version's blobs
    (tmp_path / "lab" / "esol-mtr" / "params.json").touch()  # and hash a changed source again
    before = _tree(hub)
    old, new = _fingerprint(tmp_path, "hub-key"), _fingerprint(tmp_path, "b")

    for command in (["build", bigger, "--out", "hub"], ["sign", "hub"], ["sign", "hub", "--no-verify"]):
        err = _refused(_hubgen(*command, "--sign-key", "keys/b.pem", cwd=tmp_path),
                       f"hub: index.json is signed by key {old}, which keys/b.pem (key {new}) would replace",
                       f"clients that trust key {old} would refuse this hub",
                       "`hubgen rotate hub --sign-key OLD.pem --new-key keys/b.pem`", "add --new-signer",
                       "Nothing was changed")
        assert err.count("\n") == 1, err
        assert _tree(hub) == before, command  # byte for byte: no blob of tox21-mtc, the same index and sums
    assert _trusts(tmp_path, "hub", "hub-key")


def test_the_same_key_an_added_key_or_an_unsigned_hub_is_no_change_of_signer(tmp_path):
    hub, manifest = _signed_lab(tmp_path)
    key = _fingerprint(tmp_path, "hub-key")
    out = _ok(_hubgen("build", manifest, "--out", "hub", "--sign-key", "keys/hub-key.pem", cwd=tmp_path))
    assert out.splitlines()[-1].startswith("signed hub/index.json: version 2, expires ")  # as `hubgen sign` says
    assert out.splitlines()[-1].endswith(f"signatures by {key}")
    assert f"signatures by {key}" in _ok(_hubgen("sign", "hub", "--sign-key", "keys/hub-key.pem", cwd=tmp_path))

    # k of n: b signs beside hub-key; then either holder re-signs first and the other adds (no signer is new)
    _ok(_hubgen("sign", "hub", "--add", "--sign-key", "keys/b.pem", cwd=tmp_path))
    assert _trusts(tmp_path, "hub", "hub-key") and _trusts(tmp_path, "hub", "b")
    rebuilt = _hubgen("build", manifest, "--out", "hub", "--sign-key", "keys/b.pem", cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"the signatures of key {key} are dropped (re-signed by keys/b.pem only); clients that require more " \
           f"than one signature refuse the hub until their holders run `hubgen sign hub --add --sign-key KEY`" \
        in rebuilt.stderr, rebuilt.stderr  # said, not silent
    _ok(_hubgen("sign", "hub", "--add", "--sign-key", "keys/hub-key.pem", cwd=tmp_path))
    assert _trusts(tmp_path, "hub", "hub-key") and _trusts(tmp_path, "hub", "b")

    _ok(_hubgen("build", manifest, "--out", "plain", cwd=tmp_path))  # nobody signed it: nothing to hand over
    out = _ok(_hubgen("build", manifest, "--out", "plain", "--sign-key", "keys/b.pem", cwd=tmp_path))
    assert f"signatures by {_fingerprint(tmp_path, 'b')}" in out


def test_new_signer_is_a_deliberate_fresh_start(tmp_path):
    hub, manifest = _signed_lab(tmp_path)
    old, new = _fingerprint(tmp_path, "hub-key"), _fingerprint(tmp_path, "b")
    result = _hubgen("sign", "hub", "--sign-key", "keys/b.pem", "--new-signer", cwd=tmp_path)
    assert f"signatures by {new}" in _ok(result)
    assert f"hub: the signer changes from key {old} to keys/b.pem (key {new}) (--new-signer)" in result.stderr
    assert _trusts(tmp_path, "hub", "b") and not _trusts(tmp_path, "hub", "hub-key")

    _keygen(tmp_path, "c")
    _refused(_hubgen("build", manifest, "--out", "hub", "--sign-key", "keys/c.pem", cwd=tmp_path), "--new-signer")
    out = _ok(_hubgen("build", manifest, "--out", "hub", "--sign-key", "keys/c.pem", "--new-signer", cwd=tmp_path))
    assert out.splitlines()[-1].endswith(f"signatures by {_fingerprint(tmp_path, 'c')}")
    assert _trusts(tmp_path, "hub", "c") and not _trusts(tmp_path, "hub", "b")


def test_after_hubgen_rotate_the_new_key_signs_and_clients_of_the_old_key_follow(tmp_path):
    hub, manifest = _signed_lab(tmp_path)
    _ok(_hubgen("rotate", "hub", "--sign-key", "keys/hub-key.pem", "--new-key", "keys/b.pem", cwd=tmp_path))
    _ok(_hubgen("build", _manifest(tmp_path, "esol-mtr", "tox21-mtc"), "--out", "hub", "--sign-key", "keys/b.pem",
                cwd=tmp_path))
    _ok(_hubgen("sign", "hub", "--sign-key", "keys/b.pem", cwd=tmp_path))
    assert _trusts(tmp_path, "hub", "hub-key") and _trusts(tmp_path, "hub", "b")

    # the rotation hands over to b only: a third key is still a change of signer, named against b
    _keygen(tmp_path, "c")
    _refused(_hubgen("sign", "hub", "--sign-key", "keys/c.pem", cwd=tmp_path),
             f"index.json is signed by key {_fingerprint(tmp_path, 'b')}, which keys/c.pem")


def test_a_bad_signing_key_is_one_plain_line_and_the_hub_is_left_as_it_was(tmp_path):
    hub, _ = _signed_lab(tmp_path)
    before = _tree(hub)
    (tmp_path / "keys" / "junk.pem").write_text("x\n")
    (tmp_path / "keys" / "rsa.pem").write_bytes(_rsa_pem())
    for key, said in [("keys/junk.pem", "keys/junk.pem: not a PEM private key (hubgen keygen writes one, PKCS#8, "
                                        "in NAME.pem)"),
                      ("keys/rsa.pem", "keys/rsa.pem: not an ed25519 private key but "),
                      ("keys/gone.pem", "keys/gone.pem: cannot read the signing key: [Errno 2] No such file")]:
        for command in (["sign", "hub"], ["build", "lab/hub_manifest.yaml", "--out", "hub"]):
            err = _refused(_hubgen(*command, "--sign-key", key, cwd=tmp_path), said)
            assert err.count("\n") == 1 and "((" not in err and "))" not in err, err
    assert _tree(hub) == before


def _rsa_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_a_public_key_given_as_a_signing_key_is_refused_by_every_command(tmp_path):
    """``keys/b.pub`` where ``keys/b.pem`` was meant: read as a 32-byte seed it would sign with a key anybody
    holding the public key can rebuild (and clients following a rotation to it would trust forgeries)."""
    hub, manifest = _signed_lab(tmp_path)
    before = _tree(hub)
    said = "keys/b.pub: a public key (base64 of 32 bytes, as in a .pub file), not a private key; sign with the " \
           "private key, the .pem file `hubgen keygen` wrote (keys/b.pem, beside it?)"
    for command in (["rotate", "hub", "--sign-key", "keys/hub-key.pem", "--new-key", "keys/b.pub"],
                    ["sign", "hub", "--add", "--sign-key", "keys/b.pub"],
                    ["sign", "hub", "--new-signer", "--sign-key", "keys/b.pub"],
                    ["build", manifest, "--out", "hub", "--sign-key", "keys/b.pub", "--new-signer"],
                    ["build", manifest, "--out", "fresh", "--sign-key", "keys/b.pub"]):
        _refused(_hubgen(*command, cwd=tmp_path), said)
    assert _tree(hub) == before and not (tmp_path / "fresh").exists()  # nothing written anywhere
