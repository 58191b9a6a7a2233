"""Signing journeys as operators and users run them: ``hubgen`` and ``dchub`` in subprocesses, hubs on 127.0.0.1.

1. k of n keys, a rotation the client follows with no configuration change, signers adding their
   signatures in turn, and ``hubgen verify`` following the rotation.
2. An operator vouching for a partial ``dchub mirror`` copy with ``hubgen sign``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests._support.folders import make_folder

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def _run(tool: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = dict(os.environ, **(env or {}))  # the isolation fixture cleared every DEEPCHEM_ variable
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, timeout=180, env=full, cwd=ROOT)


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _refused(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "hub_manifest.yaml"
    if path.exists():
        return path
    a = make_folder(tmp_path / "src" / "a", seed=1)
    b = make_folder(tmp_path / "src" / "b", seed=2)
    path.write_text(f"name: lab\nmodels:\n  - name: esol-gc\n    version: '1.0'\n    path: {a}\n"
                    f"  - name: tox-mtr\n    version: '2.0'\n    path: {b}\n")
    return path


def _keys(tmp_path: Path, *names: str) -> dict[str, tuple[str, str]]:
    for name in names:
        _ok(_run("hubgen", "keygen", "--out", str(tmp_path / "keys"), "--name", name))
    return {n: (str(tmp_path / "keys" / f"{n}.pem"), str(tmp_path / "keys" / f"{n}.pub")) for n in names}


def test_k_of_n_and_a_rotation_followed_by_a_client(tmp_path, serve):
    keys = _keys(tmp_path, "a", "b", "c", "d", "e")
    hub = tmp_path / "hub"
    _ok(_run("hubgen", "build", str(_manifest(tmp_path)), "--out", str(hub),
             "--sign-key", keys["a"][0], "--sign-key", keys["b"][0]))
    url = serve(hub).url
    client = {"DEEPCHEM_MODEL_HUB": url, "DEEPCHEM_HUB_TRUSTED_KEYS": " ".join(keys[n][1] for n in "abc"),
              "DEEPCHEM_HUB_KEY_THRESHOLD": "2", "DEEPCHEM_HUB_INDEX_TTL": "0"}
    _ok(_run("dchub", "pull", "-q", "esol-gc", env=client))

    out = _ok(_run("hubgen", "rotate", str(hub), "--sign-key", keys["a"][0], "--sign-key", keys["b"][0],
                   "--new-key", keys["d"][0], "--new-key", keys["e"][0], "--threshold", "2"))
    assert "key rotation 1" in out and "version 2" in out
    _ok(_run("dchub", "pull", "-q", "tox-mtr", env=client))  # same configuration: now trusts d and e, 2 of them
    info = _ok(_run("dchub", "info", "tox-mtr", env=client))
    rotated = "; the hub has rotated its keys since those you configured: now 2 of "
    assert rotated in info and "(key rotation 1)" in info

    _ok(_run("hubgen", "build", str(_manifest(tmp_path)), "--out", str(hub), "--sign-key", keys["d"][0]))
    _refused(_run("dchub", "pull", "-q", "esol-gc", env=client), "but 2 are required")
    out = _ok(_run("hubgen", "sign", str(hub), "--add", "--sign-key", keys["e"][0]))  # e's holder signs too
    assert "version 3" in out
    _ok(_run("dchub", "pull", "-q", "esol-gc", env=client))

    verify = _run("hubgen", "verify", url, "--trusted-key", keys["a"][1], "--trusted-key", keys["b"][1],
                  "--threshold", "2")
    assert "(2 required) (keys followed to rotation 1)" in _ok(verify)
    untrusted = _run("hubgen", "verify", url, "--trusted-key", keys["a"][1], "--trusted-key", keys["c"][1],
                     "--threshold", "2")  # a and c never agreed to the rotation: 1 of 2 is not enough
    assert untrusted.returncode == 1 and "UNTRUSTED" in untrusted.stdout, untrusted.stdout


def test_an_operator_vouches_for_a_partial_mirror_with_hubgen_sign(tmp_path, serve):
    keys = _keys(tmp_path, "hub", "operator")
    hub = tmp_path / "hub"
    _ok(_run("hubgen", "build", str(_manifest(tmp_path)), "--out", str(hub), "--sign-key", keys["hub"][0]))
    _ok(_run("hubgen", "build", str(_manifest(tmp_path)), "--out", str(hub), "--sign-key", keys["hub"][0]))
    origin = {"DEEPCHEM_MODEL_HUB": serve(hub).url, "DEEPCHEM_HUB_TRUSTED_KEYS": keys["hub"][1]}
    _ok(_run("dchub", "pull", "-q", "esol-gc", env=origin))  # this cache has seen hub 'lab' at version 2
    copy = tmp_path / "copy"
    mirror = _run("dchub", "mirror", "-q", "esol-gc", "--to", str(copy), env=origin)
    assert "hubgen sign" in _ok(mirror) + mirror.stderr

    site = {"DEEPCHEM_MODEL_HUB": serve(copy).url, "DEEPCHEM_HUB_TRUSTED_KEYS": keys["operator"][1],
            "DEEPCHEM_HUB_INDEX_TTL": "0"}
    _refused(_run("dchub", "pull", "-q", "esol-gc", env=site), "not signed")
    out = _ok(_run("hubgen", "sign", str(copy), "--sign-key", keys["operator"][0]))
    assert "version 3" in out and "files checked" in out  # above the version this cache saw: no rollback
    _ok(_run("dchub", "pull", "-q", "esol-gc", env=site))
    assert "SIGNED" in _ok(_run("hubgen", "verify", str(copy), "--trusted-key", keys["operator"][1]))
    _refused(_run("hubgen", "sign", str(tmp_path / "nowhere"), "--sign-key", keys["operator"][0]), "no such file")


def test_a_threshold_above_the_trusted_keys_names_where_it_was_set(tmp_path, serve):
    keys = _keys(tmp_path, "a", "b")
    hub = tmp_path / "hub"
    _ok(_run("hubgen", "build", str(_manifest(tmp_path)), "--out", str(hub), "--sign-key", keys["a"][0]))
    url = serve(hub).url
    client = {"DEEPCHEM_MODEL_HUB": url, "DEEPCHEM_HUB_TRUSTED_KEYS": keys["a"][1], "DEEPCHEM_HUB_KEY_THRESHOLD": "2"}
    _refused(_run("dchub", "ls", env=client),
             f"dchub: error: DEEPCHEM_HUB_KEY_THRESHOLD=2: more signatures than there are distinct trusted keys (1, "
             f"from {keys['a'][1]}); lower it to at most 1, or trust more keys")
    _refused(_run("hubgen", "verify", url, "--trusted-key", keys["a"][1], "--threshold", "2"),
             "--threshold 2: more signatures than there are distinct trusted keys (1, from ")

    config = tmp_path / "dchub.toml"  # the default hub pinned with one key listed twice, 2 required
    config.write_text(f'[hubs.lab]\nmirrors = ["{url}"]\nkeys = ["{keys["a"][1]}", "{keys["a"][1]}"]\n'
                      'threshold = 2\ndefault = true\n', encoding="utf-8")
    pinned = {"DCHUB_CONFIG": str(config), "DEEPCHEM_MODEL_HUB": url}
    _refused(_run("dchub", "ls", env=pinned), f"dchub: error: {config} [hubs.lab] threshold = 2: more signatures than "
                                              f"there are distinct trusted keys (1, from {keys['a'][1]})")
    # the environment's keys replace the pinned hub's, and go with the environment's threshold (default 1), as
    # docs/client.md says: the config's threshold of 2 does not apply to them
    assert "esol-gc" in _ok(_run("dchub", "ls", env={**pinned, "DEEPCHEM_HUB_TRUSTED_KEYS": keys["a"][1]}))
    _refused(_run("dchub", "ls", env={**pinned, "DEEPCHEM_HUB_TRUSTED_KEYS": keys["a"][1],
                                      "DEEPCHEM_HUB_KEY_THRESHOLD": "2"}), "DEEPCHEM_HUB_KEY_THRESHOLD=2: ")


def test_a_key_id_in_an_error_is_the_one_keygen_printed_beside_its_files(tmp_path, serve):
    made = {n: _ok(_run("hubgen", "keygen", "--out", str(tmp_path / "keys"), "--name", n)) for n in ("a", "b")}
    ids = {n: next(line.split()[2] for line in out.splitlines() if line.startswith("key id:")) for n, out in made.items()}
    assert all(len(kid) == 16 for kid in ids.values()) and ids["a"] != ids["b"]
    assert f"public key:  {tmp_path / 'keys' / 'a.pub'}\nkey id:      {ids['a']} (" in made["a"]
    hub = tmp_path / "hub"
    _ok(_run("hubgen", "build", str(_manifest(tmp_path)), "--out", str(hub), "--sign-key", str(tmp_path / "keys" / "b.pem")))
    a_pub = str(tmp_path / "keys" / "a.pub")
    trusted_a = f"(signed by {ids['b']}; trusted: {ids['a']} ({a_pub}))"  # the file named beside its id
    url = serve(hub).url
    _refused(_run("dchub", "pull", "-q", "esol-gc", env={"DEEPCHEM_MODEL_HUB": url,
                                                        "DEEPCHEM_HUB_TRUSTED_KEYS": a_pub}), trusted_a)
    told = _run("dchub", "-v", "pull", "-q", "esol-gc", env={"DEEPCHEM_MODEL_HUB": url,
                                                            "DEEPCHEM_HUB_TRUSTED_KEYS": str(tmp_path / "keys" / "b.pub")})
    _ok(told)  # -v says where the index came from, how it was trusted, and what was fetched
    assert f"dchub: info: hub 'lab': index fetched from {url} (2 models, signed by 1 trusted key: {ids['b']})" \
        in told.stderr, told.stderr
    assert "dchub: info: esol-gc@1.0: fetching 4 files from " in told.stderr, told.stderr
    assert "dchub: info: esol-gc@1.0: fetched and verified 4 files (" in told.stderr, told.stderr
    unchecked = _run("dchub", "-v", "ls", env={"DEEPCHEM_MODEL_HUB": url, "DEEPCHEM_HUB_CACHE": str(tmp_path / "c2")})
    assert "(2 models, signed, but no trusted keys are configured to check it)" in _ok(unchecked) + unchecked.stderr
    untrusted = _run("hubgen", "verify", str(hub), "--trusted-key", a_pub)
    assert untrusted.returncode == 1 and trusted_a in untrusted.stdout, untrusted.stdout
    b_text = (tmp_path / "keys" / "b.pub").read_text().strip()  # given as text: no file to name
    assert f"signature verified with trusted key {ids['b']};" in _ok(_run("hubgen", "verify", str(hub),
                                                                          "--trusted-key", b_text))
    assert f"UNCHECKED index.json: signed by key {ids['b']};" in _ok(_run("hubgen", "verify", str(hub)))


def test_a_bad_trusted_key_is_named_in_one_plain_sentence(tmp_path):
    hub = tmp_path / "hub"
    _ok(_run("hubgen", "build", str(_manifest(tmp_path)), "--out", str(hub)))
    (tmp_path / "bad.pub").write_text("abc\n")
    for entry, said in [("abc", f"DEEPCHEM_HUB_TRUSTED_KEYS: 'abc' is neither a key file (there is no file "
                                 f"{tmp_path / 'abc'}) nor a base64 ed25519 public key: Incorrect padding"),
                        (str(tmp_path / "bad.pub"), f"{tmp_path / 'bad.pub'}: not a PEM or base64 ed25519 public key: "
                                                    "Incorrect padding"),
                        ("AAAA", f"DEEPCHEM_HUB_TRUSTED_KEYS: 'AAAA' is neither a key file (there is no file "
                                  f"{tmp_path / 'AAAA'}) nor a base64 ed25519 public key: it decodes to 3 bytes; an "
                                  "ed25519 public key is 32 bytes")]:
        done = subprocess.run([str(BIN / "dchub"), "ls"], capture_output=True, text=True, timeout=180, cwd=tmp_path,
                              env=dict(os.environ, DEEPCHEM_MODEL_HUB=str(hub), DEEPCHEM_HUB_TRUSTED_KEYS=entry))
        assert done.returncode == 1 and done.stderr == f"dchub: error: {said}\n", done.stderr
    verify = _run("hubgen", "verify", str(hub), "--trusted-key", "abc")
    assert "hubgen: error: --trusted-key: 'abc' is neither a key file (there is no file " in verify.stderr
    assert verify.stderr.rstrip().endswith(") nor a base64 ed25519 public key: Incorrect padding")


def test_a_tampered_index_cached_without_keys_says_how_to_recover(tmp_path, serve):
    """One run without keys caches whatever a mirror served (a tampered index: 'not checked', as documented);
    with the keys back, offline loads refuse that cached index and say what repairs it, which works."""
    keys = _keys(tmp_path, "a")
    hub = tmp_path / "hub"
    _ok(_run("hubgen", "build", str(_manifest(tmp_path)), "--out", str(hub), "--sign-key", keys["a"][0]))
    good = serve(hub).url
    bad_hub = tmp_path / "bad"
    subprocess.run(["cp", "-a", str(hub), str(bad_hub)], check=True)
    index = bad_hub / "index.json"
    data = json.loads(index.read_text())
    data["title"] = "Evil models"  # signed content changed, signatures kept
    index.write_text(json.dumps(data))
    bad = serve(bad_hub).url
    trusting = {"DEEPCHEM_HUB_TRUSTED_KEYS": keys["a"][1], "DEEPCHEM_HUB_INDEX_TTL": "0"}
    _ok(_run("dchub", "pull", "-q", "esol-gc", env={"DEEPCHEM_MODEL_HUB": good, **trusting}))
    _ok(_run("dchub", "ls", "--refresh", env={"DEEPCHEM_MODEL_HUB": bad}))  # no keys: accepted, not checked
    offline = _run("dchub", "pull", "-q", "esol-gc", env={"DEEPCHEM_MODEL_HUB": good, "DEEPCHEM_HUB_OFFLINE": "1",
                                                          **trusting})
    _refused(offline, "changed after signing")
    assert "while online, `dchub ls default --refresh` replaces the cached index of hub 'lab'" in offline.stderr, \
        offline.stderr
    _ok(_run("dchub", "ls", "default", "--refresh", env={"DEEPCHEM_MODEL_HUB": good, **trusting}))  # the advice
    _ok(_run("dchub", "pull", "-q", "esol-gc", env={"DEEPCHEM_MODEL_HUB": good, "DEEPCHEM_HUB_OFFLINE": "1",
                                                    **trusting}))


def test_verbose_says_an_index_is_unsigned(tmp_path, serve):
    hub = tmp_path / "hub"
    _ok(_run("hubgen", "build", str(_manifest(tmp_path)), "--out", str(hub)))
    url = serve(hub).url
    told = _run("dchub", "-v", "ls", env={"DEEPCHEM_MODEL_HUB": url})
    assert f"dchub: info: hub 'lab': index fetched from {url} (2 models, unsigned)" in told.stderr, told.stderr
    again = _run("dchub", "-v", "ls", env={"DEEPCHEM_MODEL_HUB": url})
    assert "dchub: info: hub 'lab': the index cached " in again.stderr, again.stderr
