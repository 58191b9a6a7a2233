"""Signing the hub index: ed25519 key pairs, ``version`` and ``expires``, k-of-n signatures, key rotation.

The index keeps its shape; top-level keys are added (``docs/format.md``, ``docs/security.md``):
``version`` (increases by one whenever the index content changes or is re-signed), ``expires``
(RFC 3339, UTC), ``signatures`` (``[{"keyid", "sig"}]`` over
:func:`dchub_client.hub.trust.signed_bytes`, the canonical JSON of everything but ``signatures``),
and, once a hub has changed keys, ``key_rotations``: signed records naming each new key set.
Clients check them with :mod:`dchub_client.hub.trust`.

API:
    generate_keypair(out_dir, name="hub-key") -> (private_path, public_path)
    load_private_key(path) -> Ed25519PrivateKey
    public_key_text(key) -> str                     (base64 of the raw public key)
    sign_index(obj, keys) -> dict                    (obj with fresh ``signatures``)
    add_signatures(obj, keys) -> dict                (obj with these keys' signatures added: k of n, one at a time)
    rotation_record(hub, version, new_keys, *, threshold, signers) -> dict
    index_bytes(new, old, *, keys, expires_days, now=None) -> bytes
    check_not_retired(obj, keys, source)             (refuses keys a key rotation of the hub retired)
    check_signer_kept(obj, keys, folder, *, new_signer=False)
                                                     (refuses replacing the signers with keys clients cannot follow to)
    signed_summary(path, data, checked=0) -> SignSummary                                (what an index's bytes say)
    sign_hub(folder, keys, *, expires_days, add=False, check=True, new_signer=False) -> SignSummary (``hubgen sign``)
    rotate_hub(folder, old_keys, new_keys, *, threshold=1, ...) -> SignSummary          (``hubgen rotate``)

Where a function takes keys, each may be a loaded private key or the path of its file (then
messages name the file).
"""
from __future__ import annotations

import base64
import binascii
import datetime
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dchub_client.errors import DchubError
from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.atomic import atomic_write_bytes
from dchub_client.format.sums import write_checksum_files
from dchub_client.hub import trust
from hubgen.errors import SigningError
from hubgen.verify import verify_hub

if TYPE_CHECKING:  # cryptography is imported lazily
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    #: A private key, or the path of its file (``hubgen keygen``).
    KeyLike = Ed25519PrivateKey | str | os.PathLike[str]

logger = logging.getLogger(__name__)

#: Default lifetime of a signed index; re-sign (rebuild with --sign-key) before it runs out.
DEFAULT_EXPIRES_DAYS = 30
#: The longest lifetime of a signed index (100 years).
MAX_EXPIRES_DAYS = 36500
_UNSIGNED_KEYS = ("version", "expires", trust.SIGNATURES_KEY)


