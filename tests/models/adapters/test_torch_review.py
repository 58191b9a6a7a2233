"""Torch adapter fixes: thread-local ``skip_init``, weight-name clashes, constructors with ``*args``."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dchub_client
from dchub_client.errors import InvalidWeightNameError, ParameterEncodingError
from dchub_client.models.adapters.base import Adapter
from dchub_client.models.recording import VARARGS_KEY, split_varargs

dc = pytest.importorskip("deepchem")
torch = pytest.importorskip("torch")
from dchub_client.models.adapters.torch import skip_init  # noqa: E402
from tests.models.adapters import user_torch_models  # noqa: E402
from tests.models.adapters.user_torch_review_models import RootNamedChild, SmallNet, VarargsTorchModel  # noqa: E402

SENTINEL = 7.0


def _reset_changes_weights() -> bool:
    """Fill a Linear with a constant, re-initialize it: True when the initializer really ran."""
    layer = torch.nn.Linear(20, 20)
    with torch.no_grad():
        layer.weight.fill_(SENTINEL)
    layer.reset_parameters()
    return not bool(torch.all(layer.weight == SENTINEL))


# --- 1. skip_init only affects the thread that uses it ----------------------------------------


def test_skip_init_skips_initializers_on_the_loading_thread_only() -> None:
    other: dict[str, Any] = {}

    def build_elsewhere() -> None:
        torch.manual_seed(0)
        other["std"] = float(torch.nn.Linear(200, 200).weight.std())
        other["initialized"] = _reset_changes_weights()

    with skip_init():
        assert not _reset_changes_weights()
        thread = threading.Thread(target=build_elsewhere)
        thread.start()
        thread.join()
        assert not _reset_changes_weights()  # still skipping here after the other thread ran

    assert other["initialized"]
    # kaiming_uniform_(a=sqrt(5)) on fan_in 200: uniform(+-1/sqrt(200)), std 1/sqrt(600) ~ 0.041
    assert other["std"] == pytest.approx(1 / np.sqrt(600), rel=0.05)
    assert _reset_changes_weights()


def test_skip_init_is_reentrant() -> None:
    with skip_init():
        with skip_init():
            assert not _reset_changes_weights()
        assert not _reset_changes_weights()
    assert _reset_changes_weights()


def test_skip_init_is_cleared_after_an_exception() -> None:
    with pytest.raises(RuntimeError, match="boom"), skip_init():
        raise RuntimeError("boom")
    assert _reset_changes_weights()


def test_initializers_keep_their_names_and_accept_keyword_tensors() -> None:
    with skip_init():
        pass  # installs the wrappers
    assert torch.nn.init.xavier_uniform_.__name__ == "xavier_uniform_"
    tensor = torch.zeros(3)
    assert torch.nn.init.constant_(tensor=tensor, val=2.0) is tensor
    assert torch.all(tensor == 2.0)


def test_from_pretrained_still_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = dc.models.TorchModel(user_torch_models.TwoLayerNet(6, hidden=4), dc.models.losses.L2Loss())
    again = dchub_client.from_pretrained(model.to_pretrained(tmp_path / "m"))
    expected, actual = dchub_client.get_weights(model), dchub_client.get_weights(again)
    assert list(actual) == list(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


# --- 2. a submodule called "root" -------------------------------------------------------------


def test_submodule_named_root_is_refused_naming_both_keys(tmp_path: Path) -> None:
    model = dc.models.TorchModel(RootNamedChild(), dc.models.losses.L2Loss())
    with pytest.raises(InvalidWeightNameError) as info:
        dchub_client.get_weights(model)
    assert "'torchmodel-root-0'" in str(info.value)
    assert "'scale'" in str(info.value) and "'root.weight'" in str(info.value)
    with pytest.raises(InvalidWeightNameError, match="root.weight"):
        model.to_pretrained(tmp_path / "clash")
    assert not (tmp_path / "clash" / "params.json").exists()


def test_nested_module_called_root_does_not_clash() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 2))
    net.add_module("root", torch.nn.Linear(2, 2))  # "root" child of a root without own tensors
    weights = dchub_client.get_weights(dc.models.TorchModel(net, dc.models.losses.L2Loss()))
    assert sorted(weights) == ["torchmodel-0-0", "torchmodel-0-1", "torchmodel-root-0", "torchmodel-root-1"]


# --- 3. constructors with *args ---------------------------------------------------------------


def test_varargs_subclass_saves_and_loads_with_equal_weights(tmp_path: Path) -> None:
    torch.manual_seed(2)
    model = VarargsTorchModel(SmallNet(5), dc.models.losses.L2Loss(), batch_size=4)
    folder = model.to_pretrained(tmp_path / "varargs")
    params = json.loads((folder / "params.json").read_text())
    assert VARARGS_KEY in json.dumps(params)

    again = dchub_client.from_pretrained(folder)
    assert type(again) is VarargsTorchModel
    assert isinstance(again.model, SmallNet) and again.batch_size == 4
    expected, actual = dchub_client.get_weights(model), dchub_client.get_weights(again)
    assert list(actual) == list(expected) == ["varargstorchmodel-linear-0", "varargstorchmodel-linear-1"]
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_array_equal(again.predict_on_batch(x), model.predict_on_batch(x))


def test_split_varargs_accepts_a_tuple_or_a_json_list() -> None:
    assert split_varargs({VARARGS_KEY: (1, 2), "c": 3}) == ((1, 2), {"c": 3})
    assert split_varargs({VARARGS_KEY: [1, 2], "c": 3}) == ((1, 2), {"c": 3})
    assert split_varargs({"c": 3}) == ((), {"c": 3})
    with pytest.raises(ParameterEncodingError, match=r"\*args"):
        split_varargs({VARARGS_KEY: 5})


class _Plain:
    def __init__(self, *args: Any, c: int = 0) -> None:
        self.args, self.c = args, c


class _MinimalAdapter(Adapter):
    framework = "test"
    base_classes = ()

    def specs(self, model: Any) -> dict:
        return {}

    def read(self, model: Any) -> Iterator[tuple[str, str, np.ndarray]]:
        return iter(())

    def assign(self, model: Any, values: Mapping[str, Any]) -> None:
        pass


def test_base_adapter_build_passes_varargs_positionally() -> None:
    parameters = {VARARGS_KEY: [1, "two"], "c": 3}
    built = _MinimalAdapter().build(_Plain, parameters)
    assert built.args == (1, "two") and built.c == 3
    assert parameters == {VARARGS_KEY: [1, "two"], "c": 3}  # the caller's dict is left alone
