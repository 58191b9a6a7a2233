"""Constructor arguments to JSON and back, and the allowlist that guards decoding."""
from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

import dchub_client
from dchub_client import errors
from dchub_client.models import encoding
from dchub_client.models.allowlist import registry

dc = pytest.importorskip("deepchem")
torch = pytest.importorskip("torch")


def _round_trip(value):
    encoded = encoding.encode_value(value, "arg")
    text = json.dumps(encoded, allow_nan=False)  # strict JSON, always
    return encoded, encoding.decode_value(json.loads(text), None)


@pytest.mark.parametrize("value", [
    None, True, 3, "relu", [1, [2, 3]], {"a": [1.5]}, (1, 2), {1: "x", (2, 3): "y"}, float("inf"),
    np.float32(0.5), np.int64(7),
])
def test_plain_values_round_trip(value) -> None:
    _, decoded = _round_trip(value)
    assert decoded == (value.item() if isinstance(value, np.generic) else value)
    assert type(decoded) is (type(value.item()) if isinstance(value, np.generic) else type(value))


def test_nan_and_arrays_round_trip() -> None:
    _, decoded = _round_trip(float("nan"))
    assert math.isnan(decoded)
    array = np.array([[1.0, np.nan], [np.inf, 2.0]], dtype=np.float32)
    encoded, decoded = _round_trip(array)
    assert encoded["__dchub__"] == "ndarray"
    np.testing.assert_array_equal(decoded, array)
    assert decoded.dtype == np.float32


def test_deepchem_objects_and_references_round_trip() -> None:
    optimizer = dc.models.optimizers.Adam(learning_rate=dc.models.optimizers.PolynomialDecay(0.1, 0.01, 100))
    encoded, decoded = _round_trip({"optimizer": optimizer, "loss": dc.models.losses.L2Loss(),
                                    "activation": torch.nn.functional.relu, "act": torch.nn.ReLU(),
                                    "dtype": np.float32})
    assert encoded["optimizer"]["class"] == "deepchem.models.optimizers.Adam"
    assert isinstance(decoded["optimizer"].learning_rate, dc.models.optimizers.PolynomialDecay)
    assert decoded["optimizer"].learning_rate.final_rate == 0.01
    assert isinstance(decoded["loss"], dc.models.losses.L2Loss)
    assert decoded["activation"] is torch.nn.functional.relu
    assert isinstance(decoded["act"], torch.nn.ReLU) and decoded["dtype"] is np.float32


class Unregistered:
    def __init__(self, size: int) -> None:
        self.size = size


def test_unknown_objects_cannot_be_encoded_and_the_message_says_how_to_register() -> None:
    with pytest.raises(errors.ParameterEncodingError, match=r"'layers\[1\]'.*register_class\(Unregistered\)"):
        encoding.encode_parameters({"layers": [1, Unregistered(3)]})
    with pytest.raises(errors.ParameterEncodingError, match="object"):
        encoding.encode_value(np.array([object()], dtype=object), "x")
    with pytest.raises(errors.ParameterEncodingError, match="allowlist"):
        encoding.encode_value(print, "callback")


class Registered:
    def __init__(self, size: int, *, name: str = "x", **extra) -> None:
        self.total = size  # not stored under the argument's name: recording is what makes it work


def test_registered_classes_record_their_arguments_and_round_trip() -> None:
    dchub_client.register_class(Registered)  # module level: a class inside a function cannot be registered
    try:
        encoded, decoded = _round_trip(Registered(3, name="y", colour="red"))
        assert encoded["kwargs"] == {"size": 3, "name": "y", "colour": "red"}
        assert isinstance(decoded, Registered) and decoded.total == 3
    finally:
        registry._REGISTERED.pop(registry.qualified_name(Registered))  # tests only: forget the class


HOSTILE = [
    {"__dchub__": "object", "class": "os.system", "kwargs": {"command": "touch /tmp/pwned"}},
    {"__dchub__": "ref", "name": "subprocess.Popen"},
    {"__dchub__": "object", "class": "builtins.eval", "kwargs": {}},
    {"__dchub__": "object", "class": "deepchem.utils.data_utils.download_url", "kwargs": {"url": "http://x"}},
    {"__dchub__": "object", "class": "deepchem.data.DiskDataset", "kwargs": {"data_dir": "/"}},
    {"__dchub__": "state", "class": "deepchem.models.optimizers.Adam", "state": {}},
    {"__dchub__": "object", "class": "torch.load", "kwargs": {"f": "x"}},
    {"__dchub__": "ref", "name": "torch.nn.functional.__builtins__"},
    {"__dchub__": "object", "class": "numpy.load", "kwargs": {"file": "x", "allow_pickle": True}},
    {"__dchub__": "ref", "name": "deepchem.utils.os.system"},
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: h.get("class", h.get("name")))
def test_hostile_names_are_refused_without_importing_them(hostile) -> None:
    before = set(sys.modules)
    with pytest.raises(errors.UntrustedClassError, match="refusing to build"):
        encoding.decode_parameters({"x": hostile}, source="params.json")
    assert "subprocess" not in set(sys.modules) - before


