"""``hubgen keygen --out DIR``: a new ed25519 key pair for signing the hub index."""
from __future__ import annotations

import argparse

from dchub_client.hub import trust
from hubgen.signing import generate_keypair


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``keygen`` command."""
    parser = subparsers.add_parser(
        "keygen", help="make an ed25519 key pair that signs index.json",
        description="Write DIR/NAME.pem (private key, mode 0600: keep it secret, pass it to "
                    "`hubgen build --sign-key`) and DIR/NAME.pub (the public key clients trust through "
                    "DEEPCHEM_HUB_TRUSTED_KEYS). Existing files are never overwritten.")
    parser.add_argument("--out", "-o", default=".", metavar="DIR", help="where to write the keys (default: .)")
    parser.add_argument("--name", default="hub-key", help="file name stem (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``hubgen keygen``; print the two paths, the key id (as messages show it) and the public key."""
    private, public = generate_keypair(args.out, args.name)
    key = trust.parse_public_key(public.read_text(encoding="ascii"), str(public))
    print(f"private key: {private} (keep it secret; hubgen build --sign-key {private})")
    print(f"public key:  {public}")
    print(f"key id:      {trust.short_keyid(key.keyid)} (how signatures and errors name this key)")
    print(f"clients: export DEEPCHEM_HUB_TRUSTED_KEYS={key.text}")
    return 0
