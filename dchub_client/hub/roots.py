"""One spelling per hub root: what a user pastes into ``DEEPCHEM_MODEL_HUB``, normalized.

A root is used as a key (the mirror a hub was fetched from, the hub a mirror is bound to, the
mirrors listed in the config), so two spellings of the same place must give the same string:

* ``http(s)://``: scheme and host in lower case, the default port (80, 443) dropped, no query or
  fragment, a trailing ``/index.html`` or ``/index.json`` (the URL of the catalogue page or of the
  index, as a browser shows them) replaced by the folder, always one trailing ``/``.
* ``file://`` URLs and local paths: an absolute, normalized local path (``~`` expanded), without a
  trailing ``index.html`` / ``index.json`` and without a trailing separator.

Example:
    >>> normalize_root("HTTP://LocalHost:80/hub/index.html")
    'http://localhost/hub/'
    >>> normalize_root("https://Example.org:443")
    'https://example.org/'
"""
from __future__ import annotations

import os
import urllib.parse

from dchub_client.errors import HubFormatError
from dchub_client.format import layout

#: File names a pasted root may end in; the hub root is their folder.
ROOT_FILES = (layout.INDEX_FILE, layout.SITE_INDEX)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def root_kind(root: str, source: str = "DEEPCHEM_MODEL_HUB") -> str:
    """``"http"`` for an ``http(s)://`` root, ``"local"`` for a ``file://`` URL or a path.

    Raises:
        HubFormatError: another scheme (``ftp://``, ``s3://`` ...), naming *source* (where the root was given).
    """
    scheme = urllib.parse.urlsplit(root.strip()).scheme.lower()
    if scheme in _DEFAULT_PORTS:
        return "http"
    if scheme == "file" or len(scheme) <= 1:  # a one-letter scheme is a Windows drive
        return "local"
    hint = " (an S3 bucket is read over HTTPS: https://BUCKET.s3.REGION.amazonaws.com/PREFIX/)" \
        if scheme == "s3" else ""
    raise HubFormatError(f"unsupported mirror {root!r}: use http(s)://, file:// or a local path{hint}",
                         source=source)


def normalize_root(root: str, source: str = "DEEPCHEM_MODEL_HUB") -> str:
    """The canonical spelling of a hub root (see the module docstring).

    Raises:
        HubFormatError: an unsupported scheme, or an http(s) URL without a host (naming *source*).
    """
    text = root.strip()
    if root_kind(text, source) == "http":
        return _normalize_url(text, source)
    if urllib.parse.urlsplit(text).scheme.lower() == "file":
        text = _file_url_path(text)
    return _normalize_path(text)


def _file_url_path(url: str) -> str:
    """The local path of a ``file://`` URL (``file:///srv/hub``, ``file://localhost/srv/hub``)."""
    path = urllib.parse.urlsplit(url).path
    if os.name == "nt":  # pragma: no cover - drive letters and backslashes
        from nturl2path import url2pathname

        return url2pathname(path)
    return urllib.parse.unquote(path)


def _normalize_url(url: str, source: str) -> str:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if not parts.hostname:
        raise HubFormatError(f"invalid mirror URL {url!r}: no host", source=source)
    host = parts.hostname.lower()  # urlsplit lower-cases it already; be explicit
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError as err:
        raise HubFormatError(f"invalid mirror URL {url!r}: {err}", source=source) from err
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    return urllib.parse.urlunsplit((scheme, netloc, _folder_path(parts.path), "", ""))


def _folder_path(path: str) -> str:
    segments = path.split("/")
    if segments[-1] in ROOT_FILES:
        segments = segments[:-1]
    folder = "/".join(segments)
    return "/" + folder.strip("/") + "/" if folder.strip("/") else "/"


def _normalize_path(path: str) -> str:
    absolute = os.path.abspath(os.path.expanduser(path))
    if os.path.basename(absolute) in ROOT_FILES and not os.path.isdir(absolute):
        absolute = os.path.dirname(absolute)
    return absolute


__all__ = ["ROOT_FILES", "normalize_root", "root_kind"]
