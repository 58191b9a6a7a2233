"""``dchub_client.hub.download``: fetch a model into the cache without loading any framework."""
from __future__ import annotations

import os
from pathlib import Path

from dchub_client.hub.resolve import resolve_pretrained


def download(spec: str | os.PathLike[str], *, revision: str | None = None, refresh: bool = False,
             verify: bool = False, offline: bool | None = None, progress: bool = False) -> Path:
    """Fetch ``name`` or ``name@version`` into the verified cache and return its snapshot folder.

    A local folder given by path is returned as it is. Options are those of
    :func:`dchub_client.hub.resolve.resolve_pretrained`.

    Example:
        >>> folder = download("esol-mtr@1.0.0")  # doctest: +SKIP
        >>> sorted(p.name for p in folder.iterdir())[:1]  # doctest: +SKIP
        ['README.md']
    """
    return resolve_pretrained(spec, revision=revision, refresh=refresh, verify=verify, offline=offline,
                              progress=progress).path
