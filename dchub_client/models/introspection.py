"""Constructor arguments of objects that did not record them, read back and checked.

dchub records the constructor arguments of DeepChem's classes and of registered classes as they are
built (:mod:`dchub_client.models.recording`). Framework built-ins (``torch.nn.Linear``, a tf_keras
``Dense`` or initializer, a TensorFlow Probability bijector) are not recorded: their arguments are read
back from the object:

* a container of modules (``torch.nn.Sequential``, ``ModuleList``, ``ModuleDict``) from its children;
* a TensorFlow Probability distribution or bijector from its ``parameters`` (tfp's own record);
* a Keras layer that Keras itself recorded (``_auto_config``) from that record, and a Keras initializer,
  regularizer or constraint from its ``get_config()``;
* anything else from the attributes named like its constructor arguments (the scikit-learn
  convention); a tensor kept where a flag was passed (``Linear.bias`` for ``bias=True``) gives the flag.

Reading back can miss what an object does not keep, so what cannot be read is refused, and what was
read is checked by rebuilding the object from it (:func:`check_rebuilt`: same ``repr`` and tensor shapes
for torch modules, same ``get_config()`` for Keras objects). Saving then refuses a folder that would load
as a different model, naming the argument and what to do.
"""
from __future__ import annotations

import contextlib
import inspect
import sys
from collections import OrderedDict
from typing import Any

from dchub_client.errors import ParameterEncodingError
from dchub_client.models.recording import VARARGS_KEY

_REGISTER_HINT = ("register its class with dchub_client.register_class() before creating it, so its "
                  "arguments are recorded")


def check_importable(obj: Any, path: str) -> None:
    """Refuse a class or function that another process cannot import (defined inside a function, a lambda)."""
    qualname = getattr(obj, "__qualname__", "")
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise ParameterEncodingError(
            path, f"{obj.__module__}.{qualname} is not on the allowlist and cannot be registered: it is defined "
                  "inside a function, so no other process can import it to load the folder; define it at module "
                  "level and call dchub_client.register_class() on it there")


def read_kwargs(value: Any, path: str) -> dict[str, Any]:
    """The constructor arguments that rebuild *value*, read back from it (see the module docstring).

    Raises:
        ParameterEncodingError: they cannot be read back (names *path* and what to do).
    """
    for reader in (_module_container, _tfp_parameters, _keras_auto_config, _keras_object_config):
        kwargs = reader(value)
        if kwargs is not None:
            return kwargs
    return _from_attributes(value, path)


def _torch_nn() -> Any:
    torch = sys.modules.get("torch")
    return None if torch is None else torch.nn


def _module_container(value: Any) -> dict[str, Any] | None:
    nn = _torch_nn()
    if nn is None or type(value) not in (nn.Sequential, nn.ModuleList, nn.ModuleDict):
        return None
    children = list(value.named_children())
    if isinstance(value, nn.ModuleDict):
        return {"modules": OrderedDict(children)}
    if isinstance(value, nn.ModuleList):
        return {"modules": [module for _name, module in children]}
    if all(name == str(i) for i, (name, _module) in enumerate(children)):
        return {VARARGS_KEY: tuple(module for _name, module in children)}
    return {VARARGS_KEY: (OrderedDict(children),)}


def _tfp_parameters(value: Any) -> dict[str, Any] | None:
    if not type(value).__module__.startswith("tensorflow_probability."):
        return None
    parameters = getattr(value, "parameters", None)
    return dict(parameters) if isinstance(parameters, dict) else None


def _keras_auto_config(value: Any) -> dict[str, Any] | None:
    config = getattr(value, "_auto_config", None)
    kwargs = getattr(config, "config", None)
    return {k: v for k, v in kwargs.items() if k != "name"} if isinstance(kwargs, dict) else None


def _keras_object_config(value: Any) -> dict[str, Any] | None:
    """Keras' initializers, regularizers and constraints: ``get_config()`` is their constructor arguments
    (their ``from_config`` is ``cls(**config)``), as plain values."""
    if not type(value).__module__.startswith(("tf_keras.src.initializers", "tf_keras.src.regularizers",
                                              "tf_keras.src.constraints", "keras.src.initializers")):
        return None
    config = value.get_config() if hasattr(value, "get_config") else None
    return dict(config) if isinstance(config, dict) else None


