"""Signed hub indexes: trusted keys, signature checks, rollback and freeze protection.

A hub index may carry a ``signatures`` list: ``[{"keyid": <sha256 hex of the raw ed25519 public
key>, "sig": <base64 ed25519 signature>}]``, each over :func:`signed_bytes` of the index (its
canonical JSON without the ``signatures`` key). ``version`` (an integer that only increases) and
``expires`` (RFC 3339) are part of the signed content. See ``docs/security.md``.

When trusted keys are configured (``DEEPCHEM_HUB_TRUSTED_KEYS``, else the file
``<cache>/trusted_keys``), :func:`check_index` refuses an index that is unsigned, signed by no
trusted key, older than the highest version this cache has accepted for the hub (rollback), or past
its ``expires`` (freeze). Without trusted keys nothing is checked and a notice is logged once per
process.

API:
    trusted_keys() -> tuple[PublicKey, ...]
    parse_public_key(data, source) -> PublicKey
    signed_bytes(obj) -> bytes
    verify_signatures(obj, keys, source) -> str          (the keyid that verified)
    check_index(obj, index, source, *, store, keys=None, allow_expired=False, now=None) -> None
    VersionStore(root): highest(hub) / record(hub, version)

Every failure raises :class:`dchub_client.errors.TrustError` naming the index source.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dchub_client import constants
from dchub_client.errors import TrustError
from dchub_client.format import hubfiles
from dchub_client.format.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

SIGNATURES_KEY = "signatures"
#: Raw ed25519 public keys and signatures are this long.
RAW_KEY_BYTES = 32
SIGNATURE_BYTES = 64
#: A key file larger than this is not a key file.
MAX_KEY_FILE_BYTES = 64 << 10
_notice_given = False


@dataclass(frozen=True)
class PublicKey:
    """A trusted ed25519 public key; ``keyid`` is the sha256 hex of its raw 32 bytes."""

    raw: bytes
    source: str = ""

    @property
    def keyid(self) -> str:
        return keyid(self.raw)

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
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise TrustError(f"{source}: not a PEM or base64 ed25519 public key ({err})") from err
    if len(raw) != RAW_KEY_BYTES:
        raise TrustError(f"{source}: an ed25519 public key is {RAW_KEY_BYTES} bytes, this one is {len(raw)}")
    return PublicKey(raw, source)


def _pem_public_raw(text: str, source: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(text.encode("utf-8"))
    except ValueError as err:
        raise TrustError(f"{source}: unreadable PEM public key ({err})") from err
    if not isinstance(key, Ed25519PublicKey):
        raise TrustError(f"{source}: not an ed25519 public key ({type(key).__name__})")
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
            yield parse_public_key(_read_key_file(path), str(path))
        else:
            yield parse_public_key(entry, f"{source} (entry {entry[:12]}…: not a file, so read as a base64 key)")


def _read_key_file(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise TrustError(f"{path}: cannot read the key file ({err})") from err
    if len(data) > MAX_KEY_FILE_BYTES:
        raise TrustError(f"{path}: larger than {MAX_KEY_FILE_BYTES} bytes; not a key file")
    return data.decode("utf-8", "replace")


# --- signatures --------------------------------------------------------------------------


def signed_bytes(obj: dict[str, Any]) -> bytes:
    """The bytes the signatures of an index sign: its canonical JSON without ``signatures``."""
    return hubfiles.dumps({k: v for k, v in obj.items() if k != SIGNATURES_KEY})


def parse_signatures(obj: dict[str, Any], source: str) -> list[tuple[str, bytes]]:
    """``(keyid, signature bytes)`` of each entry of the index's ``signatures`` (empty when unsigned)."""
    items = obj.get(SIGNATURES_KEY, [])
    if not isinstance(items, list):
        raise TrustError(f"{source}: 'signatures' must be a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("keyid"), str) \
                or not isinstance(item.get("sig"), str):
            raise TrustError(f"{source}: signatures[{i}] must be an object with string 'keyid' and 'sig'")
        try:
            sig = base64.b64decode(item["sig"], validate=True)
        except (binascii.Error, ValueError) as err:
            raise TrustError(f"{source}: signatures[{i}].sig is not base64 ({err})") from err
        out.append((item["keyid"], sig))
    return out


def verify_signatures(obj: dict[str, Any], keys: Sequence[PublicKey], source: str) -> str:
    """Check that a trusted key signed the index *obj*; return that key's id.

    Any one trusted key suffices (key rotation: sign with the old and the new key meanwhile).

    Raises:
        TrustError: unsigned, or no signature verifies with a trusted key.
    """
    signatures = parse_signatures(obj, source)
    if not signatures:
        raise TrustError(f"{source}: the hub index is not signed, but trusted keys are configured; "
                         "refusing it (ask the hub maintainer to build with `hubgen build --sign-key`, "
                         "or check that this mirror is genuine)")
    by_id = {k.keyid: k for k in keys}
    data = signed_bytes(obj)
    for kid, sig in signatures:
        key = by_id.get(kid)
        if key is not None and len(sig) == SIGNATURE_BYTES and key.verify(sig, data):
            return kid
    known = [kid for kid, _ in signatures if kid in by_id]
    why = ("a signature by a trusted key does not verify: the index was changed after signing"
           if known else "it is signed only by keys you do not trust")
    raise TrustError(f"{source}: refusing the hub index: {why} (signed by {_ids(k for k, _ in signatures)}; "
                     f"trusted: {_ids(by_id)})")


def _ids(ids: Any) -> str:
    return ", ".join(str(i)[:16] for i in ids) or "none"


# --- the checks --------------------------------------------------------------------------


def check_index(obj: dict[str, Any], index: hubfiles.Index, source: str, *, store: VersionStore,
                keys: Sequence[PublicKey] | None = None, allow_expired: bool = False,
                now: datetime.datetime | None = None) -> None:
    """Refuse an index that fails the signature, freeze (expiry) or rollback checks.

    Args:
        obj: the decoded JSON of the index (with its ``signatures``).
        index: the parsed index (``hubfiles.parse_index(obj)``).
        source: where it came from (for messages).
        store: the highest versions accepted so far; not updated here (see :meth:`VersionStore.record`).
        keys: trusted keys (default :func:`trusted_keys`); none configured means no checks.
        allow_expired: accept an expired index (offline use of a cached copy, by explicit choice).
        now: the current time (default: now, UTC).

    Raises:
        TrustError: which check failed and what to do.
    """
    keys = trusted_keys() if keys is None else keys
    if not keys:
        _notice_once()
        return
    verify_signatures(obj, keys, source)
    if index.version is None or index.expires is None:
        raise TrustError(f"{source}: a signed index must carry 'version' and 'expires'; refusing it")
    _check_expiry(index.expires, source, allow_expired, now)
    highest = store.highest(index.name)
    if highest is not None and index.version < highest:
        raise TrustError(f"{source}: index version {index.version} of hub {index.name!r} is older than version "
                         f"{highest} already seen (a rollback: this mirror serves an outdated or replayed index); "
                         "try another mirror")


def _check_expiry(expires: str, source: str, allow_expired: bool, now: datetime.datetime | None) -> None:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if hubfiles.parse_time(expires) > now:
        return
    if allow_expired:
        log.warning("%s: the hub index expired at %s; using it anyway (DEEPCHEM_HUB_ALLOW_EXPIRED, offline)",
                    source, expires)
        return
    raise TrustError(f"{source}: the hub index expired at {expires} (a frozen or stale mirror, or a hub that "
                     "was not re-signed); refusing it. Refresh it from an up-to-date mirror"
                     " (offline, DEEPCHEM_HUB_ALLOW_EXPIRED=1 accepts a cached copy knowingly)")


def _notice_once() -> None:
    global _notice_given
    if not _notice_given:
        _notice_given = True
        log.warning("no trusted hub keys configured: hub index signatures are not checked "
                    "(set DEEPCHEM_HUB_TRUSTED_KEYS to the hub's public key to enable the checks)")


class VersionStore:
    """The highest index version accepted per hub name, under ``<root>/trust/<hub>.version``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root) / "trust"

    def _path(self, hub: str) -> Path:
        return self.root / f"{hubfiles.validate_name(hub, 'hub name')}.version"

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


__all__ = ["PublicKey", "VersionStore", "check_index", "keyid", "parse_public_key", "parse_signatures",
           "signed_bytes", "trusted_keys", "verify_signatures"]
