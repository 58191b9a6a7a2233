"""``hubgen sign``, ``build --sign-key`` and ``rotate`` as an operator runs them: the CLI in a subprocess.

After ``hubgen rotate``, the retired key must not sign again (clients that followed the rotation refuse
what it signs): ``sign`` and ``build`` refuse it before writing anything. ``rotate`` refuses a rotation
to the keys already in use and an unsigned hub (saying to sign it first), and ``--expires-days``
accepts what its message says.
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
    # a key the rotations never named (an operator vouching for a copy, for clients that trust it) still signs
    _ok(_hubgen("sign", "hubR", "--sign-key", "keys/operator.pem", cwd=tmp_path))
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
