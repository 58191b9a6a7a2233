"""Signed hub indexes: trusted keys, k-of-n signatures, key rotation, rollback and freeze protection.

A hub index may carry a ``signatures`` list: ``[{"keyid": <sha256 hex of the raw ed25519 public
key>, "sig": <base64 ed25519 signature>}]``, each over :func:`signed_bytes` of the index (its
canonical JSON without the ``signatures`` key). ``version`` (an integer that only increases) and
``expires`` (RFC 3339) are part of the signed content. See ``docs/security.md``.

A client trusts a set of keys and a *threshold*: how many distinct trusted keys must have signed
(``DEEPCHEM_HUB_TRUSTED_KEYS`` / ``<cache>/trusted_keys`` and ``DEEPCHEM_HUB_KEY_THRESHOLD`` for
the default hub; per hub, a :class:`TrustPolicy`). The index may also carry ``key_rotations``: a
chain of records, each naming a new key set and threshold for the hub, signed by the threshold of
the key set before it *and* of the new one. A client follows the chain from the keys it trusts,
remembers where it got to (:class:`TrustStore`), and from then on needs the new keys' signatures:
a hub moves to new keys without its clients editing their configuration.

:func:`check_index` refuses an index that names another hub than expected, is unsigned, signed by
fewer trusted keys than the threshold, older than the highest version this cache has accepted for
the hub (rollback), or past its ``expires`` (freeze). Without trusted keys only the hub name is
checked, and a notice is logged once per process when the index carries signatures nobody checks
(:func:`notice_unchecked_signatures`; an unsigned hub has no key to configure).

API:
    TrustPolicy(keys, threshold=1, hub=None)          per-hub settings; .check(...), .from_environment()
    check_index(obj, index, source, *, store, keys=None, threshold=None, expected_hub=None,
                allow_expired=False, now=None) -> Verdict
    TrustStore(root): highest(hub) / record(hub, version) / keyset(hub, configured) / accept(verdict)
    KeySet(keys, threshold, version)                  the keys trusted at one point of a rotation chain
    trusted_keys() / key_threshold() / checked_threshold(k, keys, setting) / parse_public_key(data, source)
    parse_key_entries(...)
    signed_bytes(obj) / rotation_signed_bytes(record) / verify_signatures(...) / verify_threshold(...)

Every failure raises :class:`dchub_client.errors.TrustError` naming the index source.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from dchub_client import constants
from dchub_client.errors import OtherHubError, StaleIndexError, TrustError
from dchub_client.format import hubfiles, layout
from dchub_client.format.atomic import atomic_write_bytes
from dchub_client.humanize import counted

if TYPE_CHECKING:
    import datetime


log = logging.getLogger(__name__)

SIGNATURES_KEY = layout.INDEX_SIGNATURES
ROTATIONS_KEY = layout.INDEX_KEY_ROTATIONS
#: Raw ed25519 public keys and signatures are this long.
RAW_KEY_BYTES = 32
SIGNATURE_BYTES = 64
#: A key file larger than this is not a key file.
MAX_KEY_FILE_BYTES = 64 << 10
#: At most this many keys in one key set, and this many rotation records in one index.
MAX_KEYS = 64
MAX_ROTATIONS = 1000
#: How many hex digits of a key id messages show (64 bits: :func:`short_keyid`).
SHORT_KEYID_CHARS = 16
_notice_given = False


class PublicKey(NamedTuple):
    """A trusted ed25519 public key; ``keyid`` is the sha256 hex of its raw 32 bytes.

    Attributes:
        raw: the 32 bytes of the key.
        source: where it was given, for messages (a variable, a config table, a key file).
        file: the ``.pub``/PEM file it was read from, if any (named beside its id in messages).
    """

    raw: bytes
    source: str = ""
    file: str = ""

    @property
    def keyid(self) -> str:
        return keyid(self.raw)

    @property
    def text(self) -> str:
        """The base64 of the raw key (the form ``.pub`` files and rotation records hold)."""
        import base64  # here and below on first use: a pull from a hub that signs nothing never needs it

        return base64.b64encode(self.raw).decode("ascii")

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when *signature* is this key's ed25519 signature of *data*."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True


def keyid(raw: bytes) -> str:
    """The key id of a raw ed25519 public key: the sha256 hex of its 32 bytes."""
    return hashlib.sha256(raw).hexdigest()


def short_keyid(kid: str) -> str:
    """A key id as people are shown it, in every message of both CLIs: its first
    :data:`SHORT_KEYID_CHARS` hex digits (``hubgen keygen`` prints it beside the files it wrote)."""
    return kid[:SHORT_KEYID_CHARS]


class _KeySetFields(NamedTuple):
    keys: tuple[PublicKey, ...]
    threshold: int = 1
    version: int = 0


class KeySet(_KeySetFields):
    """The keys trusted for a hub at one point of its rotation chain, and how many of them must sign.

    Attributes:
        keys: the public keys (distinct).
        threshold: how many distinct keys of *keys* must have signed (1 <= threshold <= len(keys)).
        version: the rotation record that introduced this set (0: the set the client was configured with).

    Raises:
        TrustError: *threshold* is not an integer from 1 to the number of distinct keys.
    """

    __slots__ = ()

    def __new__(cls, keys: tuple[PublicKey, ...], threshold: int = 1, version: int = 0) -> KeySet:
        self = super().__new__(cls, keys, threshold, version)
        if not isinstance(threshold, int) or isinstance(threshold, bool) \
                or not 1 <= threshold <= max(len(self.keyids), 1):
            raise TrustError(f"key threshold {threshold!r} must be an integer from 1 to the number of distinct "
                             f"trusted keys ({len(self.keyids)})")
        return self

    @property
    def keyids(self) -> tuple[str, ...]:
        """The distinct key ids, sorted."""
        return tuple(sorted({k.keyid for k in self.keys}))

    @property
    def anchor(self) -> str:
        """An id of this set and threshold (what a remembered rotation state was derived from)."""
        return hashlib.sha256(f"{self.threshold}:{','.join(self.keyids)}".encode("ascii")).hexdigest()


# --- keys --------------------------------------------------------------------------------


def parse_public_key(data: bytes | str, source: str) -> PublicKey:
    """A public key from PEM (``-----BEGIN PUBLIC KEY-----``) or base64 of the raw 32 bytes.

    Raises:
        TrustError: *data* is neither, or not an ed25519 key.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if "-----BEGIN" in text:
        return PublicKey(_pem_public_raw(text, source), source)
    try:
        return PublicKey(_base64_raw(text), source)
    except ValueError as err:
        raise TrustError(f"{source}: not a PEM or base64 ed25519 public key: {err}") from err


