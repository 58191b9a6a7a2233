"""``hubgen serve``: preview a built hub over HTTP on 127.0.0.1, optionally under a sub-path.

Serving under a sub-path (``--base /myhub/``) mimics a GitHub Pages project site, so relative
links are exercised as they will be in production. Like a static host: folders serve their
``index.html`` (never a listing), anything outside the base path is 404, and neither hubgen's
private files nor any hidden file or folder (``.git/config`` of a gh-pages clone, ``.env``) is
served: a hub holds none but ``.nojekyll``, and the client fetches none.
"""
from __future__ import annotations

import functools
import http.server
import logging
import posixpath
import urllib.parse
from pathlib import Path
from typing import Any

from dchub_client.format import layout
from hubgen.errors import HubgenError

logger = logging.getLogger(__name__)

#: Only ever bound here: a preview is not a public server.
HOST = "127.0.0.1"


class HubServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP server for one hub folder; ``url`` is where the hub's ``index.html`` is."""

    daemon_threads = True
    #: Connections the kernel queues while the server is busy. The standard library's 5 is fewer than
    #: the files dchub fetches at once (8): the others' SYNs were dropped and retried 1 s later.
    request_queue_size = 128

    def __init__(self, root: Path, base: str, port: int) -> None:
        handler = functools.partial(_Handler, directory=str(root), base=base)
        super().__init__((HOST, port), handler)
        self.root, self.base = root, base

    @property
    def url(self) -> str:
        """The hub's root URL (ends with ``/``)."""
        return f"http://{HOST}:{self.server_address[1]}{self.base}"


def make_server(directory: str | Path, *, port: int = 8000, base: str = "/") -> HubServer:
    """A server for the hub at *directory* under the URL path *base*, bound to 127.0.0.1:*port*.

    Call ``serve_forever()`` on it (or run it in a thread); *port* 0 picks a free port.

    Raises:
        HubgenError: *directory* is not a folder, *base* is not an absolute path, or the port is taken.

    Example:
        >>> server = make_server("public/", port=0, base="/myhub/")  # doctest: +SKIP
        >>> server.url  # doctest: +SKIP
        'http://127.0.0.1:40123/myhub/'
    """
    root = Path(directory).resolve()
    if not root.is_dir():
        raise HubgenError(f"{directory}: no such folder to serve")
    try:
        return HubServer(root, normalize_base(base), port)
    except OSError as err:
        raise HubgenError(f"cannot listen on {HOST}:{port}: {err.strerror or err}") from err


def normalize_base(base: str) -> str:
    """``myhub`` / ``/myhub`` / ``/myhub/`` → ``/myhub/``; the root stays ``/``."""
    parts = [p for p in base.strip().split("/") if p]
    if any(p in (".", "..") or "\\" in p for p in parts):
        raise HubgenError(f"invalid base path {base!r}: use a plain URL path such as /myhub/")
    return "/" + "".join(p + "/" for p in parts)


def _clean(raw: str) -> str:
    """The decoded, normalized URL path of a request (``/a/../b/`` → ``/b/``), keeping a final ``/``."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(raw).path)
    clean = posixpath.normpath("/" + path.lstrip("/"))
    clean = "/" + clean.lstrip("/")  # normpath keeps a leading "//"
    return clean + "/" if path.endswith("/") and clean != "/" else clean


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Maps ``<base>...`` to the hub folder; everything else is 404."""

    def __init__(self, *args: Any, base: str, **kwargs: Any) -> None:
        self.base = base
        super().__init__(*args, **kwargs)

    def send_head(self):  # type: ignore[no-untyped-def]
        path = _clean(self.path)
        if path == self.base.rstrip("/") and self.base != "/":
            self.send_response(301)
            self.send_header("Location", self.base)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if not path.startswith(self.base) or self._private(path[len(self.base):]):
            self.send_error(404, "Not found")
            return None
        local = Path(self.translate_path(self.path))
        if local.is_dir() and not (local / "index.html").is_file():
            self.send_error(404, "Not found")  # no directory listings, as on a static host
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        clean = _clean(path)
        inside = "/" + clean[len(self.base):] if clean.startswith(self.base) else clean
        return super().translate_path(urllib.parse.quote(inside))  # the parent decodes it once more

    @staticmethod
    def _private(rel: str) -> bool:
        """hubgen's private files, and every hidden file or folder but the hub's ``.nojekyll``."""
        if rel == layout.NOJEKYLL:
            return False
        return rel.split("/", 1)[0] in layout.PRIVATE_NAMES or any(part.startswith(".") for part in rel.split("/"))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        logger.info("%s %s", self.address_string(), format % args)


__all__ = ["HubServer", "make_server", "normalize_base", "HOST"]
