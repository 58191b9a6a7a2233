"""``dchub predict`` as a chemist runs it: real molecule files in, one output row per record, values that
read back as the model's, tables that fit the terminal. The ``dchub`` console script in a subprocess, on
small pipelines trained here on ESOL and NCI molecules and served from a hub folder built by hubgen."""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pytest

import dchub_client
from tests._support.hubs import build_hub
from tests._support.molecules import nci_sdf
from tests.journeys._cli import run
from tests.models.test_pipeline_outputs import _fingerprint_model

ESOL = Path(__file__).resolve().parents[1] / "data" / "esol_sample.csv"
TASKS = ("NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma", "SR-ARE",
         "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53")
SOLUBILITY = "log solubility (log10(mol/L))"


def _esol() -> tuple[list[str], np.ndarray]:
    with ESOL.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["smiles"] for r in rows], np.array([[float(r["measured_log_solubility"])] for r in rows], np.float32)


def _regressor(folder: Path) -> Path:
    """A MultitaskRegressor on ESOL's ECFP4 with normalized labels, its units and applicability domain."""
    import deepchem as dc

    smiles, y = _esol()
    featurizer = dc.feat.CircularFingerprint(radius=2, size=256)
    dataset = dc.data.NumpyDataset(featurizer.featurize(smiles), y)
    normalize = dc.trans.NormalizationTransformer(transform_y=True, dataset=dataset)
    model = dc.models.MultitaskRegressor(1, 256, layer_sizes=[16])
    model.fit(normalize.transform(dataset), nb_epoch=5)
    domain = dchub_client.ApplicabilityDomain.from_smiles(dc.feat.CircularFingerprint(radius=2, size=2048), smiles,
                                                          threshold=0.3)
    return dchub_client.to_pretrained(model, folder, featurizer=featurizer, transformers=[normalize], domain=domain,
                                      outputs=dchub_client.OutputContract.regression(["log solubility"],
                                                                                     unit="log10(mol/L)"))


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Path:
    """A hub folder holding ``esol-test`` (a regressor) and ``tox-test`` (a 12-task classifier), 1.0.0 each."""
    tmp = tmp_path_factory.mktemp("predict-hub")
    model, featurizer = _fingerprint_model("classifier", 12)
    classifier = dchub_client.to_pretrained(model, tmp / "src" / "tox", featurizer=featurizer,
                                            outputs=dchub_client.OutputContract.classification(TASKS))
    return build_hub(tmp, {("esol-test", "1.0.0"): _regressor(tmp / "src" / "esol"),
                           ("tox-test", "1.0.0"): classifier})


@pytest.fixture()
def predict(hub):
    """``dchub predict ARGS`` against the hub; the finished process."""
    def call(*args: str, columns: int | None = None):
        return run("predict", *args, env={"DEEPCHEM_MODEL_HUB": str(hub), "TF_USE_LEGACY_KERAS": "1",
                                          "COLUMNS": None if columns is None else str(columns)})
    return call


@pytest.fixture()
def esol_pipeline(hub, monkeypatch):
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", str(hub))
    return dchub_client.load_pipeline("esol-test")


