"""The ``hubgen`` command line: one module per command group, each exposing ``register(subparsers)``.

To add a command, write ``hubgen/cli/<name>.py`` with ``register(subparsers)`` that adds a parser
whose default ``func(args) -> int`` runs it, and append its module name to :data:`COMMANDS`.
Known errors become one-line messages and exit code 1 (``DCHUB_DEBUG=1`` shows the traceback); a reader
that stopped reading (``hubgen verify _hub | head -1``) ends the command quietly, exit 1.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys

from dchub_client import __version__, cmdline, constants, quiet, terminal
from dchub_client.errors import DchubError
from hubgen.errors import HubgenError

#: Command modules, in the order ``hubgen --help`` lists them.
COMMANDS: tuple[str, ...] = ("hubgen.cli.build", "hubgen.cli.verify", "hubgen.cli.publish", "hubgen.cli.serve",
                             "hubgen.cli.keygen", "hubgen.cli.sign", "hubgen.cli.rotate")

#: Libraries hubgen uses whose INFO logging is chatter (shown with -v or DCHUB_DEBUG=1).
_QUIET_LIBRARIES = ("boto3", "botocore", "s3transfer")


def make_parser() -> argparse.ArgumentParser:
    """The argument parser with every command of :data:`COMMANDS` registered."""
    parser = cmdline.Parser(prog="hubgen", description="Build, check and publish static DeepChem model hubs.")
    parser.add_argument("-V", "--version", action="version", version=f"hubgen {__version__} (distribution dchub)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hubgen`` console script; returns the exit status."""
    args = make_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", handlers=[quiet.StderrHandler()])
    quiet.set_verbose(args.verbose)
    quiet.silence_frameworks()  # recipes import DeepChem/TensorFlow: their chatter only with -v or DCHUB_DEBUG
    if quiet.enabled():  # boto3 logs "Found credentials in environment variables." at INFO on every publish
        for name in _QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        code = int(args.func(args) or 0)
    except (HubgenError, DchubError, OSError) as err:
        if terminal.output_closed(err):  # `hubgen verify _hub | head -1`: the reader went away, not an error
            return 1
        if constants.debug():
            raise
        message = err if isinstance(err, (HubgenError, DchubError)) else f"{type(err).__name__}: {err}"
        print(f"hubgen: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hubgen: interrupted", file=sys.stderr)
        return 130
    code, problem = terminal.end_output(code)
    if problem is not None:
        with contextlib.suppress(OSError, ValueError):  # stderr may be gone too
            print(f"hubgen: error: {problem}", file=sys.stderr, flush=True)
    return code
