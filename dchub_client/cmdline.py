"""The argument parser both console scripts (``dchub`` and ``hubgen``) build their command lines with.

argparse's, with three changes people notice:

* options are taken only as spelled: an abbreviation would let ``dchub predict --smiles CCO`` mean
  ``--smiles-column CCO``, or ``hubgen build --sign k`` mean ``--sign-key k``, silently;
* an unknown argument is reported with the usage of the command it was given to
  (``dchub pull --qu x`` shows ``dchub pull``'s usage, which lists ``-q``), not the program's, and an
  error names the options that do not exist with the nearest that does (``hubgen build --o DIR``: "the
  following arguments are required: --out/-o (--o is not an option: did you mean --out?)");
* words after the options still go to a command's last list argument
  (``dchub predict MODEL --smiles-column x CCO``: ``CCO`` is a molecule, as before the option);
* help is sized to the terminal without importing :mod:`shutil` (see :class:`Formatter`).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from dchub_client import constants
from dchub_client.humanize import suggestions


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
        self._given: list[str] = []
        self._program: Parser | None = None  # a command's parser: the program's, which ran it

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        """argparse's; the words are kept for :meth:`error` (a sub-parser is given its command's words)."""
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """argparse's, but words left after the options go to the command's last list argument, and
        anything else unknown is reported by the parser of the part of the line it was given in: the
        command's (sub-)parser, or the program's for an option before the command's name. A program
        of commands given none shows its help (as git does), exit 2."""
        words = list(sys.argv[1:] if args is None else args)
        if not words and self._subparsers is not None:
            self.print_help(sys.stderr)
            self.exit(2)
        for command in self._commands():
            command._program = self
        parsed, extras = self.parse_known_args(words, namespace)
        parser = getattr(parsed, "parsed_by", self)
        if extras and not parser._take_trailing(parsed, extras):
            given = parser._given
            if parser is not self:
                before = parser._before_command()
                if any(word.startswith("-") and word in before for word in extras):
                    parser, given = self, before  # `dchub --verbos ls`: an option of dchub's, misspelt
            unknown = _unknown_options(given, parser._options(), parser._program_options())
            argparse.ArgumentParser.error(parser, _with(f"unrecognized arguments: {' '.join(extras)}", unknown))
        return parsed

    def _take_trailing(self, parsed: argparse.Namespace, extras: list[str]) -> bool:
        """Give *extras* to the last positional when it takes a list of plain words (argparse fills it only
        from the words before the first option); False when they are not that."""
        positionals = [a for a in self._actions if not a.option_strings]
        last = positionals[-1] if positionals else None
        if last is None or last.nargs not in ("*", "+") or last.type is not None or last.choices is not None \
                or any(word.startswith("-") for word in extras):
            return False
        setattr(parsed, last.dest, [*(getattr(parsed, last.dest, None) or []), *extras])
        return True

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        """argparse's (usage, then the message, exit 2), naming the options given that do not exist: the
        command's, and the program's misspelt before the command's name (``hubgen --verb build``)."""
        unknown = _unknown_options(self._given, self._options(), self._program_options())
        if self._program is not None:
            unknown = _unknown_options(self._before_command(), self._program._options()) + unknown
        super().error(_with(message, unknown))

    def _before_command(self) -> list[str]:
        """A command's parser: the words of the line before the command's name (the program's options)."""
        given = self._program._given if self._program is not None else []
        return given[:len(given) - len(self._given)]

    def _program_options(self) -> dict[str, str]:
        """A command's parser: the program's options -> how to give them (``dchub --verbose ls``)."""
        if self._program is None:
            return {}
        command = self.prog.split()[-1]
        return {option: f"{self._program.prog} {option} {command} ..." for option, advice
                in self._program._options().items() if advice is None and option not in ("-h", "--help")}

    def _commands(self) -> list[Parser]:
        """The parsers of this program's commands."""
        return [command for action in self._actions if isinstance(action, argparse._SubParsersAction)
                for command in action.choices.values() if isinstance(command, Parser)]

    def _options(self) -> dict[str, str | None]:
        """Every option this parser takes -> None when it is shown, else the advice it answers with (a
        hidden option is a refusal with advice, its ``const``; ``""`` when it has none)."""
        return {option: None if action.help is not argparse.SUPPRESS
                else action.const if isinstance(action.const, str) else ""
                for action in self._actions for option in action.option_strings}


def _unknown_options(words: Sequence[str], options: dict[str, str | None],
                     program: dict[str, str] | None = None) -> list[str]:
    """``"--o is not an option: did you mean --out?"`` for each long option in *words* not in *options*;
    when the nearest is a hidden refusal, its advice (``--smile``: "SMILES go after the model, ..."); an
    option of the program given after the command (*program*: option -> how to give it) says where it goes."""
    shown = sorted(option for option, advice in options.items() if advice is None)
    advised = {option: advice for option, advice in options.items() if advice}
    found = []
    for word in words:
        if word == "--":
            break
        option = word.split("=", 1)[0]
        if not option.startswith("-") or option in options:
            continue
        if program and option in program:
            found.append(f"{option} goes before the command: {program[option]}")
            continue
        if not option.startswith("--"):
            continue
        near = suggestions(option, [*shown, *advised])
        advice = next((advised[name] for name in near if name in advised), None)
        near = [name for name in near if name in shown][:3]
        meant = f"did you mean {' or '.join(near)}?" if near else ""
        if advice:
            found.append(f"{option} is not an option: {advice}" + (f"; or {meant}" if meant else ""))
        else:
            found.append(f"{option} is not an option" + (f": {meant}" if meant else ""))
    return found


def _with(message: str, unknown: list[str]) -> str:
    return f"{message} ({'; '.join(unknown)})" if unknown else message


__all__ = ["Formatter", "Parser"]
