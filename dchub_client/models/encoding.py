"""Constructor arguments to and from JSON, with tagged objects for what JSON lacks.

See the table of tags in ``docs/format.md``. Encoding refuses what it cannot represent (naming
the argument); decoding builds only allowlisted classes (:mod:`dchub_client.models.allowlist.registry`).
"""
from __future__ import annotations

import inspect
import math
import re
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dchub_client.errors import DchubError, ParameterEncodingError, PretrainedFormatError
from dchub_client.format import layout
from dchub_client.models import introspection
from dchub_client.models.allowlist import registry
from dchub_client.models.recording import recorded_args, split_varargs

TAG = layout.TAG
#: Inline arrays larger than this are refused: store big arrays as weights instead.
MAX_INLINE_ELEMENTS = 1 << 20
_MAX_DEPTH = 64

#: Custom encoders by exact type: ``fn(value) -> dict`` returning a tagged object (see ``register_encoder``).
_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def register_encoder(cls: type, fn: Callable[[Any], dict[str, Any]]) -> None:
    """Teach :func:`encode_value` to encode instances of *cls* (used by adapters)."""
    _ENCODERS[cls] = fn


# --- encoding -----------------------------------------------------------------------------


def encode_parameters(args: dict[str, Any]) -> dict[str, Any]:
    """Encode a dict of constructor arguments to JSON-ready values."""
    return {str(k): encode_value(v, str(k)) for k, v in args.items()}


def encode_value(value: Any, path: str, depth: int = 0) -> Any:
    """Encode one value; *path* names it in error messages (``loss``, ``layers[2]``)."""
    if depth > _MAX_DEPTH:
        raise ParameterEncodingError(path, "nested too deeply")
    if value is None or isinstance(value, (bool, int, str)) and not isinstance(value, np.generic):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {TAG: "float", "value": repr(value)}
    if isinstance(value, np.generic) and not isinstance(value, (np.void, np.object_)):
        return encode_value(value.item(), path, depth + 1)
    if isinstance(value, list):
        return [encode_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [encode_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]}
    if type(value) is OrderedDict:  # order is meaning (torch.nn.Sequential(OrderedDict(...)))
        return {TAG: "ordereddict", "items": _encode_dict(value, path, depth, tagged=True)["items"]}
    if isinstance(value, dict):
        return _encode_dict(value, path, depth)
    if isinstance(value, np.ndarray):
        return _encode_array(value, path)
    if type(value) in _ENCODERS:
        return _ENCODERS[type(value)](value)
    if inspect.isclass(value) or inspect.isroutine(value):
        return _encode_ref(value, path)
    return _encode_object(value, path, depth)


def _encode_dict(value: dict, path: str, depth: int, *, tagged: bool = False) -> Any:
    if not tagged and all(isinstance(k, str) for k in value) and TAG not in value:
        return {k: encode_value(v, f"{path}.{k}", depth + 1) for k, v in value.items()}
    items = [[encode_value(k, f"{path}<key>", depth + 1), encode_value(v, f"{path}[{k!r}]", depth + 1)]
             for k, v in value.items()]
    return {TAG: "dict", "items": items}


def _encode_array(value: np.ndarray, path: str) -> dict[str, Any]:
    if value.dtype.hasobject or value.dtype.fields is not None:
        raise ParameterEncodingError(path, f"arrays of dtype {value.dtype} cannot be stored in params.json")
    if value.size > MAX_INLINE_ELEMENTS:
        raise ParameterEncodingError(path, f"array of {value.size} elements is too large for params.json")
    data = value.tolist() if value.dtype.kind not in "fc" else _finite_list(value)
    return {TAG: "ndarray", "dtype": value.dtype.str, "shape": list(value.shape), "data": data}


def _finite_list(value: np.ndarray) -> Any:
    if value.dtype.kind == "c":
        raise ParameterEncodingError("ndarray", "complex arrays are not supported in params.json")
    if np.isfinite(value).all():
        return value.tolist()
    return np.vectorize(lambda x: x if math.isfinite(x) else repr(float(x)), otypes=[object])(value).tolist()


