"""A real DeepChem model through the whole path: to_pretrained -> hubgen -> HTTP mirror -> from_pretrained."""
from __future__ import annotations

import numpy as np
import pytest

import dchub_client
from dchub_client.hub.resolve import resolve_pretrained
from tests._support.hubs import build_hub

dc = pytest.importorskip("deepchem")
pytest.importorskip("torch")


def test_deepchem_model_from_a_mirror_then_offline(tmp_path, serve, dead_url, monkeypatch):
    model = dc.models.MultitaskRegressor(n_tasks=1, n_features=64, layer_sizes=[32], model_dir=str(tmp_path / "m"))
    X = np.random.default_rng(0).random((8, 64), dtype=np.float32)
    model.fit(dc.data.NumpyDataset(X, np.zeros((8, 1), np.float32)), nb_epoch=1)
    expected = model.predict_on_batch(X)
    dchub_client.to_pretrained(model, tmp_path / "src")
    server = serve(build_hub(tmp_path, {("esol-mtr", "1.0.0"): tmp_path / "src"}))
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{dead_url} {server.url}")
    loaded = dchub_client.from_pretrained("esol-mtr", model_dir=str(tmp_path / "m2"))
    np.testing.assert_allclose(loaded.predict_on_batch(X), expected, rtol=1e-6)
    assert resolve_pretrained("esol-mtr").verified
    server.close()
    monkeypatch.setenv("DEEPCHEM_HUB_OFFLINE", "1")
    again = dchub_client.from_pretrained("esol-mtr@1.0.0", model_dir=str(tmp_path / "m3"))
    np.testing.assert_allclose(again.predict_on_batch(X), expected, rtol=1e-6)
