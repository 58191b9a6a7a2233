"""The example hub, built once per session from the real hub_manifest.yaml into tmp, served on 127.0.0.1."""
from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests._support.servers import HubServer

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BuiltHub:
    """The built hub, its source folders, the server's URL and how long the build took."""

    hub: Path
    folders: dict[str, Path]
    manifest: Path
    url: str
    seconds: float


def redirected_manifest(tmp: Path) -> tuple[Path, dict[str, Path]]:
    """A copy of the real ``hub_manifest.yaml`` whose model folders live under *tmp*."""
    text = (ROOT / "hub_manifest.yaml").read_text(encoding="utf-8")
    names = [m["name"] for m in yaml.safe_load(text)["models"]]
    folders = {name: tmp / "folders" / name for name in names}
    text = re.sub(r"(?m)^(\s+path:\s*)example_models/_build/([\w.-]+?)-\d[\w.]*$",
                  lambda m: f"{m.group(1)}{tmp / 'folders' / m.group(2)}", text)
    path = tmp / "hub_manifest.yaml"
    path.write_text(text, encoding="utf-8")
    assert text.count(str(tmp / "folders")) == len(names), text
    return path, folders


@pytest.fixture(scope="session")
def built_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltHub]:
    from hubgen.build import build_hub

    tmp = tmp_path_factory.mktemp("example-hub")
    manifest, folders = redirected_manifest(tmp)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    started = time.perf_counter()
    build_hub(manifest, tmp / "hub", jobs=2)  # as scripts/hub.sh does
    seconds = time.perf_counter() - started
    server = HubServer(tmp / "hub")
    try:
        yield BuiltHub(tmp / "hub", folders, manifest, server.url, seconds)
    finally:
        server.close()
