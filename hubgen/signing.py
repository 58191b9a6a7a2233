"""Signing the hub index: ed25519 key pairs, ``version`` and ``expires``, embedded signatures.

The index keeps its shape; three top-level keys are added (``docs/format.md``, ``docs/security.md``):
``version`` (increases by one whenever the index content changes or is re-signed), ``expires``
(RFC 3339, UTC) and ``signatures`` (``[{"keyid", "sig"}]`` over
:func:`dchub_client.hub.trust.signed_bytes`, the canonical JSON of everything but ``signatures``).
Clients check them with :mod:`dchub_client.hub.trust`.

API:
    generate_keypair(out_dir, name="hub-key") -> (private_path, public_path)
    load_private_key(path) -> Ed25519PrivateKey
    public_key_text(key) -> str                     (base64 of the raw public key)
    sign_index(obj, keys) -> dict                    (obj with fresh ``signatures``)
    index_bytes(new, old, *, keys, expires_days, now=None) -> bytes
"""
from __future__ import annotations

import base64
import binascii
import datetime
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dchub_client.format import hubfiles
from dchub_client.format.atomic import atomic_write_bytes
from dchub_client.hub import trust
from hubgen.errors import SigningError

if TYPE_CHECKING:  # cryptography is imported lazily
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

logger = logging.getLogger(__name__)

#: Default lifetime of a signed index; re-sign (rebuild with --sign-key) before it runs out.
DEFAULT_EXPIRES_DAYS = 30
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
    """A private key from a PEM file (PKCS#8, unencrypted) or a file holding base64 of the raw 32-byte seed.

    Raises:
        SigningError: unreadable, encrypted, or not ed25519.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise SigningError(f"{path}: cannot read the signing key ({err})") from err
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as err:
            raise SigningError(f"{path}: unreadable PEM private key ({err})") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningError(f"{path}: not an ed25519 private key ({type(key).__name__})")
        return key
    try:
        raw = base64.b64decode(data.strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (binascii.Error, ValueError) as err:
        raise SigningError(f"{path}: not a PEM or base64 ed25519 private key ({err})") from err


def sign_index(obj: dict[str, Any], keys: Sequence[Ed25519PrivateKey]) -> dict[str, Any]:
    """*obj* with a ``signatures`` list holding one signature per key (sorted by key id)."""
    from cryptography.hazmat.primitives import serialization

    data = trust.signed_bytes(obj)
    sigs = []
    for key in keys:
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        sigs.append({"keyid": trust.keyid(raw), "sig": base64.b64encode(key.sign(data)).decode("ascii")})
    signed = {k: v for k, v in obj.items() if k != trust.SIGNATURES_KEY}
    signed[trust.SIGNATURES_KEY] = sorted(sigs, key=lambda s: s["keyid"])
    return signed


def index_bytes(new: dict[str, Any], old: dict[str, Any] | None, *, keys: Sequence[Ed25519PrivateKey] = (),
                expires_days: float = DEFAULT_EXPIRES_DAYS, now: datetime.datetime | None = None) -> bytes:
    """The bytes of ``index.json`` for the index content *new*, given the *old* index of the hub folder.

    Unsigned, with unchanged content: the old bytes, as they were (a no-op build changes nothing,
    and an old signature stays valid). Otherwise ``version`` is the old one plus one (1 for a new
    hub); with *keys*, ``expires`` is *now* plus *expires_days* and every key signs.
    """
    body = _content(new)
    if old is not None and not keys and _content(old) == body:
        return hubfiles.dumps(old)
    if expires_days <= 0:
        raise SigningError(f"expires_days must be positive, got {expires_days}")
    previous = old.get("version") if old is not None else None
    out = dict(body, version=(previous if isinstance(previous, int) else 0) + 1)
    if not keys:
        if old is not None and old.get(trust.SIGNATURES_KEY):
            logger.warning("the previous index.json was signed and this build is not: clients with trusted keys "
                           "will refuse the hub; build with --sign-key")
        return hubfiles.dumps(out)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    expires = now.replace(microsecond=0) + datetime.timedelta(days=expires_days)
    out["expires"] = expires.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return hubfiles.dumps(sign_index(out, keys))


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _UNSIGNED_KEYS}


__all__ = ["DEFAULT_EXPIRES_DAYS", "generate_keypair", "index_bytes", "load_private_key", "public_key_text",
           "sign_index"]