@pytest.mark.parametrize("bad, message", [
    ({"__dchub__": "nope"}, "unknown tagged value"),
    ({"__dchub__": "tuple"}, "malformed 'tuple'"),
    ({"__dchub__": "float", "value": "1e999"}, "bad float"),
    ({"__dchub__": "ndarray", "dtype": "|O", "shape": [1], "data": [1]}, "refusing inline array"),
    ({"__dchub__": "ndarray", "dtype": "<f4", "shape": [3], "data": [1]}, "not \\(3,\\)"),
    ({"__dchub__": "dict", "items": [[1]]}, "pairs"),
])
def test_malformed_tagged_values(bad, message) -> None:
    with pytest.raises(errors.PretrainedFormatError, match=message):
        encoding.decode_parameters({"x": bad}, source="params.json")


def test_deep_nesting_is_refused() -> None:
    value: list = []
    for _ in range(100):
        value = [value]
    with pytest.raises(errors.ParameterEncodingError, match="nested too deeply"):
        encoding.encode_value(value, "x")
    with pytest.raises(errors.PretrainedFormatError, match="nested too deeply"):
        encoding.decode_parameters({"x": value})


@pytest.mark.parametrize("name, reason", [
    ("numpy.f2py.__main__.main", "dunder"),  # importing it would run f2py's command line and exit
    ("torch.utils.model_dump.__main__.main", "dunder"),
    ("deepchem.models.torch_models.torch_model.torch.fx.GraphModule", "name does not match"),  # a re-export
    ("deepchem.models.torch_models.torch_model.torch.jit.ScriptModule", "name does not match"),
])
def test_dunder_modules_and_reexports_through_another_package_are_refused(name: str, reason: str) -> None:
    with pytest.raises(errors.UntrustedClassError, match=reason):
        encoding.decode_parameters({"x": {"__dchub__": "object", "class": name, "kwargs": {}}}, source="params.json")


@dchub_client.register_class
class _ReadsAPickle:
    """Like ``Mol2VecFingerprint(pretrain_model_path=...)``: a constructor that would unpickle a path."""

    def __init__(self, pretrain_model_path: str | None = None) -> None:
        self.path = pretrain_model_path


@pytest.mark.parametrize("value", [
    {"__dchub__": "object", "class": f"{__name__}._ReadsAPickle",
     "kwargs": {"pretrain_model_path": "/tmp/evil.pkl"}},  # gensim would unpickle it
    {"__dchub__": "object", "class": "deepchem.models.MultitaskRegressor",
     "kwargs": {"n_tasks": 1, "n_features": 2, "model_dir": "/tmp/created-by-a-stranger"}},
])
def test_arguments_naming_files_or_folders_are_never_taken_from_params_json(value, tmp_path) -> None:
    with pytest.raises(errors.PretrainedFormatError, match="never taken from params.json"):
        encoding.decode_parameters({"x": value}, source="params.json")
    with pytest.raises(errors.PretrainedFormatError, match="'model_dir'"):
        encoding.decode_parameters({"model_dir": str(tmp_path / "x")}, source="params.json")
    assert not (tmp_path / "x").exists()


def test_mol2vec_is_refused_before_its_path_or_download_matter() -> None:
    value = {"__dchub__": "object", "class": "deepchem.feat.Mol2VecFingerprint",
             "kwargs": {"pretrain_model_path": "/tmp/evil.pkl"}}
    with pytest.raises(errors.NetworkAccessError, match="Mol2VecFingerprint.*downloads the mol2vec model"):
        encoding.decode_parameters({"x": value}, source="params.json")


def test_inline_arrays_are_bounded_in_bytes_not_only_elements() -> None:
    for dtype in ["(5000,10000)f8", "V100000000"]:
        with pytest.raises(errors.PretrainedFormatError, match="refusing inline array"):
            encoding.decode_parameters({"x": {"__dchub__": "ndarray", "dtype": dtype, "shape": [], "data": 0.0}})
