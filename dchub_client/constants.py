"""Every environment variable dchub reads, read in this one place.

Other modules read ``constants.X`` or call the helpers below *at call time*, so tests can
patch the environment or these attributes.
"""
from __future__ import annotations

import os
import posixpath
import re
import sys
from pathlib import Path

#: Where models come from when no local path matches: one or more hub roots.
DEFAULT_HUB = "https://deepchemdata.s3-us-west-1.amazonaws.com/modelhub/"
#: The alias of the hub of ``DEEPCHEM_MODEL_HUB`` (``default:name``, ``search = ["default", ...]``).
DEFAULT_ALIAS = "default"

#: Every environment variable dchub reads (tests clear them all; docs list them).
ENV_VARS = (
    "DEEPCHEM_MODEL_HUB",
    "DEEPCHEM_HUB_CACHE",
    "DEEPCHEM_HUB_OFFLINE",
    "DEEPCHEM_HUB_INDEX_TTL",
    "DEEPCHEM_HUB_WORKERS",
    "DEEPCHEM_HUB_TIMEOUT",
    "DEEPCHEM_HUB_CONNECT_TIMEOUT",
    "DEEPCHEM_HUB_MIRROR_BACKOFF",
    "DEEPCHEM_HUB_MIN_RATE",
    "DEEPCHEM_HUB_TRUSTED_KEYS",
    "DEEPCHEM_HUB_KEY_THRESHOLD",
    "DEEPCHEM_HUB_ALLOW_EXPIRED",
    "DCHUB_CONFIG",
    "DCHUB_DEBUG",
    "SOURCE_DATE_EPOCH",
)

_TRUE = {"1", "true", "yes", "on", "y", "t"}


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


def hub_setting() -> str:
    """The raw ``DEEPCHEM_MODEL_HUB`` value (mirrors separated by whitespace or commas)."""
    return os.environ.get("DEEPCHEM_MODEL_HUB", DEFAULT_HUB)


def hub_roots() -> list[str]:
    """``DEEPCHEM_MODEL_HUB`` split into its mirrors, in the order they are tried."""
    return [part for part in re.split(r"[\s,]+", hub_setting()) if part]


def cache_setting() -> str | None:
    """``DEEPCHEM_HUB_CACHE`` as set (None when unset or empty)."""
    return os.environ.get("DEEPCHEM_HUB_CACHE") or None


