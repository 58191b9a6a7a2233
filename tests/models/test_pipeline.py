"""Pipelines in a pretrained folder: featurizer, transformers and card travel with the weights."""
from __future__ import annotations

import dataclasses
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import dchub_client
from dchub_client.errors import (
    InvalidMoleculeError,
    InvalidMoleculeWarning,
    ParameterEncodingError,
    PretrainedFormatError,
    UntrustedClassError,
    WeightFileError,
)
from tests._support.molecules import nci_molecules


@pytest.fixture(scope="module")
def trained():
    import deepchem as dc

    smiles, y = nci_molecules(48)
    featurizer = dc.feat.CircularFingerprint(radius=2, size=128)
    dataset = dc.data.NumpyDataset(featurizer.featurize(smiles), y * 100.0)
    normalize = dc.trans.NormalizationTransformer(transform_y=True, dataset=dataset)
    model = dc.models.MultitaskRegressor(1, 128, layer_sizes=[16])
    model.fit(normalize.transform(dataset), nb_epoch=3)
    return model, featurizer, normalize, smiles


@pytest.fixture()
def folder(trained, tmp_path) -> Path:
    model, featurizer, normalize, _ = trained
    return dchub_client.to_pretrained(model, tmp_path / "mtr", featurizer=featurizer, transformers=[normalize],
                                      card="---\ndescription: test\ntask: regression\n---\n# test\n")


def _edit_params(folder: Path, edit) -> None:
    path = folder / "params.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_round_trip_predicts_in_training_units(trained, folder):
    model, featurizer, normalize, smiles = trained
    pipe = dchub_client.load_pipeline(folder)
    assert type(pipe.featurizer).__name__ == "CircularFingerprint" and pipe.featurizer.size == 128
    np.testing.assert_array_equal(pipe.transformers[0].y_means, normalize.y_means)
    assert pipe.card.metadata == {"description": "test", "task": "regression"}
    import deepchem as dc

    expected = model.predict(dc.data.NumpyDataset(featurizer.featurize(smiles[:5])), [normalize])
    got = pipe.predict(smiles[:5])
    assert got.shape == (5, 1)  # (n_molecules, n_tasks), whatever shape the model's own predict has
    np.testing.assert_allclose(got, expected.reshape(5, 1), rtol=1e-6)
    assert got.mean() > 50  # labels were scaled by 100: undone, not normalized units


def test_transformer_arrays_are_auxiliary_weights(folder, trained):
    data = json.loads((folder / "params.json").read_text())
    assert data["extra"]["auxiliary_weights"] == ["pipeline-transformers.0-0", "pipeline-transformers.0-1"]
    state = data["extra"]["pipeline"]["transformers"][0]["state"]
    assert state["y_means"] == {"__dchub__": "weight", "name": "pipeline-transformers.0-0"}
    assert "dataset" not in state
    model = dchub_client.from_pretrained(folder)  # the model alone ignores them
    assert not any(n.startswith("pipeline-") for n in dchub_client.get_weights(model))


def test_invalid_smiles_warn_or_raise(folder, trained):
    smiles = trained[3]
    pipe = dchub_client.load_pipeline(folder)
    with pytest.warns(InvalidMoleculeWarning, match=r"2 of 4 .*#1 'xyz' \(invalid SMILES\).*#3 ''"):
        out = pipe.predict([smiles[0], "xyz", smiles[1], ""])
    assert np.isnan(out[[1, 3]]).all() and np.isfinite(out[[0, 2]]).all()
    with pytest.raises(InvalidMoleculeError) as info:
        pipe.predict(["C(", smiles[0]], errors="raise")
    assert info.value.failures == [(0, "C(", "invalid SMILES")]
    with pytest.warns(InvalidMoleculeWarning):
        assert np.isnan(pipe.predict(["((", "]]"])).all()
    with pytest.raises(TypeError, match="not one string"):
        pipe.predict("CCO")


def test_missing_smiles_of_a_pandas_column_are_invalid_rows(folder, trained):
    """An empty cell of a CSV read with pandas is NaN (None in a string column): a NaN row, not a TypeError."""
    import pandas as pd

    smiles = trained[3]
    table = pd.read_csv(io.StringIO(f"name,smiles\na,{smiles[0]}\nb,\nc,{smiles[1]}\n"))
    column = [*table["smiles"], None, pd.NA]
    pipe = dchub_client.load_pipeline(folder)
    with pytest.warns(InvalidMoleculeWarning, match=r"3 of 5 .*#1 None \(no SMILES\), #3 None") as caught:
        out = pipe.predict(column)
    assert caught[0].message.failures == [(1, None, "no SMILES"), (3, None, "no SMILES"), (4, None, "no SMILES")]
    assert caught[0].filename == __file__  # the warning points at the caller's line, not inside dchub
    assert np.isnan(out[[1, 3, 4]]).all() and np.isfinite(out[[0, 2]]).all()
    np.testing.assert_array_equal(out[[0, 2]], pipe.predict([smiles[0], smiles[1]]))
    with pytest.raises(TypeError, match="item 1 is a int"):
        pipe.predict([smiles[0], 3])


