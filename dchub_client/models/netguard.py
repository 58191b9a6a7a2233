"""No network while a model is built from a folder.

Building a model runs constructors of allowlisted classes with arguments from ``params.json``.
Some third-party constructors reach for the network (``CGCNNFeaturizer`` fetches a JSON file from
DeepChem's bucket; Hugging Face-based models fetch tokenizers). Loading must never do that: the
only network access is the hub client's, to the configured mirrors.

:func:`no_network` blocks it by construction. A process-wide audit hook (:pep:`578`, installed
the first time a guard is entered) vetoes, on a thread inside a guard, every audited network
operation *before* it happens: host name resolution, ``connect`` and ``sendto``/``sendmsg`` of a
non-Unix socket, ``urllib`` requests and ``http.client``/``ftplib``/``smtplib``... connections. So
no host name is resolved, no connection opened and no datagram sent, loopback included. Creating
or binding a socket sends nothing and stays allowed (``urllib3`` probes IPv6 at import by binding
``::1``). A vetoed
attempt raises :class:`~dchub_client.errors.NetworkAccessError` on the spot, and is remembered:
code that swallows the error (``CGCNNFeaturizer`` catches ``URLError`` and carries on
half-initialised) still ends in the same error when the guarded block ends. The error names the
third-party class or function that tried: the outermost frame outside ``dchub_client`` called
from ``dchub_client`` (for a constructor, the class of the object being built).

Limits (see ``docs/security.md``): the guard follows the guarded *thread*, so another thread of
the program keeps its network (a download running beside a load is not disturbed), and a thread
started by a constructor is not guarded; native code that opens sockets without Python's socket
module (no audit event) is not seen. Unix-domain sockets (local IPC) are allowed.

Example:
    >>> with no_network("deepchem.feat.CGCNNFeaturizer", source="m/params.json"):  # doctest: +SKIP
    ...     featurizer = build_it()
"""
from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from dchub_client.errors import NetworkAccessError

#: Audited network operations and how to describe an attempt from the event's arguments.
_DESCRIBE: dict[str, Callable[[tuple[Any, ...]], str | None]] = {
    "socket.getaddrinfo": lambda a: f"resolve {a[0]!r}",
    "socket.gethostbyname": lambda a: f"resolve {a[0]!r}",
    "socket.gethostbyname_ex": lambda a: f"resolve {a[0]!r}",
    "socket.gethostbyaddr": lambda a: f"look up {a[0]!r}",
    "socket.getnameinfo": lambda a: f"look up {a[0]!r}",
    "socket.connect": lambda a: None if _is_unix(a[0]) else f"connect to {a[1]!r}",
    "socket.sendto": lambda a: None if _is_unix(a[0]) else f"send to {a[1]!r}",
    "socket.sendmsg": lambda a: None if _is_unix(a[0]) else f"send to {a[1]!r}",
    "urllib.Request": lambda a: f"fetch {a[0]}",
    "http.client.connect": lambda a: f"connect to {a[1]}:{a[2]}",
    "ftplib.connect": lambda a: f"connect to {a[1]}:{a[2]}",
    "smtplib.connect": lambda a: f"connect to {a[1]}:{a[2]}",
    "poplib.connect": lambda a: f"connect to {a[1]}:{a[2]}",
    "imaplib.open": lambda a: f"connect to {a[1]}:{a[2]}",
    "nntplib.connect": lambda a: f"connect to {a[1]}:{a[2]}",
    "telnetlib.Telnet.open": lambda a: f"connect to {a[1]}:{a[2]}",
}
_AF_UNIX = getattr(socket, "AF_UNIX", None)
_OURS = "dchub_client"

_local = threading.local()
_install_lock = threading.Lock()
_installed = False


def _is_unix(sock: Any) -> bool:
    return getattr(sock, "family", None) == _AF_UNIX


def install() -> None:
    """Add the audit hook (once per process; audit hooks cannot be removed, so it stays, idle unless a
    thread is inside :func:`no_network`)."""
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_audit)
            _installed = True


def _audit(event: str, args: tuple[Any, ...]) -> None:
    describe = _DESCRIBE.get(event)
    if describe is None or not getattr(_local, "guards", None):
        return
    attempt = describe(args)
    if attempt is None:
        return
    guard = _local.guards[-1]
    culprit = _culprit(sys._getframe(1), guard.caller) or guard.qualname
    guard.attempts.append((culprit, attempt))
    raise NetworkAccessError(culprit, path=guard.source, attempts=(attempt,))


def _culprit(frame: FrameType | None, boundary: FrameType | None) -> str | None:
    """The outermost code outside dchub_client that dchub_client called, below the guard's caller; or the
    module whose import-time code tried (the innermost module body on the stack)."""
    found = importing = None
    while frame is not None and frame is not boundary:
        caller = frame.f_back
        if importing is None and frame.f_code.co_name == "<module>":
            importing = frame
        if not _is_ours(frame) and caller is not None and _is_ours(caller):
            found = frame
        frame = caller
    if importing is not None:
        return f"{importing.f_globals.get('__name__', '?')} (when imported)"
    return _frame_name(found) if found is not None else None


def _is_ours(frame: FrameType) -> bool:
    module = frame.f_globals.get("__name__", "")
    return module == _OURS or module.startswith(_OURS + ".")


def _frame_name(frame: FrameType) -> str:
    code = frame.f_code
    if code.co_name == "__init__" and "self" in frame.f_locals:
        cls = type(frame.f_locals["self"])
        return f"{cls.__module__}.{cls.__qualname__}"
    return f"{frame.f_globals.get('__name__', '?')}.{getattr(code, 'co_qualname', code.co_name)}"


class no_network:  # noqa: N801 - used like a function: ``with no_network(...):``
    """Refuse network access on this thread while the block runs (see the module docstring).

    Args:
        qualname: what is being built (named in the error when the code that tried cannot be told).
        source: the file it is built from (``params.json``), named in the error.

    Raises:
        NetworkAccessError: on an attempt (also when the block ends, if the code caught the first error).
    """

    def __init__(self, qualname: str, *, source: str | Path | None = None) -> None:
        self.qualname = qualname
        self.source = source
        self.attempts: list[tuple[str, str]] = []
        self.caller: FrameType | None = None

    def __enter__(self) -> no_network:
        install()
        self.caller = sys._getframe(1)
        guards = getattr(_local, "guards", None)
        if guards is None:
            guards = _local.guards = []
        guards.append(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        _local.guards.remove(self)
        self.caller = None
        if not self.attempts:
            return
        if _local.guards:  # an outer guard reports them too
            _local.guards[-1].attempts.extend(self.attempts)
        if isinstance(error, NetworkAccessError):
            return  # already the error to raise
        culprit = self.attempts[0][0]
        attempts = tuple(dict.fromkeys(a for c, a in self.attempts if c == culprit))
        raise NetworkAccessError(culprit, path=self.source, attempts=attempts) from error


__all__ = ["install", "no_network"]