def _encode_ref(value: Any, path: str) -> dict[str, Any]:
    introspection.check_importable(value, path)
    name = registry.qualified_name_or_none(value)
    if name is None or not registry.is_allowed(value, "ref") and not registry.is_allowed(value, "class"):
        raise ParameterEncodingError(
            path, f"{name or value!r} is not on the allowlist; call dchub_client.register_class() on it first")
    return {TAG: "ref", "name": name}


def _encode_object(value: Any, path: str, depth: int) -> dict[str, Any]:
    cls = type(value)
    name = registry.qualified_name(cls)
    introspection.check_importable(cls, path)
    if not registry.is_allowed(cls, "class"):
        if registry.is_allowed(cls, "state"):
            return _encode_state(value, name, path, depth)
        raise ParameterEncodingError(
            path, f"objects of class {name} are not on the allowlist; if you trust it, call "
                  f"dchub_client.register_class({cls.__name__}) before creating it")
    kwargs = recorded_args(value)
    read_back = kwargs is None
    if read_back:
        kwargs = introspection.read_kwargs(value, path)
    kwargs = {k: v for k, v in kwargs.items() if k != "model_dir"}
    encoded = {TAG: "object", "class": name,
               "kwargs": {k: encode_value(v, f"{path}.{k}", depth + 1) for k, v in kwargs.items()}}
    if read_back:
        with introspection.rebuilding(value):
            rebuilt = _rebuild(encoded, path)
        introspection.check_rebuilt(value, rebuilt, path)
    return encoded


def _rebuild(encoded: dict[str, Any], path: str) -> Any:
    try:
        return decode_value(encoded, None)
    except (DchubError, TypeError, ValueError) as err:
        raise ParameterEncodingError(path, f"the arguments read back from it do not rebuild it ({err}); register its "
                                           "class with dchub_client.register_class() before creating it") from err


def _encode_state(value: Any, name: str, path: str, depth: int) -> dict[str, Any]:
    state = {k: encode_value(v, f"{path}.{k}", depth + 1) for k, v in vars(value).items()}
    return {TAG: "state", "class": name, "state": state}


# --- decoding -----------------------------------------------------------------------------


#: Constructor arguments that name files, folders or URLs are never taken from a file: a constructor
#: reading or creating them (``model_dir``, ``Mol2VecFingerprint(pretrain_model_path=...)``, a pickle) would
#: act on a path chosen by whoever wrote ``params.json``.
_PATH_ARGUMENT = re.compile(r"(^|_)(path|paths|file|files|filename|dir|dirs|directory|url|urls|uri)($|_)", re.I)
#: Limit of an inline array's memory (the element limit alone lets wide dtypes through).
MAX_INLINE_BYTES = 64 << 20


def check_arguments(owner: str, kwargs: dict[str, Any], source: str | Path | None) -> None:
    """Refuse arguments that name files or folders (see :data:`_PATH_ARGUMENT`)."""
    for key in kwargs:
        if _PATH_ARGUMENT.search(str(key)):
            raise PretrainedFormatError(
                f"refusing argument {key!r} of {owner}: arguments that name files, folders or URLs are never "
                "taken from params.json (pass it to from_pretrained yourself if you trust it)", path=source)


def decode_parameters(data: dict[str, Any], *, source: str | Path | None = None) -> dict[str, Any]:
    """Decode ``params.json``'s ``parameters``, building only allowlisted classes."""
    check_arguments("the model", data, source)
    return {k: decode_value(v, source, 0) for k, v in data.items()}


