"""Fitted estimators as a JSON description plus named arrays, and back.

:func:`describe` turns a fitted estimator into a plain structure: its class, its hyperparameters
(``get_params(deep=False)``, inline) and every other instance attribute (its fitted state). In the
fitted state each array becomes an ``{"sk": "array", shape, dtype}`` slot whose values are a
weight; nested estimators (forest members, pipeline steps, ``init_``) are described recursively;
trees and boosters are handled by :mod:`.sklearn_objects`.

:class:`~.sklearn.SklearnAdapter` keeps that description in ``params.json`` ``extra``.
:func:`materialize` (called on the decoded description, after every class in it passed the
allowlist) validates it and builds an estimator whose arrays and trees exist but are still empty;
:func:`leaves` then enumerates the live arrays of any estimator so the adapter can name, read and
fill them. Collections of estimators (a forest's ``estimators_``) whose arrays line up are
*stacked*: one weight per attribute holds all members' arrays concatenated along axis 0.
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dchub_client.errors import ParameterEncodingError, PretrainedFormatError, WeightFileError
from dchub_client.format.pretrained import WeightReader, parse_dtype
from dchub_client.models import encoding
from dchub_client.models.adapters import sklearn_objects as objects
from dchub_client.models.adapters import sklearn_svm
from dchub_client.models.allowlist import registry
from dchub_client.models.allowlist.sklearn_estimators import is_trusted_estimator_class
from dchub_client.models.recording import ATTRIBUTE

SK = "sk"
ROOT = "model"
#: A skeleton array may not claim more bytes than this (a forged description must not exhaust memory).
MAX_ARRAY_BYTES = 1 << 40
_SCALAR_KINDS = "biufU"


@functools.lru_cache(maxsize=1)
def _base_estimator() -> type:
    from sklearn.base import BaseEstimator

    return BaseEstimator


@functools.lru_cache(maxsize=None)
def _declared_param_names(cls: type) -> frozenset[str]:
    return frozenset(cls._get_param_names())


def param_names(est: Any) -> frozenset[str]:
    """The hyperparameter names of *est* (cached per class when it uses sklearn's own ``get_params``)."""
    cls = type(est)
    if getattr(cls.get_params, "__func__", cls.get_params) is _base_estimator().get_params:
        return _declared_param_names(cls)
    return frozenset(est.get_params(deep=False))


def is_estimator(obj: Any) -> bool:
    """True for scikit-learn API estimators (including xgboost and lightgbm ones)."""
    return isinstance(obj, _base_estimator())


# --- describing a live estimator -------------------------------------------------------------------


def describe(est: Any, path: str = ROOT) -> dict[str, Any]:
    """The description of *est* (hyperparameters inline, fitted arrays as slots).

    Raises:
        ParameterEncodingError: an attribute cannot be stored; the message names its path.
    """
    cls = type(est)
    if not is_trusted_estimator_class(cls) or not registry.is_allowed(cls, "class"):
        raise ParameterEncodingError(path, f"{registry.qualified_name(cls)} is not an allowlisted estimator class")
    params = est.get_params(deep=False)
    state = {k: v for k, v in vars(est).items() if k not in params and k != ATTRIBUTE}
    return {SK: "estimator", "class": cls,
            "params": {k: _value(params[k], f"{path}.{k}", inline=True) for k in sorted(params)},
            "state": {k: _attribute(k, state[k], f"{path}.{k}") for k in sorted(state)}}


def _attribute(name: str, value: Any, path: str) -> Any:
    kind = objects.kind_of(value)
    if kind == "tree":
        return objects.tree_meta(value)
    if kind in objects.SERIALIZERS:
        return {SK: kind, "shape": [int(objects.SERIALIZERS[kind].dump(value).shape[0])]}
    if kind == "derived":
        if name not in objects.DERIVED_ATTRIBUTES:
            raise ParameterEncodingError(path, f"dchub cannot rebuild a {objects.qualname(value)} stored here")
        return {SK: "derived"}
    return _value(value, path, inline=False)


def _value(value: Any, path: str, *, inline: bool) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)) and not isinstance(value, np.generic):
        return value
    if isinstance(value, np.generic):
        if value.dtype.kind not in _SCALAR_KINDS:
            raise ParameterEncodingError(path, f"numpy scalars of dtype {value.dtype} are not supported")
        return {SK: "np", "dtype": value.dtype.str, "value": value.item()}
    if is_estimator(value):
        return describe(value, path)
    if isinstance(value, np.ndarray):
        return _array(value, path, inline)
    if isinstance(value, (list, tuple)):
        return {SK: type(value).__name__ if type(value) in (list, tuple) else "list",
                "items": [_value(v, f"{path}.{i}", inline=inline) for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return {SK: "dict", "items": [[_key(k, path), _value(v, f"{path}.{k}", inline=inline)]
                                      for k, v in value.items()]}
    if objects.qualname(value) == objects.RANDOM_STATE:
        return {SK: "random_state"}
    if objects.kind_of(value) is not None:
        raise ParameterEncodingError(path, f"a {objects.qualname(value)} is only supported as an estimator attribute")
    encoding.encode_value(value, path)  # raises, naming the path, for anything not allowlisted
    return value


def _array(value: np.ndarray, path: str, inline: bool) -> Any:
    if value.dtype.hasobject:
        items = list(value.flat)
        if value.dtype != object or not items or not all(is_estimator(v) for v in items):
            raise ParameterEncodingError(path, "object arrays cannot be stored (only arrays of estimators)")
        return {SK: "objarray", "shape": list(value.shape),
                "items": [describe(v, f"{path}.{j}") for j, v in enumerate(items)]}
    if inline:
        encoding.encode_value(value, path)
        return value
    return {SK: "array", "shape": list(value.shape), "dtype": _descr(value.dtype)}


def _descr(dtype: np.dtype) -> Any:
    return json.loads(json.dumps(np.lib.format.dtype_to_descr(dtype)))


def _key(key: Any, path: str) -> Any:
    if isinstance(key, np.generic):
        key = key.item()
    if key is not None and not isinstance(key, (bool, int, float, str)):
        raise ParameterEncodingError(path, f"dict key {key!r} cannot be stored")
    return key


# --- materializing from a (decoded, allowlisted) description --------------------------------------


class _Derived:
    """Placeholder for an attribute rebuilt from its estimator once the arrays are in place."""

    def __repr__(self) -> str:
        return "<derived: rebuilt after loading>"


@dataclass
class _Serialized:
    """Placeholder for a booster whose bytes are still to be loaded."""

    kind: str
    array: np.ndarray


def materialize(spec: Any, path: str = ROOT) -> Any:
    """Build the estimator described by *spec*, with empty arrays; raises ValueError/TypeError if malformed."""
    if not (isinstance(spec, dict) and spec.get(SK) == "estimator"):
        raise ValueError(f"{path}: expected an estimator description")
    return _build(spec, path, inline=False)


def _build(value: Any, path: str, *, inline: bool) -> Any:
    if isinstance(value, list):
        raise ValueError(f"{path}: unexpected bare list")
    if not isinstance(value, dict):
        return value
    builder = _BUILDERS.get(value.get(SK)) if isinstance(value.get(SK), str) else None
    if builder is None:
        raise ValueError(f"{path}: unknown stored value {value.get(SK)!r}")
    return builder(value, path, inline)


def _build_estimator(spec: dict, path: str, inline: bool) -> Any:
    cls = spec["class"]
    if not is_trusted_estimator_class(cls):
        raise ValueError(f"{path}: {cls!r} is not an allowlisted estimator class")
    params, state = _mapping(spec, "params", path), _mapping(spec, "state", path)
    est = cls(**{k: _build(v, f"{path}.{k}", inline=True) for k, v in params.items()})
    for name, value in state.items():
        _check_attribute_name(cls, name, path)
        setattr(est, name, _build_attribute(name, value, f"{path}.{name}"))
    return est


def _mapping(spec: dict, key: str, path: str) -> dict:
    value = spec[key]
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {key!r} must be an object")
    return value


def _check_attribute_name(cls: type, name: str, path: str) -> None:
    if not name.isidentifier() or name.startswith("__") or name == ATTRIBUTE:
        raise ValueError(f"{path}: refusing attribute name {name!r}")
    existing = getattr(cls, name, None)
    if callable(existing) or hasattr(type(existing), "__set__") or isinstance(existing, property):
        raise ValueError(f"{path}: attribute {name!r} would replace a method or property of {cls.__name__}")


def _build_attribute(name: str, value: Any, path: str) -> Any:
    kind = value.get(SK) if isinstance(value, dict) else None
    if kind == "tree":
        return objects.empty_tree(_tree_meta(value, path))
    if kind in objects.SERIALIZERS:
        return _Serialized(kind, np.empty(_shape(value, path), dtype=np.uint8))
    if kind == "derived":
        if name not in objects.DERIVED_ATTRIBUTES:
            raise ValueError(f"{path}: dchub does not rebuild attribute {name!r}")
        return _Derived()
    return _build(value, path, inline=False)


def _tree_meta(value: dict, path: str) -> dict[str, Any]:
    meta = {k: value[k] for k in ("n_features", "n_outputs", "max_depth", "node_count")}
    if not all(_is_int(v) and 0 <= v < (1 << 40) for v in meta.values()) or meta["n_outputs"] < 1:
        raise ValueError(f"{path}: malformed tree sizes {meta}")
    classes = value["n_classes"]
    if not isinstance(classes, list) or len(classes) != meta["n_outputs"] or \
            not all(_is_int(c) and 1 <= c < (1 << 31) for c in classes):
        raise ValueError(f"{path}: 'n_classes' must list one positive count per output")
    _check_bytes(meta["node_count"] * meta["n_outputs"] * max(classes) * 8, path)
    return {**meta, "n_classes": classes}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shape(value: dict, path: str) -> tuple[int, ...]:
    shape = value["shape"]
    if not isinstance(shape, list) or len(shape) > 32 or not all(_is_int(d) and d >= 0 for d in shape):
        raise ValueError(f"{path}: 'shape' must be a list of non-negative integers")
    return tuple(shape)


def _check_bytes(nbytes: int, path: str) -> None:
    if nbytes > MAX_ARRAY_BYTES:
        raise ValueError(f"{path}: array of {nbytes} bytes is implausibly large")


def _build_array(value: dict, path: str, inline: bool) -> np.ndarray:
    shape = _shape(value, path)
    try:
        dtype = parse_dtype(value["dtype"], path)
    except PretrainedFormatError as err:
        raise ValueError(str(err)) from err
    _check_bytes(math.prod(shape) * dtype.itemsize, path)
    return np.empty(shape, dtype=dtype)


def _build_objarray(value: dict, path: str, inline: bool) -> np.ndarray:
    shape, items = _shape(value, path), value["items"]
    if not isinstance(items, list) or len(items) != math.prod(shape):
        raise ValueError(f"{path}: 'items' must hold {math.prod(shape)} estimators")
    out = np.empty(len(items), dtype=object)
    for j, item in enumerate(items):
        out[j] = materialize(item, f"{path}.{j}")
    return out.reshape(shape)


def _build_sequence(value: dict, path: str, inline: bool) -> Any:
    items = value["items"]
    if not isinstance(items, list):
        raise ValueError(f"{path}: 'items' must be a list")
    built = [_build(v, f"{path}.{i}", inline=inline) for i, v in enumerate(items)]
    return tuple(built) if value[SK] == "tuple" else built


def _build_dict(value: dict, path: str, inline: bool) -> dict:
    items = value["items"]
    if not isinstance(items, list) or not all(isinstance(i, list) and len(i) == 2 for i in items):
        raise ValueError(f"{path}: 'items' must be [key, value] pairs")
    if not all(k is None or isinstance(k, (bool, int, float, str)) for k, _ in items):
        raise ValueError(f"{path}: dict keys must be JSON scalars")
    return {k: _build(v, f"{path}.{k}", inline=inline) for k, v in items}


def _build_scalar(value: dict, path: str, inline: bool) -> Any:
    dtype = np.dtype(str(value["dtype"]))
    if dtype.kind not in _SCALAR_KINDS:
        raise ValueError(f"{path}: numpy scalars of dtype {dtype} are not supported")
    return dtype.type(value["value"])


def _build_random_state(value: dict, path: str, inline: bool) -> Any:
    return np.random.RandomState(0)


def _only_attribute(value: dict, path: str, inline: bool) -> Any:
    raise ValueError(f"{path}: a {value[SK]!r} value may only be an estimator attribute")


_BUILDERS: dict[str, Callable[[dict, str, bool], Any]] = {
    "estimator": _build_estimator, "array": _build_array, "objarray": _build_objarray,
    "random_state": _build_random_state, "list": _build_sequence, "tuple": _build_sequence, "dict": _build_dict,
    "np": _build_scalar,
    "tree": _only_attribute, "derived": _only_attribute, "xgboost": _only_attribute, "lightgbm": _only_attribute,
}


# --- the live arrays of an estimator ---------------------------------------------------------------


@dataclass
class Leaf:
    """One weight of a live estimator: where it lives and how to read and fill it."""

    layer: str
    attr: str
    key: str
    get: Callable[[], np.ndarray]
    fill: Callable[[Any], None]
    tree: Any = None  # the Tree whose ``nodes`` this is (checked before filling)
    members: list[Leaf] = field(default_factory=list)  # for a stacked leaf

    def spec(self) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype without concatenating stacked members."""
        if not self.members:
            array = self.get()
            return tuple(array.shape), array.dtype
        shapes = [m.spec()[0] for m in self.members]
        return (sum(s[0] for s in shapes), *shapes[0][1:]), self.members[0].spec()[1]

    def put(self, value: Any) -> None:
        """Fill from an array or a :class:`WeightReader` (shape and dtype already checked)."""
        source = value.path if isinstance(value, WeightReader) else None
        if not self.members:
            if self.tree is not None:
                value = _as_array(value)
                _check_trees(value, [self.tree], self.key, source)
            self.fill(value)
            return
        array = _as_array(value)
        sizes = [m.spec()[0][0] for m in self.members]
        trees = [m.tree for m in self.members]
        if all(t is not None for t in trees):
            _check_trees(array, trees, self.key, source)
        start = 0
        for member, size in zip(self.members, sizes):
            member.fill(array[start:start + size])
            start += size


def _as_array(value: Any) -> np.ndarray:
    return value.load() if isinstance(value, WeightReader) else np.asarray(value)


def _check_trees(nodes: np.ndarray, trees: list[Any], key: str, source: Any) -> None:
    counts = np.array([t.node_count for t in trees], dtype=np.int64)
    problem = objects.check_tree_nodes(nodes, counts, np.array([t.n_features for t in trees], dtype=np.int64))
    if problem:
        raise WeightFileError(f"refusing the tree nodes of {key!r}: {problem}", path=source, weight=key)


def leaves(est: Any, path: str = ROOT) -> list[Leaf]:
    """Every weight of estimator *est* (recursively), in a stable order."""
    params = param_names(est)
    found: list[Leaf] = []
    state = vars(est)
    for name in sorted(state):
        value, sub = state[name], f"{path}.{name}"
        if name in params:
            found += _walk(value, sub, arrays=False)
        elif name != ATTRIBUTE:
            found += _walk_attribute(est, name, value, sub, path)
    return found


def _walk_attribute(owner: Any, name: str, value: Any, path: str, owner_path: str) -> list[Leaf]:
    if isinstance(value, _Serialized) or objects.kind_of(value) in objects.SERIALIZERS:
        return [_booster_leaf(owner, name, value, owner_path)]
    if objects.kind_of(value) == "tree":
        return [_tree_leaf(value, path, part) for part in ("nodes", "values")]
    if isinstance(value, _Derived) or objects.kind_of(value) == "derived":
        return []
    return _walk(value, path, arrays=True)


def _booster_leaf(owner: Any, name: str, value: Any, owner_path: str) -> Leaf:
    def get() -> np.ndarray:
        current = getattr(owner, name)
        if isinstance(current, _Serialized):
            return current.array
        return objects.SERIALIZERS[objects.kind_of(current)].dump(current)

    kind = value.kind if isinstance(value, _Serialized) else objects.kind_of(value)

    def fill(new: Any) -> None:
        source = new.path if isinstance(new, WeightReader) else None
        try:
            booster = objects.SERIALIZERS[kind].load(_as_array(new))
        except Exception as err:  # each library raises its own error types for junk
            raise WeightFileError(f"not a valid {kind} model ({err})", path=source,
                                  weight=f"{owner_path}.{name}") from err
        setattr(owner, name, booster)

    return Leaf(owner_path, name, f"{owner_path}.{name}", get, fill)


def _tree_leaf(tree: Any, path: str, part: str) -> Leaf:
    def get() -> np.ndarray:
        return objects.tree_arrays(tree)[part]

    def fill(new: Any) -> None:
        np.copyto(objects.tree_arrays(tree)[part], _as_array(new), casting="same_kind")

    return Leaf(path, part, f"{path}.{part}", get, fill, tree=tree if part == "nodes" else None)


def _walk(value: Any, path: str, *, arrays: bool) -> list[Leaf]:
    if is_estimator(value):
        return leaves(value, path)
    if isinstance(value, np.ndarray) and value.dtype == object or isinstance(value, list) and value \
            and all(is_estimator(v) for v in value):
        return _collection(list(np.asarray(value, dtype=object).flat) if isinstance(value, np.ndarray) else value,
                           path, arrays)
    if isinstance(value, np.ndarray):
        return [_array_leaf(value, path)] if arrays else []
    if isinstance(value, (list, tuple)):
        return [leaf for i, v in enumerate(value) for leaf in _walk(v, f"{path}.{i}", arrays=arrays)]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _walk(v, f"{path}.{k}", arrays=arrays)]
    return []


def _array_leaf(array: np.ndarray, path: str) -> Leaf:
    layer, attr = path.rsplit(".", 1)

    def fill(new: Any) -> None:
        if isinstance(new, WeightReader):
            new.read_into(array)
        else:
            np.copyto(array, np.asarray(new), casting="same_kind")

    return Leaf(layer, attr, path, lambda: array, fill)


def _collection(members: list[Any], path: str, arrays: bool) -> list[Leaf]:
    groups = [leaves(m, f"{path}.{j}") if is_estimator(m) else _walk(m, f"{path}.{j}", arrays=arrays)
              for j, m in enumerate(members)]
    stacked = _stack(path, groups)
    return stacked if stacked is not None else [leaf for group in groups for leaf in group]


def _stack(path: str, groups: list[list[Leaf]]) -> list[Leaf] | None:
    if len(groups) < 2 or not groups[0]:
        return None
    relative = [[leaf.key[len(f"{path}.{j}."):] for leaf in group] for j, group in enumerate(groups)]
    if any(r != relative[0] for r in relative):
        return None
    stacked = []
    for i, rel in enumerate(relative[0]):
        members = [group[i] for group in groups]
        specs = [m.spec() for m in members]
        shape0, dtype0 = specs[0]
        if not shape0 or any(s[1] != dtype0 or len(s[0]) != len(shape0) or s[0][1:] != shape0[1:] for s in specs):
            return None
        stacked.append(Leaf(path, rel, f"{path}.*.{rel}", lambda ms=members: np.concatenate([m.get() for m in ms]),
                            lambda new: None, members=members))
    return stacked


def refresh(est: Any) -> None:
    """Rebuild derived attributes (neighbour trees, losses) of *est* and every estimator inside it."""
    for name, value in list(vars(est).items()):
        if isinstance(value, _Derived) or name == "_tree" and objects.kind_of(value) == "derived":
            setattr(est, name, objects.rebuild_derived(est, name))
        else:
            for inner in _estimators_in(value):
                refresh(inner)


def unsafe(est: Any, path: str = ROOT) -> tuple[str, str, str] | None:
    """The first fitted estimator inside *est* that native code must not see, or None.

    Returns ``(attribute path, class name, reason)``; SVMs are checked by :mod:`.sklearn_svm`
    (trees are checked as their nodes are filled).
    """
    for sub, inner in _estimators_at(est, path):
        found = sklearn_svm.problem(inner) if sklearn_svm.is_libsvm(inner) else None
        if found is not None:
            return f"{sub}.{found.attr}", type(inner).__name__, found.reason
    return None


def _estimators_at(value: Any, path: str) -> list[tuple[str, Any]]:
    """``(path, estimator)`` for *value* and every estimator inside it, paths as in weight keys."""
    if is_estimator(value):
        return [(path, value)] + [pair for name, inner in sorted(vars(value).items())
                                  for pair in _estimators_at(inner, f"{path}.{name}")]
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [pair for j, item in enumerate(value.flat) for pair in _estimators_at(item, f"{path}.{j}")]
    if isinstance(value, (list, tuple)):
        return [pair for i, item in enumerate(value) for pair in _estimators_at(item, f"{path}.{i}")]
    if isinstance(value, dict):
        return [pair for k, item in value.items() for pair in _estimators_at(item, f"{path}.{k}")]
    return []


def _estimators_in(value: Any) -> list[Any]:
    if is_estimator(value):
        return [value]
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [v for item in value.flat for v in _estimators_in(item)]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _estimators_in(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _estimators_in(item)]
    return []
