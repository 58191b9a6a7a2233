"""The ``dchub`` command: browse hubs, pull models, predict, manage the cache, name hubs, make offline mirrors.

Known errors print one line (``dchub: error: ...``) and exit 1; ``DCHUB_DEBUG=1`` shows the
traceback. A reader that stopped reading (``dchub ls | head -1``) ends the command quietly, exit 1.
Framework logging is silenced unless ``-v`` or ``DCHUB_DEBUG=1``. The parser (:mod:`._parser`)
knows every command; only the module of the command that runs is imported, and the command modules
import only the standard library and dchub's hub client at start-up (no numpy, requests or pooch
until a command needs them), so ``--version``, an offline ``ls`` and a no-op ``pull`` start fast.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import logging
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from dchub_client import constants, quiet, terminal
from dchub_client.cli._parser import make_parser
from dchub_client.errors import DchubError


def _command(target: str) -> Callable[[argparse.Namespace], int | None]:
    """The function a ``"module:function"`` of the parser names (its module imported now)."""
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(f"dchub_client.cli.{module}"), function)


def main(argv: list[str] | None = None) -> int:
    """Run ``dchub`` with *argv* (default ``sys.argv[1:]``); return the exit code."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    return _run(_command(args.run), args)


def _parse(argv: list[str]) -> argparse.Namespace:
    """The parsed command line, with logging set up as ``-v`` asks."""
    args = make_parser(argv).parse_args(argv)
    handler = quiet.StderrHandler()
    handler.setFormatter(quiet.CliFormatter("dchub"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    quiet.warnings_to_log(logging.getLogger("dchub_client"))
    quiet.set_verbose(args.verbose)
    quiet.silence_frameworks()
    return args


def _run(command: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run *command*; known errors become one line on stderr and exit code 1 (a closed output: exit 1, silently)."""
    try:
        return int(command(args) or 0)
    except (DchubError, OSError) as err:
        if terminal.output_closed(err):
            return 1
        if constants.debug():
            raise
        message = str(err).replace("\n", "\n  ") if isinstance(err, DchubError) else f"{type(err).__name__}: {err}"
        print(f"dchub: error: {message}", file=sys.stderr)
        for note in getattr(err, "__notes__", ()):
            print(f"dchub: hint: {note}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dchub: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The ``dchub`` console script: :func:`main`, then exit with its code.

    The garbage collector is paused while the command line is parsed and the command's modules
    are imported (everything they allocate lives until exit: collecting it is ~5-10 ms of a short
    command such as a pull, ``docs/benchmarks.md``), then those objects are moved out of its sight
    (``gc.freeze``) so the command's own collections, and the interpreter's last ones, do not walk
    them again. Only here, never in :func:`main`, which may run inside a long-lived process.
    """
    gc.disable()
    try:
        args = _parse(sys.argv[1:])
        command = _command(args.run)
    finally:
        gc.enable()
    gc.freeze()
    code, problem = terminal.end_output(_run(command, args))
    if problem is not None:
        with contextlib.suppress(OSError, ValueError):  # stderr may be gone too
            print(f"dchub: error: {problem}", file=sys.stderr, flush=True)
    if args.run.partition(":")[0] in _QUICK_EXIT:
        _quick_exit(code)
    sys.exit(code)


#: The command modules that run the hub client alone (the standard library and dchub's code): what
#: they start (thread pools, files, connections) is joined or closed before they return, and nothing of
#: theirs waits for the interpreter's exit. ``predict`` loads frameworks, whose exit functions must run.
_QUICK_EXIT = frozenset({"models", "hub", "cache", "mirror"})


def _quick_exit(code: int) -> NoReturn:
    """End the process with *code* without the interpreter's teardown (as mypy ends its runs).

    Logging is shut down (its handlers flushed and closed); stdout and stderr were flushed
    (:func:`dchub_client.terminal.end_output`). Skipped is freeing every module and object one by one, ~4 ms of a pull,
    work the operating system does at once.
    """
    logging.shutdown()
    os._exit(code)


__all__ = ["console", "main", "make_parser"]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
