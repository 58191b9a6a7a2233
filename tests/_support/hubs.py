"""Hubs built by hubgen from pretrained folders, for tests."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dchub_client.format import hubfiles, layout
from dchub_client.format.hashing import sha256_bytes
from hubgen.build import build_hub as hubgen_build


def build_hub(tmp_path: Path, models: dict[tuple[str, str], Path], *, part_size: int | None = None,
              out: str = "hub", hub_name: str = "test-hub", **options: object) -> Path:
    """Build a hub named *hub_name* with hubgen from pretrained folders (``models[(name, version)] = folder``)
    into ``tmp_path / out``; *options* go to :func:`hubgen.build.build_hub` (e.g. ``sign_keys``)."""
    lines = [f"name: {hub_name}", "title: Test hub", "models:"]
    for (name, version), folder in models.items():
        lines += [f"  - name: {name}", f'    version: "{version}"', f"    path: {folder}",
                  "    card:", f"      description: toy model {name}", "      license: MIT"]
    yaml_path = tmp_path / f"{out}.yaml"
    yaml_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    hubgen_build(yaml_path, tmp_path / out, part_size=part_size, **options)  # type: ignore[arg-type]
    return tmp_path / out


def rewrite_manifest(hub: Path, name: str, version: str, edit: Callable[[dict[str, Any]], None]) -> None:
    """Forge a model's manifest: ``edit(manifest)`` changes it in place; the (unsigned) index is updated
    to vouch for the new bytes, as a hostile hub would."""
    index = json.loads((hub / layout.INDEX_FILE).read_bytes())
    ref = index["models"][name]["versions"][version]
    path = hub / ref.get("manifest", hubfiles.manifest_path(name, version))  # 2.0 leaves the usual path out
    manifest = json.loads(path.read_bytes())
    edit(manifest)
    data = hubfiles.dumps(manifest)
    path.write_bytes(data)
    ref.update(sha256=sha256_bytes(data), size=len(data))
    (hub / layout.INDEX_FILE).write_bytes(hubfiles.index_dumps(index))
