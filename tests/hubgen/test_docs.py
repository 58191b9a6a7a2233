"""Every ``hubgen`` command the operator docs show is one the CLI accepts as written.

Commands in code blocks, and inline ones with an argument (``hubgen sign DIR --sign-key KEY``), are
parsed whole by the real parser (``[...]`` optional parts included); inline references to a command
or its options ("``hubgen sign --add``") must name a real command and only options it has.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from hubgen.cli import make_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: The docs hubgen's owners keep (docs/client.md and the rest are checked by theirs).
FILES = ("security.md", "publishing.md", "mirrors.md")
#: Options ``hubgen`` itself takes before the command (``hubgen -v publish ...``).
_GLOBAL_OPTIONS = ("-v", "--verbose", "-q", "--quiet")


def _commands(name: str) -> list[tuple[str, bool]]:
    """``(command, whole)``: each code-block line starting with ``hubgen`` (whole) and each inline one."""
    text = (DOCS / name).read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            if line.startswith("hubgen "):
                found.append((re.split(r"\s{2,}#", line)[0].strip(), True))
    prose = re.sub(r"^```[a-z]*\n.*?^```", "", text, flags=re.S | re.M)
    for span in re.findall(r"`(hubgen [^`]+)`", re.sub(r"\n\s*", " ", prose)):
        found.append((span, False))
    return found


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", FILES)
def test_documented_hubgen_commands_are_accepted_by_the_cli(name):
    subcommands = _subcommands()
    problems = []
    commands = _commands(name)
    assert commands, f"no hubgen command found in docs/{name}"
    for command, whole in commands:
        words = shlex.split(command.replace("[", " ").replace("]", " "))
        while len(words) > 1 and words[1] in _GLOBAL_OPTIONS:  # hubgen -v publish ...
            del words[1]
        if len(words) < 2 or words[1].startswith("<"):  # "hubgen <hubgen@localhost>": git's identity, not a command
            continue
        if words[1] not in subcommands:
            problems.append(f"{command!r}: no command {words[1]!r}")
        elif whole or any(not w.startswith("-") for w in words[2:]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.suppress(SystemExit):
                make_parser().parse_args(words[1:])
            if err.getvalue():
                problems.append(f"{command!r}: {err.getvalue().strip().splitlines()[-1]}")
        else:
            known = subcommands[words[1]]._option_string_actions
            problems += [f"{command!r}: no option {w}" for w in words[2:] if w.startswith("-") and w not in known]
    assert not problems, f"docs/{name}:\n" + "\n".join(problems)
