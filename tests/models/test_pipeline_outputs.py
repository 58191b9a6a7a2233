"""The output contract and the applicability domain of pipelines (issue 17).

``Pipeline.predict`` returns ``(n, n_tasks)`` for every regressor and ``(n, n_tasks, n_classes)``
for every classifier, whatever the framework; ``as_frame=True`` gives a table named after the
tasks and units; ``Pipeline.domain`` flags molecules far from the training set. Real (tiny)
DeepChem models trained on RDKit's NCI molecules, saved and loaded through the pretrained format.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import dchub_client
from dchub_client.errors import InvalidMoleculeWarning, PretrainedFormatError, UntrustedClassError, WeightFileError
from tests._support.molecules import nci_molecules

N_TRAIN = 40
#: Ferrocene and a ruthenium tris(bipyridine) complex: nothing like the NCI organics.
FAR = ("[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1", "[Ru+2].c1ccc(-c2ccccn2)nc1.c1ccc(-c2ccccn2)nc1.c1ccc(-c2ccccn2)nc1")


def _data(n_tasks: int, classify: bool):
    import deepchem as dc

    smiles, y = nci_molecules(N_TRAIN)
    labels = np.column_stack([np.roll(y.ravel(), k) for k in range(n_tasks)]).astype(np.float32)
    if classify:
        labels = (labels > np.median(labels, axis=0)).astype(np.float32)
    return dc, smiles, labels


def _fingerprint_model(kind: str, n_tasks: int):
    dc, smiles, labels = _data(n_tasks, kind != "regressor")
    featurizer = dc.feat.CircularFingerprint(radius=2, size=64)
    dataset = dc.data.NumpyDataset(featurizer.featurize(smiles), labels)
    if kind == "regressor":
        model = dc.models.MultitaskRegressor(n_tasks, 64, layer_sizes=[8])
    else:
        model = dc.models.MultitaskClassifier(n_tasks, 64, layer_sizes=[8])
    model.fit(dataset, nb_epoch=1)
    return model, featurizer


def _graphconv_model(mode: str, n_tasks: int):
    dc, smiles, labels = _data(n_tasks, mode == "classification")
    featurizer = dc.feat.ConvMolFeaturizer()
    model = dc.models.GraphConvModel(n_tasks, mode=mode, graph_conv_layers=[8], dense_layer_size=8, batch_size=16)
    model.fit(dc.data.NumpyDataset(featurizer.featurize(smiles), labels), nb_epoch=1)
    return model, featurizer


def _forest(classify: bool):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    dc, smiles, labels = _data(1, classify)
    featurizer = dc.feat.CircularFingerprint(radius=2, size=64)
    estimator = (RandomForestClassifier if classify else RandomForestRegressor)(n_estimators=3, random_state=0)
    model = dc.models.SklearnModel(estimator)
    model.fit(dc.data.NumpyDataset(featurizer.featurize(smiles), labels))
    return model, featurizer


MODELS = {
    "torch-regressor-2": (lambda: _fingerprint_model("regressor", 2), (2,)),
    "torch-classifier-12": (lambda: _fingerprint_model("classifier", 12), (12, 2)),
    "keras-graphconv-regression-1": (lambda: _graphconv_model("regression", 1), (1,)),
    "keras-graphconv-classification-3": (lambda: _graphconv_model("classification", 3), (3, 2)),
    "sklearn-forest-regressor": (lambda: _forest(False), (1,)),
    "sklearn-forest-classifier": (lambda: _forest(True), (1, 2)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_predict_shape_is_the_contract_for_every_model_class(name, tmp_path):
    make, tail = MODELS[name]
    model, featurizer = make()
    folder = dchub_client.to_pretrained(model, tmp_path / name, featurizer=featurizer)
    pipe = dchub_client.load_pipeline(folder)
    smiles = nci_molecules(N_TRAIN)[0][:7]  # 7 is not a multiple of any task count
    got = pipe.predict(smiles)
    assert got.shape == (7, *tail), name
    assert pipe.outputs is not None and pipe.outputs.shape(7) == got.shape
    assert np.isfinite(got).all()
    if len(tail) == 2:
        np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-5)  # class probabilities
    with pytest.warns(InvalidMoleculeWarning):
        assert pipe.predict(["not a molecule", "C1CC"]).shape == (2, *tail)
    frame = pipe.predict(smiles[:3], as_frame=True)
    assert frame.shape == (3, tail[0]) and list(frame.index) == smiles[:3]


@pytest.fixture(scope="module")
def classifier_folder(tmp_path_factory) -> tuple[Path, list[str]]:
    """A 3-task classifier saved with a named output contract and an applicability domain."""
    import deepchem as dc

    model, featurizer = _fingerprint_model("classifier", 3)
    smiles = nci_molecules(N_TRAIN)[0]
    domain = dchub_client.ApplicabilityDomain.from_smiles(dc.feat.CircularFingerprint(radius=2, size=2048), smiles,
                                                          threshold=0.35)
    outputs = dchub_client.OutputContract.classification(["NR-AR", "SR-p53", "SR-MMP"])
    folder = dchub_client.to_pretrained(model, tmp_path_factory.mktemp("clf") / "clf", featurizer=featurizer,
                                        outputs=outputs, domain=domain)
    return folder, smiles


def test_frame_is_named_after_the_tasks_and_carries_the_domain(classifier_folder):
    folder, smiles = classifier_folder
    pipe = dchub_client.load_pipeline(folder)
    assert pipe.outputs.columns() == ["NR-AR (P(active))", "SR-p53 (P(active))", "SR-MMP (P(active))"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InvalidMoleculeWarning)
        frame = pipe.predict([smiles[0], FAR[0], "C1CC("], as_frame=True)
    assert list(frame.columns) == [*pipe.outputs.columns(), "domain similarity", "in domain"]
    assert frame.index.name == "smiles" and list(frame.index) == [smiles[0], FAR[0], "C1CC("]
    probabilities = pipe.predict([smiles[0]])[0, :, 1]
    np.testing.assert_allclose(frame.iloc[0, :3].to_numpy(dtype=float), probabilities, rtol=1e-6)
    assert frame["in domain"].tolist() == [True, False, False]
    assert frame["domain similarity"].iloc[0] == pytest.approx(1.0)
    assert np.isnan(frame["domain similarity"].iloc[2]) and frame.iloc[2, :3].isna().all()
    assert "smiles,NR-AR (P(active))" in frame.to_csv(index_label="smiles").splitlines()[0]


def test_domain_flags_far_molecules_and_keeps_training_ones(classifier_folder):
    folder, smiles = classifier_folder
    pipe = dchub_client.load_pipeline(folder)
    assert pipe.applicability.threshold == 0.35 and pipe.applicability.molecules == N_TRAIN
    result = pipe.domain([*smiles[:5], *FAR, "C1CC("])
    np.testing.assert_allclose(result.similarity[:5], 1.0)
    assert result.inside.tolist() == [True] * 5 + [False, False, False]
    assert np.isnan(result.similarity[-1])  # unparsable: no similarity, not in the domain
    assert (result.similarity[5:7] < 0.35).all()
    params = json.loads((folder / "params.json").read_text())
    assert "pipeline-domain.fingerprints" in params["extra"]["auxiliary_weights"]
    assert np.load(folder / "pipeline-domain.fingerprints.npy").shape == (N_TRAIN, 256)  # packed bits


@pytest.mark.parametrize("user_setting", ["disabled", "enabled"])
def test_the_domain_leaves_rdkit_logging_as_the_user_set_it(classifier_folder, user_setting):
    from rdkit import RDLogger, rdBase

    folder, smiles = classifier_folder
    before = rdBase.LogStatus()
    try:
        (RDLogger.DisableLog if user_setting == "disabled" else RDLogger.EnableLog)("rdApp.*")
        chosen = rdBase.LogStatus()
        dchub_client.load_pipeline(folder).domain([smiles[0], "C1CC("])
        import deepchem as dc

        dchub_client.ApplicabilityDomain.from_smiles(dc.feat.CircularFingerprint(radius=2, size=64), smiles[:3],
                                                     threshold=0.3)
        assert rdBase.LogStatus() == chosen  # (EnableLog after the work turned a user's silence back off)
    finally:
        for line in before.splitlines():
            name, state = line.split(":")
            (RDLogger.EnableLog if state == "enabled" else RDLogger.DisableLog)(name)


def _edit(folder: Path, edit) -> None:
    path = folder / "params.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_bad_stored_contract_or_domain_is_refused_naming_params_json(classifier_folder, tmp_path):
    import shutil

    source = classifier_folder[0]
    cases = {
        "kind": (lambda d: d["extra"]["pipeline"]["outputs"].update(kind="ranking"), PretrainedFormatError, "kind"),
        "tasks": (lambda d: d["extra"]["pipeline"]["outputs"].update(tasks=[]), PretrainedFormatError, "tasks"),
        "threshold": (lambda d: d["extra"]["pipeline"]["domain"].update(threshold=1.5), PretrainedFormatError,
                      r"\[0, 1\]"),
        "fingerprints": (lambda d: d["extra"]["pipeline"]["domain"]["fingerprints"].update(name="missing"),
                         WeightFileError, "missing"),
        "featurizer": (lambda d: d["extra"]["pipeline"]["domain"]["featurizer"].update({"class": "os.system"}),
                       UntrustedClassError, "os.system"),
    }
    for name, (edit, error, match) in cases.items():
        folder = tmp_path / name
        shutil.copytree(source, folder)
        _edit(folder, edit)
        with pytest.raises(error, match=match) as info:
            dchub_client.load_pipeline(folder)
        assert "params.json" in str(info.value) or error is UntrustedClassError, name


def test_a_contract_that_does_not_fit_the_model_output_is_an_error(classifier_folder, tmp_path):
    import shutil

    folder = tmp_path / "wrong"
    shutil.copytree(classifier_folder[0], folder)
    _edit(folder, lambda d: d["extra"]["pipeline"]["outputs"].update(tasks=[{"name": "only one"}]))
    pipe = dchub_client.load_pipeline(folder)
    with pytest.raises(PretrainedFormatError, match="does not fit the output contract"):
        pipe.predict(classifier_folder[1][:2])
