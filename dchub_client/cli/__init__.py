"""The ``dchub`` command: browse hubs, pull models, predict, manage the cache, name hubs, make offline mirrors.

Known errors print one line (``dchub: error: ...``) and exit 1; ``DCHUB_DEBUG=1`` shows the
traceback. Framework logging is silenced unless ``-v`` or ``DCHUB_DEBUG=1``. The command modules
import only the standard library and dchub's hub client at start-up (no numpy, requests or pooch
until a command needs them), so ``--version``, an offline ``ls`` and a no-op ``pull`` start fast.
"""
from __future__ import annotations

import argparse
import logging
import sys

from dchub_client import __version__, constants, quiet
from dchub_client.cli import cache as cache_cmd
from dchub_client.cli import hub as hub_cmd
from dchub_client.cli import mirror as mirror_cmd
from dchub_client.cli import models as models_cmd
from dchub_client.cli import predict as predict_cmd
from dchub_client.errors import DchubError


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dchub`` (one sub-command module per command group)."""
    parser = argparse.ArgumentParser(prog="dchub", description="DeepChem model hub client.")
    parser.add_argument("-V", "--version", action="version",
                        version=f"dchub {__version__} (distribution dchub, import dchub_client)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    models_cmd.register(sub)
    predict_cmd.register(sub)
    hub_cmd.register(sub)
    cache_cmd.register(sub)
    mirror_cmd.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``dchub`` with *argv* (default ``sys.argv[1:]``); return the exit code."""
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="dchub: %(levelname)s: %(message)s", handlers=[quiet.StderrHandler()])
    quiet.set_verbose(args.verbose)
    quiet.silence_frameworks()
    try:
        return int(args.run(args) or 0)
    except (DchubError, OSError) as err:
        if constants.debug():
            raise
        message = str(err).replace("\n", "\n  ") if isinstance(err, DchubError) else f"{type(err).__name__}: {err}"
        print(f"dchub: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dchub: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
