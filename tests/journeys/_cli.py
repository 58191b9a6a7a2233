"""Running ``dchub`` and ``hubgen`` as a user does: a new process, the test's environment, stdout and stderr."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*args: str, env: dict[str, str | None] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``dchub ARGS`` (or ``hubgen ARGS`` when the first argument is ``hubgen``) in a new process.

    *env* entries are added to the test's environment; a value of None removes the variable.
    """
    command = [str(BIN / args[0]), *args[1:]] if args[0] in ("dchub", "hubgen") else [str(BIN / "dchub"), *args]
    merged = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return subprocess.run(command, env=merged, capture_output=True, text=True, timeout=timeout)


def ok(*args: str, env: dict[str, str | None] | None = None) -> str:
    """:func:`run`, asserting exit 0; its stdout."""
    done = run(*args, env=env)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout
