"""The argument parser both console scripts (``dchub`` and ``hubgen``) build their command lines with.

argparse's, with three changes people notice:

* options are taken only as spelled: an abbreviation would let ``dchub predict --smiles CCO`` mean
  ``--smiles-column CCO``, or ``hubgen build --sign k`` mean ``--sign-key k``, silently;
* an unknown argument is reported with the usage of the command it was given to
  (``dchub pull --qu x`` shows ``dchub pull``'s usage, which lists ``-q``), not the program's;
* help is sized to the terminal without importing :mod:`shutil` (see :class:`Formatter`).
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from dchub_client import constants


class Formatter(argparse.HelpFormatter):
    """argparse's help formatter, sized to the terminal without importing :mod:`shutil`.

    argparse makes a formatter for every argument it adds (to check its metavar) and asks
    ``shutil.get_terminal_size`` for the width each time; importing shutil (with zlib, bz2 and lzma)
    is ~2 ms of a command's start-up, which a pull would spend only on that.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        width = constants.terminal_columns() - 2 if width is None else width  # argparse's own margin of 2
        super().__init__(prog, indent_increment, max_help_position, width)


class Parser(argparse.ArgumentParser):
    """argparse's parser with :class:`Formatter` and no abbreviated options; its sub-parsers are of this
    class too (argparse makes them of the parent's class), so the rules hold for every command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.set_defaults(parsed_by=self)  # the innermost (sub-)parser that ran sets it last

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """argparse's, but an unknown argument is reported by the (sub-)parser of the command it was given to."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            getattr(parsed, "parsed_by", self).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


__all__ = ["Formatter", "Parser"]