def _from_attributes(value: Any, path: str) -> dict[str, Any]:
    cls = type(value)
    nn = _torch_nn()
    if cls.__init__ is object.__init__ or nn is not None and cls.__init__ is nn.Module.__init__:
        return {}  # constructors taking no arguments (Module.__init__'s *args are refused by torch itself)
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError) as err:
        raise ParameterEncodingError(path, f"cannot read the signature of {cls.__name__}; {_REGISTER_HINT}") from err
    kwargs: dict[str, Any] = {}
    for param in list(signature.parameters.values())[1:]:
        if param.kind is param.VAR_POSITIONAL:
            raise ParameterEncodingError(
                path, f"{cls.__name__} takes positional arguments (*{param.name}) that cannot be read back from it; "
                      f"{_REGISTER_HINT}")
        if param.kind is param.VAR_KEYWORD:
            continue
        if hasattr(value, param.name):
            kwargs[param.name] = _argument(getattr(value, param.name), param)
        elif param.default is param.empty:
            raise ParameterEncodingError(
                f"{path}.{param.name}", f"{cls.__name__} keeps no attribute {param.name!r}; {_REGISTER_HINT}")
    return kwargs


def _argument(attribute: Any, param: inspect.Parameter) -> Any:
    """The argument an attribute stands for: a flag passed as ``bias=True`` is kept as the bias tensor (or None)."""
    if isinstance(param.default, bool) and (attribute is None or _is_tensor(attribute)):
        return attribute is not None
    return attribute


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    tf = sys.modules.get("tensorflow")
    return (torch is not None and isinstance(value, torch.Tensor)) or \
        (tf is not None and isinstance(value, tf.Variable))


# --- checking the rebuilt object ---------------------------------------------------------------------


def rebuilding(value: Any) -> contextlib.AbstractContextManager[Any]:
    """The context to rebuild *value* in for :func:`check_rebuilt`: a torch module's tensors are only compared by
    shape, so random initialization is skipped (rebuilding a large network costs an allocation, not an init)."""
    nn = _torch_nn()
    if nn is not None and isinstance(value, nn.Module):
        from dchub_client.models.adapters.torch import skip_init  # torch is loaded: the value is a torch module

        return skip_init()
    return contextlib.nullcontext()


def check_rebuilt(original: Any, rebuilt: Any, path: str) -> None:
    """Refuse arguments read back from *original* that rebuild a different object (see the module docstring)."""
    difference = _torch_difference(original, rebuilt) or _keras_difference(original, rebuilt)
    if difference:
        raise ParameterEncodingError(
            path, f"the {type(original).__name__} rebuilt from the arguments read back from it differs ({difference}); "
                  f"{_REGISTER_HINT}")


def _torch_difference(original: Any, rebuilt: Any) -> str | None:
    nn = _torch_nn()
    if nn is None or not isinstance(original, nn.Module):
        return None
    if repr(original) != repr(rebuilt):
        return f"{_first_line_difference(repr(original), repr(rebuilt))}"
    shapes = {k: tuple(v.shape) for k, v in original.state_dict().items()}
    again = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    if shapes != again:
        changed = sorted(set(shapes.items()) ^ set(again.items()))[:3]
        return f"tensors {changed}"
    return None


def _keras_difference(original: Any, rebuilt: Any) -> str | None:
    if not type(original).__module__.startswith(("tf_keras.", "keras.")) or not hasattr(original, "get_config"):
        return None
    try:
        configs = [_without_names(o.get_config()) for o in (original, rebuilt)]
    except NotImplementedError:
        return None
    if configs[0] != configs[1]:
        keys = sorted(k for k in set(configs[0]) | set(configs[1]) if configs[0].get(k) != configs[1].get(k))
        return f"get_config() differs in {keys[:5]}"
    return None


#: ``get_config()`` entries that differ between equal Keras objects: names carry Keras' global counters, and
#: the input shape (and a ``Sequential``'s ``InputLayer``) exist only once a model has been built.
_KERAS_INCIDENTAL = frozenset({"name", "build_input_shape", "build_config"})


def _without_names(config: Any) -> Any:
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k not in _KERAS_INCIDENTAL}
    if isinstance(config, (list, tuple)):
        return [_without_names(v) for v in config
                if not (isinstance(v, dict) and v.get("class_name") == "InputLayer")]
    return config


def _first_line_difference(a: str, b: str) -> str:
    for line_a, line_b in zip(a.splitlines(), b.splitlines()):
        if line_a != line_b:
            return f"{line_a.strip()!r} became {line_b.strip()!r}"
    return "the module structure changed"
