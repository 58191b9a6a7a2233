"""Saving refuses what cannot load: constructor arguments read back from framework built-ins are checked by
rebuilding them, classes defined inside functions are refused, and built-ins are allowlisted by their package."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import dchub_client
from dchub_client import errors
from dchub_client.models import encoding
from dchub_client.models.allowlist import registry
from dchub_client.models.recording import ATTRIBUTE

dc = pytest.importorskip("deepchem")
torch = pytest.importorskip("torch")


def _round_trip(value: object) -> object:
    return encoding.decode_value(encoding.encode_value(value, "model"), None)


def test_sequential_keeps_its_positional_children() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    encoded = encoding.encode_value(net, "model")
    assert [child["class"].rsplit(".", 1)[1] for child in encoded["kwargs"]["*args"]["items"]] == \
        ["Linear", "ReLU", "Linear"]
    assert repr(encoding.decode_value(encoded, None)) == repr(net)


def test_sequential_of_named_children_keeps_names_and_order() -> None:
    net = torch.nn.Sequential(OrderedDict([("embed", torch.nn.Linear(4, 3)), ("act", torch.nn.Tanh()),
                                           ("out", torch.nn.Linear(3, 1))]))
    rebuilt = _round_trip(net)
    assert [name for name, _ in rebuilt.named_children()] == ["embed", "act", "out"]
    assert repr(rebuilt) == repr(net)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_bias_parameter_is_read_back_as_the_bias_flag(bias: bool) -> None:
    rebuilt = _round_trip(torch.nn.Linear(4, 1, bias=bias))
    assert (rebuilt.bias is not None) is bias and tuple(rebuilt.weight.shape) == (1, 4)


def test_torch_model_wrapping_a_bare_linear_saves_and_loads(tmp_path: Path) -> None:
    model = dc.models.TorchModel(torch.nn.Linear(4, 1), dc.models.losses.L2Loss(), batch_size=4)
    X = np.random.RandomState(0).rand(8, 4).astype(np.float32)
    model.fit(dc.data.NumpyDataset(X, X.sum(1, keepdims=True)), nb_epoch=1)
    again = dchub_client.from_pretrained(model.to_pretrained(tmp_path / "linear"))
    np.testing.assert_array_equal(again.predict_on_batch(X), model.predict_on_batch(X))


def test_arguments_a_module_does_not_keep_are_refused_when_saving(tmp_path: Path) -> None:
    attention = torch.nn.MultiheadAttention(8, 2, bias=False)  # keeps no `bias` attribute: True would be read back
    attention.__dict__.pop(ATTRIBUTE, None)  # as built before any registration (another test registers the class)
    with pytest.raises(errors.ParameterEncodingError, match=r"'model'.*MultiheadAttention rebuilt .* differs.*"
                                                           r"register_class"):
        encoding.encode_value(attention, "model")
    model = dc.models.TorchModel(torch.nn.Sequential(attention), dc.models.losses.L2Loss())
    with pytest.raises(errors.ParameterEncodingError, match=r"model\.\*args\[0\]"):
        model.to_pretrained(tmp_path / "attention")
    assert not (tmp_path / "attention").exists()


def test_registering_a_built_in_records_its_arguments_instead() -> None:
    dchub_client.register_class(torch.nn.MultiheadAttention)
    try:
        rebuilt = _round_trip(torch.nn.MultiheadAttention(8, 2, bias=False))
        assert rebuilt.in_proj_bias is None
    finally:
        registry._REGISTERED.pop(registry.qualified_name(torch.nn.MultiheadAttention))  # tests only: forget it


def test_classes_defined_inside_a_function_are_refused_at_register_and_save(tmp_path: Path) -> None:
    class LocalNet(torch.nn.Module):
        pass

    class LocalLoss(dc.models.losses.L2Loss):  # allowed by DeepChem's policy, but no other process can import it
        pass

    class LocalRegressor(dc.models.MultitaskRegressor):
        pass

    with pytest.raises(TypeError, match=r"LocalNet.*inside a function.*module level"):
        dchub_client.register_class(LocalNet)
    model = dc.models.TorchModel(torch.nn.Linear(3, 1), LocalLoss())
    with pytest.raises(errors.ParameterEncodingError, match=r"'loss'.*<locals>.LocalLoss is not on .* inside a function"):
        model.to_pretrained(tmp_path / "loss")
    with pytest.raises(errors.ParameterEncodingError, match=r"<locals>.LocalRegressor is not on .* inside a function"):
        LocalRegressor(1, 4, layer_sizes=[2]).to_pretrained(tmp_path / "model")
    assert not (tmp_path / "loss").exists() and not (tmp_path / "model").exists()


def test_torch_init_functions_are_allowlisted_references() -> None:
    assert _round_trip(torch.nn.init.xavier_uniform_).__name__ == "xavier_uniform_"
    with pytest.raises(errors.UntrustedClassError):
        encoding.decode_value({"__dchub__": "ref", "name": "torch.nn.init._calculate_fan_in_and_fan_out"}, None)


def test_keras_built_in_initializers_regularizers_and_constraints_round_trip() -> None:
    tf_keras = pytest.importorskip("tf_keras")
    layer = tf_keras.layers.Dense(3, kernel_initializer=tf_keras.initializers.HeNormal(seed=3),
                                  kernel_regularizer=tf_keras.regularizers.L2(0.01),
                                  kernel_constraint=tf_keras.constraints.MaxNorm(2.0), activation="tanh")
    rebuilt = _round_trip(layer)
    assert isinstance(rebuilt.kernel_initializer, tf_keras.initializers.HeNormal)
    assert rebuilt.kernel_initializer.seed == 3 and float(rebuilt.kernel_regularizer.l2) == pytest.approx(0.01)
    assert rebuilt.kernel_constraint.max_value == 2.0 and rebuilt.get_config()["activation"] == "tanh"


def test_keras_objects_rebuilt_differently_are_refused_by_their_config() -> None:
    tf_keras = pytest.importorskip("tf_keras")
    from dchub_client.models import introspection

    introspection.check_rebuilt(tf_keras.layers.Dense(3, name="a"), tf_keras.layers.Dense(3, name="b"), "model")
    with pytest.raises(errors.ParameterEncodingError, match=r"'model'.*Dense rebuilt .*get_config\(\) differs in "
                                                           r"\['units'\]"):
        introspection.check_rebuilt(tf_keras.layers.Dense(3), tf_keras.layers.Dense(5), "model")


def test_deepchem_vocabularies_are_stored_as_their_built_state() -> None:
    vocab = dc.feat.vocabulary_builders.GroverAtomVocabularyBuilder()
    vocab.build(dc.data.NumpyDataset(np.array(["CCO", "c1ccccc1O", "CC(=O)N"])))
    encoded = encoding.encode_value(vocab, "atom_vocab")
    assert encoded["__dchub__"] == "state"
    rebuilt = encoding.decode_value(encoded, None)
    assert rebuilt.stoi == vocab.stoi and rebuilt.itos == vocab.itos and rebuilt.size == vocab.size
