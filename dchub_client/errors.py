"""Every exception dchub_client raises.

Each class derives from :class:`DchubError` and from the builtin it refines, so callers can
catch either. Messages name the file, weight, class or mirror concerned and say what to do.
"""
from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class DchubError(Exception):
    """Base class of every dchub error."""


# --- the pretrained format -------------------------------------------------------------


class PretrainedFormatError(DchubError, ValueError):
    """A pretrained folder or one of its files is malformed.

    Attributes:
        path: the file (or folder) at fault, when known.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


class MissingParamsError(PretrainedFormatError, FileNotFoundError):
    """A folder has no ``params.json``: it is not a pretrained folder."""


class UnsupportedFormatVersionError(PretrainedFormatError):
    """The file was written by a newer, incompatible major version of the format."""


class WeightFileError(PretrainedFormatError):
    """A weight file is missing, extra, truncated, or does not match its entry.

    Attributes:
        weight: the weight name concerned.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, weight: str | None = None) -> None:
        self.weight = weight
        super().__init__(message, path=path)


class ChecksumError(WeightFileError):
    """A file's sha256 differs from the one recorded for it."""

    def __init__(self, path: str | Path, *, expected: str, actual: str, weight: str | None = None) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"sha256 mismatch: expected {expected}, got {actual}; the file is corrupt or was "
            "changed after it was written",
            path=path,
            weight=weight,
        )


class CardError(PretrainedFormatError):
    """A model card (``README.md``) is unreadable or its YAML front matter is broken or mistyped.

    Attributes:
        line: the 1-based line of the problem in the card file, when known.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None) -> None:
        self.line = line
        where = f"{path}:{line}" if path is not None and line is not None else path
        super().__init__(message, path=where)
        self.path = Path(path) if path is not None else None


class InvalidWeightNameError(DchubError, ValueError):
    """A weight name is not a safe, portable file name."""


# --- the interface ----------------------------------------------------------------------


class UnknownWeightError(DchubError, KeyError):
    """``set_weight``/``model[name]`` named a weight the model does not have."""

    def __init__(self, name: str, model: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"{model} has no weight named {name!r}{hint}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class WeightMismatchError(DchubError, ValueError):
    """A value's shape or dtype does not fit the weight it is assigned to."""


class UnsupportedModelError(DchubError, TypeError):
    """No adapter knows how to handle this model (or its framework is not installed)."""


class MissingDependencyError(DchubError, ImportError):
    """A framework needed for this model is not installed; the message names the extra."""


class FrameworkConfigurationError(DchubError, RuntimeError):
    """A framework is installed but configured so that the model cannot run (e.g. Keras 3)."""


# --- constructor arguments and the allowlist --------------------------------------------


class ParameterEncodingError(DchubError, TypeError):
    """A constructor argument cannot be written to ``params.json``.

    Attributes:
        argument: the dotted path of the argument (``loss``, ``model.layers[0]``).
    """

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        super().__init__(f"cannot encode constructor argument {argument!r}: {message}")


class UntrustedClassError(DchubError, PermissionError):
    """``params.json`` names a class or function that is not on the allowlist.

    Nothing from that module is imported or executed.
    """

    def __init__(self, qualname: str, *, path: str | Path | None = None, reason: str = "") -> None:
        self.qualname = qualname
        self.path = Path(path) if path is not None else None
        where = f"{path}: " if path is not None else ""
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"{where}refusing to build {qualname!r}{why}: it is not on dchub's allowlist. If you trust it, "
            "import it yourself and call dchub_client.register_class(TheClass) before loading."
        )


class NetworkAccessError(UntrustedClassError):
    """Building a model from a folder tried to use the network (resolve a host, open a socket, fetch a URL).

    Loading never phones home: the only network access is the hub client's, to the configured
    mirrors. The attempt was blocked before any socket was opened, and the object is not built.

    Attributes:
        qualname: the class (or function) whose code tried, as far as it can be told.
        attempts: what was tried (``"resolve deepchemdata.s3-us-west-1.amazonaws.com"``, ...).
    """

    def __init__(self, qualname: str, *, path: str | Path | None = None, attempts: tuple[str, ...] = ()) -> None:
        self.qualname = qualname
        self.path = Path(path) if path is not None else None
        self.attempts = tuple(attempts)
        where = f"{path}: " if path is not None else ""
        tried = "; ".join(self.attempts[:3]) or "network access"
        super(UntrustedClassError, self).__init__(
            f"{where}refusing to build {qualname!r}: it uses the network while being built ({tried}). Loading a "
            "model from a folder never touches the network; only the hub client fetches, from the configured "
            "mirrors. Build this object yourself (with its data available locally) and pass it in.")


class InvalidMoleculeError(DchubError, ValueError):
    """A pipeline could not featurize some molecules (``Pipeline.predict(..., errors="raise")``).

    Attributes:
        failures: ``(position, smiles, reason)`` for each molecule that failed.
    """

    def __init__(self, failures: list[tuple[int, str, str]]) -> None:
        self.failures = list(failures)
        shown = "; ".join(f"#{i} {smiles!r} ({why})" for i, smiles, why in self.failures[:10])
        more = f"; and {len(self.failures) - 10} more" if len(self.failures) > 10 else ""
        super().__init__(f"{len(self.failures)} molecule(s) could not be featurized: {shown}{more}")