def _base64_raw(text: str) -> bytes:
    """The raw key *text* holds in base64. Raises ValueError saying why it holds none."""
    import base64

    raw = base64.b64decode(text.strip(), validate=True)  # binascii.Error is a ValueError
    if len(raw) != RAW_KEY_BYTES:
        raise ValueError(f"it decodes to {len(raw)} bytes; an ed25519 public key is {RAW_KEY_BYTES} bytes")
    return raw


def _pem_public_raw(text: str, source: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(text.encode("utf-8"))
    except ValueError as err:
        raise TrustError(f"{source}: unreadable PEM public key: {err}") from err
    if not isinstance(key, Ed25519PublicKey):
        raise TrustError(f"{source}: not an ed25519 public key but an {type(key).__name__}")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def trusted_keys() -> tuple[PublicKey, ...]:
    """The configured trusted keys: ``DEEPCHEM_HUB_TRUSTED_KEYS``, else ``<cache>/trusted_keys``, else none.

    Each entry (separated by whitespace or commas; ``#`` starts a comment in the file) is a base64
    raw public key or the path of a ``.pub``/PEM file.

    Raises:
        TrustError: an entry is neither a key nor a readable key file.
    """
    setting = constants.trusted_keys_setting()
    if setting is not None and setting.strip():
        return tuple(parse_key_entries(setting, "DEEPCHEM_HUB_TRUSTED_KEYS", None))
    path = constants.trusted_keys_file()
    try:
        text = _read_key_file(path)
    except FileNotFoundError:
        return ()
    return tuple(parse_key_entries(text, str(path), path.parent))


def key_threshold() -> int:
    """``DEEPCHEM_HUB_KEY_THRESHOLD``: how many of the trusted keys must sign (default 1).

    Raises:
        TrustError: not a positive integer.
    """
    setting = constants.key_threshold_setting()
    if setting is None or not setting.strip():
        return 1
    if not setting.strip().isdigit() or int(setting) < 1:
        raise TrustError(f"DEEPCHEM_HUB_KEY_THRESHOLD={setting!r}: must be a positive integer (how many of the "
                         "trusted keys must sign the hub index)")
    return int(setting)


def key_threshold_named() -> str:
    """How messages name the threshold :func:`key_threshold` read: ``DEEPCHEM_HUB_KEY_THRESHOLD=2``."""
    return f"DEEPCHEM_HUB_KEY_THRESHOLD={(constants.key_threshold_setting() or '').strip() or 1}"


def checked_threshold(threshold: int, keys: Sequence[PublicKey], setting: str) -> int:
    """*threshold*, when *keys* hold at least that many distinct keys (or none: nothing is checked).

    Args:
        setting: where *threshold* was set, as the message names it (``DEEPCHEM_HUB_KEY_THRESHOLD=2``,
            ``/home/me/.config/dchub/config.toml [hubs.acme] threshold = 2``, ``--threshold 2``).

    Raises:
        TrustError: more than the distinct keys; the message names *setting* and where the keys came from.
    """
    distinct = {k.keyid: k for k in keys}
    if not distinct or 1 <= threshold <= len(distinct):
        return threshold
    sources = ", ".join(dict.fromkeys(k.source for k in distinct.values() if k.source))
    raise TrustError(f"{setting}: more signatures than there are distinct trusted keys "
                     f"({len(distinct)}{', from ' + sources if sources else ''}); lower it to at most {len(distinct)}, "
                     "or trust more keys")


def parse_key_entries(text: str, source: str, base: Path | None = None) -> Iterator[PublicKey]:
    """Public keys from *text*: entries separated by whitespace or commas (``#`` starts a comment), each
    the path of a ``.pub``/PEM file (relative to *base*) or a base64 raw ed25519 key.

    Raises:
        TrustError: an entry is neither a readable key file nor a base64 ed25519 key (named in the message).
    """
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    for entry in (e for line in lines for e in re.split(r"[\s,]+", line) if e):
        path = Path(entry).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        if path.is_file():
            yield parse_public_key(_read_key_file(path), str(path))._replace(file=str(path))
            continue
        try:
            key = PublicKey(_base64_raw(entry), source)
        except ValueError as err:
            raise TrustError(f"{source}: {entry!r} is neither a key file (there is no file {path.absolute()}) "
                             f"nor a base64 ed25519 public key: {err}") from None
        yield key


def _read_key_file(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise TrustError(f"{path}: cannot read the key file: {err}") from err
    if len(data) > MAX_KEY_FILE_BYTES:
        raise TrustError(f"{path}: larger than {MAX_KEY_FILE_BYTES} bytes; not a key file")
    return data.decode("utf-8", "replace")


# --- signatures --------------------------------------------------------------------------


def signed_bytes(obj: dict[str, Any]) -> bytes:
    """The bytes the signatures of an index sign: its canonical JSON without ``signatures``."""
    return hubfiles.dumps({k: v for k, v in obj.items() if k != SIGNATURES_KEY})


def rotation_signed_bytes(record: dict[str, Any]) -> bytes:
    """The bytes the signatures of a key-rotation record sign: its canonical JSON without ``signatures``
    (the record names its ``type`` and ``hub``, so it means nothing as an index or for another hub)."""
    return hubfiles.dumps({k: v for k, v in record.items() if k != SIGNATURES_KEY})


def parse_signatures(obj: dict[str, Any], source: str, where: str = "") -> list[tuple[str, bytes]]:
    """``(keyid, signature bytes)`` of each entry of *obj*'s ``signatures`` (empty when unsigned)."""
    items = obj.get(SIGNATURES_KEY, [])
    if not isinstance(items, list):
        raise TrustError(f"{source}: {where}'signatures' must be a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("keyid"), str) \
                or not isinstance(item.get("sig"), str):
            raise TrustError(f"{source}: {where}signatures[{i}] must be an object with string 'keyid' and 'sig'")
        import base64

        try:
            sig = base64.b64decode(item["sig"], validate=True)
        except ValueError as err:  # binascii.Error is a ValueError
            raise TrustError(f"{source}: {where}signatures[{i}].sig is not base64: {err}") from err
        out.append((item["keyid"], sig))
    return out


def _valid_signers(signatures: list[tuple[str, bytes]], keyset: KeySet, data: bytes) -> tuple[str, ...]:
    """The distinct keys of *keyset* whose signature of *data* verifies."""
    by_id = {k.keyid: k for k in keyset.keys}
    valid: dict[str, None] = {}
    for kid, sig in signatures:
        key = by_id.get(kid)
        if key is not None and kid not in valid and len(sig) == SIGNATURE_BYTES and key.verify(sig, data):
            valid[kid] = None
    return tuple(valid)


def verify_threshold(obj: dict[str, Any], keyset: KeySet, source: str) -> tuple[str, ...]:
    """Check that at least ``keyset.threshold`` distinct keys of *keyset* signed the index *obj*.

    Returns:
        The ids of the trusted keys whose signatures verified.

    Raises:
        TrustError: unsigned, or too few valid signatures by trusted keys (the message says how many).
    """
    signatures = parse_signatures(obj, source)
    if not signatures:
        raise TrustError(f"{source}: the hub index is not signed, but trusted keys are configured; "
                         "refusing it (ask the hub maintainer to build with `hubgen build --sign-key`, "
                         "or check that this mirror is genuine)")
    valid = _valid_signers(signatures, keyset, signed_bytes(obj))
    if len(valid) >= keyset.threshold:
        return valid
    trusted = set(keyset.keyids)
    known = [kid for kid, _ in signatures if kid in trusted and kid not in valid]
    if valid:
        why = (f"it carries valid signatures by {len(valid)} trusted key(s) ({_ids(valid)}), but "
               f"{keyset.threshold} are required")
    elif known:
        why = "a signature by a trusted key does not verify: the index was changed after signing"
    else:
        why = "it is signed only by keys you do not trust"
    raise TrustError(f"{source}: refusing the hub index: {why} (signed by {_ids(k for k, _ in signatures)}; "
                     f"trusted: {_named_ids(keyset.keys)}{_since(keyset)})")


def verify_signatures(obj: dict[str, Any], keys: Sequence[PublicKey], source: str) -> str:
    """Check that a trusted key signed the index *obj* (a threshold of one); return that key's id.

    Raises:
        TrustError: unsigned, or no signature verifies with a trusted key.
    """
    return verify_threshold(obj, KeySet(tuple(keys), 1), source)[0]


def _ids(ids: Any) -> str:
    return ", ".join(short_keyid(str(i)) for i in ids) or "none"


def _named_ids(keys: Sequence[PublicKey]) -> str:
    """The distinct keys' short ids, sorted, each followed by the file it was read from, if any."""
    files = {k.keyid: k.file for k in sorted(keys, key=lambda k: bool(k.file))}  # one also given by file: named
    return ", ".join(short_keyid(kid) + (f" ({files[kid]})" if files[kid] else "") for kid in sorted(files)) or "none"


def _since(keyset: KeySet) -> str:
    return f", since key rotation {keyset.version}" if keyset.version else ""


# --- key rotation ------------------------------------------------------------------------


class _Rotation(NamedTuple):
    version: int
    keyset: KeySet
    signatures: list[tuple[str, bytes]]
    data: bytes


def parse_rotations(obj: dict[str, Any], hub: str, source: str) -> list[_Rotation]:
    """The index's ``key_rotations`` records, validated and sorted by ``version``.

    Raises:
        TrustError: a malformed record, a record for another hub, or two records of one version.
    """
    items = obj.get(ROTATIONS_KEY, [])
    if not isinstance(items, list) or len(items) > MAX_ROTATIONS:
        raise TrustError(f"{source}: '{ROTATIONS_KEY}' must be a list of at most {MAX_ROTATIONS} records")
    records = sorted((_parse_rotation(item, i, hub, source) for i, item in enumerate(items)),
                     key=lambda r: r.version)
    versions = [r.version for r in records]
    if len(set(versions)) != len(versions):
        raise TrustError(f"{source}: two key rotations share a version ({versions}); refusing the index")
    return records


def _parse_rotation(item: Any, i: int, hub: str, source: str) -> _Rotation:
    where = f"{ROTATIONS_KEY}[{i}]: "
    if not isinstance(item, dict) or item.get("type") != layout.KEY_ROTATION_TYPE:
        raise TrustError(f"{source}: {where}must be an object with type {layout.KEY_ROTATION_TYPE!r}")
    if item.get("hub") != hub:
        raise TrustError(f"{source}: {where}is a key rotation of hub {item.get('hub')!r}, not of {hub!r}")
    version, threshold, keys = item.get("version"), item.get("threshold"), item.get("keys")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= hubfiles.MAX_INDEX_VERSION:
        raise TrustError(f"{source}: {where}'version' must be a positive integer, got {version!r}")
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_KEYS or not all(isinstance(k, str) for k in keys):
        raise TrustError(f"{source}: {where}'keys' must list 1 to {MAX_KEYS} base64 ed25519 public keys")
    parsed = tuple(parse_public_key(k, f"{source}: {where}keys") for k in keys)
    if len({k.raw for k in parsed}) != len(parsed):
        raise TrustError(f"{source}: {where}'keys' lists a key twice")
    try:
        keyset = KeySet(parsed, threshold, version)
    except TrustError as err:
        raise TrustError(f"{source}: {where}{err}") from err
    return _Rotation(version, keyset, parse_signatures(item, source, where), rotation_signed_bytes(item))


def follow_rotations(obj: dict[str, Any], hub: str, current: KeySet, source: str) -> KeySet:
    """The key set of hub *hub* after the rotation records of *obj* that *current* can vouch for.

    A record newer than *current* is adopted when the threshold of *current* and the threshold of
    its own new keys signed it. A record *current* cannot vouch for is skipped while *current* is
    the configured set (version 0: a client configured with later keys than the chain starts from),
    and refused after a rotation (the chain forked: an attacker holding retired keys).

    Raises:
        TrustError: a malformed or forked chain.
    """
    for record in parse_rotations(obj, hub, source):
        if record.version <= current.version:
            continue
        vouched = len(_valid_signers(record.signatures, current, record.data)) >= current.threshold
        if not vouched and current.version == 0:
            continue
        if not vouched:
            raise TrustError(f"{source}: key rotation {record.version} of hub {hub!r} is not signed by "
                             f"{current.threshold} of the keys trusted since rotation {current.version}; refusing "
                             "the index (a forged rotation, or a mirror serving another chain)")
        if len(_valid_signers(record.signatures, record.keyset, record.data)) < record.keyset.threshold:
            raise TrustError(f"{source}: key rotation {record.version} of hub {hub!r} is not signed by "
                             f"{record.keyset.threshold} of its own new keys; refusing the index")
        log.info("%s: hub %r moved to key set %d (%s, threshold %d)", source, hub, record.version,
                 counted(len(record.keyset.keys), "key"), record.keyset.threshold)
        current = record.keyset
    return current


# --- the checks --------------------------------------------------------------------------


class Verdict(NamedTuple):
    """An index that passed :func:`check_index`, and what to remember about it.

    Attributes:
        hub: the hub name the index carries.
        version: its ``version`` (None when unversioned).
        keyset: the key set it was checked against, after rotations (None: no keys, nothing checked).
        configured: the key set the client was configured with (the anchor of remembered rotations).
        signed_by: ids of the trusted keys whose signatures verified.
    """

    hub: str
    version: int | None
    keyset: KeySet | None = None
    configured: KeySet | None = None
    signed_by: tuple[str, ...] = ()

    @property
    def checked(self) -> bool:
        """True when signatures were checked (trusted keys were configured)."""
        return self.keyset is not None


class _TrustPolicyFields(NamedTuple):
    keys: tuple[PublicKey, ...] = ()
    threshold: int = 1
    hub: str | None = None


class TrustPolicy(_TrustPolicyFields):
    """How one hub's index is judged: the keys trusted for it, how many must sign, and its identity.

    Attributes:
        keys: trusted public keys (none: signatures are not checked).
        threshold: how many distinct trusted keys must have signed (k of n).
        hub: the hub name the index must carry (None: any).

    Example:
        >>> keys = tuple(parse_key_entries("keys/a.pub keys/b.pub", "hubs.toml"))  # doctest: +SKIP
        >>> policy = TrustPolicy(keys=keys, threshold=2, hub="acme")  # doctest: +SKIP
        >>> verdict = policy.check(obj, index, url, store=TrustStore(cache_root / "acme"))  # doctest: +SKIP
    """

    __slots__ = ()

    def __new__(cls, keys: tuple[PublicKey, ...] = (), threshold: int = 1, hub: str | None = None) -> TrustPolicy:
        if keys:
            KeySet(tuple(keys), threshold)  # validates the threshold against the keys
        return super().__new__(cls, keys, threshold, hub)

    @classmethod
    def from_environment(cls, hub: str | None = None) -> TrustPolicy:
        """The default hub's policy: :func:`trusted_keys` and :func:`key_threshold`.

        Raises:
            TrustError: a threshold above the number of distinct trusted keys (naming the variable).
        """
        keys = trusted_keys()
        return cls(keys=keys, threshold=checked_threshold(key_threshold(), keys, key_threshold_named()), hub=hub)

    def check(self, obj: dict[str, Any], index: hubfiles.Index, source: str, *, store: TrustStore | None,
              allow_expired: bool = False, now: datetime.datetime | None = None) -> Verdict:
        """:func:`check_index` with this policy."""
        return check_index(obj, index, source, store=store, keys=self.keys, threshold=self.threshold,
                           expected_hub=self.hub, allow_expired=allow_expired, now=now)


def check_index(obj: dict[str, Any], index: hubfiles.Index, source: str, *, store: TrustStore | None,
                keys: Sequence[PublicKey] | None = None, threshold: int | None = None,
                expected_hub: str | None = None, allow_expired: bool = False,
                now: datetime.datetime | None = None) -> Verdict:
    """Refuse an index that fails the hub-identity, signature, freeze (expiry) or rollback checks.

    Args:
        obj: the decoded JSON of the index (with its ``signatures`` and ``key_rotations``).
        index: the parsed index (``hubfiles.parse_index(obj)``).
        source: where it came from (for messages).
        store: what this client remembers of the hub (highest version, rotations followed); not
            updated here (call ``store.accept(verdict)`` once the index is used). None: stateless
            (no rollback check, rotations followed from *keys* each time), as ``hubgen verify``.
        keys: trusted keys (default :func:`trusted_keys`); none means no signature checks.
        threshold: how many distinct trusted keys must sign (default: :func:`key_threshold` when
            *keys* is None, else 1).
        expected_hub: the hub name the index must carry (a mirror bound to its hub).
        allow_expired: accept an expired index (offline use of a cached copy, by explicit choice).
        now: the current time (default: now, UTC).

    Returns:
        A :class:`Verdict` (what to remember: the version and the key set reached).

    Raises:
        TrustError: which check failed and what to do.
    """
    if expected_hub is not None and index.name != expected_hub:
        raise OtherHubError(f"{source}: this index is of hub {index.name!r}, but the mirror is configured for hub "
                            f"{expected_hub!r}; refusing it (a mirror serving another hub)",
                            found=index.name, expected=expected_hub)
    if keys is None and threshold is None:
        policy = TrustPolicy.from_environment()
        keys, threshold = policy.keys, policy.threshold
    elif keys is None:
        keys = trusted_keys()
    if not keys:
        if obj.get(SIGNATURES_KEY):
            notice_unchecked_signatures()
        return Verdict(index.name, index.version)
    configured = KeySet(tuple(keys), 1 if threshold is None else threshold)
    current = store.keyset(index.name, configured) if store is not None else configured
    current = follow_rotations(obj, index.name, current, source)
    signed_by = verify_threshold(obj, current, source)
    if index.version is None or index.expires is None:
        raise TrustError(f"{source}: a signed index must carry 'version' and 'expires'; refusing it")
    _check_expiry(index.expires, source, allow_expired, now)
    highest = store.highest(index.name) if store is not None else None
    if highest is not None and index.version < highest:
        raise StaleIndexError(f"{source}: index version {index.version} of hub {index.name!r} is older than version "
                              f"{highest} already seen (a rollback: this mirror serves an outdated or replayed "
                              "index); try another mirror")
    return Verdict(index.name, index.version, current, configured, signed_by)


def _check_expiry(expires: str, source: str, allow_expired: bool, now: datetime.datetime | None) -> None:
    if hubfiles.parse_time(expires) > (now or hubfiles.utc_now()):
        return
    if allow_expired:
        log.warning("%s: the hub index expired at %s; using it anyway (DEEPCHEM_HUB_ALLOW_EXPIRED, offline)",
                    source, expires)
        return
    raise StaleIndexError(f"{source}: the hub index expired at {expires} (a frozen or stale mirror, or a hub that "
                          "was not re-signed); refusing it. Refresh it from an up-to-date mirror (to use the "
                          "cached copy knowingly: DEEPCHEM_HUB_OFFLINE=1 DEEPCHEM_HUB_ALLOW_EXPIRED=1)")


def notice_unchecked_signatures() -> None:
    """Log, once per process, that a signed index is used without checking its signatures (no keys)."""
    global _notice_given
    if not _notice_given:
        _notice_given = True
        log.warning("the hub index is signed, but no trusted hub keys are configured, so its signatures are not "
                    "checked (set DEEPCHEM_HUB_TRUSTED_KEYS, or `dchub hub add NAME MIRROR --key PUBKEY`)")


# --- what a client remembers -------------------------------------------------------------


class TrustStore:
    """What a client remembers per hub name, under ``<root>/trust/``: the highest index version accepted
    (``<hub>.version``) and the key rotation it has followed to (``<hub>.keys.json``).

    Callers that keep hubs apart (federated hubs) give each hub its own *root*.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root) / "trust"

    def _path(self, hub: str, suffix: str = ".version") -> Path:
        return self.root / f"{hubfiles.validate_name(hub, 'hub name')}{suffix}"

    def highest(self, hub: str) -> int | None:
        """The highest version recorded for *hub*, or None."""
        try:
            text = self._path(hub).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as err:
            raise TrustError(f"{self._path(hub)}: unreadable ({err}); remove it to reset rollback protection") \
                from err
        if not text.isdigit():
            raise TrustError(f"{self._path(hub)}: holds {text[:20]!r}, not a version number; remove it to reset "
                             "rollback protection")
        return int(text)

    def record(self, hub: str, version: int | None) -> None:
        """Remember *version* for *hub* when it is higher than the one recorded (atomically, under a lock)."""
        if version is None:
            return
        with self._locked(hub):
            highest = self.highest(hub)
            if highest is None or version > highest:
                atomic_write_bytes(self._path(hub), f"{version}\n".encode("ascii"))

    def keyset(self, hub: str, configured: KeySet) -> KeySet:
        """The key set *hub* rotated to, as remembered, when it was reached from *configured*; else *configured*.

        A remembered state derived from other configured keys is ignored (the user changed them).
        """
        path = self._path(hub, ".keys.json")
        try:
            state = json.loads(path.read_bytes())
        except FileNotFoundError:
            return configured
        except (OSError, ValueError) as err:
            raise TrustError(f"{path}: unreadable: {err}; remove it to follow the hub's key rotations again") \
                from err
        if not isinstance(state, dict) or state.get("anchor") != configured.anchor:
            return configured
        try:
            keys = tuple(parse_public_key(k, str(path)) for k in state["keys"])
            return KeySet(keys, state["threshold"], state["version"])
        except (KeyError, TypeError, TrustError) as err:
            why = str(err).removeprefix(f"{path}: ")
            raise TrustError(f"{path}: damaged: {why}; remove it to follow the hub's key rotations again") from err

    def accept(self, verdict: Verdict) -> None:
        """Remember an index that is being used: its version, and the key rotation it was checked at."""
        self.record(verdict.hub, verdict.version)
        if verdict.keyset is None or verdict.configured is None or verdict.keyset.version == 0:
            return
        with self._locked(verdict.hub):
            if self.keyset(verdict.hub, verdict.configured).version >= verdict.keyset.version:
                return
            state = {"anchor": verdict.configured.anchor, "version": verdict.keyset.version,
                     "threshold": verdict.keyset.threshold, "keys": [k.text for k in verdict.keyset.keys]}
            atomic_write_bytes(self._path(verdict.hub, ".keys.json"), hubfiles.dumps(state))

    @contextlib.contextmanager
    def _locked(self, hub: str) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: a lost update only weakens, never breaks, the check
            yield
            return
        with open(self.root / f".{hub}.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


#: The former name of :class:`TrustStore` (it only kept versions then).
VersionStore = TrustStore


__all__ = ["KeySet", "PublicKey", "TrustPolicy", "TrustStore", "Verdict", "VersionStore", "check_index",
           "checked_threshold", "follow_rotations", "key_threshold", "key_threshold_named", "keyid",
           "notice_unchecked_signatures", "parse_public_key", "parse_rotations", "parse_signatures",
           "rotation_signed_bytes", "short_keyid", "signed_bytes", "trusted_keys", "verify_signatures",
           "verify_threshold"]
