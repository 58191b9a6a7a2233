"""The file of named hubs: read, validate, write (``dchub hub add|ls|rm``).

A TOML file, ``constants.config_file()`` (``DCHUB_CONFIG``, else ``~/.config/dchub/config.toml``)::

    # the hubs a bare model name is looked up in, in order ("default" = the hub of DEEPCHEM_MODEL_HUB);
    # a name found in more than one of them is an error (say which: acme:tox21-gc)
    search = ["default", "acme"]

    [hubs."acme"]                      # the name acme's index.json declares ("name" in hub_manifest.yaml)
    mirrors = ["https://models.acme.example/hub/", "/mnt/acme-mirror"]
    keys = ["mZ3...base64 ed25519 public key..."]   # optional: its index must be signed by these
    threshold = 1                      # optional: how many of the keys must sign (default 1)
    default = true                     # optional: this is the default hub (see below)

A hub's name is its identity: the cache keeps its index, rollback state and snapshots under that
name, and an index that declares another name is refused even when a trusted key signed it. One hub
may be marked ``default``: bare names then resolve in it, its index must declare its name, and its
mirrors are ``DEEPCHEM_MODEL_HUB`` when that is set (else the ones listed here).

The file is rewritten by ``dchub hub add``/``rm`` (comments are not kept). Every problem is a
:class:`~dchub_client.errors.ConfigError` naming the file and the key.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from dchub_client import constants
from dchub_client.errors import ConfigError, HubFormatError
from dchub_client.format import hubfiles
from dchub_client.format.atomic import atomic_write_text
from dchub_client.hub.roots import normalize_root

DEFAULT_ALIAS = constants.DEFAULT_ALIAS
#: A config file larger than this is not a config file.
MAX_CONFIG_BYTES = 1 << 20
_HUB_KEYS = {"mirrors", "keys", "threshold", "default"}
_TOP_KEYS = {"search", "hubs"}


class HubEntry(NamedTuple):
    """One ``[hubs."NAME"]`` table: the hub's name (its identity), mirrors, trusted keys and threshold."""

    name: str
    mirrors: tuple[str, ...]
    keys: tuple[str, ...] = ()
    threshold: int | None = None
    default: bool = False


class HubConfig(NamedTuple):
    """The parsed config file (empty when there is none)."""

    path: Path
    hubs: Mapping[str, HubEntry] = MappingProxyType({})
    search: tuple[str, ...] = ()

    @property
    def default(self) -> HubEntry | None:
        """The hub marked ``default = true``, if any."""
        return next((h for h in self.hubs.values() if h.default), None)


def load_config(path: str | os.PathLike[str] | None = None) -> HubConfig:
    """Read and validate the config file (default ``constants.config_file()``); a missing file is an empty config.

    Raises:
        ConfigError: unreadable, not TOML, or a key is unknown or malformed (the message names it).
    """
    path = Path(path) if path is not None else constants.config_file()
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return HubConfig(path)
    except OSError as err:
        raise ConfigError(f"cannot read the hub configuration ({err.strerror or err})", path=path) from err
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES} bytes; not a dchub configuration", path=path)
    return parse_config(data, path)


def parse_config(data: bytes, path: Path) -> HubConfig:
    """Validate the bytes of a config file (see the module docstring)."""
    import tomllib

    try:
        obj = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"not valid TOML ({err})", path=path) from err
    _no_unknown(obj, _TOP_KEYS, "", path)
    tables = obj.get("hubs", {})
    if not isinstance(tables, dict):
        raise ConfigError("'hubs' must be a table of [hubs.\"NAME\"] tables", path=path)
    hubs = {name: _entry(name, table, path) for name, table in tables.items()}
    defaults = [h.name for h in hubs.values() if h.default]
    if len(defaults) > 1:
        raise ConfigError(f"more than one hub is marked default ({', '.join(defaults)}); keep one", path=path)
    return HubConfig(path, hubs, _search(obj.get("search", []), hubs, path))