class InvalidMoleculeWarning(UserWarning):
    """Some molecules of a ``Pipeline.predict`` batch could not be featurized; their rows are NaN.

    Attributes:
        failures: ``(position, smiles, reason)`` for each of them.
    """

    def __init__(self, message: str, failures: Sequence[tuple[int, Any, str]] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


class CachedIndexWarning(RuntimeWarning):
    """A hub's index could not be refreshed from any mirror; the copy cached earlier is used."""


def warn_caller(message: str | Warning, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first caller outside dchub, so the warning points at the user's
    line (and its once-per-location filtering is per user call site), however deep inside it was found."""
    package = os.path.dirname(__file__) + os.sep
    frame, level = sys._getframe(1), 2  # stacklevel 2: warn_caller's caller
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


class ModelClassMismatchError(DchubError, TypeError):
    """``SomeModel.from_pretrained`` was given a folder holding an unrelated class."""


# --- hubs, mirrors and the cache ---------------------------------------------------------


class HubError(DchubError):
    """Base class of errors about hubs, mirrors and the cache."""


class HubFormatError(HubError, ValueError):
    """A hub's ``index.json`` or a model manifest is malformed or of an unknown version."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class ManifestMismatchError(HubFormatError):
    """A manifest's bytes are not the ones the hub's index records (sha256 or size differ)."""


class ModelNotFoundError(HubError, LookupError):
    """No hub holds the requested model or version; the message suggests close names."""

    def __init__(self, message: str, *, suggestions: list[str] | None = None) -> None:
        self.suggestions = suggestions or []
        super().__init__(message)


class AmbiguousModelError(HubError, LookupError):
    """A bare model name is in more than one hub it may come from; the message names them and how to choose.

    Attributes:
        hubs: the hubs holding the name.
    """

    def __init__(self, message: str, *, hubs: list[str]) -> None:
        self.hubs = list(hubs)
        super().__init__(message)


class MirrorError(HubError, ConnectionError):
    """Every mirror failed for one file; ``failures`` maps each mirror to what it answered."""

    def __init__(self, what: str, failures: dict[str, str]) -> None:
        self.what = what
        self.failures = dict(failures)
        lines = "\n".join(f"  - {mirror}: {why}" for mirror, why in failures.items())
        super().__init__(f"could not fetch {what} from any mirror:\n{lines}")

    def one_line(self) -> str:
        """The failures on one line, ``MIRROR: why; MIRROR: why``, for a message that says what was fetched."""
        return "; ".join(f"{mirror}: {why}" for mirror, why in self.failures.items())


class BadResponseError(HubError, ValueError):
    """One mirror answered with the wrong bytes (a sha256 mismatch, too many or too few bytes).

    Recorded as that mirror's failure while the next mirror is tried; only escapes inside a
    :class:`MirrorError`.
    """


class DigestMismatchError(BadResponseError):
    """One mirror served a file whose sha256 is not the one the hub records for it: a tampered or damaged
    copy. Named in a warning even when another mirror then served the right bytes.
    """


class HTTPStatusError(BadResponseError):
    """A mirror answered an HTTP request with a status other than 200 (``HTTP 404 Not Found``).

    Attributes:
        status: the HTTP status code.
        url: the URL requested.
    """

    def __init__(self, status: int, reason: str, url: str) -> None:
        self.status = status
        self.url = url
        super().__init__(f"HTTP {status} {reason}".strip())


class MirrorDownError(HubError, ConnectionError):
    """A mirror could not be reached, did not answer in time, or stalled (it is then skipped for a while).

    Recorded as that mirror's failure while the next mirror is tried; only escapes inside a
    :class:`MirrorError`.
    """


class MirrorTimeoutError(MirrorDownError, TimeoutError):
    """A mirror accepted the request but did not answer, or not fast enough (a deadline passed)."""


class OfflineError(HubError, FileNotFoundError):
    """Offline mode (or no network) and the requested item is not in the cache."""


class CacheError(HubError, OSError):
    """The local cache is damaged or cannot be written."""


class TrustError(HubError, PermissionError):
    """The hub index failed a signature, rollback or expiry check."""


class StaleIndexError(TrustError):
    """A mirror serves an index older than one already accepted (a rollback) or past its expiry (a frozen
    or lagging mirror): refused like any untrusted index, though usually a mirror behind, not an attack."""


class OtherHubError(TrustError):
    """A mirror configured for one hub serves the index of another.

    Attributes:
        found: the hub name the index declares.
        expected: the hub name the mirror is configured for.
    """

    def __init__(self, message: str, *, found: str, expected: str) -> None:
        self.found = found
        self.expected = expected
        super().__init__(message)


class ConfigError(HubError, ValueError):
    """The hub configuration file (``dchub hub add``; ``DCHUB_CONFIG``) is malformed or names an unknown hub.

    Attributes:
        path: the configuration file, when the problem is in it.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


class NotAHubError(HubError, FileNotFoundError):
    """A mirror root holds neither a hub (``index.json``) nor a plain folder of models; the message says
    what was expected there."""