def test_repr_is_one_line(folder):
    pipe = dchub_client.load_pipeline(folder)
    text = repr(pipe)
    assert text == "<Pipeline mtr: MultitaskRegressor; regression, 1 task (task 0); featurizer CircularFingerprint>"
    assert repr(dataclasses.replace(pipe, name="")).startswith("<Pipeline (unnamed): MultitaskRegressor;")


def test_featurizer_off_the_allowlist_is_never_built(folder):
    def edit(data):
        data["extra"]["pipeline"]["featurizer"]["class"] = "dchub_untrusted_featurizer.Evil"
    _edit_params(folder, edit)
    with pytest.raises(UntrustedClassError, match="dchub_untrusted_featurizer.Evil"):
        dchub_client.load_pipeline(folder)
    assert "dchub_untrusted_featurizer" not in sys.modules


def test_allowlisted_class_that_is_no_featurizer_is_refused(folder):
    def edit(data):
        data["extra"]["pipeline"]["featurizer"] = {"__dchub__": "object", "class": "deepchem.models.losses.L2Loss",
                                                   "kwargs": {}}
    _edit_params(folder, edit)
    with pytest.raises(PretrainedFormatError, match="not a featurizer"):
        dchub_client.load_pipeline(folder)


def test_transformer_without_its_arrays(folder):
    def edit(data):
        del data["weights"]["pipeline-transformers.0-1"]
        data["extra"]["auxiliary_weights"].remove("pipeline-transformers.0-1")
    _edit_params(folder, edit)
    (folder / "pipeline-transformers.0-1.npy").unlink()
    with pytest.raises(WeightFileError, match=r"y_stds refers to weight 'pipeline-transformers.0-1'") as info:
        dchub_client.load_pipeline(folder)
    assert info.value.weight == "pipeline-transformers.0-1"


def test_transformer_weight_file_missing(folder):
    (folder / "pipeline-transformers.0-0.npy").unlink()
    with pytest.raises(WeightFileError, match="pipeline-transformers.0-0.npy"):
        dchub_client.load_pipeline(folder)


def test_transformer_class_off_the_allowlist(folder):
    def edit(data):
        data["extra"]["pipeline"]["transformers"][0]["class"] = "collections.OrderedDict"
    _edit_params(folder, edit)
    with pytest.raises(UntrustedClassError, match="collections.OrderedDict"):
        dchub_client.load_pipeline(folder)


def test_saving_refuses_what_cannot_be_stored(trained, tmp_path):
    model, featurizer, normalize, _ = trained

    class Featurizer:
        def featurize(self, smiles):
            return np.zeros((len(smiles), 3))

    with pytest.raises(ParameterEncodingError, match="not on the allowlist"):
        dchub_client.to_pretrained(model, tmp_path / "a", featurizer=Featurizer())
    import copy

    odd = copy.copy(normalize)
    odd.helper = object()
    with pytest.raises(ParameterEncodingError, match=r"transformers\[0\].helper"):
        dchub_client.to_pretrained(model, tmp_path / "b", transformers=[odd])
    with pytest.raises(ParameterEncodingError, match=r"transformers\[0\]"):
        dchub_client.to_pretrained(model, tmp_path / "c", transformers=[featurizer])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_featurizers_rebuild_with_their_arguments():
    import deepchem as dc

    from dchub_client.models import encoding, pipeline_codec

    for featurizer in (dc.feat.RDKitDescriptors(descriptors=["TPSA", "MolWt"]), dc.feat.ConvMolFeaturizer(),
                       dc.feat.MolGraphConvFeaturizer(use_edges=True), dc.feat.CircularFingerprint(size=64)):
        spec, _ = pipeline_codec.encode_pipeline(featurizer, [])
        rebuilt = encoding.decode_value(spec["featurizer"], None)
        assert pipeline_codec._same(featurizer.featurize(["CCOc1ccccc1"]), rebuilt.featurize(["CCOc1ccccc1"]))
    spec, _ = pipeline_codec.encode_pipeline(dc.feat.RDKitDescriptors(descriptors=["TPSA", "MolWt"]), [])
    assert spec["featurizer"]["kwargs"]["descriptors"] == ["TPSA", "MolWt"]  # exactly as constructed
