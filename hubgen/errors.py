"""Every exception hubgen raises.

Each class derives from :class:`HubgenError` and from the builtin it refines; messages name the
file (and, for ``hub_manifest.yaml``, the line and key) and say what to do.
"""
from __future__ import annotations

from pathlib import Path


class HubgenError(Exception):
    """Base class of every hubgen error."""


class ManifestError(HubgenError, ValueError):
    """``hub_manifest.yaml`` is malformed.

    Attributes:
        path: the YAML file.
        line: 1-based line of the offending node, when known.
        key: dotted key of the offending value (``models[2].version``), when known.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.key = key
        where = "".join([str(path) if path is not None else "", f":{line}" if line else ""])
        prefix = ": ".join(p for p in (where, key) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class BuildError(HubgenError, RuntimeError):
    """The build cannot proceed (a missing folder, a failing recipe, an unusable output folder)."""


class RecipeError(BuildError):
    """A model's recipe could not be imported or did not produce its folder."""


class VersionConflictError(BuildError, FileExistsError):
    """A model version already published in the output folder would change."""


class VerifyError(HubgenError, OSError):
    """``hubgen verify`` could not read the hub at all (not the same as finding it damaged)."""


class PublishError(HubgenError, RuntimeError):
    """``hubgen publish`` cannot proceed: the hub folder is not whole, the target is unusable, or the
    target holds a hub this one would damage (another name, changed or dropped versions)."""


class TargetError(PublishError, OSError):
    """The publish target (bucket, git repository, folder) refused an operation; the message says which."""


class SigningError(HubgenError, ValueError):
    """A signing key is unreadable or of the wrong kind, or a key pair cannot be written."""
