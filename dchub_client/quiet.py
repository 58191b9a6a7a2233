"""What frameworks print while a model loads (DeepChem, TensorFlow, absl, RDKit), silenced unless asked for.

Loading a Keras pipeline used to print ~25 lines: DeepChem's "Skipped loading modules ..." and
"No normalization for ..." (Python logging), TensorFlow's deprecation notices (Python logging),
TensorFlow's native absl lines ("oneDNN custom operations are on", "Could not find cuda drivers",
"failed call to cuInit", which ``TF_CPP_MIN_LOG_LEVEL`` does not stop), and RDKit's
"DEPRECATION WARNING" lines (its C++ log).

* :func:`silence_frameworks` (the ``dchub`` and ``hubgen`` commands): their Python loggers at
  ERROR and their Python warnings ignored for the whole process, ``TF_CPP_MIN_LOG_LEVEL=3`` unless set.
* :func:`frameworks_quiet` (``from_pretrained``, ``load_pipeline``, ``Pipeline.predict``, recipes):
  the same loggers at ERROR while inside, RDKit's log blocked, and with ``native=True`` the process's
  stderr (file descriptor 2) captured while inside, so native lines are not shown; if the block raises,
  what was captured is written out after all, so nothing that explains a failure is hidden (unless dchub
  refused the folder's own files, a :class:`~dchub_client.errors.PretrainedFormatError` naming the file and
  the problem: the frameworks' start-up lines would only bury it).

Nothing is silenced when ``DCHUB_DEBUG=1`` or after :func:`set_verbose` (the CLIs' ``-v``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from dchub_client import constants
from dchub_client.errors import PretrainedFormatError

#: Python loggers of the frameworks a model load or a recipe may import.
FRAMEWORK_LOGGERS = ("deepchem", "tensorflow", "absl", "keras", "tf_keras", "h5py", "torch", "jax", "numexpr",
                     "matplotlib", "rdkit", "PIL")
#: The modules whose Python warnings the CLIs do not show (a regular expression matched at the module's start).
_FRAMEWORK_MODULES = r"(%s)(\.|$)" % "|".join(FRAMEWORK_LOGGERS)
_verbose = False


def set_verbose(verbose: bool) -> None:
    """``-v`` in a CLI: show framework logging too."""
    global _verbose
    _verbose = verbose


def enabled() -> bool:
    """Whether framework output is silenced (not with ``DCHUB_DEBUG=1`` or ``-v``)."""
    return not (_verbose or constants.debug())


def silence_frameworks() -> None:
    """For the CLIs: framework loggers at ERROR for the whole process; native TensorFlow logging quiet."""
    if not enabled():
        return
    constants.quiet_native_tensorflow()
    for name in FRAMEWORK_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Python warnings raised inside the frameworks (DeepChem's torch code warns on every fit): theirs to fix
    warnings.filterwarnings("ignore", module=_FRAMEWORK_MODULES)


@contextlib.contextmanager
def frameworks_quiet(*, native: bool = False) -> Iterator[None]:
    """Silence framework output while inside (see the module docstring); a no-op when not :func:`enabled`."""
    if not enabled():
        yield
        return
    constants.quiet_native_tensorflow()
    loggers = [logging.getLogger(name) for name in FRAMEWORK_LOGGERS]
    levels = [logger.level for logger in loggers]
    ours = [max(level, logging.ERROR) for level in levels]
    for logger, level in zip(loggers, ours):
        logger.setLevel(level)
    try:
        with _rdkit_blocked(), (_stderr_captured() if native else contextlib.nullcontext()):
            yield
    finally:
        for logger, before, set_here in zip(loggers, levels, ours):
            if logger.level == set_here:  # a framework imported meanwhile may have set its own level: keep it
                logger.setLevel(before)


@contextlib.contextmanager
def _rdkit_blocked() -> Iterator[None]:
    """RDKit's C++ log blocked while inside (when RDKit is imported already or gets imported meanwhile)."""
    blocker = None
    if "rdkit" in sys.modules:
        from rdkit import rdBase

        blocker = rdBase.BlockLogs()
    try:
        yield
    finally:
        del blocker  # BlockLogs restores the previous state when it is deleted


class CliFormatter(logging.Formatter):
    """``PROG: level: message`` (``dchub: warning: ...``), the level in lower case as in ``PROG: error:``."""

    def __init__(self, prog: str) -> None:
        super().__init__()
        self.prog = prog

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.prog}: {record.levelname.lower()}: {record.getMessage()}"


def warnings_to_log(logger: logging.Logger) -> None:
    """Show every warning that is not filtered out as one log record of *logger* (``dchub: warning:
    MESSAGE``) instead of Python's ``FILE:LINE: Category: MESSAGE`` and a source line."""
    import warnings

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        logger.warning("%s", message)

    warnings.showwarning = show


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A logging handler writing to whatever ``sys.stderr`` is when a record is emitted (as
    :data:`logging.lastResort` does), so the CLIs' own messages still show while native output is captured."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


@contextlib.contextmanager
def _stderr_captured() -> Iterator[None]:
    """Send file descriptor 2 to a temp file while inside; replay it if the block raises (not for a
    :class:`PretrainedFormatError`: a malformed, truncated or changed file that the error names).

    Python's own ``sys.stderr`` (when it is file descriptor 2) is pointed at the real stderr meanwhile,
    so warnings, ``print(..., file=sys.stderr)`` and :class:`StderrHandler` still reach the terminal.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (closed, or not a real file): nothing to capture
        yield
        return
    import tempfile  # here, not at the top: only framework loading needs it (start-up time)

    python_stderr = sys.stderr
    swap = _fileno(python_stderr) == 2
    with tempfile.TemporaryFile() as capture, open(saved, "w", closefd=True, encoding="utf-8",
                                                   errors="backslashreplace") as real:
        os.dup2(capture.fileno(), 2)
        stand_in = _StandIn(real)
        if swap:
            sys.stderr = stand_in
        failed = False
        try:
            yield
        except BaseException as err:
            failed = not isinstance(err, PretrainedFormatError)
            raise
        finally:
            real.flush()
            stand_in.target = python_stderr  # for whoever kept it (a handler made meanwhile): the usual stderr
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            if failed:
                capture.seek(0)
                python_stderr.write(capture.read().decode("utf-8", "replace"))
                python_stderr.flush()


class _StandIn:
    """``sys.stderr`` while native output is captured: writes to the real stderr.

    A framework imported meanwhile may keep ``sys.stderr`` (torch gives its loggers a
    ``StreamHandler(sys.stderr)``); after the block this object forwards to the usual ``sys.stderr``,
    so such a handler does not end in "I/O operation on closed file".
    """

    def __init__(self, target: Any) -> None:
        self.target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)

    def write(self, text: str) -> int:
        return int(self.target.write(text))

    def flush(self) -> None:
        self.target.flush()


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


__all__ = ["FRAMEWORK_LOGGERS", "StderrHandler", "enabled", "frameworks_quiet", "set_verbose", "silence_frameworks"]