def _entry(name: str, table: Any, path: Path) -> HubEntry:
    where = f"[hubs.{json.dumps(name)}]"
    validate_hub_name(name, path)
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table", path=path)
    _no_unknown(table, _HUB_KEYS, where + " ", path)
    mirrors = _strings(table, "mirrors", where, path)
    if not mirrors:
        raise ConfigError(f"{where}: 'mirrors' must list at least one hub root", path=path)
    keys = _strings(table, "keys", where, path)
    threshold = table.get("threshold")
    if threshold is not None and (not isinstance(threshold, int) or isinstance(threshold, bool)
                                  or not 1 <= threshold <= max(len(keys), 1)):
        raise ConfigError(f"{where}: 'threshold' must be an integer from 1 to the number of keys ({len(keys)}), "
                          f"got {threshold!r}", path=path)
    default = table.get("default", False)
    if not isinstance(default, bool):
        raise ConfigError(f"{where}: 'default' must be true or false", path=path)
    try:
        roots = tuple(normalize_root(m) for m in mirrors)
    except HubFormatError as err:
        raise ConfigError(f"{where}: {err}", path=path) from err
    return HubEntry(name, roots, tuple(keys), threshold, default)


def validate_hub_name(name: object, path: Path | None = None) -> str:
    """A hub name: the rules of model names (it names folders of the cache), and not ``default``."""
    try:
        hubfiles.validate_name(name, "hub name")
    except HubFormatError as err:
        raise ConfigError(str(err), path=path) from err
    if name == DEFAULT_ALIAS:
        raise ConfigError(f"{DEFAULT_ALIAS!r} is reserved for the hub of DEEPCHEM_MODEL_HUB; mark a named hub "
                          "as the default with `dchub hub add NAME MIRROR --default`", path=path)
    return name  # type: ignore[return-value]


def _search(value: Any, hubs: dict[str, HubEntry], path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("'search' must be a list of hub names", path=path)
    for name in value:
        if name != DEFAULT_ALIAS and name not in hubs:
            raise ConfigError(f"'search' names hub {name!r}, which is not configured (hubs: "
                              f"{', '.join([DEFAULT_ALIAS, *hubs])})", path=path)
    if len(set(value)) != len(value):
        raise ConfigError("'search' lists a hub twice", path=path)
    return tuple(value)


def _strings(table: dict[str, Any], key: str, where: str, path: Path) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: {key!r} must be a list of non-empty strings", path=path)
    return value


def _no_unknown(table: dict[str, Any], known: set[str], where: str, path: Path) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})", path=path)


# --- changing the file -----------------------------------------------------------------------


def add_hub(config: HubConfig, entry: HubEntry, *, replace_existing: bool = False) -> HubConfig:
    """*config* with *entry* added (a new ``default`` takes the mark from the old one).

    Raises:
        ConfigError: a hub of that name exists (unless *replace_existing*).
    """
    validate_hub_name(entry.name, config.path)
    if entry.name in config.hubs and not replace_existing:
        raise ConfigError(f"hub {entry.name!r} is already configured; `dchub hub rm {entry.name}` first, or add "
                          "it again with --replace", path=config.path)
    hubs = {n: (h._replace(default=False) if entry.default else h) for n, h in config.hubs.items()}
    hubs[entry.name] = entry
    return config._replace(hubs=hubs)


def remove_hub(config: HubConfig, name: str) -> HubConfig:
    """*config* without hub *name* (and without it in ``search``).

    Raises:
        ConfigError: no such hub.
    """
    if name not in config.hubs:
        known = ", ".join(config.hubs) or "none"
        raise ConfigError(f"no hub named {name!r} is configured (configured: {known})", path=config.path)
    hubs = {n: h for n, h in config.hubs.items() if n != name}
    return config._replace(hubs=hubs, search=tuple(s for s in config.search if s != name))


def save_config(config: HubConfig) -> None:
    """Write *config* to its file, atomically (creating its folder)."""
    config.path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config.path, dumps_config(config))


def dumps_config(config: HubConfig) -> str:
    """The TOML text of *config* (strings are JSON-quoted, which TOML reads as basic strings)."""
    lines = ["# dchub named hubs (see `dchub hub --help`); `dchub hub add/rm` rewrite this file.", ""]
    if config.search:
        lines += [f"search = {_toml_list(config.search)}", ""]
    for entry in config.hubs.values():
        lines.append(f"[hubs.{json.dumps(entry.name)}]")
        lines.append(f"mirrors = {_toml_list(entry.mirrors)}")
        if entry.keys:
            lines.append(f"keys = {_toml_list(entry.keys)}")
        if entry.threshold is not None:
            lines.append(f"threshold = {entry.threshold}")
        if entry.default:
            lines.append("default = true")
        lines.append("")
    return "\n".join(lines)


def _toml_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


__all__ = ["DEFAULT_ALIAS", "HubConfig", "HubEntry", "add_hub", "dumps_config", "load_config", "parse_config",
           "remove_hub", "save_config", "validate_hub_name"]
