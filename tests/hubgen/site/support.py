"""Helpers for the site tests: a small hub with realistic weight names, hostile cards and parts."""
from __future__ import annotations

import html.parser
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from dchub_client.format.pretrained import write_pretrained
from hubgen.build import build_hub
from hubgen.serve import HubServer, make_server

EPOCH = "1767225600"  # 2026-01-01T00:00:00Z
XSS = "<script>alert(1)</script>"
#: A weight with more values than hubgen.site.reader.SAMPLE_ELEMENTS, so its histogram is sampled.
BIG_ELEMENTS = 300_000

README = f"""---
license: MIT
datasets: [delaney]
---
# ESOL regressor

Trained on **Delaney** solubility; see [the paper](https://doi.org/10.1021/ci034243x).
Raw HTML stays text: {XSS} <img src=x onerror=alert(2)>
[a trap](javascript:alert(3))

- fast
- small
"""

HUB_YAML = f"""
name: site-hub
title: Site test hub
description: "Models for the site tests, with <b>markup</b> that must stay text."
mirrors: [https://example.org/hub/]
models:
  - name: esol-mtr
    version: 1.0.0
    path: esol-1.0.0
    card: {{description: first version, task: regression, license: MIT, tags: [solubility]}}
  - name: esol-mtr
    version: 1.1.0
    path: esol-1.1.0
    card:
      description: "Multitask regressor on ESOL {XSS}"
      task: regression
      license: MIT
      tags: [solubility, fingerprints]
      citation: "Delaney, J. S. (2004) <i>JCICS</i>"
      dataset: delaney
      intended_use: teaching and benchmarks
      metrics: {{rmse: 0.5817, r2: 0.7421}}
      headline_metric: rmse
  - name: tox-clf
    version: "0.2"
    path: tox
    card:
      description: Toxicity classifier
      task: classification
      license: Apache-2.0
      tags: [toxicity]
      training_data: {{name: Tox21 NR-AR, molecules: 7265, source: tox21.csv.gz}}
      headline_metric: roc_auc
      metrics:
        - {{name: accuracy, value: 0.912345, split: "random 80/20 (seed 0), held-out test set"}}
        - {{name: roc_auc, value: 0.8, split: "scaffold 80/20 (deepchem ScaffoldSplitter), held-out test set"}}
        - {{name: roc_auc, value: 0.75, split: external test set, dataset: ClinTox}}
  - name: big-net
    version: "1.0"
    path: big
    card: {{task: representation, license: CC-BY-4.0, tags: [embedding]}}
"""