def _rows(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def _expected(pipeline, smiles: list[str | None]) -> list[str]:
    """The pipeline's own predictions, as float32 text ("" for none)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = pipeline.predict(smiles)[:, 0]
    return ["" if np.isnan(v) else str(np.float32(v)) for v in values]


def _sdf_records(n: int) -> tuple[str, list[str]]:
    """The first *n* records of RDKit's NCI sample, record 2 renamed, record 3 broken (an atom count of 'xx')."""
    records = nci_sdf().read_text().split("$$$$\n")[:n]
    lines = records[1].split("\n")
    records[1] = "\n".join(["dinitro two", *lines[1:]])
    lines = records[2].split("\n")
    records[2] = "\n".join(["broken three", *lines[1:3], lines[3][:3] + "xx" + lines[3][5:], *lines[4:]])
    return "$$$$\n".join(records) + "$$$$\n", records


def test_sd_files_plain_and_gzipped_give_one_row_per_record(predict, esol_pipeline, tmp_path):
    from rdkit import Chem

    text, _ = _sdf_records(12)
    (tmp_path / "mols.sdf").write_text(text)
    with gzip.open(tmp_path / "mols.sdf.gz", "wt") as handle:
        handle.write(text)
    expected_smiles = [Chem.MolToSmiles(m) if m is not None else ""
                       for m in Chem.SDMolSupplier(str(tmp_path / "mols.sdf"))]
    assert expected_smiles[2] == "" and all(expected_smiles[:2] + expected_smiles[3:])  # RDKit agrees: 3 is broken
    done = predict("esol-test", "-i", str(tmp_path / "mols.sdf.gz"), "-o", str(tmp_path / "out.csv"))
    assert done.returncode == 0, done.stderr
    rows = _rows((tmp_path / "out.csv").read_text())
    assert [r["smiles"] for r in rows] == expected_smiles
    assert [r["name"] for r in rows][:3] == ["", "dinitro two", "broken three"]
    assert rows[0]["AMW"] == "122.12344"  # the records' data fields come along
    assert [r[SOLUBILITY] for r in rows] == _expected(esol_pipeline, [s or None for s in expected_smiles])
    assert rows[2][SOLUBILITY] == "" and "1 of 12 molecules" in done.stderr
    assert "record 3 named 'broken three' (RDKit cannot read this record)" in done.stderr
    assert "wrote 12 predictions" in done.stderr
    plain = predict("esol-test", "-i", str(tmp_path / "mols.sdf"), "-o", "csv")
    assert plain.returncode == 0 and plain.stdout == (tmp_path / "out.csv").read_text()


def test_unknown_input_suffix_is_refused_naming_the_accepted_ones(predict, tmp_path):
    (tmp_path / "mols.mol2").write_text("@<TRIPOS>MOLECULE\n")
    done = predict("esol-test", "-i", str(tmp_path / "mols.mol2"))
    assert done.returncode == 1 and "mols.mol2" in done.stderr
    assert ".smi" in done.stderr and ".csv" in done.stderr and ".sdf" in done.stderr and "gz" in done.stderr


def test_smiles_given_as_an_option_are_refused_saying_where_they_go(predict):
    """``--smiles CCO`` once passed as an abbreviation of ``--smiles-column`` and failed with "no molecules"."""
    for args, exit_code, said in [
        (("--smiles", "CCO"), 2, "there is no --smiles option: SMILES go after the model, as arguments"),
        (("--smiles-col", "CCO"), 2, "dchub predict: error: unrecognized arguments: --smiles-col"),  # none at all
        (("--smiles-column", "CCO"), 2, "without --input, give SMILES as arguments: dchub predict esol-test CCO"),
        (("--smiles-column", "x", "CCO"), 2, "without --input, give SMILES as arguments"),  # CCO is a molecule
        (("--smile", "CCO"), 2, "--smile is not an option: SMILES go after the model, as arguments: dchub "
                                "predict MODEL CCO 'c1ccccc1O'; or did you mean --smiles-column?"),
        (("CCO", "--input", "mols.smi"), 2, "give SMILES as arguments or --input FILE, not both"),
        ((), 2, "no molecules: give SMILES as arguments or --input FILE"),
    ]:
        done = predict("esol-test", *args)
        assert done.returncode == exit_code and said in done.stderr, (args, done.stderr)
        assert done.stderr.startswith("usage: dchub predict "), done.stderr  # a usage error: its own usage
        assert done.stdout == "" and "Traceback" not in done.stderr
    done = predict()  # molecules may come from --input: only the model is named as required
    assert done.returncode == 2 and done.stderr.rstrip().endswith(
        "the following arguments are required: NAME[@VERSION]|FOLDER"), done.stderr
    done = predict("esol-test", "CCO", "--smiles-column", "smiles")  # the default, spelled out: harmless
    assert done.returncode == 0 and "CCO" in done.stdout, done.stderr
    done = predict("esol-test", "CCO", "--output", "csv", "c1ccccc1O")  # molecules on both sides of an option
    assert done.returncode == 0 and [r["smiles"] for r in _rows(done.stdout)] == ["CCO", "c1ccccc1O"], done.stderr


def test_a_run_that_predicts_nothing_fails(predict):
    """Its rows are still written (one per molecule, as always), but the exit status says it: a script
    that predicted a file of broken SMILES must notice. One good molecule is a success with warnings."""
    done = predict("esol-test", "notasmiles", "C1CC(", "--output", "csv")
    assert done.returncode == 1, done.stderr
    assert [r["smiles"] for r in _rows(done.stdout)] == ["notasmiles", "C1CC("]
    assert "2 of 2 molecules" in done.stderr and "Traceback" not in done.stderr
    done = predict("esol-test", "notasmiles", "CCO", "--output", "csv")
    assert done.returncode == 0 and "1 of 2 molecules" in done.stderr, done.stderr


def test_every_csv_row_gives_a_row_with_its_columns(predict, esol_pipeline, tmp_path):
    (tmp_path / "bad.csv").write_text('name,smiles,y\na,CCO,1\nb,c1ccccc1,2,EXTRA\nc,,3\nd,"C(C)O",4\ne\n')
    done = predict("esol-test", "-i", str(tmp_path / "bad.csv"), "-o", str(tmp_path / "out.csv"))
    assert done.returncode == 0, done.stderr
    rows = _rows((tmp_path / "out.csv").read_text())
    assert [(r["name"], r["smiles"], r["y"]) for r in rows] == [
        ("a", "CCO", "1"), ("b", "c1ccccc1", "2"), ("c", "", "3"), ("d", "C(C)O", "4"), ("e", "", "")]
    assert [r[SOLUBILITY] for r in rows] == _expected(esol_pipeline, ["CCO", "c1ccccc1", None, "C(C)O", None])
    assert "wrote 5 predictions" in done.stderr
    assert "2 of 5 molecules" in done.stderr and "line 4 (no SMILES in this row), line 6 (" in done.stderr
    assert "more fields than the header's 3" in done.stderr and "line 3 (4)" in done.stderr
    with gzip.open(tmp_path / "bad.tsv.gz", "wt") as handle:  # the same table, gzipped TSV
        handle.write((tmp_path / "bad.csv").read_text().replace(",", "\t").replace('"', ""))
    zipped = predict("esol-test", "-i", str(tmp_path / "bad.tsv.gz"), "-o", "csv")
    assert zipped.returncode == 0, zipped.stderr
    assert zipped.stdout == (tmp_path / "out.csv").read_text()


def test_smi_header_names_and_line_numbers(predict, tmp_path):
    (tmp_path / "in.smi").write_text("SMILES Name\nCCO ethanol\n# a comment\n\nC1CC( broken ring\nc1ccccc1O phenol\n")
    done = predict("esol-test", "-i", str(tmp_path / "in.smi"), "-o", "tsv")
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout, "\t")
    assert [(r["smiles"], r["name"]) for r in rows] == [("CCO", "ethanol"), ("C1CC(", "broken ring"),
                                                        ("c1ccccc1O", "phenol")]
    assert "1 of 3 molecules" in done.stderr and "line 5 'C1CC(' (invalid SMILES)" in done.stderr
    assert rows[1][SOLUBILITY] == "" and rows[0][SOLUBILITY] and rows[2][SOLUBILITY]
    # not predicted: neither in nor out of the domain
    assert [r["in domain"] for r in rows] == ["True", "", "True"] and rows[1]["domain similarity"] == ""
    table = predict("esol-test", "-i", str(tmp_path / "in.smi"), columns=200)
    assert "so they have no predictions: line 5 'C1CC(' (invalid SMILES)" in table.stderr
    broken = next(line for line in table.stdout.splitlines() if line.startswith("C1CC("))
    assert broken.split()[1:] == ["broken", "ring", "invalid", "invalid", "invalid"], broken


