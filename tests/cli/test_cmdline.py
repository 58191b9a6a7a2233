"""The parser both CLIs use (``dchub_client.cmdline``): options only as spelled, the option meant named on
an error, and words after the options given to a command's last list argument."""
from __future__ import annotations

import argparse

import pytest

from dchub_client.cmdline import Parser


def _parser() -> Parser:
    parser = Parser(prog="tool")
    parser.add_argument("--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("model")
    run.add_argument("words", nargs="*")
    run.add_argument("--column", default="smiles")
    run.add_argument("--words", action="store_const", help=argparse.SUPPRESS,  # a refusal with advice
                     const="words go after the model: tool run M a b")
    count = sub.add_parser("count")
    count.add_argument("numbers", nargs="*", type=int)
    count.add_argument("--out", required=True)
    return parser


def test_words_after_the_options_join_the_last_list_argument() -> None:
    args = _parser().parse_args(["run", "m", "a", "--column", "x", "b", "c"])
    assert (args.model, args.words, args.column) == ("m", ["a", "b", "c"], "x")
    assert _parser().parse_args(["run", "m", "--column", "x", "b"]).words == ["b"]


@pytest.mark.parametrize("argv, said", [
    (["run", "m", "--col", "x"], "tool run: error: unrecognized arguments: --col x (--col is not an option: "
                                 "did you mean --column?)"),
    (["count", "--out", "f", "1", "--out2", "2"], "unrecognized arguments: --out2 2 (--out2 is not an option: "
                                                  "did you mean --out?)"),
    (["count", "--out", "f", "1", "--zzz", "2"], "unrecognized arguments: --zzz 2 (--zzz is not an option)"),
    (["count", "--ou"], "the following arguments are required: --out (--ou is not an option: "
                             "did you mean --out?)"),
    (["count", "--out", "f", "--", "--ou"], "argument numbers: invalid int value: '--ou'"),  # after --: a word
    # an option before the command's name is the program's: reported with the program's usage
    (["--verb", "run", "m"], "tool: error: unrecognized arguments: --verb (--verb is not an option: "
                             "did you mean --verbose?)"),
    # ... also when the command's own error comes first
    (["--verb", "count"], "tool count: error: the following arguments are required: --out (--verb is not an "
                          "option: did you mean --verbose?)"),
    # the nearest option is a hidden refusal: its advice, then the shown options meant
    (["run", "m", "--word", "a"], "(--word is not an option: words go after the model: tool run M a b)"),
    (["run", "m", "--wor", "a"], "(--wor is not an option: words go after the model: tool run M a b)"),
    (["run", "m", "--c", "a"], "(--c is not an option: did you mean --column?)"),
    # an option of the program's, after the command: where it goes
    (["run", "m", "--verbose"], "tool run: error: unrecognized arguments: --verbose (--verbose goes before the "
                                "command: tool --verbose run ...)"),
    (["count", "--verbose"], "the following arguments are required: --out (--verbose goes before the command: "
                             "tool --verbose count ...)"),
])
def test_errors_name_the_option_meant(argv, said, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        _parser().parse_args(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: tool ") and err.rstrip("\n").endswith(said), err


def test_typed_list_arguments_take_no_words_after_the_options(capsys) -> None:
    """A typed list (``nargs='*', type=int``) is left as argparse filled it: a later word is reported."""
    with pytest.raises(SystemExit):
        _parser().parse_args(["count", "1", "--out", "f", "2"])
    assert "unrecognized arguments: 2" in capsys.readouterr().err


def test_a_program_given_no_command_shows_its_help(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        _parser().parse_args([])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: tool ") and "{run,count}" in err and "--verbose" in err