def generate_keypair(out_dir: str | os.PathLike[str], name: str = "hub-key") -> tuple[Path, Path]:
    """Write a new ed25519 key pair: ``<name>.pem`` (private, PKCS#8, mode 0600) and ``<name>.pub``.

    The ``.pub`` file holds one line, the base64 of the raw 32-byte public key: the value clients
    put in ``DEEPCHEM_HUB_TRUSTED_KEYS`` (or the path of that file).

    Raises:
        SigningError: either file already exists (keys are never overwritten).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out = Path(out_dir)
    private, public = out / f"{name}.pem", out / f"{name}.pub"
    for path in (private, public):
        if path.exists():
            raise SigningError(f"{path}: already exists; refusing to overwrite a key (choose another --out)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    out.mkdir(parents=True, exist_ok=True)
    _write_private(private, pem)
    atomic_write_bytes(public, (public_key_text(key) + "\n").encode("ascii"))
    return private, public


def _write_private(path: Path, data: bytes) -> None:
    """Create *path* with mode 0600 from the start (never readable by others, not even briefly)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(tmp, path)  # fails rather than replace a key created meanwhile
    finally:
        tmp.unlink(missing_ok=True)


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The base64 of the raw 32-byte public key of *key*."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """A private key from a PEM file (PKCS#8, unencrypted: what ``hubgen keygen`` writes).

    Raw keys (base64 of 32 bytes) are refused: that is how a public key is written (a ``.pub`` file),
    and read as a seed it would make a signing key anybody holding the public key could rebuild.

    Raises:
        SigningError: unreadable, encrypted, not PEM (a public key: the message says so), or not ed25519.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise SigningError(f"{path}: cannot read the signing key: {err}") from err
    if b"-----BEGIN" not in data:
        raise SigningError(f"{path}: {_not_private(path, data)}")
    if b"PRIVATE KEY-----" not in data:
        raise SigningError(f"{path}: a PEM public key, not a private key; sign with the private key (a .pem "
                           f"file written by `hubgen keygen`)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise SigningError(f"{path}: unreadable PEM private key: {err}") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path}: not an ed25519 private key but {type(key).__name__}")
    return key


def _not_private(path: str | os.PathLike[str], data: bytes) -> str:
    """Why *data* (not PEM) is no signing key. Thirty-two bytes of base64 is how a public key is written
    (``hubgen keygen``'s ``.pub``), and any 32 bytes would make an ed25519 seed: one anybody holding the
    public key could rebuild. So raw keys are never read as private keys."""
    try:
        raw = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == 32:
        twin = Path(path).with_suffix(".pem")
        beside = f" ({twin}, beside it?)" if twin.is_file() and twin != Path(path) else ""
        return (f"a public key (base64 of 32 bytes, as in a .pub file), not a private key; sign with the "
                f"private key, the .pem file `hubgen keygen` wrote{beside}")
    return "not a PEM private key (hubgen keygen writes one, PKCS#8, in NAME.pem)"


def _public_raw(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _signatures(data: bytes, keys: Sequence[Ed25519PrivateKey]) -> dict[str, str]:
    """``keyid -> base64 signature`` of *data* by each key."""
    return {trust.keyid(_public_raw(k)): base64.b64encode(k.sign(data)).decode("ascii") for k in keys}


def _with_signatures(obj: dict[str, Any], sigs: dict[str, str]) -> dict[str, Any]:
    signed = {k: v for k, v in obj.items() if k != trust.SIGNATURES_KEY}
    signed[trust.SIGNATURES_KEY] = [{"keyid": kid, "sig": sig} for kid, sig in sorted(sigs.items())]
    return signed


def sign_index(obj: dict[str, Any], keys: Sequence[Ed25519PrivateKey]) -> dict[str, Any]:
    """*obj* with a ``signatures`` list holding one signature per key (sorted by key id)."""
    return _with_signatures(obj, _signatures(trust.signed_bytes(obj), keys))


def add_signatures(obj: dict[str, Any], keys: Sequence[Ed25519PrivateKey]) -> dict[str, Any]:
    """*obj* with *keys*' signatures added to the ones it carries (content, ``version`` and ``expires``
    unchanged): the holders of k-of-n keys sign one after another, each on their own machine.

    Raises:
        SigningError: *obj* is not a signed index (nothing to add to), or its signatures are malformed.
    """
    if not obj.get(trust.SIGNATURES_KEY) or "version" not in obj or "expires" not in obj:
        raise SigningError("the index is not signed yet: sign it first (without --add), then add signatures")
    try:
        existing = {kid: base64.b64encode(sig).decode("ascii") for kid, sig in trust.parse_signatures(obj, "index")}
    except DchubError as err:
        raise SigningError(f"the index carries malformed signatures ({err})") from err
    return _with_signatures(obj, {**existing, **_signatures(trust.signed_bytes(obj), keys)})


def rotation_record(hub: str, version: int, new_keys: Sequence[Ed25519PrivateKey], *, threshold: int,
                    signers: Sequence[Ed25519PrivateKey]) -> dict[str, Any]:
    """A signed key-rotation record: hub *hub* moves to *new_keys* (of which *threshold* must sign).

    Signed by *signers* (at least the threshold of the current keys) and by every new key (proof
    that the new keys' holders have them). Clients follow it from the keys they trust.
    """
    raws = sorted({_public_raw(k) for k in new_keys})
    if not 1 <= threshold <= len(raws):
        raise SigningError(f"threshold {threshold} must be from 1 to the number of new keys ({len(raws)})")
    record = {"type": layout.KEY_ROTATION_TYPE, "hub": hub, "version": version, "threshold": threshold,
              "keys": [base64.b64encode(raw).decode("ascii") for raw in raws]}
    return _with_signatures(record, _signatures(trust.rotation_signed_bytes(record), [*signers, *new_keys]))


def index_bytes(new: dict[str, Any], old: dict[str, Any] | None, *, keys: Sequence[Ed25519PrivateKey] = (),
                expires_days: float = DEFAULT_EXPIRES_DAYS, now: datetime.datetime | None = None) -> bytes:
    """The bytes of ``index.json`` for the index content *new*, given the *old* index of the hub folder.

    Unsigned, with unchanged content: the old bytes, as they were (a no-op build changes nothing,
    and an old signature stays valid). Otherwise ``version`` is the old one plus one (1 for a new
    hub); with *keys*, ``expires`` is *now* plus *expires_days* and every key signs. The old index's
    ``key_rotations`` are kept (clients follow them from older keys).
    """
    body = _content(new)
    if old is not None and trust.ROTATIONS_KEY in old and trust.ROTATIONS_KEY not in body:
        body[trust.ROTATIONS_KEY] = old[trust.ROTATIONS_KEY]
    if old is not None and not keys and _content(old) == body:
        return hubfiles.index_dumps(old)
    if not 0 < expires_days <= MAX_EXPIRES_DAYS:
        raise SigningError(f"expires_days must be more than 0 and at most {MAX_EXPIRES_DAYS}, got {expires_days}")
    previous = old.get("version") if old is not None else None
    out = dict(body, version=(previous if isinstance(previous, int) else 0) + 1)
    if not keys:
        if old is not None and old.get(trust.SIGNATURES_KEY):
            logger.warning("the previous index.json was signed and this build is not: clients with trusted keys "
                           "will refuse the hub; build with --sign-key")
        return hubfiles.index_dumps(out)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    expires = now.replace(microsecond=0) + datetime.timedelta(days=expires_days)
    out["expires"] = expires.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return hubfiles.index_dumps(sign_index(out, keys))


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _UNSIGNED_KEYS}


# --- signing a hub folder: hubgen sign / hubgen rotate -------------------------------------


@dataclass(frozen=True)
class SignSummary:
    """What :func:`sign_hub` or :func:`rotate_hub` wrote.

    Attributes:
        path: the hub's ``index.json``.
        version: its ``version`` now.
        expires: its ``expires`` now.
        keyids: the key ids its signatures carry now.
        rotation: the key rotation it ends on (0: none).
        checked: how many files were checked before signing (0 with ``check=False``).
    """

    path: Path
    version: int
    expires: str
    keyids: tuple[str, ...]
    rotation: int = 0
    checked: int = 0


def sign_hub(folder: str | os.PathLike[str], keys: Sequence[KeyLike], *,
             expires_days: float = DEFAULT_EXPIRES_DAYS, add: bool = False, check: bool = True,
             new_signer: bool = False, progress: Callable[[int], None] | None = None,
             now: datetime.datetime | None = None) -> SignSummary:
    """Sign the index of an existing hub folder (``hubgen sign DIR``), e.g. a ``dchub mirror`` copy.

    By default the folder is first checked whole (every manifest and blob against the index: you
    vouch for what you sign), then ``version`` goes up by one, ``expires`` is renewed and *keys*
    replace the signatures. With *add*, *keys*' signatures are added to the index as it is (k-of-n
    keys held by different people sign in turn). The checksum files (``SHA256SUMS``, ``registry.txt``) are rewritten.

    Replacing the signatures of a signed index with keys that share none of its signers (after the
    hub's key rotations) is refused unless *new_signer* (see :func:`check_signer_kept`).

    Raises:
        SigningError: no keys, no index, a key a rotation of this hub retired, a change of signer without
            *new_signer*, a damaged folder, or (with *add*) an unsigned index. Nothing is written then.

    Example:
        >>> sign_hub("public/", ["keys/hub-key.pem"]).version  # doctest: +SKIP
        8
    """
    if not keys:
        raise SigningError("no signing key given (--sign-key)")
    named = _named_keys(keys)
    root, obj = _read_hub(folder)
    check_not_retired(obj, named, root / layout.INDEX_FILE)
    if not add:  # --add keeps every signature the index carries: no signer is dropped
        check_signer_kept(obj, named, root, new_signer=new_signer)
    checked = _check_whole(root, progress) if check else 0
    loaded = [key for _, key in named]
    if add:
        data = hubfiles.index_dumps(add_signatures(obj, loaded))
    else:
        data = index_bytes(_content(obj), obj, keys=loaded, expires_days=expires_days, now=now)
    return _write_index(root, data, checked)


def rotate_hub(folder: str | os.PathLike[str], old_keys: Sequence[KeyLike],
               new_keys: Sequence[KeyLike], *, threshold: int = 1,
               expires_days: float = DEFAULT_EXPIRES_DAYS, check: bool = True,
               progress: Callable[[int], None] | None = None, now: datetime.datetime | None = None) -> SignSummary:
    """Move a hub to new keys (``hubgen rotate DIR``): append a key-rotation record signed by *old_keys*
    (the hub's current keys, at least their threshold) and *new_keys*, then re-sign the index with *new_keys*.

    Clients that trust the old keys follow the record and trust the new ones from then on; the old
    keys can be retired once every mirror serves the rotated index.

    Raises:
        SigningError: no keys, an unsigned hub (sign it first), *old_keys* are not the keys the hub
            currently uses, or *new_keys* and *threshold* are the current ones (a rotation changing nothing).
    """
    if not old_keys or not new_keys:
        raise SigningError("a rotation needs the current keys (--sign-key) and the new keys (--new-key)")
    old, new = _named_keys(old_keys), _named_keys(new_keys)
    root, obj = _read_hub(folder)
    chain = list(obj.get(trust.ROTATIONS_KEY, []))
    _check_rotation(obj, old, new, threshold, root)
    checked = _check_whole(root, progress) if check else 0
    version = max((r.get("version", 0) for r in chain if isinstance(r, dict)), default=0) + 1
    chain.append(rotation_record(obj["name"], version, [k for _, k in new], threshold=threshold,
                                 signers=[k for _, k in old]))
    body = dict(_content(obj), **{trust.ROTATIONS_KEY: chain})
    data = index_bytes(body, obj, keys=[k for _, k in new], expires_days=expires_days, now=now)
    return _write_index(root, data, checked)


def _named_keys(keys: Sequence[KeyLike]) -> list[tuple[str, Ed25519PrivateKey]]:
    """Each key with what messages call it: its file, or ``key <id>`` for a key given loaded."""
    named = []
    for key in keys:
        if isinstance(key, (str, os.PathLike)):
            named.append((str(key), load_private_key(key)))
        else:
            named.append((f"key {trust.short_keyid(trust.keyid(_public_raw(key)))}", key))
    return named


def check_not_retired(obj: dict[str, Any], keys: Sequence[tuple[str, Ed25519PrivateKey]],
                      source: str | os.PathLike[str]) -> None:
    """Refuse to sign the index *obj* with a key one of its key rotations retired.

    Clients that followed the rotation trust only the keys it named: an index signed by a retired key
    is one they refuse. A key the chain never named (an operator signing a mirror copy for clients
    configured with that key) is not refused.

    Args:
        obj: the hub's current ``index.json``, parsed.
        keys: ``(name, private key)``: the name (a file) is what the message shows.
        source: the index's path, for messages.

    Raises:
        SigningError: a key was retired; the message names it, the rotation, the current keys and what to do.
    """
    try:
        records = trust.parse_rotations(obj, obj.get("name"), str(source))
    except DchubError as err:
        raise SigningError(str(err)) from err
    retired = _retired_by(records)
    for name, key in keys:
        rotation = retired.get(trust.keyid(_public_raw(key)))
        if rotation is None:
            continue
        current = records[-1].keyset
        now = (f"key {_fingerprints(current.keyids)}" if len(current.keyids) == 1 else
               f"{current.threshold} of the keys {_fingerprints(current.keyids)}")
        since = f" (since key rotation {current.version})" if current.version != rotation else ""
        raise SigningError(
            f"{name}: this key was retired by key rotation {rotation} of hub {obj.get('name')!r} ({source}), so "
            f"clients that followed the rotation would refuse what it signs; the hub is now signed by {now}{since}: "
            f"sign with {'that key' if len(current.keyids) == 1 else 'those keys'} (the --new-key given to "
            "`hubgen rotate`) instead; nothing was changed")


def _retired_by(records: Sequence[Any]) -> dict[str, int]:
    """``keyid -> the rotation that retired it`` for every key the chain moved away from and never back to:
    the keys of each set a rotation replaced, and the old keys that signed a rotation."""
    retired: dict[str, int] = {}
    previous: set[str] = set()
    for record in records:
        new = set(record.keyset.keyids)
        old = previous | ({kid for kid, _ in record.signatures} - new)
        for kid in old - new:
            retired[kid] = record.version
        for kid in new:
            retired.pop(kid, None)
        previous = new
    return retired


def _fingerprints(keyids: Sequence[str]) -> str:
    return ", ".join(trust.short_keyid(k) for k in sorted(keyids))


def check_signer_kept(obj: dict[str, Any], keys: Sequence[tuple[str, Ed25519PrivateKey]],
                      folder: str | os.PathLike[str], *, new_signer: bool = False) -> None:
    """Refuse to replace the signatures of the index *obj* with *keys* that clients trusting its signers cannot accept.

    A client accepts the re-signed index when it trusts one of *keys*, directly or by following the
    index's key rotations from a key it trusts. So a re-signing is a change of signer when none of
    *keys* is a key that signed *obj* or a key the rotation chain hands one of those signers over to:
    every client configured with the old keys would refuse the hub. An unsigned *obj* has no signer to
    change; a re-signing that keeps one signer (the first holder of k-of-n keys signing, the others then
    ``--add``) is not a change.

    Args:
        obj: the hub's current ``index.json``, parsed.
        keys: ``(name, private key)`` of the keys that will sign; the names (files) are what the message shows.
        folder: the hub folder, for messages.
        new_signer: accept the change (a deliberate fresh start: clients must be given the new public keys);
            a warning is logged instead.

    Raises:
        SigningError: a change of signer without *new_signer*; the message names the folder, the previous and
            the new key ids, and the two ways forward (``hubgen rotate``, ``--new-signer``).
    """
    try:
        signers = sorted({kid for kid, _ in trust.parse_signatures(obj, str(folder))})
        records = trust.parse_rotations(obj, obj.get("name"), str(folder))
    except DchubError as err:
        raise SigningError(str(err)) from err
    given = {trust.keyid(_public_raw(key)): name for name, key in keys}
    if not signers:
        return
    if any(given.keys() & _followed(kid, records) for kid in signers):
        dropped = [kid for kid in signers if kid not in given]
        if dropped:  # k of n: the others must --add again (what the holder re-signing first means to happen)
            logger.warning("%s: the signatures of %s are dropped (re-signed by %s only); clients that require "
                           "more than one signature refuse the hub until their holders run `hubgen sign %s --add "
                           "--sign-key KEY`", folder, f"key{'s' if len(dropped) > 1 else ''} {_fingerprints(dropped)}",
                           ", ".join(sorted(given.values())), folder)
        return
    noun = "key" if len(signers) == 1 else "keys"
    old = f"{noun} {_fingerprints(signers)}"
    new = ", ".join(f"{name} (key {trust.short_keyid(kid)})"
                    for kid, name in sorted(given.items(), key=lambda item: item[1]))
    if not new_signer:
        raise SigningError(_signer_change(folder, old, new, sorted(given.values())))
    logger.warning("%s: the signer changes from %s to %s (--new-signer): clients that trust the old %s refuse the hub "
                   "until they are given the new public key", folder, old, new, noun)


def _signer_change(folder: str | os.PathLike[str], old: str, new: str, files: Sequence[str]) -> str:
    """The refusal of a change of signer: who signed, who would, what clients do, the two ways forward."""
    return (f"{folder}: index.json is signed by {old}, which {new} would replace, and no key rotation hands "
            f"{'it' if old.startswith('key ') else 'them'} over to the new {'key' if len(files) == 1 else 'keys'}: "
            f"clients that trust {old} would refuse this hub. To hand over, run `hubgen rotate {folder} --sign-key "
            f"OLD.pem --new-key {files[0]}` (OLD.pem: the private key of {old}); to start afresh (clients must then "
            "be given the new public key), add --new-signer. Nothing was changed")


def _followed(kid: str, records: Sequence[Any]) -> set[str]:
    """The key ids a client trusting only *kid* trusts after following the rotation *records* (by key ids: the
    signatures themselves are the client's to check)."""
    current, threshold = {kid}, 1
    for record in records:
        if len(current & {signer for signer, _ in record.signatures}) >= threshold:
            current, threshold = set(record.keyset.keyids), record.keyset.threshold
    return current


def _read_hub(folder: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    root = Path(folder)
    path = root / layout.INDEX_FILE
    try:
        obj = jsonstrict.loads(path.read_bytes(), str(path))
        hubfiles.parse_index(obj, str(path))
    except FileNotFoundError as err:
        raise SigningError(f"{path}: no such file; is {root} a hub folder?") from err
    except DchubError as err:
        raise SigningError(f"{path}: not a valid hub index ({err})") from err
    return root, obj


def _check_whole(root: Path, progress: Callable[[int], None] | None) -> int:
    report = verify_hub(root, progress=progress)
    if report.missing or report.corrupt:
        shown = [*report.missing[:3], *(p for p, _ in report.corrupt[:3])]
        raise SigningError(f"{root}: refusing to sign a damaged hub: {len(report.missing)} missing and "
                           f"{len(report.corrupt)} corrupt files ({', '.join(shown)}); run `hubgen verify {root}`")
    return report.checked


def _check_rotation(obj: dict[str, Any], old: Sequence[tuple[str, Ed25519PrivateKey]],
                    new: Sequence[tuple[str, Ed25519PrivateKey]], threshold: int, root: Path) -> None:
    """The rotation's signers must be the hub's current keys: the last rotation's set (its threshold of
    them), or, before any rotation, keys whose signatures the index carries; and the rotation must change
    something (other keys, or another threshold)."""
    index_path = root / layout.INDEX_FILE
    given = {trust.keyid(_public_raw(k)) for _, k in old}
    try:
        records = trust.parse_rotations(obj, obj["name"], str(index_path))
        signed = {kid for kid, _ in trust.parse_signatures(obj, str(index_path))}
    except DchubError as err:
        raise SigningError(str(err)) from err
    if records:
        current, current_threshold = set(records[-1].keyset.keyids), records[-1].keyset.threshold
        if len(given & current) < current_threshold:
            raise SigningError(f"{index_path}: the hub's current keys (rotation {records[-1].version}) are "
                               f"{_fingerprints(sorted(current))}, {current_threshold} of which must "
                               "sign a rotation; --sign-key gave too few of them")
    elif not signed:
        raise SigningError(f"{index_path}: the hub is not signed yet, so there are no keys to rotate from: sign it "
                           f"first with `hubgen sign {root} --sign-key {new[0][0]}` (clients then trust that key); "
                           "`hubgen rotate` later moves a signed hub to new keys")
    elif not given & signed:
        raise SigningError(f"{index_path}: none of the --sign-key keys signed the current index (it is signed by "
                           f"{_fingerprints(sorted(signed))}); a rotation must be signed by the keys clients trust now")
    else:
        current, current_threshold = signed, 1 if len(signed) == 1 else None
    if {trust.keyid(_public_raw(k)) for _, k in new} == current and threshold == current_threshold:
        raise SigningError(f"{index_path}: --new-key gives the hub's current keys ({_fingerprints(sorted(current))}, "
                           f"threshold {threshold}): a rotation to them changes nothing; create a new key "
                           "pair with `hubgen keygen --name NEW` and pass it as --new-key")


def _write_index(root: Path, data: bytes, checked: int) -> SignSummary:
    """Write ``index.json`` then the checksum files (which list it)."""
    atomic_write_bytes(root / layout.INDEX_FILE, data)
    write_checksum_files(root)
    return signed_summary(root / layout.INDEX_FILE, data, checked)


def signed_summary(path: Path, data: bytes, checked: int = 0) -> SignSummary:
    """What the signed ``index.json`` bytes *data* (written to *path*) carry: version, expiry, signers, rotation."""
    obj = jsonstrict.loads(data)
    records = obj.get(trust.ROTATIONS_KEY, [])
    return SignSummary(path=path, version=obj["version"], expires=obj.get("expires", ""),
                       keyids=tuple(s["keyid"] for s in obj.get(trust.SIGNATURES_KEY, [])),
                       rotation=max((r["version"] for r in records), default=0), checked=checked)


__all__ = ["DEFAULT_EXPIRES_DAYS", "MAX_EXPIRES_DAYS", "SignSummary", "add_signatures", "check_not_retired",
           "check_signer_kept", "generate_keypair", "index_bytes", "load_private_key", "public_key_text", "rotate_hub",
           "rotation_record", "sign_hub", "sign_index", "signed_summary"]
