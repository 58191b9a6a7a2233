"""The shape of the ``dchub`` command line: every command's arguments, and what runs it.

Each command names the function that runs it as ``"module:function"`` (a module of
:mod:`dchub_client.cli`), imported only when that command runs: ``dchub --version`` or
``dchub pull`` do not import what ``dchub predict`` or ``dchub mirror`` need.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dchub_client import __version__, cmdline, constants

#: The default CSV column of ``dchub predict --input FILE.csv``.
SMILES_COLUMN = "smiles"


def make_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``dchub``; ``args.run`` is the ``"module:function"`` that runs the command.

    Given the *argv* it will parse, only the command it names is built (argparse spends ~0.5 ms per
    sub-parser, mostly looking up translations of its help texts); without one, or when *argv* names
    no command (``dchub``, ``dchub --help``, a typo), every command is, so usage and errors list them all.
    """
    parser = cmdline.Parser(prog="dchub", description="DeepChem model hub client.")
    parser.add_argument("-V", "--version", action="version",
                        version=f"dchub {__version__} (distribution dchub, import dchub_client)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = _command_named(argv)
    for name, add in _COMMANDS.items():
        if named is None or name == named:
            add(sub)
    return parser


class _Misplaced(argparse.Action):
    """An option people try that does not exist: refused with what to write instead (its ``const``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.error(f"there is no {option_string} option: {self.const}")


def _command_named(argv: Sequence[str] | None) -> str | None:
    """The command *argv* runs (its first word that is not an option), if it is one of ``dchub``'s."""
    word = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    return word if word in _COMMANDS else None


def _ls(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ls", help="list the models of the hub (and of plain model folders)")
    p.add_argument("hub", nargs="?", metavar="HUB", help="a configured hub (default: the hubs searched for bare names)")
    p.add_argument("--refresh", action="store_true", help="fetch a new index even if the cached one is fresh")
    p.set_defaults(run="models:run_ls")


def _info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a model's card, versions and files")
    p.add_argument("spec", metavar="[HUB:]NAME[@VERSION]")
    p.add_argument("--refresh", action="store_true", help="fetch a new index")
    p.set_defaults(run="models:run_info")


def _pull(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pull", help="download models into the cache (verified)",
                       description="Download each model into the cache, verified, and print its snapshot folder, "
                                   "one line per model, in order.")
    p.add_argument("specs", nargs="+", metavar="[HUB:]NAME[@VERSION]")
    p.add_argument("--refresh", action="store_true", help="fetch a new index")
    p.add_argument("--verify", action="store_true", help="re-hash cached files first")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar (there is none either when stderr is not a terminal)")
    p.set_defaults(run="models:run_pull")


def _path(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("path", help="print the local folder of a model (downloading it if needed)")
    p.add_argument("spec", metavar="[HUB:]NAME[@VERSION]")
    p.add_argument("--offline", action="store_true", help="only look in the cache")
    p.set_defaults(run="models:run_path")


def _predict(sub: argparse._SubParsersAction) -> None:
    """Add ``predict`` to the ``dchub`` parser."""
    p = sub.add_parser("predict", help="predict molecules' properties with a model of the hub (or a folder)",
                       description="Load a pipeline (featurizer, model, transformers) and predict for SMILES; "
                                   "prints each task's value with its unit and whether the molecule is inside "
                                   "the model's applicability domain. Every input molecule gives one output row, "
                                   "in order, after the input's own columns (a CSV's columns; a SMILES file's "
                                   "name; an SD file's title, SMILES and data fields); one that cannot be "
                                   "predicted has empty predictions and is named, by line or record, in a warning.")
    p.add_argument("spec", metavar="NAME[@VERSION]|FOLDER", help="a model of the hub, or a pretrained folder")
    p.add_argument("smiles", nargs="*", default=[], metavar="SMILES", help="molecules to predict")
    p.add_argument("--smiles", action=_Misplaced, nargs="*", help=argparse.SUPPRESS,
                   const="SMILES go after the model, as arguments: dchub predict MODEL CCO 'c1ccccc1O'")
    p.add_argument("-i", "--input", type=Path, metavar="FILE",
                   help="read molecules from a SMILES file (.smi, .smiles, .txt: SMILES first on each line, then "
                        "a name), a table (.csv, .tsv) or an SD file (.sdf, .sd), each also gzipped (.sdf.gz)")
    p.add_argument("--smiles-column", default=SMILES_COLUMN, metavar="NAME",
                   help=f"the column of a CSV or TSV input that holds SMILES (default: {SMILES_COLUMN})")
    p.add_argument("-o", "--output", default="table", metavar="OUT",
                   help="table (default; one block per molecule when a row would not fit the terminal), csv or "
                        "tsv (printed), or FILE.csv or FILE.tsv (written; its folder is made)")
    p.add_argument("--refresh", action="store_true", help="fetch a new hub index")
    p.set_defaults(run="predict:run_predict")


def _hub(sub: argparse._SubParsersAction) -> None:
    """Add ``dchub hub ...`` to the parser."""
    p = sub.add_parser("hub", help="name hubs (your lab's, DeepChem's ...) and choose where bare names resolve",
                       description=f"Named hubs live in {constants.config_file()} (DCHUB_CONFIG overrides). "
                                   "Load a model of a named hub as HUB:NAME[@VERSION].")
    hsub = p.add_subparsers(dest="hub_command", required=True, metavar="ACTION")
    add = hsub.add_parser("add", help="add a named hub: its mirrors and the keys that must sign its index")
    add.add_argument("name", metavar="NAME", help="the hub's name, as its index.json declares it")
    add.add_argument("mirrors", nargs="+", metavar="MIRROR",
                     help="hub roots (http(s)://, file:// or folders), in the order they are tried")
    add.add_argument("--key", action="append", default=[], metavar="PUBKEY",
                     help="a public key (base64, or a .pub/PEM file) that signs the hub's index; repeatable")
    add.add_argument("--threshold", type=int, metavar="K", help="how many of the keys must sign (default 1)")
    add.add_argument("--default", action="store_true",
                     help="make it the default hub: bare names resolve in it (DEEPCHEM_MODEL_HUB, when set, "
                          "still gives its mirrors)")
    add.add_argument("--replace", action="store_true", help="replace a hub of the same name")
    add.add_argument("--no-check", action="store_true",
                     help="do not fetch and check its index now (by default each mirror that answers must serve "
                          "hub NAME, signed by the keys given)")
    add.set_defaults(run="hub:run_add")
    hsub.add_parser("ls", help="list the hubs, their mirrors and keys, and what is cached").set_defaults(
        run="hub:run_ls")
    rm = hsub.add_parser("rm", help="remove a named hub (its cached files stay until `dchub cache rm`)")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(run="hub:run_rm")
    search = hsub.add_parser("search", help="show or set the hubs bare names are looked up in, in order")
    search.add_argument("names", nargs="*", metavar="HUB",
                        help=f"hub names ({constants.DEFAULT_ALIAS!r} = DEEPCHEM_MODEL_HUB)")
    search.set_defaults(run="hub:run_search")


def _cache(sub: argparse._SubParsersAction) -> None:
    """Add ``dchub cache ...`` to the parser."""
    p = sub.add_parser("cache", help="inspect and clean the local cache")
    csub = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    csub.add_parser("ls", help="list cached models").set_defaults(run="cache:run_ls")
    csub.add_parser("verify", help="re-hash every cached blob; remove corrupt ones").set_defaults(
        run="cache:run_verify")
    csub.add_parser("prune", help="remove blobs no cached model or cached index uses, and leftovers of killed "
                                  "downloads").set_defaults(run="cache:run_prune")
    rm = csub.add_parser("rm", help="remove cached models (NAME = every version)")
    rm.add_argument("specs", nargs="+", metavar="[HUB:]NAME[@VERSION]")
    rm.set_defaults(run="cache:run_rm")


def _mirror(sub: argparse._SubParsersAction) -> None:
    """Add ``dchub mirror`` to the parser."""
    p = sub.add_parser("mirror", help="copy models into a folder that is a valid hub (for offline machines)")
    p.add_argument("specs", nargs="+", metavar="[HUB:]NAME[@VERSION]")
    p.add_argument("--to", required=True, metavar="DIR", help="the hub folder to create or extend")
    p.add_argument("--all-versions", action="store_true", help="every version of NAME, not only the latest")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar (there is none either when stderr is not a terminal)")
    p.set_defaults(run="mirror:run")


#: Every command, in the order ``dchub --help`` lists them, and the function that adds it to the parser.
_COMMANDS = {"ls": _ls, "info": _info, "pull": _pull, "path": _path, "predict": _predict, "hub": _hub,
             "cache": _cache, "mirror": _mirror}
