"""The ``dchub`` command: browse hubs, pull models, predict, manage the cache, name hubs, make offline mirrors.

Known errors print one line (``dchub: error: ...``) and exit 1; ``DCHUB_DEBUG=1`` shows the
traceback. Framework logging is silenced unless ``-v`` or ``DCHUB_DEBUG=1``. The parser
(:mod:`._parser`) knows every command; only the module of the command that runs is imported, and
the command modules import only the standard library and dchub's hub client at start-up (no numpy,
requests or pooch until a command needs them), so ``--version``, an offline ``ls`` and a no-op
``pull`` start fast.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
from collections.abc import Callable

from dchub_client import constants, quiet
from dchub_client.cli._parser import make_parser
from dchub_client.errors import DchubError


def _command(target: str) -> Callable[[argparse.Namespace], int | None]:
    """The function a ``"module:function"`` of the parser names (its module imported now)."""
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(f"dchub_client.cli.{module}"), function)


def main(argv: list[str] | None = None) -> int:
    """Run ``dchub`` with *argv* (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args = make_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="dchub: %(levelname)s: %(message)s", handlers=[quiet.StderrHandler()])
    quiet.set_verbose(args.verbose)
    quiet.silence_frameworks()
    try:
        return int(_command(args.run)(args) or 0)
    except (DchubError, OSError) as err:
        if constants.debug():
            raise
        message = str(err).replace("\n", "\n  ") if isinstance(err, DchubError) else f"{type(err).__name__}: {err}"
        print(f"dchub: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dchub: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The ``dchub`` console script: :func:`main`, then exit with its code.

    Before exiting, every object is moved out of the garbage collector's sight (``gc.freeze``), so
    the interpreter's last collections do not walk every module's objects only for the process to
    end: about 15 ms of a short command such as a pull (``docs/benchmarks.md``). Only here, never in
    :func:`main`, which may run inside a long-lived process.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


__all__ = ["console", "main", "make_parser"]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
