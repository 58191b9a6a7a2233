"""Building a model from a folder never touches the network (issue 15, item 4).

``CGCNNFeaturizer`` (allowlisted: a DeepChem featurizer) fetched a file from DeepChem's bucket in its
constructor, so ``load_pipeline`` and ``from_pretrained`` reached the network. Known downloaders are
refused up front; any other attempt is blocked by the network guard before a socket exists.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import dchub_client
from dchub_client.errors import NetworkAccessError, UntrustedClassError
from dchub_client.models import netguard
from dchub_client.models.allowlist import policies
from tests._support.folders import edit_params
from tests._support.molecules import nci_molecules

ROOT = Path(__file__).resolve().parents[2]
CGCNN = "deepchem.feat.material_featurizers.cgcnn_featurizer.CGCNNFeaturizer"
_passed: list[tuple[str, str]] = []
_recording = threading.local()


def _record(event: str, args: tuple) -> None:
    if getattr(_recording, "on", False) and event in netguard._DESCRIBE:
        _passed.append((event, repr(args)[:120]))


@pytest.fixture
def network_seen():
    """Network operations that got *past* the guard on this thread (the recorder runs after the guard's hook)."""
    if not getattr(_record, "installed", False):
        netguard.install()
        sys.addaudithook(_record)
        _record.installed = True  # type: ignore[attr-defined]
    _passed.clear()
    _recording.on = True
    yield _passed
    _recording.on = False


@pytest.fixture
def listener():
    """A loopback TCP listener; ``accepted()`` says whether anything connected."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.3)

    def accepted() -> bool:
        try:
            server.accept()[0].close()
        except TimeoutError:
            return False
        return True

    yield server.getsockname(), accepted
    server.close()


@pytest.fixture
def pipeline_folder(tmp_path) -> Path:
    """A real sklearn pipeline (ECFP of NCI molecules -> ridge regression on their molecular weight)."""
    import deepchem as dc
    from sklearn.linear_model import Ridge

    smiles, y = nci_molecules(32)
    featurizer = dc.feat.CircularFingerprint(size=64)
    model = dc.models.SklearnModel(Ridge(alpha=1.0))
    model.fit(dc.data.NumpyDataset(featurizer.featurize(smiles), y))
    return dchub_client.to_pretrained(model, tmp_path / "pipe", featurizer=featurizer)


def _cgcnn(data: dict) -> None:
    data["extra"]["pipeline"]["featurizer"] = {"__dchub__": "object", "class": "deepchem.feat.CGCNNFeaturizer",
                                               "kwargs": {}}


def test_a_pipeline_naming_cgcnn_featurizer_is_refused_before_any_network_use(pipeline_folder, network_seen):
    assert np.isfinite(dchub_client.load_pipeline(pipeline_folder).predict(["CCO"])).all()
    edit_params(pipeline_folder, _cgcnn)
    with pytest.raises(NetworkAccessError, match=r"params\.json: refusing to build '" + CGCNN.replace(".", r"\.")
                       + r"'.*downloads atom_init\.json") as info:
        dchub_client.load_pipeline(pipeline_folder)
    assert isinstance(info.value, UntrustedClassError) and info.value.qualname == CGCNN
    assert network_seen == []


def test_from_pretrained_with_an_argument_naming_cgcnn_is_refused(pipeline_folder, network_seen):
    edit_params(pipeline_folder, lambda d: d["parameters"].update(
        featurizer={"__dchub__": "object", "class": "deepchem.feat.CGCNNFeaturizer", "kwargs": {}}))
    with pytest.raises(NetworkAccessError, match="CGCNNFeaturizer"):
        dchub_client.from_pretrained(pipeline_folder)
    assert network_seen == []


@dchub_client.register_class
class Phoning(dchub_client.Model):
    """A user model whose constructor connects to ``Phoning.target`` (when set)."""

    target: tuple[str, int] | None = None

    def __init__(self, swallow: bool = False) -> None:
        self.weight = np.zeros(3, np.float32)
        self.swallow = swallow
        if Phoning.target is not None:
            try:
                socket.create_connection(Phoning.target, timeout=2).close()
            except OSError:
                if not swallow:  # like CGCNNFeaturizer, which logs a network error and carries on
                    raise

    def get_weights(self) -> dict[str, np.ndarray]:
        return {"weight": self.weight}

    def set_weight(self, name: str, value: np.ndarray) -> None:
        self.weight[...] = value

    def get_parameters(self) -> dict[str, bool]:
        return {"swallow": self.swallow}


@pytest.mark.parametrize("swallow", [False, True], ids=["raises", "swallows-the-error"])
def test_a_constructor_that_connects_is_refused_and_no_connection_reaches_the_server(
        tmp_path, listener, network_seen, monkeypatch, swallow):
    address, accepted = listener
    Phoning(swallow=swallow).to_pretrained(tmp_path / "m")
    monkeypatch.setattr(Phoning, "target", address)
    with pytest.raises(NetworkAccessError, match=r"refusing to build 'tests\.security\.test_network_guard\.Phoning'"
                       r".*(resolve|connect|socket)") as info:
        dchub_client.from_pretrained(tmp_path / "m")
    assert info.value.path == tmp_path / "m" / "params.json"
    assert not accepted()
    assert network_seen == []
    monkeypatch.setattr(Phoning, "target", None)
    assert isinstance(dchub_client.from_pretrained(tmp_path / "m"), Phoning)


def test_the_guard_follows_its_thread_only(serve, tmp_path, network_seen):
    (tmp_path / "hello.txt").write_text("hi")
    url = serve(tmp_path).url + "hello.txt"
    results: list[bytes] = []
    with pytest.raises(NetworkAccessError, match="fetch http://127.0.0.1"):
        with netguard.no_network("demo.Thing"):
            worker = threading.Thread(target=lambda: results.append(urllib.request.urlopen(url, timeout=5).read()))
            worker.start()
            worker.join()
            urllib.request.urlopen(url, timeout=5)
    assert results == [b"hi"]  # another thread (a download beside a load) keeps its network
    assert urllib.request.urlopen(url, timeout=5).read() == b"hi"  # and this one has it back
    with netguard.no_network("demo.Unix"):
        left, right = socket.socketpair()  # Unix-domain sockets are local IPC, not network
        left.close()
        right.close()


def test_every_allowlisted_class_built_with_default_arguments_opens_no_socket(tmp_path):
    out = tmp_path / "survey.json"
    result = subprocess.run([sys.executable, "-m", "tests._support.network_survey", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    survey = json.loads(out.read_text())
    assert len(survey["classes"]) > 400 and CGCNN in survey["classes"]
    assert survey["leaked"] == []  # nothing got past the guard
    assert CGCNN in survey["network"]
    assert set(survey["network"]) <= set(policies._DEEPCHEM_NETWORK_CLASSES), \
        "a class reached for the network: refuse it up front in policies._DEEPCHEM_NETWORK_CLASSES"


def test_a_module_that_phones_home_when_imported_is_named(tmp_path, monkeypatch, listener, network_seen):
    import importlib

    address, accepted = listener
    (tmp_path / "phones_at_import.py").write_text(
        f"import socket\nsocket.create_connection({address!r}, timeout=2).close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(NetworkAccessError, match=r"'phones_at_import \(when imported\)'.*resolve '127\.0\.0\.1'"):
        with netguard.no_network("demo.Thing"):
            importlib.import_module("phones_at_import")
    assert not accepted() and network_seen == []
    monkeypatch.delitem(sys.modules, "phones_at_import", raising=False)