def test_csv_values_read_back_as_the_models(predict, esol_pipeline):
    done = predict("esol-test", "--input", str(ESOL), "--output", "csv")
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    smiles = _esol()[0]
    values = esol_pipeline.predict(smiles)[:, 0]
    assert [np.float32(r[SOLUBILITY]) for r in rows] == [np.float32(v) for v in values]  # every digit kept
    similarity = esol_pipeline.domain(smiles).similarity
    assert [np.float32(r["domain similarity"]) for r in rows] == [np.float32(v) for v in similarity]
    assert max(len(r[SOLUBILITY]) for r in rows) <= 12  # and readable: no float64 noise
    assert list(rows[0])[:3] == ["compound", "smiles", "measured_log_solubility"]
    assert [r["smiles"] for r in rows] == smiles and rows[0]["compound"] == "Fenfuram"


def test_output_is_checked_before_the_model_is_loaded(predict, tmp_path):
    """'no-such-model' is never looked up: the --output mistake is the error."""
    wrong_suffix = predict("no-such-model", "CCO", "-o", str(tmp_path / "out.json"))
    assert wrong_suffix.returncode == 1 and "--output" in wrong_suffix.stderr and "no-such-model" not in \
        wrong_suffix.stderr
    (tmp_path / "afile").write_text("")
    under_a_file = predict("no-such-model", "CCO", "-o", str(tmp_path / "afile" / "out.csv"))
    assert under_a_file.returncode == 1 and "afile is a file" in under_a_file.stderr
    (tmp_path / "done.csv").mkdir()
    folder = predict("no-such-model", "CCO", "-o", str(tmp_path / "done.csv"))
    assert folder.returncode == 1 and "is a folder" in folder.stderr