def cache_dir() -> Path:
    """The client cache: ``DEEPCHEM_HUB_CACHE`` or the user cache directory."""
    configured = os.environ.get("DEEPCHEM_HUB_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path(_user_dir("cache"))


def hub_is_set() -> bool:
    """True when ``DEEPCHEM_MODEL_HUB`` is set (to anything but blanks)."""
    return bool(os.environ.get("DEEPCHEM_MODEL_HUB", "").strip())


def config_file() -> Path:
    """The file of named hubs (``dchub hub add``): ``DCHUB_CONFIG``, else ``<user config dir>/dchub/config.toml``."""
    configured = os.environ.get("DCHUB_CONFIG")
    if configured:
        return Path(configured).expanduser()
    return Path(_user_dir("config")) / "config.toml"


def _user_dir(kind: str) -> str:
    """dchub's user ``cache`` or ``config`` folder, as ``platformdirs`` names it.

    On Linux, when ``$XDG_<KIND>_HOME`` or ``$HOME`` is an absolute path, the XDG rule is applied
    here (``$XDG_CACHE_HOME/dchub``, else ``$HOME/.cache/dchub``): importing ``platformdirs`` (and
    the ``tempfile`` and ``shutil`` it imports) is ~10 ms of every command's start-up. Every other
    case (other systems, Android, no usable home) is left to ``platformdirs``; a test holds the two
    equal.
    """
    if sys.platform == "linux" and not _on_android():
        xdg = os.environ.get(f"XDG_{kind.upper()}_HOME", "")
        home = os.environ.get("HOME", "")
        if posixpath.isabs(xdg):
            return posixpath.join(xdg, "dchub")
        if posixpath.isabs(home):
            return posixpath.join(home.rstrip("/") or "/", f".{kind}", "dchub")
    import platformdirs

    return getattr(platformdirs, f"user_{kind}_dir")("dchub", appauthor=False)


def _on_android() -> bool:
    """Any sign of Android, where ``platformdirs`` may use Android's folders instead of XDG's."""
    return hasattr(sys, "getandroidapilevel") or (os.environ.get("ANDROID_DATA") == "/data"
                                                   and os.environ.get("ANDROID_ROOT") == "/system")


def offline() -> bool:
    """``DEEPCHEM_HUB_OFFLINE=1``: never touch the network."""
    return _is_true(os.environ.get("DEEPCHEM_HUB_OFFLINE"))


def index_ttl_seconds() -> float:
    """How long a cached ``index.json`` is reused before it is fetched again."""
    return float(os.environ.get("DEEPCHEM_HUB_INDEX_TTL", "600"))


def download_workers() -> int:
    """``DEEPCHEM_HUB_WORKERS``: parallel downloads per model (bounded pool; default 8, or the number of
    CPUs from a mirror that answers within 2 ms: see :func:`dchub_client.hub.fetch.fetch_files`)."""
    return max(1, int(os.environ.get("DEEPCHEM_HUB_WORKERS") or "8"))


def download_workers_chosen() -> bool:
    """True when ``DEEPCHEM_HUB_WORKERS`` is set (then it is used as it is, near mirror or not)."""
    return bool(os.environ.get("DEEPCHEM_HUB_WORKERS"))


def timeout_seconds() -> float:
    """``DEEPCHEM_HUB_TIMEOUT`` (default 30 s): the read timeout of one HTTP request.

    A response must go silent for no longer than this, its headers must be complete this long
    after the request was sent, and a metadata file (``index.json``, a manifest, ``params.json``)
    must arrive whole within it.
    """
    return float(os.environ.get("DEEPCHEM_HUB_TIMEOUT", "30"))


def connect_timeout_seconds() -> float:
    """``DEEPCHEM_HUB_CONNECT_TIMEOUT`` (default 5 s): how long a mirror may take to accept a
    connection and to start answering a request; a mirror that does not is skipped."""
    return float(os.environ.get("DEEPCHEM_HUB_CONNECT_TIMEOUT", "5"))


def mirror_backoff_seconds() -> float:
    """``DEEPCHEM_HUB_MIRROR_BACKOFF`` (default 300 s): how long later processes skip a mirror that
    failed to connect or timed out (0: only the process that saw it fail skips it)."""
    return max(0.0, float(os.environ.get("DEEPCHEM_HUB_MIRROR_BACKOFF", "300")))


def trusted_keys_setting() -> str | None:
    """``DEEPCHEM_HUB_TRUSTED_KEYS``: public keys (or a file of them) that must sign the index."""
    return os.environ.get("DEEPCHEM_HUB_TRUSTED_KEYS")


def key_threshold_setting() -> str | None:
    """``DEEPCHEM_HUB_KEY_THRESHOLD``: how many of the trusted keys must sign the index (default 1)."""
    return os.environ.get("DEEPCHEM_HUB_KEY_THRESHOLD")


def trusted_keys_file() -> Path:
    """The config file of trusted keys used when ``DEEPCHEM_HUB_TRUSTED_KEYS`` is unset: ``<cache>/trusted_keys``."""
    return cache_dir() / "trusted_keys"


def allow_expired_index() -> bool:
    """``DEEPCHEM_HUB_ALLOW_EXPIRED=1``: in offline mode only, accept a cached signed index past its expiry."""
    return _is_true(os.environ.get("DEEPCHEM_HUB_ALLOW_EXPIRED"))


def min_rate_bytes() -> float:
    """``DEEPCHEM_HUB_MIN_RATE`` (bytes/s, default 64 KiB/s): slower downloads are abandoned.

    A file of *n* bytes must arrive within ``timeout_seconds() + n / min_rate_bytes()`` seconds,
    so a mirror that drips bytes just fast enough to dodge the read timeout is still cut off.
    """
    return max(1.0, float(os.environ.get("DEEPCHEM_HUB_MIN_RATE", str(64 << 10))))


def proxy_url(scheme: str, host: str) -> str | None:
    """The proxy the standard variables (``http_proxy``, ``https_proxy``, ``no_proxy``) give for *host*, or None.

    The rules of ``urllib.request.getproxies_environment`` and ``proxy_bypass_environment`` (which
    ``requests`` follows too), without importing ``urllib.request`` (35 ms: it brings ``http.client``,
    ``email`` and ``ssl``): a lower-case variable wins over its upper-case twin, ``HTTP_PROXY`` is
    ignored under CGI (``REQUEST_METHOD`` set, "httpoxy"), and ``no_proxy`` lists host names or
    domain suffixes (``*``: every host).
    """
    proxies = _proxy_variables()
    proxy = proxies.get(scheme)
    if not proxy or _bypassed(host, proxies.get("no", "")):
        return None
    return proxy


def _proxy_variables() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in os.environ.items():  # upper-case first, so the lower-case twins overwrite them
        if value and name[-6:] == "_PROXY" and not (name == "HTTP_PROXY" and "REQUEST_METHOD" in os.environ):
            found[name[:-6].lower()] = value
    for name, value in os.environ.items():
        if value and name[-6:] == "_proxy":
            found[name[:-6]] = value
        elif name[-6:] == "_proxy" and name[:-6] in found:  # set but empty: no proxy for it
            del found[name[:-6]]
    return found


def _bypassed(host: str, no_proxy: str) -> bool:
    if no_proxy.strip() == "*":
        return True
    host = host.lower()
    for name in no_proxy.split(","):
        name = name.strip().lstrip(".").lower()
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


#: Redirects followed for one request (a loop fails fast).
MAX_REDIRECTS = 5


def columns_chosen() -> bool:
    """Whether ``COLUMNS`` sets a width (a positive number), which then holds even where output is not a terminal."""
    try:
        return int(os.environ.get("COLUMNS", "0")) > 0
    except ValueError:
        return False


def terminal_columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` finds it (``COLUMNS``, else stdout's
    terminal, else 80), without importing :mod:`shutil` (~2 ms of a command's start-up)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


def quiet_native_tensorflow() -> None:
    """Ask TensorFlow's native logging for errors only (``TF_CPP_MIN_LOG_LEVEL=2``) unless the user chose a
    level; TensorFlow reads it when it is imported (see :mod:`dchub_client.quiet`)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def debug() -> bool:
    """``DCHUB_DEBUG=1``: the CLIs print full tracebacks."""
    return _is_true(os.environ.get("DCHUB_DEBUG"))


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` (reproducible builds): the timestamp generated files record, or None."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value.isdigit() else None


def prefer_legacy_keras() -> None:
    """Make TensorFlow (when this process imports it later) use Keras 2 (``TF_USE_LEGACY_KERAS=1``), which
    DeepChem's Keras models need, unless the user set the variable. Only a CLI process, which owns its
    environment, calls this."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
