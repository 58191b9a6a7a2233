"""The chemist's sections of the model pages, from small hand-made model versions.

What it returns (contract, drawn examples), how good it is (metrics with baseline warnings, the
MoleculeNet comparison, a parity plot with one point per molecule, ROC curves or per-task AUC
bars), what it has seen (histograms, scaffolds, the domain), how to cite it, and every file of
every version linked through its blobs. The example hub's real pages are tested in
``tests/recipes/test_example_site.py``.
"""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dchub_client.format import hubfiles
from dchub_client.format.card import Card
from dchub_client.format.pretrained import write_pretrained
from hubgen.build import build_hub
from tests.hubgen.site.support import EPOCH, page_links

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN", "c1ccncc1", "OC(=O)c1ccccc1", "CCCCO", "ClCCl"]
BIBTEX = "@article{delaney2004esol,\n  title = {ESOL},\n  year = {2004}\n}"


def _files(task: str, n_tasks: int, rng: np.random.Generator) -> dict[str, bytes]:
    n = len(SMILES)
    if task == "regression":
        truth = rng.normal(size=(n, 1))
        predicted = truth + rng.normal(scale=0.3, size=(n, 1))
        reference = [[float(v)] for v in predicted[:3, 0]]
    else:
        truth = np.array([[(i + t) % 2 for t in range(n_tasks)] for i in range(n)], dtype=float)
        predicted = np.clip(truth * 0.6 + rng.uniform(0, 0.4, size=truth.shape), 0, 1)
        predicted[:, -1] = 1 - truth[:, -1]  # the last task ranks backwards: ROC-AUC 0
        reference = [[[1 - p, p] for p in row] for row in predicted[:3].tolist()]
    truth[0, 0] = np.nan if task == "classification" else truth[0, 0]
    splits = {kind: {"description": f"{kind} 80/10/10, test", "train": 6, "valid": 1, "test": n, "smiles": SMILES,
                     "y_true": [[None if np.isnan(v) else v for v in row] for row in truth.tolist()],
                     "y_pred": predicted.tolist()} for kind in ("random", "scaffold")}
    return {
        "evaluation.json": json.dumps({"task": task, "tasks": [f"t{i}" for i in range(n_tasks)], "unit": "log units",
                                       "splits": splits}).encode(),
        "training_set.json": json.dumps({"split": "random, training part", "molecules": 6, "distinct_scaffolds": 2,
                                         "acyclic": 3, "scaffolds": [{"smiles": "c1ccccc1", "count": 3},
                                                                     {"smiles": "c1ccncc1", "count": 1}],
                                         "molecular_weight": [46.1, 94.1, 1202.6, 45.1, 79.1, 122.1],
                                         "logp": [-0.1, 1.4, 0.5, -0.2, 0.8, 1.3]}).encode(),
        "reference_predictions.json": json.dumps({"smiles": SMILES[:3], "examples": 3, "predictions": reference,
                                                  "similarity": [1.0, 0.2, 0.9]}).encode(),
    }


