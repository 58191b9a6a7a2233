"""``export_models`` (``dchub mirror``): a chosen set of model versions copied into a folder that is a hub."""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from dchub_client.errors import HubFormatError
from dchub_client.format import layout
from dchub_client.hub.export import export_models
from dchub_client.hub.hubs import Hub, default_hub
from dchub_client.hub.mirrors import parse_mirrors
from dchub_client.hub.resolve import resolve_pretrained
from hubgen.verify import verify_hub
from tests._support.folders import make_folder, validate_folder
from tests._support.hubs import build_hub


@pytest.fixture
def signed_hub(tmp_path: Path, keys) -> Path:
    a = make_folder(tmp_path / "src" / "a", seed=1, n_weights=2, size=300)
    b = make_folder(tmp_path / "src" / "b", seed=2, n_weights=2, size=300)
    return build_hub(tmp_path, {("esol", "1.0"): a, ("esol", "1.1"): b, ("tox", "0.1"): a},
                     sign_keys=[keys["old"][0]])


def _mirrors(hub: Path, serve) -> Hub:
    """The default hub, served from *hub*."""
    return default_hub().with_mirrors(parse_mirrors([serve(hub).url]))


def _checksums_hold(root: Path) -> None:
    for line in (root / layout.SUMS_FILE).read_text().splitlines():
        digest, rel = line.split("  ", 1)
        assert hashlib.sha256((root / rel).read_bytes()).hexdigest() == digest, rel
    registry = dict(line.split(" ", 1) for line in (root / layout.REGISTRY_FILE).read_text().splitlines())
    assert registry and all(hashlib.sha256((root / rel).read_bytes()).hexdigest() == d.split(":")[1]
                            for rel, d in registry.items())


def test_the_whole_hub_keeps_its_signed_index_byte_for_byte(signed_hub, tmp_path, serve, keys, monkeypatch) -> None:
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", str(keys["old"][1]))
    dest = tmp_path / "usb"
    summary = export_models(["esol", "tox"], dest, _mirrors(signed_hub, serve), all_versions=True)
    assert sorted(summary.versions) == ["esol@1.0", "esol@1.1", "tox@0.1"]
    assert (dest / layout.INDEX_FILE).read_bytes() == (signed_hub / layout.INDEX_FILE).read_bytes()
    assert verify_hub(dest).ok
    _checksums_hold(dest)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(dest))  # the copy is a hub the client trusts, offline
    monkeypatch.setenv("DEEPCHEM_HUB_CACHE", str(tmp_path / "other-cache"))
    validate_folder(resolve_pretrained("esol@1.0").path)


def test_a_selection_is_an_unsigned_hub_of_just_those_versions(signed_hub, tmp_path, serve, caplog) -> None:
    dest = tmp_path / "usb"
    with caplog.at_level(logging.WARNING, logger="dchub_client.hub.export"):
        export_models(["esol@1.0"], dest, _mirrors(signed_hub, serve))
    assert "not signed" in caplog.text
    index = json.loads((dest / layout.INDEX_FILE).read_text())
    assert list(index["models"]) == ["esol"] and list(index["models"]["esol"]["versions"]) == ["1.0"]
    assert "signatures" not in index
    source = json.loads((signed_hub / layout.INDEX_FILE).read_text())
    assert index["version"] == source["version"]  # so `hubgen sign` signs it as the next version, not a rollback
    export_models(["tox"], dest, _mirrors(signed_hub, serve))  # adds to the hub already there
    assert sorted(json.loads((dest / layout.INDEX_FILE).read_text())["models"]) == ["esol", "tox"]
    assert verify_hub(dest).ok
    _checksums_hold(dest)


def test_a_folder_that_is_not_a_hub_is_refused_and_left_alone(signed_hub, tmp_path, serve) -> None:
    dest = tmp_path / "photos"
    dest.mkdir()
    (dest / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(HubFormatError, match="not empty and holds no index.json"):
        export_models(["esol"], dest, _mirrors(signed_hub, serve))
    assert sorted(p.name for p in dest.iterdir()) == ["holiday.jpg"]
