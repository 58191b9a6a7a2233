"""Adapter for DeepChem's ``KerasModel`` and its subclasses (legacy Keras, ``tf-keras``).

Weight names: ``<model class, lower-case>-<layer path>-<i>``. The layer path comes from the
object graph, never from ``layer.name`` (which carries Keras' global counters): a sub-layer
held in an attribute is named by that attribute (``gc1``, ``dense_layers.2``), a layer of a
functional or sequential model by its index (``layers.3``), and the root model's own variables
by ``root``. ``i`` counts a layer's own variables (trainable, then non-trainable), not those of
its sub-layers.

DeepChem builds subclassed Keras models lazily. The input signature (shapes and dtypes of the
Keras model's inputs) is recorded in ``params.json`` ``extra`` at save time; at load time the
model is called once on zeros of that signature, so its variables exist before they are assigned.
The loaded model is then in the state DeepChem's own ``restore()`` leaves it in: global step,
optimizer and checkpoint created (``_ensure_built``).

Variables that Keras itself does not track are found too: those of TensorFlow modules that are not
Keras layers (TensorFlow Probability bijectors and distributions, and the Keras layers they hold), held in
a layer's attributes (``NormalizingFlow.flow_layers.0._shift_and_log_scale_fn``).

Training state (``include_optimizer=True``): the global step, the optimizer's iteration count and
its slot variables (Adam's ``m`` and ``v``...) of each weight, named ``optimizer-<weight name>-<slot>``.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dchub_client.errors import (
    FrameworkConfigurationError,
    PretrainedFormatError,
    UnsupportedModelError,
)
from dchub_client.format import layout
from dchub_client.format.pretrained import WeightReader, validate_weight_name
from dchub_client.models import dependencies
from dchub_client.models.adapters.base import Adapter, WeightSpec

ROOT_LAYER = "root"
_KERAS_MODEL = "deepchem.models.keras_model.KerasModel"
#: ``params.json`` ``extra`` key holding the recorded input signature.
SIGNATURE_KEY = layout.EXTRA_KERAS_SIGNATURE
KERAS3_MESSAGE = (
    "TensorFlow is using Keras 3, but DeepChem's KerasModel needs legacy Keras 2: run "
    "`pip install tf-keras` and set the environment variable TF_USE_LEGACY_KERAS=1 before "
    "TensorFlow is first imported (e.g. `export TF_USE_LEGACY_KERAS=1`, or os.environ at the very top "
    "of your script)")


def tensorflow() -> Any:
    """Import TensorFlow, refusing a Keras 3 setup with :class:`FrameworkConfigurationError`."""
    try:
        tf = importlib.import_module("tensorflow")
    except ImportError as err:
        raise dependencies.missing("tensorflow", "this model") from err
    if keras3_active(tf):
        raise FrameworkConfigurationError(KERAS3_MESSAGE)
    return tf


def keras3_active(tf: Any) -> bool:
    """True when ``tf.keras`` is Keras 3 (the ``keras`` package) rather than legacy ``tf_keras``."""
    try:
        module = tf.keras.Model.__module__
    except (AttributeError, ImportError):
        return True
    return not module.startswith("tf_keras")


# --- naming: the object graph of a Keras model --------------------------------------------------


def _children(layer: Any, layer_cls: type) -> Iterator[tuple[str, Any]]:
    """``(relative path, sub-layer)`` in a stable order: attributes for subclassed layers, indices otherwise.

    *layer_cls* is ``tf.Module``: Keras layers and the TensorFlow modules (bijectors...) that hold them.
    """
    if getattr(layer, "_is_graph_network", False) or type(layer).__name__ == "Sequential":
        for i, sub in enumerate(layer.layers):
            yield f"layers.{i}", sub
        return
    state = vars(layer)
    names = [n for n in state if not n.startswith("_")] + [n for n in state if n.startswith("_")
                                                          and not n.startswith(("_self_", "_layers"))]
    for attr in names:
        yield from _attribute_layers(attr, state[attr], layer_cls)


def _attribute_layers(path: str, value: Any, layer_cls: type, depth: int = 0) -> Iterator[tuple[str, Any]]:
    if isinstance(value, layer_cls):
        yield path, value
    elif depth < 3 and isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _attribute_layers(f"{path}.{i}", item, layer_cls, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for key, item in value.items():
            yield from _attribute_layers(f"{path}.{key}", item, layer_cls, depth + 1)


def _own_variables(layer: Any, variable_cls: type, keras_owned: set[int]) -> list[Any]:
    """A layer's own variables: Keras' own lists, then variables kept in its public attributes (lists, dicts).

    A TensorFlow module that is not a Keras layer has no lists of its own: its variables are those held
    in its attributes, private ones included (``tfd.Normal(loc=tf.Variable(...))`` keeps ``_loc``).
    """
    keras_layer = hasattr(layer, "_trainable_weights")
    found = list(layer._trainable_weights) + list(layer._non_trainable_weights) if keras_layer else []
    for attr, value in vars(layer).items():
        if not attr.startswith("_") or not keras_layer and not attr.startswith("_self_"):
            found.extend(v for _path, v in _attribute_layers(attr, value, variable_cls) if id(v) not in keras_owned)
    return found


def _keras_owned(keras_model: Any) -> set[int]:
    layers = keras_model._flatten_layers(include_self=True, recursive=True)
    return {id(v) for layer in layers for v in [*layer._trainable_weights, *layer._non_trainable_weights]}


def variables(keras_model: Any, prefix: str) -> dict[str, tuple[str, Any]]:
    """``{dchub name: (key, tf.Variable)}`` for every variable of a Keras model, in a stable order.

    The key is the same layer path with the variable's own short name, for information.

    Raises:
        UnsupportedModelError: some variable of ``keras_model.weights`` is not reachable by a
            stable path (e.g. a layer held only in a Keras-internal container).
    """
    tf = tensorflow()
    layer_cls = tf.Module
    found: dict[str, tuple[str, Any]] = {}
    seen_layers: set[int] = set()
    seen_vars: set[int] = set()
    todo: list[tuple[str, Any]] = [(ROOT_LAYER, keras_model)]
    owned = _keras_owned(keras_model)
    while todo:
        path, layer = todo.pop(0)
        if id(layer) in seen_layers:
            continue
        seen_layers.add(id(layer))
        for i, var in enumerate(v for v in _own_variables(layer, tf.Variable, owned) if id(v) not in seen_vars):
            seen_vars.add(id(var))
            short = var.name.rsplit("/", 1)[-1].split(":")[0]
            found[validate_weight_name(f"{prefix}-{path}-{i}")] = (f"{path}/{short}", var)
        base = "" if path == ROOT_LAYER else path + "."
        todo.extend((base + rel, sub) for rel, sub in _children(layer, layer_cls))
    _check_coverage(keras_model, seen_vars)
    return found


def _check_coverage(keras_model: Any, seen: set[int]) -> None:
    missing = [v.name for v in keras_model.weights if id(v) not in seen]
    if missing:
        raise UnsupportedModelError(
            f"{type(keras_model).__name__}: cannot give stable names to variables {missing[:5]}; keep "
            "sub-layers in attributes (or lists/dicts of them) of your Keras model")


def assign_variables(live: Mapping[str, tuple[str, Any]], values: Mapping[str, Any]) -> None:
    """Assign arrays or :class:`WeightReader` objects to the named variables, in one batch."""
    tf = tensorflow()
    pairs = [(live[name][1], _as_array(value)) for name, value in values.items()]
    if pairs:
        tf.keras.backend.batch_set_value(pairs)


def _as_array(value: Any) -> np.ndarray:
    return value.load(mmap=True) if isinstance(value, WeightReader) else np.asarray(value)


def specs_of(live: Mapping[str, tuple[str, Any]]) -> dict[str, WeightSpec]:
    """:class:`WeightSpec` of each named variable."""
    return {name: WeightSpec(key, tuple(int(d) for d in var.shape), np.dtype(var.dtype.as_numpy_dtype))
            for name, (key, var) in live.items()}


def read_variables(live: Mapping[str, tuple[str, Any]]) -> Iterator[tuple[str, str, np.ndarray]]:
    """Yield ``(name, key, array)`` for each named variable."""
    for name, (key, var) in live.items():
        yield name, key, var.numpy()


# --- building: the input signature --------------------------------------------------------------


def input_signature(model: Any) -> dict[str, Any] | None:
    """The inputs of a DeepChem KerasModel's first call: ``{"inputs": [[shape, dtype str], ...], "list": bool}``.

    Concrete shapes (those Keras saw on the first call) are preferred: graph models need consistent
    sizes between their inputs (e.g. one degree slice per atom degree), which ``None`` dimensions lose.
    """
    spec = model.model.save_spec(dynamic_batch=False) if hasattr(model.model, "save_spec") else None
    if spec is not None and spec[0]:
        inputs = spec[0][0]
        as_list = isinstance(inputs, (list, tuple))
        specs = list(inputs) if as_list else [inputs]
        return {"inputs": [[_dims(t.shape), np.dtype(t.dtype.as_numpy_dtype).str] for t in specs], "list": as_list}
    if getattr(model, "_inputs_built", False):
        return {"inputs": [[_dims(s), np.dtype(d).str] for s, d in zip(model._input_shapes, model._input_dtypes)],
                "list": True}
    return None


def _dims(shape: Any) -> list[int | None]:
    return [None if d is None else int(d) for d in list(shape)]


def build_from_signature(keras_model: Any, signature: Mapping[str, Any]) -> None:
    """Create a Keras model's variables by calling it once on zeros of the recorded shapes (``None`` as 1).

    Inputs laid out as a batch of DeepChem ``ConvMol`` graphs (atom features, degree slice, membership,
    one adjacency list per degree) are replaced by an empty graph, since all-zero indices would be
    inconsistent with any non-empty atom count.
    """
    tf = tensorflow()
    shapes = [[1 if d is None else int(d) for d in shape] for shape, _dtype in signature["inputs"]]
    if _convmol_layout(signature["inputs"]):
        shapes = [shape if i == 1 or shape == [1] else [0, *shape[1:]] for i, shape in enumerate(shapes)]
    inputs = [tf.zeros(shape, dtype=np.dtype(dtype)) for shape, (_s, dtype) in zip(shapes, signature["inputs"])]
    with tf.variable_creator_scope(_zero_initialized):  # values are assigned next: skip random initializers
        keras_model(inputs if signature.get("list", True) else inputs[0], training=False)


def _zero_initialized(next_creator: Any, **kwargs: Any) -> Any:
    shape, dtype = kwargs.get("shape"), kwargs.get("dtype")
    if shape is not None and dtype is not None and callable(kwargs.get("initial_value")):
        tf = tensorflow()
        kwargs["initial_value"] = lambda: tf.zeros(shape, dtype=dtype)
    return next_creator(**kwargs)


def _convmol_layout(inputs: list[list[Any]]) -> bool:
    """Atom features (float, 2-D), degree slice (int, ``[k, 2]``), membership (int, 1-D), optionally the
    molecule count (int, ``[1]``), then one adjacency list per degree (int, ``[n, degree]``)."""
    if len(inputs) < 4 or np.dtype(inputs[0][1]).kind != "f" or len(inputs[0][0]) != 2:
        return False
    degree, membership, rest = inputs[1], inputs[2], inputs[3:]
    if rest and rest[0][0] == [1] and np.dtype(rest[0][1]).kind in "iu":
        rest = rest[1:]
    return (np.dtype(degree[1]).kind in "iu" and len(degree[0]) == 2 and degree[0][1] == 2
            and np.dtype(membership[1]).kind in "iu" and len(membership[0]) == 1 and bool(rest)
            and all(np.dtype(d).kind in "iu" and len(s) == 2 and s[1] == j + 1 for j, (s, d) in enumerate(rest)))


def _valid_signature(signature: Any) -> bool:
    if not isinstance(signature, dict) or not isinstance(signature.get("inputs"), list) or not signature["inputs"]:
        return False
    if not isinstance(signature.get("list", True), bool):
        return False
    for item in signature["inputs"]:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list) and len(item[0]) <= 8
                and isinstance(item[1], str)
                and all(d is None or (isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 24)
                        for d in item[0])):
            return False
        try:
            if np.dtype(item[1]).kind not in "biuf":
                return False
        except TypeError:
            return False
    return True


class KerasAdapter(Adapter):
    """DeepChem ``KerasModel``s: the weights are those of ``model.model`` (a ``tf.keras.Model``)."""

    framework = "keras"
    base_classes = (_KERAS_MODEL,)

    def _variables(self, model: Any) -> dict[str, tuple[str, Any]]:
        tensorflow()
        keras_model = model.model
        found = variables(keras_model, self.model_name(model))
        if not found and not keras_model.built:
            raise UnsupportedModelError(
                f"the Keras model of this {type(model).__name__} has no variables yet (DeepChem builds them on "
                "first use): call fit() or predict() once before reading or saving its weights")
        return found

    def specs(self, model: Any) -> dict[str, WeightSpec]:
        return specs_of(self._variables(model))

    def read(self, model: Any) -> Iterator[tuple[str, str, np.ndarray]]:
        return read_variables(self._variables(model))

    def assign(self, model: Any, values: Mapping[str, Any]) -> None:
        assign_variables(self._variables(model), values)

    def build(self, cls: type, parameters: dict[str, Any]) -> Any:
        tensorflow()
        return super().build(cls, parameters)

    def extra(self, model: Any) -> dict[str, Any]:
        signature = input_signature(model)
        return {} if signature is None else {SIGNATURE_KEY: signature}

    def prepare(self, model: Any, *, extra: Mapping[str, Any], weights: Mapping[str, Any],
                source: Path) -> None:
        """Create the stored variables (calling the Keras model once if DeepChem builds it lazily), then the
        global step and optimizer, as DeepChem's ``restore()`` does."""
        if not model.model.built or not variables(model.model, self.model_name(model)):
            signature = extra.get(SIGNATURE_KEY)
            if not _valid_signature(signature):
                raise PretrainedFormatError(
                    f"{type(model).__name__}: 'extra' holds no valid {SIGNATURE_KEY!r}, so the model's variables "
                    "cannot be created before loading (save it again with this version of dchub)", path=source)
            build_from_signature(model.model, signature)
        model._ensure_built()

    def versions(self) -> dict[str, str]:
        tf = tensorflow()
        keras_version = getattr(importlib.import_module("tf_keras"), "__version__", "unknown")
        return {"tensorflow": tf.__version__, "tf_keras": keras_version}

    def save_training_state(self, model: Any) -> tuple[dict[str, Any], list[tuple[str, str, np.ndarray]]]:
        """The global step, the optimizer's iteration count and every slot variable it has created."""
        model._ensure_built()
        optimizer = model._tf_optimizer
        arrays: list[tuple[str, str, np.ndarray]] = []
        slots: list[list[str]] = []
        for name, (key, var) in self._variables(model).items():
            for slot_name in _slot_names(optimizer, var):
                array_name = validate_weight_name(f"{OPTIMIZER_PREFIX}-{name}-{slot_name}")
                arrays.append((array_name, f"{key}/{slot_name}", optimizer.get_slot(var, slot_name).numpy()))
                slots.append([name, slot_name, array_name])
        state = {"global_step": int(model._global_step.numpy()), "iterations": int(optimizer.iterations.numpy()),
                 "slots": slots}
        return state, arrays

    def load_training_state(self, model: Any, data: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Create the optimizer's slots for the weights that had them, then fill them and both counters."""
        tf = tensorflow()
        model._ensure_built()
        optimizer = model._tf_optimizer
        live = self._variables(model)
        slots = _checked_slots(data, live, arrays)
        trained = list({id(live[name][1]): live[name][1] for name, _slot, _array in slots}.values())
        with tf.init_scope():
            optimizer._create_all_weights(trained)
        pairs = [(optimizer.get_slot(live[name][1], slot), arrays[array]) for name, slot, array in slots]
        pairs += [(optimizer.iterations, np.int64(data["iterations"])), (model._global_step, data["global_step"])]
        tf.keras.backend.batch_set_value(pairs)


#: Prefix of the optimizer's slot arrays among the auxiliary weights.
OPTIMIZER_PREFIX = "optimizer"


def _slot_names(optimizer: Any, var: Any) -> list[str]:
    """The slots (``m``, ``v``...) that *optimizer* has created for *var*, in the optimizer's order."""
    names = []
    for slot_name in optimizer.get_slot_names():
        try:
            optimizer.get_slot(var, slot_name)
        except KeyError:
            continue
        names.append(slot_name)
    return names


def _checked_slots(data: Mapping[str, Any], live: Mapping[str, Any],
                   arrays: Mapping[str, np.ndarray]) -> list[tuple[str, str, str]]:
    slots = data.get("slots")
    if not isinstance(slots, list) or not isinstance(data.get("global_step"), int) \
            or not isinstance(data.get("iterations"), int):
        raise PretrainedFormatError("'extra.training' of a Keras model needs 'global_step', 'iterations' and "
                                    "'slots'")
    checked = []
    for item in slots:
        if not (isinstance(item, list) and len(item) == 3 and item[0] in live and isinstance(item[1], str)
                and item[2] in arrays):
            raise PretrainedFormatError(f"'extra.training.slots' has a bad entry {item!r}: expected "
                                        "[weight name, slot name, stored array name]")
        if tuple(arrays[item[2]].shape) != tuple(live[item[0]][1].shape):
            raise PretrainedFormatError(f"optimizer slot {item[2]!r} has shape {list(arrays[item[2]].shape)}, "
                                        f"its weight {item[0]!r} has {list(live[item[0]][1].shape)}")
        checked.append((item[0], item[1], item[2]))
    return checked