def _layers(model: str, sizes: list[tuple[str, tuple[int, ...]]], seed: int) -> list[tuple[str, str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    weights = []
    for layer, shape in sizes:
        weights.append((f"{model}-{layer}-0", f"{layer}.weight", rng.normal(size=shape).astype(np.float32)))
        weights.append((f"{model}-{layer}-1", f"{layer}.bias", rng.normal(size=shape[:1]).astype(np.float32)))
    return weights


#: The pipeline of esol-mtr 1.1.0, as ``dchub_client.models.pipeline`` writes it into ``params.json`` ``extra``.
PIPELINE = {
    "featurizer": {"__dchub__": "object",
                   "class": "deepchem.feat.molecule_featurizers.circular_fingerprint.CircularFingerprint",
                   "kwargs": {"radius": 2, "size": 128, "chiral": False}},
    "transformers": [{"__dchub__": "state", "class": "deepchem.trans.transformers.NormalizationTransformer",
                      "state": {"transform_X": False, "transform_y": True, "transform_w": False,
                                "y_means": {"__dchub__": "weight", "name": "pipeline-transformers.0-0"},
                                "y_stds": {"__dchub__": "weight", "name": "pipeline-transformers.0-1"}}}],
}
#: A tox-clf weight that is optimizer state without the ``optimizer-`` prefix: only
#: ``extra["auxiliary_weights"]`` says it is not a model parameter.
MOMENTUM = "multitaskclassifier-momentum-0"


def _pipeline_arrays() -> list[tuple[str, str, np.ndarray]]:
    return [("pipeline-transformers.0-0", "y_means", np.array([-3.05])),
            ("pipeline-transformers.0-1", "y_stds", np.array([2.1]))]


def make_sources(root: Path) -> Path:
    """Pretrained folders and a ``hub_manifest.yaml`` under *root*; returns the YAML path."""
    params = {"n_tasks": 1, "n_features": 128, "layer_sizes": [64, 32],
              "dropouts": {"__dchub__": "tuple", "items": [0.1, 0.1]},
              "optimizer": {"__dchub__": "object", "class": "deepchem.models.optimizers.Adam",
                            "kwargs": {"learning_rate": 0.001}}}
    mtr = [("layers.0", (64, 128)), ("layers.1", (32, 64)), ("heads.0", (1, 32))]
    write_pretrained(root / "esol-1.0.0", class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters=params, weights=_layers("multitaskregressor", mtr, 1),
                     versions={"deepchem": "2.8.0", "torch": "2.13.0"})
    write_pretrained(root / "esol-1.1.0", class_name="deepchem.models.fcnet.MultitaskRegressor", framework="torch",
                     parameters=params, weights=_layers("multitaskregressor", mtr, 2) + _pipeline_arrays(),
                     versions={"deepchem": "2.8.0", "torch": "2.13.0"}, files={"README.md": README.encode()},
                     extra={"pipeline": PIPELINE,
                            "auxiliary_weights": [name for name, _, _ in _pipeline_arrays()]})
    tox = _layers("multitaskclassifier", [("layers.0", (16, 8)), ("layers.1", (2, 16))], 3)
    tox.append((MOMENTUM, "state.0.exp_avg", np.full((16, 8), 1e6, dtype=np.float32)))
    write_pretrained(root / "tox", class_name="deepchem.models.fcnet.MultitaskClassifier", framework="torch",
                     parameters={"n_tasks": 2, "n_features": 8}, weights=tox,
                     extra={"training": {"optimizer": {"state": {"0": {"exp_avg": {"__dchub__": "weight",
                                                                                    "name": MOMENTUM}}}},
                                         "global_step": 10},
                            "auxiliary_weights": [MOMENTUM]})
    big = np.random.default_rng(4).standard_normal(BIG_ELEMENTS).astype(np.float32)
    write_pretrained(root / "big", class_name="deepchem.models.torch_models.MPNNModel", framework="torch",
                     parameters={"n_tasks": 1}, weights=[("mpnnmodel-embedding-0", "embedding.weight", big)])
    path = root / "hub_manifest.yaml"
    path.write_text(textwrap.dedent(HUB_YAML).lstrip(), encoding="utf-8")
    return path


def build_site_hub(root: Path, *, part_size: int | None = None, sources: Path | None = None) -> Path:
    """Build the test hub (with its site) into ``root/hub``; returns the hub folder."""
    yaml_path = sources or make_sources(root / "src")
    out = root / "hub"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", EPOCH)
        build_hub(yaml_path, out, part_size=part_size)
    return out


def site_files(hub: Path) -> dict[str, bytes]:
    """Every file of the site (pages and assets) by relative path."""
    paths = [hub / "index.html", *sorted((hub / "models").glob("*/index.html")),
             *sorted(p for p in (hub / "assets").rglob("*") if p.is_file())]
    return {p.relative_to(hub).as_posix(): p.read_bytes() for p in paths}


class LinkCollector(html.parser.HTMLParser):
    """Collects every ``href``/``src`` of a page, with the tag that carries it."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append((tag, value))
            if name == "id" and value:
                self.ids.add(value)


def page_links(path: Path) -> LinkCollector:
    """Parse the page at *path* and return its links and ids."""
    collector = LinkCollector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


@contextmanager
def serving(hub: Path, base: str = "/myhub/") -> Iterator[HubServer]:
    """``hubgen.serve``'s server for *hub* on a free loopback port, in a thread."""
    server = make_server(hub, port=0, base=base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
