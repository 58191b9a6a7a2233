"""The example hub (hub_manifest.yaml + recipes/), built once into tmp and served on 127.0.0.1.

Every model loads by name through the mirror, in a fresh process, and predicts exactly what the
original in-memory pipeline predicted when the recipe ran; metrics in the cards are recomputed.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests._support.fresh import predict_pipelines

REFERENCE = "reference_predictions.json"


def _manifests(hub: Path) -> dict[str, dict]:
    index = json.loads((hub / "index.json").read_text())
    return {name: json.loads((hub / m["versions"][m["latest"]]["manifest"]).read_text())
            for name, m in index["models"].items()}


def _reference(folder: Path) -> dict:
    return json.loads((folder / REFERENCE).read_text())


def test_every_model_predicts_the_same_after_a_round_trip_through_the_hub(built_hub, tmp_path):
    names = sorted(built_hub.folders)
    jobs = [{"name": name, "smiles": _reference(built_hub.folders[name])["smiles"]} for name in names]
    env = {"DEEPCHEM_MODEL_HUB": built_hub.url, "DEEPCHEM_HUB_CACHE": str(tmp_path / "cache")}
    predictions = predict_pipelines(jobs, tmp_path, env)
    for name, got in zip(names, predictions):
        expected = np.asarray(_reference(built_hub.folders[name])["predictions"])
        assert got.shape == expected.shape, name
        assert np.isfinite(got).all(), name
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)
    assert any((tmp_path / "cache").rglob("params.json")), "models were not fetched through the mirror"


def test_hub_covers_frameworks_and_tasks_with_computed_metrics(built_hub):
    manifests = _manifests(built_hub.hub)
    assert len(manifests) >= 5
    assert {m["framework"] for m in manifests.values()} >= {"torch", "keras", "sklearn"}
    assert {m["card"]["task"] for m in manifests.values()} == {"regression", "classification"}
    for name, manifest in manifests.items():
        card = manifest["card"]  # merged from the folder's README.md front matter
        assert card["metrics"] and all(m["split"].startswith("scaffold") for m in card["metrics"]), name
        assert len(card["recipe_sha256"]) == 64 and card["license"] == "MIT", name
        assert {"params.json", "README.md", REFERENCE} <= {f["path"] for f in manifest["files"]}, name


def test_finetuned_model_shares_its_frozen_layers_with_the_base(built_hub):
    manifests = _manifests(built_hub.hub)
    base = {f["path"]: f["sha256"] for f in manifests["nci-tpsa-mtr"]["files"]}
    tuned = {f["path"]: f["sha256"] for f in manifests["nci-clogp-finetuned"]["files"]}
    frozen = manifests["nci-clogp-finetuned"]["card"]["frozen_weights"]
    assert len(frozen) == 4
    for name in frozen:
        assert tuned[f"{name}.npy"] == base[f"{name}.npy"], name
    head = [p for p in tuned if p.startswith("multitaskregressor-output")]
    assert head and all(tuned[p] != base[p] for p in head)


def test_card_metrics_are_those_of_the_held_out_split(built_hub, monkeypatch):
    import dchub_client
    from recipes import _common, _data

    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", built_hub.url)
    pipe = dchub_client.load_pipeline("freewilson-pic50-rf")
    split = _common.featurize_and_split(pipe.featurizer, _data.freewilson_pic50())
    predicted = pipe.predict(list(split.test.ids))
    recomputed = _common.regression_metrics(split.test.y, predicted, "pIC50")
    assert pipe.card is not None and pipe.card.metadata["metrics"] == recomputed


def test_invalid_smiles_in_a_batch_give_nan_and_one_warning(built_hub, monkeypatch):
    import dchub_client
    from dchub_client.errors import InvalidMoleculeError, InvalidMoleculeWarning

    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", built_hub.url)
    reference = _reference(built_hub.folders["freewilson-active-mtc"])
    good = reference["smiles"][:2]
    pipe = dchub_client.load_pipeline("freewilson-active-mtc")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = pipe.predict([good[0], "C1CC(", good[1], "not a molecule"])
    messages = [str(w.message) for w in caught if issubclass(w.category, InvalidMoleculeWarning)]
    assert len(messages) == 1 and "#1 'C1CC('" in messages[0] and "#3 'not a molecule'" in messages[0]
    assert np.isnan(out[[1, 3]]).all()
    np.testing.assert_allclose(out[[0, 2]], np.asarray(reference["predictions"][:2]), rtol=1e-5, atol=1e-6)
    with pytest.raises(InvalidMoleculeError, match="#1 'C1CC\\('"):
        pipe.predict([good[0], "C1CC("], errors="raise")


def test_a_changed_recipe_makes_its_folder_stale(built_hub, tmp_path):
    from hubgen import recipes
    from hubgen.manifest import load_hub_manifest

    spec = next(m for m in load_hub_manifest(built_hub.manifest).models if m.name == "freewilson-pic50-rf")
    assert not recipes.changed(spec)
    copy = tmp_path / "rf"
    shutil.copytree(spec.path, copy)
    card = copy / "README.md"
    text = card.read_text()
    card.write_text(text.replace(spec_hash(text), "0" * 64))
    assert recipes.changed(dataclasses.replace(spec, path=copy))
    card.write_text("---\ntags: [unclosed\n---\n")
    assert recipes.changed(dataclasses.replace(spec, path=copy))


def spec_hash(card_text: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in card_text.splitlines() if line.startswith("recipe_sha256"))


def test_whole_build_is_fast(built_hub):
    assert built_hub.seconds < 5 * 60  # five recipes, each well under a minute on 2 cores
