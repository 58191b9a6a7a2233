"""How the ``dchub`` and ``hubgen`` commands end their output (the decisions; the CLIs print).

A reader that stops reading (``dchub ls | head -1``) is not an error: :func:`output_closed` tells its
``BrokenPipeError`` apart from a broken connection's and drops the rest of the output, so the command
ends quietly with exit code 1 (as ``click`` and Python's documentation do). Output that cannot be
written (a full disk) is exit code 120, as Python's own exit gives, and one line the CLI prints.
:func:`end_output` flushes a command's output while the two can still be told apart.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from dchub_client import constants

#: The exit code of output that could not be written, as Python's own exit gives.
EXIT_UNWRITTEN = 120


def output_closed(err: BaseException) -> bool:
    """Whether *err* is standard output's reader having gone away; if so, the rest of the output is dropped.

    Only a ``BrokenPipeError`` while stdout is a pipe or socket with no reader counts: the same error from a
    mirror's connection, with stdout still read, is an error to report.
    """
    if not isinstance(err, BrokenPipeError) or (fd := _fileno(sys.stdout)) is None or not _reader_gone(fd):
        return False
    _discard(fd)
    return True


def end_output(code: int) -> tuple[int, str | None]:
    """Flush stdout and stderr at the end of a command: its exit code once they are written, and the line
    to print on stderr when they could not be (None otherwise).

    A reader that went away makes the code 1, silently; output that cannot be written makes it
    :data:`EXIT_UNWRITTEN`. Either way what could not be written is dropped, so the interpreter's exit
    does not fail on it again.
    """
    problem = None
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError) as err:
            if output_closed(err):
                code = code or 1
                continue
            code = code or EXIT_UNWRITTEN
            if stream is sys.stdout:
                problem = f"could not write the output: {err}"
                if (fd := _fileno(sys.stdout)) is not None:
                    _discard(fd)
    return code, problem


def table_width() -> int | None:
    """The width a table is cut to: the terminal's (``COLUMNS`` first); None when stdout is a file or a
    pipe and ``COLUMNS`` is unset, so ``dchub ls > models.txt`` keeps every description whole."""
    if constants.columns_chosen() or _is_terminal(sys.stdout):
        return constants.terminal_columns()
    return None


def shown(text: str, *, lines: bool = False) -> str:
    """*text* from a hub (a card, a task name) made safe to print: control characters (C0, DEL, C1; a
    newline kept when *lines*) and the bidirectional overrides are written as escapes (``\\x1b``,
    ``\\u202e``), so a stranger's card cannot move the cursor, clear or retitle the terminal, hide
    the line above, or show text reversed."""
    return text.translate(_SHOWN_LINES if lines else _SHOWN)


_UNSAFE = [*range(0x00, 0x20), 0x7f, *range(0x80, 0xa0), *range(0x202a, 0x202f), *range(0x2066, 0x206a)]
_SHOWN = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}
_SHOWN_LINES = {c: escape for c, escape in _SHOWN.items() if c != ord("\n")}


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced by an object without one, or closed
        return False


def shows_progress(quiet: bool) -> bool:
    """Whether a command draws a progress bar: not when asked to be quiet (``-q``), nor when stderr is not
    a terminal, where a log file or a pipe would get every redraw (as pip and wget decide)."""
    return not quiet and _is_terminal(sys.stderr)


def _reader_gone(fd: int) -> bool:
    import select  # here, not at the top: only this rare path needs it

    if not hasattr(select, "poll"):  # Windows: no poll; a BrokenPipeError is then stdout's, as a CLI writes there
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _discard(fd: int) -> None:
    """Point *fd* at the null device: Python flushes stdout at exit, and the buffered rest would fail again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


__all__ = ["EXIT_UNWRITTEN", "end_output", "output_closed", "shown", "shows_progress", "table_width"]