def _source(root: Path, name: str, task: str, n_tasks: int, card: dict, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    outputs = {"kind": task, "shape": "", "tasks": [{"name": f"t{i}", "unit": "log units"} for i in range(n_tasks)]}
    if task == "classification":
        outputs["classes"] = ["inactive", "active"]
        for t in outputs["tasks"]:
            t.pop("unit")
    domain = {"featurizer": {"__dchub__": "object", "class": "x"}, "bits": 2048, "molecules": 6, "threshold": 0.4,
              "measure": "max-tanimoto", "fingerprints": {"__dchub__": "weight", "name": "pipeline-domain.fingerprints"}}
    weights = [("m-layer.0-0", "w", rng.normal(size=(64, 8)).astype(np.float32)),
               ("pipeline-domain.fingerprints", "fingerprints", np.zeros((6, 256), dtype=np.uint8))]
    files = {**_files(task, n_tasks, rng), "README.md": Card(card, f"# {name}\n").to_bytes()}
    write_pretrained(root / name, class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters={"n_tasks": n_tasks}, weights=weights, files=files,
                     extra={"pipeline": {"featurizer": None, "transformers": [], "outputs": outputs, "domain": domain},
                            "auxiliary_weights": ["pipeline-domain.fingerprints"]})
    return root / name


METRICS = [{"name": "rmse", "value": 1.31, "split": "random 80/10/10 (seed 0), test", "unit": "log units"},
           {"name": "r2", "value": -0.21, "split": "Bemis-Murcko scaffold 80/10/10, test"}]
COMPARISON = {"dataset": "ESOL", "family": "GC (graph convolution)", "metric": "rmse", "split": "random",
              "published": 0.97, "spread": 0.01, "measured": 1.31, "verdict": "misses",
              "summary": "rmse 1.310 ... MISSES", "citation": "Wu et al. 2018", "doi": "10.1039/C7SC02664A"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("chem")
    domain_card = {"fingerprint": "ECFP4", "measure": "max Tanimoto", "threshold": 0.4, "rule": "5th percentile",
                   "splits": {"random": {"test_in_domain": 0.9, "test_molecules": 8, "rmse_inside": 1.1}}}
    reg = _source(root, "reg", "regression", 1, {"description": "A regressor", "task": "regression",
                                                 "metrics": METRICS, "moleculenet": COMPARISON,
                                                 "domain": domain_card, "citation": BIBTEX, "license": "MIT"}, 1)
    clf = _source(root, "clf", "classification", 3, {
        "description": "A classifier", "task": "classification", "license": "Apache-2.0", "base_model": "reg@1.0.0",
        "metrics": [{"name": "roc_auc", "value": 0.42, "split": "random 80/10/10 (seed 0), test"}]}, 2)
    many = _source(root, "many", "classification", 6, {"description": "Six tasks", "task": "classification"}, 3)
    yaml = root / "hub.yaml"
    yaml.write_text(textwrap.dedent(f"""
        name: chem-hub
        title: Chemistry test hub
        mirrors: [https://mirror-one.example/hub/, https://mirror-two.example/hub/]
        models:
          - {{name: reg, version: 1.0.0, path: {reg}}}
          - {{name: reg, version: 1.1.0, path: {reg}, card: {{description: newer}}}}
          - {{name: clf, version: 1.0.0, path: {clf}}}
          - {{name: many, version: 1.0.0, path: {many}}}
        """))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", EPOCH)
        build_hub(yaml, root / "hub", part_size=1024)  # the 2 KiB weight is stored in parts
    return root / "hub"


def _page(hub: Path, name: str) -> str:
    return (hub / "models" / name / "index.html").read_text(encoding="utf-8")


def test_regressor_page_has_contract_examples_parity_and_warning(hub):
    page = _page(hub, "reg")
    assert "<code>(n_molecules, 1)</code>" in page and "<strong>t0</strong> in log units" in page
    examples = re.findall(r'<figure class="example">\s*<img src="../../(assets/molecules/[0-9a-f]+\.svg)"', page)
    assert len(examples) == 3 and all((hub / e).read_bytes().startswith(b"<?xml") for e in examples)
    assert page.count('class="in-domain"') == 2 and page.count('class="out-domain"') == 1  # similarity 0.2 < 0.4
    parity = re.findall(r'<svg class="plot parity"[^>]*data-points="(\d+)"', page)
    assert parity == ["8", "8"]  # one per split, one point per held-out molecule
    assert len(re.findall(r'<circle class="point"', page)) == 16
    assert 'role="alert"' in page and "R² below 0" in page and 'class="warn"' in page
    assert "verdict-misses" in page and "misses the published spread" in page and "0.97 ± 0.01" in page
    assert page.count("molecular weight (g/mol)") == 1 and page.count("logP (Crippen)") == 1
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', page)
    assert "1,203" in ticks and not [t for t in ticks if "e+" in t]  # the heaviest molecule read 1.2e+03
    assert len(re.findall(r'<figure class="scaffold">', page)) == 2
    assert "at least <strong>0.4</strong>" in page and "90%" in page
    assert 'id="bibtex"' in page and 'data-copy="bibtex"' in page and "delaney2004esol" in page
    assert '<a href="https://opensource.org/license/mit" rel="license">MIT</a>' in page


def test_classifier_pages_draw_roc_curves_or_auc_bars(hub):
    few = _page(hub, "clf")
    assert "<code>(n_molecules, 3, 2)</code>" in few
    assert re.findall(r'data-curves="(\d+)"', few) == ["3", "3"]
    assert len(re.findall(r'<polyline class="curve', few)) == 6
    assert "ROC-AUC below 0.5" in few
    assert '<a href="../reg/index.html" class="base-model">reg@1.0.0</a>' in few
    many = _page(hub, "many")
    assert re.findall(r'data-bars="(\d+)"', many) == ["6", "6"] and "data-curves" not in many
    assert many.count('class="below-chance"') == 2  # the backwards task, in both splits
    for svg in re.findall(r'<svg class="plot auc-bars".*?</svg>', many, re.S):  # the dashed line says what it is
        height = float(re.search(r'viewBox="0 0 \d+ ([\d.]+)"', svg).group(1))
        line_end = float(re.search(r'<line class="chance"[^>]*y2="([\d.]+)"', svg).group(1))
        label = re.search(r'<text class="chance"[^>]*y="([\d.]+)"[^>]*>([^<]+)</text>', svg)
        last_bar = max(float(y) for y in re.findall(r'<rect class="bar"[^>]*y="([\d.]+)"', svg)) + 14
        assert label and label.group(2) == "ROC-AUC 0.5: a random ranking"
        assert last_bar <= line_end < float(label.group(1)) <= height


def test_every_file_of_every_version_is_linked_through_its_blobs(hub):
    for name in ("reg", "clf", "many"):
        page = hub / "models" / name / "index.html"
        links = {href for _, href in page_links(page).links}
        index = hubfiles.parse_index(json.loads((hub / "index.json").read_text()))
        for version, ref in index.models[name].versions.items():
            assert f"{version}/manifest.json" in links
            manifest = json.loads((hub / ref.manifest).read_text())
            for entry in manifest["files"]:
                blobs = [part["sha256"] for part in entry.get("parts", [])] or [entry["sha256"]]
                for sha in blobs:
                    href = f"../../blobs/sha256/{sha[:2]}/{sha}"
                    assert href in links, (name, version, entry["path"])
                    assert (page.parent / href).resolve().is_file()
    page = _page(hub, "reg")
    assert "part 1" in page and "part 2" in page  # the weight stored in parts links each part


def test_index_lists_mirrors_and_searchable_details(hub):
    page = (hub / "index.html").read_text(encoding="utf-8")
    assert '<section id="mirrors">' in page
    assert page.count('href="https://mirror-one.example/hub/"') == 1 and "mirror-two.example" in page
    search = {m: s for s, m in re.findall(r'data-search="([^"]*)">\s*<td class="model"><a href="models/([\w-]+)/',
                                             page)}
    assert "newer" in search["reg"] and "mit" in search["reg"]  # the latest version's card
    assert "apache-2.0" in search["clf"] and "classification" in search["clf"]
    assert "MoleculeNet 0.97 ± 0.01: misses the published spread" in page
    assert "below a trivial baseline" in page


def test_hostile_smiles_and_task_names_stay_inert(tmp_path):
    """A CXSMILES atom label and a task name carrying markup: drawn without the label, shown as text."""
    from hubgen.site import molecules

    hostile = "C* |$;<script>alert(1)</script>$|"
    drawing = molecules.draw(hostile)
    assert drawing is None or b"script" not in drawing.svg.lower()
    assert molecules.draw("C" * 500) is None and molecules.draw("not a molecule") is None
    folder = _source(tmp_path, "h", "regression", 1, {"description": "h", "task": "regression"}, 4)
    data = json.loads((folder / "reference_predictions.json").read_text())
    data["smiles"][0] = hostile
    (folder / "reference_predictions.json").write_text(json.dumps(data))
    params = json.loads((folder / "params.json").read_text())
    params["extra"]["pipeline"]["outputs"]["tasks"][0]["name"] = "<script>alert(2)</script>"
    (folder / "params.json").write_text(json.dumps(params))
    yaml = tmp_path / "hub.yaml"
    yaml.write_text(f"name: h\nmodels:\n  - {{name: h, version: '1', path: {folder}}}\n")
    build_hub(yaml, tmp_path / "hub")
    page = _page(tmp_path / "hub", "h")
    assert "<script>alert" not in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    for svg in (tmp_path / "hub" / "assets" / "molecules").iterdir():
        assert b"<script" not in svg.read_bytes()


def test_pages_and_drawings_are_deterministic(hub, tmp_path):
    from hubgen.site.render import render_pages
    from tests.hubgen.site.test_render import _load

    index, manifests = _load(hub)
    first = render_pages(hub, index=index, manifests=manifests)
    second = render_pages(hub, index=index, manifests=manifests)
    assert first == second and any(rel.startswith("assets/molecules/") for rel in first)
    assert all((hub / rel).read_bytes() == data for rel, data in first.items())


def test_names_wrap_at_separators(hub):
    page = _page(hub, "reg")
    assert "m-<wbr>layer.<wbr>0-<wbr>0" in page  # weights table and file list
    assert "pipeline-<wbr>domain.<wbr>fingerprints.<wbr>npy" in page