def test_a_wide_table_becomes_one_block_per_molecule_on_a_narrow_terminal(predict):
    molecules = ("CCO", "c1ccccc1O", "C1CC(")
    narrow = predict("tox-test", *molecules, columns=80)
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines[1:]) <= 80
    blocks = "\n".join(lines[1:]).split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == list(molecules)
    ethanol = blocks[0].splitlines()[1:]
    assert [line.split()[0] for line in ethanol] == list(TASKS)
    assert all(line.split()[2] == "P(active)" and 0 <= float(line.split()[1]) <= 1 for line in ethanol)
    assert blocks[2].splitlines()[1:] == ["  no prediction: invalid SMILES"]
    wide = predict("tox-test", *molecules, columns=400)
    assert wide.returncode == 0, wide.stderr
    header, rule, *rows = wide.stdout.splitlines()[1:]
    assert header.split("  ")[0] == "SMILES" and "SR-p53 (P(active))" in header
    assert [row.split()[0] for row in rows] == list(molecules) and set(rows[2].split()[1:]) == {"invalid"}
    for row, block in zip(rows[:2], blocks[:2]):  # the same numbers in both forms
        assert row.split()[1:] == [line.split()[1] for line in block.splitlines()[1:]]


def test_a_hub_pipelines_repr_is_one_line(esol_pipeline):
    assert repr(esol_pipeline) == ("<Pipeline esol-test@1.0.0: MultitaskRegressor; regression, 1 task "
                                   "(log solubility); featurizer CircularFingerprint; domain: Tanimoto >= 0.3>")


def test_other_warnings_raised_while_predicting_are_not_swallowed():
    import warnings

    from dchub_client.cli import predict as predict_cli
    from dchub_client.errors import InvalidMoleculeWarning

    class Noisy:
        def predict(self, smiles, as_frame):
            warnings.warn(InvalidMoleculeWarning("1 of 2 ...", [(1, "C1CC(", "invalid SMILES")]))
            warnings.warn("the model's own warning", UserWarning)
            return "frame"

    with pytest.warns(UserWarning, match="the model's own warning") as caught:
        frame, failures = predict_cli._predict(Noisy(), ["CCO", "C1CC("])
    assert frame == "frame" and failures == [(1, "C1CC(", "invalid SMILES")]
    assert not [w for w in caught if issubclass(w.category, InvalidMoleculeWarning)]  # read, not shown


def test_a_strangers_task_names_cannot_drive_the_terminal(tmp_path):
    """Task names and units are the model's text: escape sequences in them are shown, not sent, in the
    table and in the blocks of a narrow terminal (a CSV keeps the values as they are: it is data)."""
    model, featurizer = _fingerprint_model("regressor", 1)
    contract = dchub_client.OutputContract.regression(["log\x1b[2J sol"], unit="u\x1b]0;x\x07")
    folder = dchub_client.to_pretrained(model, tmp_path / "src", featurizer=featurizer, outputs=contract)
    hub = build_hub(tmp_path, {("hostile", "1.0"): folder})
    env = {"DEEPCHEM_MODEL_HUB": str(hub), "TF_USE_LEGACY_KERAS": "1"}
    for columns in ("300", "20"):
        done = run("predict", "hostile", "CCO", env={**env, "COLUMNS": columns})
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\x07" not in done.stdout, repr(done.stdout)
        assert "log\\x1b[2J sol" in done.stdout, done.stdout
    assert "\x1b[2J" in run("predict", "hostile", "CCO", "--output", "csv", env=env).stdout.splitlines()[0]


def test_a_model_saved_without_its_featurizer_is_refused_in_the_words_of_the_command_line(predict, tmp_path):
    """A plain ``to_pretrained(model, path)`` folder: the error says what ``dchub predict`` needs, not
    which Python method to call."""
    model, _ = _fingerprint_model("classifier", 2)
    folder = dchub_client.to_pretrained(model, tmp_path / "bare")
    done = predict(str(folder), "CCO")
    assert done.returncode == 1 and done.stdout == "", done.stderr
    assert "holds a model without its featurizer, so it cannot turn SMILES into features: dchub predict needs a " \
           "folder saved with to_pretrained(model, path, featurizer=...)" in done.stderr, done.stderr
    assert str(folder.name) in done.stderr and ".model.predict" not in done.stderr and "Traceback" not in done.stderr


def test_the_output_file_may_not_be_the_input_file(predict, tmp_path):
    """``-i m.csv -o m.csv`` (or a link to it) would replace the molecules with the predictions: refused, the
    file untouched, before the model is looked up."""
    original = "smiles,id\nCCO,1,extra\nc1ccccc1O,2\n"
    (tmp_path / "m.csv").write_text(original)
    (tmp_path / "link.csv").symlink_to(tmp_path / "m.csv")
    for out in ("m.csv", "link.csv", "./sub/../m.csv"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        done = predict("no-such-model", "-i", str(tmp_path / "m.csv"), "-o", str(tmp_path / out))
        assert done.returncode == 2 and "is the --input file; write the predictions elsewhere" in done.stderr, \
            done.stderr
        assert (tmp_path / "m.csv").read_text() == original and "no model named" not in done.stderr
