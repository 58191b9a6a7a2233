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
    return subprocess.run(_command(args), env=_env(env), capture_output=True, text=True, timeout=timeout)


def run_on_terminal(*args: str, env: dict[str, str | None] | None = None, timeout: float = 300,
                    columns: int = 100) -> subprocess.CompletedProcess:
    """:func:`run` with stderr on a terminal (a pseudo-terminal *columns* wide; 0: one that reports no
    size), as a user at a shell has it; stdout is captured as usual. The terminal's line endings
    (``\r\n``) are given back as ``\n``."""
    import fcntl
    import pty
    import struct
    import termios
    import threading

    main_end, terminal_end = pty.openpty()
    fcntl.ioctl(terminal_end, termios.TIOCSWINSZ, struct.pack("HHHH", 30 if columns else 0, columns, 0, 0))
    try:
        process = subprocess.Popen(_command(args), env=_env(env), stdout=subprocess.PIPE, stderr=terminal_end,
                                   text=True)
    finally:
        os.close(terminal_end)
    received: list[bytes] = []

    def drain() -> None:  # read while it runs: a full terminal buffer would block the command
        while True:
            try:
                data = os.read(main_end, 1 << 16)
            except OSError:  # EIO: the command closed its end
                return
            if not data:
                return
            received.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=timeout)
        reader.join(timeout)
    finally:
        os.close(main_end)
    stderr = b"".join(received).decode("utf-8", "replace").replace("\r\n", "\n")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _command(args: tuple[str, ...]) -> list[str]:
    return [str(BIN / args[0]), *args[1:]] if args[0] in ("dchub", "hubgen") else [str(BIN / "dchub"), *args]


def _env(env: dict[str, str | None] | None) -> dict[str, str]:
    merged = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def ok(*args: str, env: dict[str, str | None] | None = None) -> str:
    """:func:`run`, asserting exit 0; its stdout."""
    done = run(*args, env=env)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout
