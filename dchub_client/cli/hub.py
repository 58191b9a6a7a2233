"""``dchub hub add|ls|rm|search``: the named hubs of the config file (see :mod:`dchub_client.hub.config`)."""
from __future__ import annotations

import argparse
import logging
import os
import re

from dchub_client import constants
from dchub_client.cli._common import table
from dchub_client.errors import ConfigError, HubFormatError, MirrorError, NotAHubError, OtherHubError, TrustError
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
from dchub_client.hub.roots import normalize_root, root_kind

log = logging.getLogger(__name__)


def run_add(args: argparse.Namespace) -> int:
    config = load_config()
    keys = [_key_text(entry) for entry in args.key]
    if args.threshold is not None and not 1 <= args.threshold <= max(len(keys), 1):
        raise ConfigError(f"--threshold must be from 1 to the number of --key options ({len(keys)})")
    mirrors = tuple(_mirror(m) for m in args.mirrors)
    entry = HubEntry(args.name, mirrors, tuple(keys), args.threshold, args.default)
    updated = add_hub(config, entry, replace_existing=args.replace)
    checked = None if args.no_check else _check_hub(hubs.entry_hub(entry, updated))
    save_config(updated)
    signed = f"its index must be signed by {args.threshold or 1} of {len(keys)} key(s)" if keys else \
        "its index is not signature-checked (add --key PUBKEY)"
    print(f"added hub {args.name!r} to {config.path}: {len(mirrors)} mirror(s); {signed}")
    if checked is not None:
        print(f"checked: {checked}")
    print(f"load its models as {args.name}:NAME[@VERSION]" + ("; bare names resolve in it" if args.default else ""))
    return 0


def _mirror(text: str) -> str:
    """A mirror given to ``dchub hub add``, normalized. A local folder that is not there is kept with a
    warning (a disk not mounted now), unless it reads as a server without its scheme (``HOST:PORT``)."""
    try:
        root = normalize_root(text, source="dchub hub add")
    except HubFormatError as err:
        raise ConfigError(str(err)) from err
    if root_kind(root) == "local" and not os.path.isdir(root):
        if re.fullmatch(r"[\w.-]+:\d+(/.*)?", text.strip()):
            raise ConfigError(f"mirror {text!r}: there is no folder {root}; a web server is given by its URL: "
                              f"http://{text.strip()}")
        log.warning("mirror %s: there is no folder %s now (a disk not mounted?); it is added all the same", text, root)
    return root


def _check_hub(hub: Hub) -> str | None:
    """Fetch the new hub's index from each mirror and check it as every later command will (the name it
    declares, its signatures). Mirrors that do not answer (a server down, a disk not mounted) are
    passed over with a warning; None when offline or when none answered.

    Raises:
        ConfigError: a mirror serves another hub, no hub, or an index that fails its checks.
    """
    if constants.offline():
        return None
    cache, index, name = Cache(), None, hub.alias
    for mirror in hub.mirrors:
        if mirror.kind == "local" and not os.path.isdir(mirror.root):
            continue  # warned about already
        try:
            index = catalog.load_index(cache, hub.with_mirrors([mirror]), refresh=True)
        except OtherHubError as err:
            raise ConfigError(f"{mirror.root} serves hub {err.found!r}, not {name!r}; a hub is added under the "
                              f"name its index declares: `dchub hub add {err.found} ...` (nothing was added)") from err
        except (TrustError, HubFormatError, NotAHubError) as err:
            raise ConfigError(f"{err}\n(nothing was added; --no-check adds it without this check)") from err
        except MirrorError as err:
            log.warning("could not check mirror %s now: %s", mirror.root, "; ".join(err.failures.values()))
    if index is None:
        log.warning("no mirror of hub %r answered; it is added unchecked", name)
        return None
    signed = "signed by the keys given" if hub.key_entries else "signatures not checked (no --key)"
    return f"hub {index.name!r}, {len(index.models)} model(s), {signed}"


def _key_text(entry: str) -> str:
    """A ``--key`` value (base64, or a key file) as the base64 text the config stores."""
    keys = list(trust.parse_key_entries(entry, "--key"))
    if len(keys) != 1:
        raise ConfigError(f"--key {entry!r}: expected one public key, found {len(keys)}")
    return keys[0].text  # the base64 of its raw bytes, as the config file stores keys


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
