"""The hubs a client knows: the default hub (``DEEPCHEM_MODEL_HUB``) and the named hubs of the config file.

A :class:`Hub` is what name resolution works with: the identity its index must declare (``name``),
its mirrors in order, and the keys that must sign its index. Identity, not spelling, keys everything
kept about a hub: its cached index, rollback record and snapshots (see :mod:`dchub_client.hub.catalog`).

* The **default hub**: mirrors from ``DEEPCHEM_MODEL_HUB`` (DeepChem's bucket when unset; or the
  mirrors of the config's ``default = true`` hub), keys from ``DEEPCHEM_HUB_TRUSTED_KEYS`` /
  ``<cache>/trusted_keys`` (else the config's default hub's keys). Its name is the config's default
  hub's, or ``None``: then each mirror is bound to the hub it first served (trust on first use).
* **Named hubs**: ``[hubs."NAME"]`` of the config; the index must declare ``NAME``.

Bare names resolve in :func:`search_order` (``search = [...]`` of the config, else the default hub).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from dchub_client import constants
from dchub_client.errors import ConfigError
from dchub_client.hub import trust
from dchub_client.hub.config import DEFAULT_ALIAS, HubConfig, HubEntry, load_config
from dchub_client.hub.mirrors import Mirror, parse_mirrors
from dchub_client.humanize import suggestions


class Hub(NamedTuple):
    """A hub as the client sees it.

    Attributes:
        alias: how the user names it: ``"default"`` or its configured name.
        name: the name its ``index.json`` must declare; None for a default hub not pinned by the config.
        mirrors: its roots, in the order they are tried.
        key_entries: configured public keys (base64 or ``.pub`` paths); None means the client-wide
            trusted keys (``DEEPCHEM_HUB_TRUSTED_KEYS`` / ``<cache>/trusted_keys``).
        threshold: how many distinct trusted keys must sign its index (None: the trust module's default).
        source: where it was configured, for messages.
        others: the names of the other configured hubs: an index declaring one of them is theirs,
            never this hub's (checked for the default hub, whose name may not be pinned).
        settings: where *key_entries* and *threshold* were configured (a config file's hub table), for
            messages; None: nowhere but the environment.
    """

    alias: str
    name: str | None
    mirrors: tuple[Mirror, ...]
    key_entries: tuple[str, ...] | None = None
    threshold: int | None = None
    source: str = "DEEPCHEM_MODEL_HUB"
    others: frozenset[str] = frozenset()
    settings: str | None = None

    @property
    def is_default(self) -> bool:
        return self.alias == DEFAULT_ALIAS

    @property
    def label(self) -> str:
        """``hub 'acme'`` or ``the default hub (DEEPCHEM_MODEL_HUB)``, for messages."""
        if self.is_default:
            pinned = f" {self.name!r}" if self.name else ""
            return f"the default hub{pinned}, from {self.source}"
        return f"hub {self.alias!r}"

    def keys(self) -> tuple[trust.PublicKey, ...]:
        """The public keys that must sign this hub's index (empty: signatures are not checked)."""
        if self.key_entries is None:
            return trust.trusted_keys()
        return tuple(trust.parse_key_entries("\n".join(self.key_entries), f"{self.settings or self.source} keys"))

    def policy(self) -> trust.TrustPolicy:
        """How this hub's index is judged: its keys, how many must sign, and the name it must declare.

        Raises:
            TrustError: a key that cannot be read, or a threshold above the number of distinct keys (the
                message names the setting: ``DEEPCHEM_HUB_KEY_THRESHOLD``, or the config file's table).
        """
        keys = self.keys()
        if not keys:
            return trust.TrustPolicy(hub=self.name)
        if self.threshold:
            threshold, setting = self.threshold, f"{self.settings or self.source} threshold = {self.threshold}"
        elif self.key_entries is None:
            threshold, setting = trust.key_threshold(), trust.key_threshold_named()
        else:
            threshold, setting = 1, ""
        return trust.TrustPolicy(keys, trust.checked_threshold(threshold, keys, setting), self.name)

    def with_mirrors(self, mirrors: list[Mirror] | tuple[Mirror, ...]) -> Hub:
        """The same hub reached through *mirrors* only."""
        return self._replace(mirrors=tuple(mirrors))

    def reachable(self, offline: bool) -> tuple[tuple[Mirror, ...], bool]:
        """The mirrors that may be read now, and whether fetching files must be refused.

        Offline, a local folder is no network: its files are read (a USB stick made by ``dchub mirror``
        needs no cache), and fetching is refused only when the hub has no local mirror.
        """
        if not offline:
            return self.mirrors, False
        local = tuple(m for m in self.mirrors if m.kind == "local")
        return local, not local


def default_hub(config: HubConfig | None = None) -> Hub:
    """The hub of ``DEEPCHEM_MODEL_HUB`` (see the module docstring)."""
    config = config if config is not None else load_config()
    pinned = config.default
    if constants.hub_is_set() or pinned is None:
        unset = "the built-in default (DEEPCHEM_MODEL_HUB is unset)"
        source = "DEEPCHEM_MODEL_HUB" if constants.hub_is_set() else unset
        roots = constants.hub_roots()
    else:
        roots, source = list(pinned.mirrors), _source(config, pinned)
    keys = pinned.keys if pinned is not None and pinned.keys and not trust.trusted_keys() else None
    threshold = pinned.threshold if pinned is not None and keys is not None else None  # it goes with its keys:
    # the environment's keys (DEEPCHEM_HUB_TRUSTED_KEYS, <cache>/trusted_keys) with DEEPCHEM_HUB_KEY_THRESHOLD
    return Hub(DEFAULT_ALIAS, pinned.name if pinned else None, tuple(parse_mirrors(roots)), keys,
               threshold, source, frozenset(config.hubs) - {pinned.name if pinned else ""},
               _source(config, pinned) if pinned else None)


def named_hub(alias: str, config: HubConfig | None = None) -> Hub | None:
    """The hub called *alias* (``default``, or a name of the config), or None when there is none."""
    config = config if config is not None else load_config()
    if alias == DEFAULT_ALIAS:
        return default_hub(config)
    entry = config.hubs.get(alias)
    if entry is None:
        return None
    if entry.default:
        return default_hub(config)
    return entry_hub(entry, config)


def entry_hub(entry: HubEntry, config: HubConfig) -> Hub:
    """The hub a config entry declares, with its own mirrors (for a ``default = true`` entry too)."""
    return Hub(entry.name, entry.name, tuple(parse_mirrors(entry.mirrors)), entry.keys, entry.threshold,
               _source(config, entry), frozenset(config.hubs) - {entry.name}, _source(config, entry))


def search_order(config: HubConfig | None = None) -> list[Hub]:
    """The hubs a bare model name is looked up in: the config's ``search`` list, else the default hub."""
    config = config if config is not None else load_config()
    hubs = [named_hub(alias, config) for alias in config.search or (DEFAULT_ALIAS,)]
    return [h for h in hubs if h is not None]


def configured_names(config: HubConfig | None = None) -> set[str]:
    """The identities of the named hubs of the config (an index declaring one is theirs only)."""
    config = config if config is not None else load_config()
    return set(config.hubs)


def require_hub(alias: str, config: HubConfig | None = None, *, also: Sequence[str] = ()) -> Hub:
    """:func:`named_hub`, raising when *alias* is not configured.

    Raises:
        ConfigError: no hub of that name (the message lists the configured ones, then *also*: other
            names that would have been accepted, such as the default hub's own, and how to add one).
    """
    config = config if config is not None else load_config()
    hub = named_hub(alias, config)
    if hub is None:
        names = list(dict.fromkeys([DEFAULT_ALIAS, *config.hubs, *also]))
        close = suggestions(alias, names)
        fix = f"did you mean {close[0]!r}? Or add" if close else "add"
        raise ConfigError(f"no hub named {alias!r} is configured (known: {', '.join(names)}); {fix} it with "
                          f"`dchub hub add {alias} MIRROR_URL`",
                          path=config.path if config.path.is_file() else None)  # no file: nothing to point at
    return hub


def _source(config: HubConfig, entry: HubEntry) -> str:
    return f"{config.path} [hubs.{entry.name}]"


__all__ = ["Hub", "configured_names", "default_hub", "entry_hub", "named_hub", "require_hub",
           "search_order"]
