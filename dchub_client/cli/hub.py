"""``dchub hub add|ls|rm|search``: the named hubs of the config file (see :mod:`dchub_client.hub.config`)."""
from __future__ import annotations

import argparse

from dchub_client import constants
from dchub_client.cli._common import table
from dchub_client.errors import ConfigError, HubFormatError
from dchub_client.hub import catalog, hubs, trust
from dchub_client.hub.cache import Cache
from dchub_client.hub.config import (
    DEFAULT_ALIAS,
    HubEntry,
    add_hub,
    dumps_config,
    load_config,
    parse_config,
    remove_hub,
    save_config,
)
from dchub_client.hub.hubs import Hub
from dchub_client.hub.roots import normalize_root


def run_add(args: argparse.Namespace) -> int:
    config = load_config()
    keys = [_key_text(entry) for entry in args.key]
    if args.threshold is not None and not 1 <= args.threshold <= max(len(keys), 1):
        raise ConfigError(f"--threshold must be from 1 to the number of --key options ({len(keys)})")
    try:
        mirrors = tuple(normalize_root(m) for m in args.mirrors)
    except HubFormatError as err:
        raise ConfigError(str(err)) from err
    entry = HubEntry(args.name, mirrors, tuple(keys), args.threshold, args.default)
    save_config(add_hub(config, entry, replace_existing=args.replace))
    signed = f"its index must be signed by {args.threshold or 1} of {len(keys)} key(s)" if keys else \
        "its index is not signature-checked (add --key PUBKEY)"
    print(f"added hub {args.name!r} to {config.path}: {len(mirrors)} mirror(s); {signed}")
    print(f"load its models as {args.name}:NAME[@VERSION]" + ("; bare names resolve in it" if args.default else ""))
    return 0


def _key_text(entry: str) -> str:
    """A ``--key`` value (base64, or a key file) as the base64 text the config stores."""
    keys = list(trust.parse_key_entries(entry, "--key"))
    if len(keys) != 1:
        raise ConfigError(f"--key {entry!r}: expected one public key, found {len(keys)}")
    return hubs.key_text(keys[0])


def run_rm(args: argparse.Namespace) -> int:
    config = load_config()
    save_config(remove_hub(config, args.name))
    print(f"removed hub {args.name!r} from {config.path}")
    return 0


def run_search(args: argparse.Namespace) -> int:
    config = load_config()
    if args.names:
        updated = config._replace(search=tuple(args.names))
        parse_config(dumps_config(updated).encode("utf-8"), config.path)  # validate before writing
        save_config(updated)
        config = updated
    order = config.search or (DEFAULT_ALIAS,)
    print("bare names resolve in: " + ", ".join(order) + ("" if len(order) == 1 else
                                                          " (a name in more than one is an error)"))
    return 0


def run_ls(args: argparse.Namespace) -> int:
    config, cache = load_config(), Cache()
    rows = [_row(hubs.default_hub(config), cache)]
    rows += [_row(hub, cache) for name in config.hubs if (hub := hubs.named_hub(name, config)) and not hub.is_default]
    print(table(["HUB", "NAME", "MIRRORS", "KEYS", "CACHED INDEX"], rows))
    print(f"bare names resolve in: {', '.join(config.search or (DEFAULT_ALIAS,))}")
    print(f"config: {config.path}" + ("" if config.path.exists() else " (none yet: `dchub hub add` creates it)"))
    return 0


def _row(hub: Hub, cache: Cache) -> tuple[str, ...]:
    name = catalog.identity(cache, hub)
    keys = "-" if hub.key_entries == () else \
        (f"{len(hub.key_entries)}" + (f" (need {hub.threshold})" if hub.threshold else "")) if hub.key_entries \
        else ("DEEPCHEM_HUB_TRUSTED_KEYS" if constants.trusted_keys_setting() else
              (str(constants.trusted_keys_file()) if constants.trusted_keys_file().exists() else "-"))
    header = catalog.cached_header(cache, name) if name else None
    age = catalog.cache_age(cache, name) if name else None
    cached = "-"
    if header is not None and age is not None:
        version = f"version {header['version']}, " if header.get("version") is not None else ""
        cached = f"{header.get('count', 0)} models, {version}fetched {age / 60:.0f} min ago"
    mirrors = " ".join(m.root for m in hub.mirrors) or "-"
    return (hub.alias, name or "(not yet seen)", mirrors, keys, cached)