def decode_value(value: Any, source: str | Path | None, depth: int = 0) -> Any:
    """Decode one JSON value produced by :func:`encode_value`."""
    if depth > _MAX_DEPTH:
        raise PretrainedFormatError("parameters nested too deeply", path=source)
    if isinstance(value, list):
        return [decode_value(v, source, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    if TAG not in value:
        return {k: decode_value(v, source, depth + 1) for k, v in value.items()}
    decoder = _DECODERS.get(value[TAG]) if isinstance(value[TAG], str) else None
    if decoder is None:
        raise PretrainedFormatError(f"unknown tagged value {value[TAG]!r} in parameters", path=source)
    try:
        return decoder(value, source, depth)
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, PretrainedFormatError):
            raise
        raise PretrainedFormatError(f"malformed {value[TAG]!r} value in parameters: {err}", path=source) from err


def _decode_tuple(value: dict, source: Any, depth: int) -> tuple:
    return tuple(decode_value(v, source, depth + 1) for v in _as_list(value["items"]))


def _decode_dict(value: dict, source: Any, depth: int) -> dict:
    return {_hashable(decode_value(k, source, depth + 1)): decode_value(v, source, depth + 1)
            for k, v in (_pair(item) for item in _as_list(value["items"]))}


def _decode_ordereddict(value: dict, source: Any, depth: int) -> OrderedDict:
    return OrderedDict(_decode_dict(value, source, depth))


def _decode_float(value: dict, source: Any, depth: int) -> float:
    if value["value"] not in ("nan", "inf", "-inf"):
        raise ValueError(f"bad float {value['value']!r}")
    return float(value["value"])


def _decode_array(value: dict, source: Any, depth: int) -> np.ndarray:
    dtype = np.dtype(str(value["dtype"]))
    shape = tuple(int(d) for d in _as_list(value["shape"]))
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or any(d < 0 for d in shape) \
            or math.prod(shape) > MAX_INLINE_ELEMENTS or math.prod(shape) * dtype.itemsize > MAX_INLINE_BYTES:
        raise ValueError(f"refusing inline array of dtype {dtype} and shape {shape}")
    data = value["data"]
    if dtype.kind == "f":
        data = _floats(data, depth)
    array = np.array(data, dtype=dtype)
    if array.shape != shape:
        raise ValueError(f"data has shape {array.shape}, not {shape}")
    return array


def _floats(data: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError("array data nested too deeply")
    if isinstance(data, list):
        return [_floats(d, depth + 1) for d in data]
    if isinstance(data, str):
        return _decode_float({"value": data}, None, 0)
    return data


def _decode_ref(value: dict, source: Any, depth: int) -> Any:
    name = value["name"]
    try:
        return registry.resolve(name, "ref", source=source)
    except Exception:
        return registry.resolve(name, "class", source=source)


def _decode_object(value: dict, source: Any, depth: int) -> Any:
    cls = registry.resolve(value["class"], "class", source=source)
    if not inspect.isclass(cls):
        raise PretrainedFormatError(f"{value['class']!r} is not a class", path=source)
    kwargs = value.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise ValueError("kwargs must be an object")
    check_arguments(value["class"], kwargs, source)
    args, decoded = split_varargs({str(k): decode_value(v, source, depth + 1) for k, v in kwargs.items()})
    return cls(*args, **decoded)


def _decode_state(value: dict, source: Any, depth: int) -> Any:
    cls = registry.resolve(value["class"], "state", source=source)
    state = value["state"]
    if not isinstance(state, dict):
        raise ValueError("state must be an object")
    obj = cls.__new__(cls)
    obj.__dict__.update({str(k): decode_value(v, source, depth + 1) for k, v in state.items()})
    return obj


def _as_list(value: Any) -> list:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def _pair(item: Any) -> tuple[Any, Any]:
    if not isinstance(item, list) or len(item) != 2:
        raise ValueError("dict items must be [key, value] pairs")
    return item[0], item[1]


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


_DECODERS: dict[str, Callable[[dict, Any, int], Any]] = {
    "tuple": _decode_tuple,
    "dict": _decode_dict,
    "ordereddict": _decode_ordereddict,
    "float": _decode_float,
    "ndarray": _decode_array,
    "ref": _decode_ref,
    "object": _decode_object,
    "state": _decode_state,
}
