"""Model cards: README.md with YAML front matter, validated with file and line in every error."""
from __future__ import annotations

import json

import pytest

from dchub_client.errors import CardError
from dchub_client.format.card import Card, parse_card, read_card

GOOD = """---
description: A model.
task: regression
training_data: {name: NCI, molecules: 200}
metrics:
  - {name: rmse, value: 0.5, split: scaffold test}
tags: [a, b]
authors: [Someone]
license: MIT
---
# Body
text
"""


def test_parse_and_round_trip(tmp_path):
    card = parse_card(GOOD)
    assert card.metadata["metrics"] == [{"name": "rmse", "value": 0.5, "split": "scaffold test"}]
    assert card.body == "# Body\ntext\n"
    assert parse_card(card.to_markdown()) == card
    assert parse_card("# just markdown\n") == Card({}, "# just markdown\n")
    (tmp_path / "README.md").write_text(GOOD)
    assert read_card(tmp_path / "README.md") == card


@pytest.mark.parametrize("text, line, match", [
    ("---\ndescription: x\n# never closed\n", 1, "never closed"),
    ("---\ndescription: x\ntags: [a, b\n---\n", 3, "not valid YAML"),
    ("---\ndescription: x\ntags: 3\n---\n", 3, "'tags': must be a list of strings"),
    ("---\ntask: regression\nmetrics:\n  - {name: rmse}\n---\n", 3, "item 0 .* number 'value'"),
    ("---\n\ndate: 2024-01-01\n---\n", 3, "not representable in JSON"),
    ("---\n- a\n- b\n---\n", 2, "must be a mapping"),
    ("---\ndescription: 3\n---\n", 2, "must be a string"),
])
def test_broken_front_matter_names_file_and_line(tmp_path, text, line, match):
    path = tmp_path / "README.md"
    path.write_text(text)
    with pytest.raises(CardError, match=match) as info:
        read_card(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_broken_card_stops_load_pipeline_and_hub_build(tmp_path):
    import dchub_client
    from hubgen.build import build_hub
    from hubgen.errors import BuildError
    from tests._support.folders import make_folder

    folder = make_folder(tmp_path / "toy")
    (folder / "README.md").write_text("---\ntags: nope\n---\n")
    with pytest.raises(CardError, match="README.md:2"):
        dchub_client.load_pipeline(folder)
    (tmp_path / "hub.yaml").write_text(f"name: h\nmodels:\n  - name: toy\n    version: '1'\n    path: {folder}\n")
    with pytest.raises(BuildError, match="README.md:2: front matter key 'tags'"):
        build_hub(tmp_path / "hub.yaml", tmp_path / "hub")


def test_hub_manifest_card_merges_folder_front_matter(tmp_path):
    from hubgen.build import build_hub
    from tests._support.folders import make_folder

    folder = make_folder(tmp_path / "toy")
    (folder / "README.md").write_text("---\ndescription: from the folder\nlicense: MIT\n"
                                      "metrics: {rmse: 0.25}\n---\n# toy\n")
    (tmp_path / "hub.yaml").write_text(f"name: h\nmodels:\n  - name: toy\n    version: '1'\n    path: {folder}\n"
                                       "    card:\n      description: from the YAML\n")
    build_hub(tmp_path / "hub.yaml", tmp_path / "hub")
    manifest = json.loads((tmp_path / "hub" / "models" / "toy" / "1" / "manifest.json").read_text())
    assert manifest["card"] == {"description": "from the YAML", "license": "MIT", "metrics": {"rmse": 0.25}}
