"""The non-estimator objects inside fitted estimators, and how each is stored and rebuilt.

The file never names these classes: each kind below is rebuilt by fixed code.

* ``tree`` (``sklearn.tree._tree.Tree``): JSON metadata plus two arrays, ``nodes`` (a structured,
  object-free array) and ``values``. Reading gives views of the tree's own memory; writing copies
  into them after checking that every node index and feature index is in range (a forged file
  must not make the C code read out of bounds).
* ``xgboost`` / ``lightgbm`` boosters: their own non-pickle model format (UBJSON, model string)
  stored as one ``uint8`` array.
* ``derived`` objects are not stored but rebuilt from their estimator: the KD/ball tree of a
  neighbours estimator is refit from ``_fit_X`` (deterministic, same as sklearn's ``fit``), the
  loss of a gradient boosting model comes from ``_get_loss``, and a fitting random state from
  ``random_state`` (so continuing a warm-started fit does not replay the original stream).
  A ``RandomState`` passed as a hyperparameter (gradient boosting hands its generator to its
  trees) is not stored either and comes back as ``RandomState(0)``: it only matters for refitting.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

TREE = "sklearn.tree._tree.Tree"
_NEIGHBOR_TREES = {"sklearn.neighbors._kd_tree.KDTree": "kd_tree", "sklearn.neighbors._ball_tree.BallTree": "ball_tree"}
RANDOM_STATE = "numpy.random.mtrand.RandomState"
_LOSS_MODULE = "sklearn._loss.loss"
_XGB_BOOSTER = "xgboost.core.Booster"
_LGB_BOOSTER = "lightgbm.basic.Booster"
TREE_LEAF = -1


def qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def kind_of(obj: Any) -> str | None:
    """The stored kind of a special object (``tree``, ``xgboost``, ``lightgbm``, ``derived``), or None."""
    name = qualname(obj)
    if name == TREE:
        return "tree"
    if name == _XGB_BOOSTER:
        return "xgboost"
    if name == _LGB_BOOSTER:
        return "lightgbm"
    if name in _NEIGHBOR_TREES or name == RANDOM_STATE or type(obj).__module__ == _LOSS_MODULE:
        return "derived"
    return None


# --- trees ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def node_dtype() -> np.dtype:
    """The structured dtype of tree nodes in the installed sklearn."""
    from sklearn.tree._tree import Tree

    return Tree(1, np.array([1], dtype=np.intp), 1).__getstate__()["nodes"].dtype


def tree_meta(tree: Any) -> dict[str, Any]:
    """The JSON metadata that rebuilds an empty tree of the right size."""
    return {"sk": "tree", "n_features": int(tree.n_features), "n_classes": [int(c) for c in tree.n_classes],
            "n_outputs": int(tree.n_outputs), "max_depth": int(tree.max_depth), "node_count": int(tree.node_count)}


def tree_arrays(tree: Any) -> dict[str, np.ndarray]:
    """Views of a tree's ``nodes`` and ``values`` (its own memory, writable)."""
    state = tree.__getstate__()
    return {"nodes": state["nodes"], "values": state["values"]}


def empty_tree(meta: dict[str, Any]) -> Any:
    """A tree of ``meta``'s size whose node and value memory is still to be filled."""
    from sklearn.tree._tree import Tree

    tree = Tree(meta["n_features"], np.asarray(meta["n_classes"], dtype=np.intp), meta["n_outputs"])
    count = meta["node_count"]
    tree.__setstate__({"max_depth": meta["max_depth"], "node_count": count,
                       "nodes": np.zeros(count, dtype=node_dtype()),
                       "values": np.empty((count, meta["n_outputs"], max(meta["n_classes"])), dtype=np.float64)})
    return tree


def check_tree_nodes(nodes: np.ndarray, counts: np.ndarray, n_features: np.ndarray) -> str | None:
    """Why concatenated node arrays (trees of ``counts`` nodes) are unsafe, or None if they are fine.

    Children must be both leaves or both later nodes of the same tree; split features in range.
    """
    if (counts < 1).any():
        return "a tree has no nodes"
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    local = np.arange(nodes.shape[0]) - starts
    size = np.repeat(counts, counts)
    left, right, feature = (np.ascontiguousarray(nodes[f]) for f in ("left_child", "right_child", "feature"))
    leaf = left == TREE_LEAF
    if not np.array_equal(leaf, right == TREE_LEAF):
        return "a node has exactly one child"
    children_ok = (left > local) & (left < size) & (right > local) & (right < size)
    if not (leaf | children_ok).all():
        return "a child index is out of range"
    if not (leaf | (feature >= 0) & (feature < np.repeat(n_features, counts))).all():
        return "a split feature index is out of range"
    return None


# --- boosters (their own formats) -------------------------------------------------------------------


@dataclass(frozen=True)
class Serializer:
    """How one booster kind becomes a ``uint8`` array and back."""

    dump: Callable[[Any], np.ndarray]
    load: Callable[[np.ndarray], Any]


def _xgb_dump(booster: Any) -> np.ndarray:
    return np.frombuffer(bytes(booster.save_raw(raw_format="ubj")), dtype=np.uint8)


def _xgb_load(array: np.ndarray) -> Any:
    import xgboost

    return xgboost.Booster(model_file=bytearray(np.ascontiguousarray(array).tobytes()))


def _lgb_dump(booster: Any) -> np.ndarray:
    return np.frombuffer(booster.model_to_string(num_iteration=-1).encode("utf-8"), dtype=np.uint8)


def _lgb_load(array: np.ndarray) -> Any:
    import lightgbm

    return lightgbm.Booster(model_str=np.ascontiguousarray(array).tobytes().decode("utf-8"))


SERIALIZERS: dict[str, Serializer] = {
    "xgboost": Serializer(_xgb_dump, _xgb_load),
    "lightgbm": Serializer(_lgb_dump, _lgb_load),
}


# --- derived objects ---------------------------------------------------------------------------------


def rebuild_derived(owner: Any, attr: str) -> Any:
    """Rebuild the derived object stored at ``owner.<attr>`` from the owner's own state."""
    if attr == "_tree":
        return _neighbor_tree(owner)
    if attr == "_loss":
        return owner._get_loss(sample_weight=None)
    if attr == "_rng":
        from sklearn.utils import check_random_state

        return check_random_state(owner.random_state)
    raise ValueError(f"{type(owner).__name__}.{attr}: dchub does not know how to rebuild this attribute")


def _neighbor_tree(owner: Any) -> Any:
    from sklearn.neighbors import BallTree, KDTree

    cls = {"kd_tree": KDTree, "ball_tree": BallTree}.get(owner._fit_method)
    if cls is None:
        raise ValueError(f"{type(owner).__name__}: unknown neighbour search method {owner._fit_method!r}")
    return cls(owner._fit_X, owner.leaf_size, metric=owner.effective_metric_, **owner.effective_metric_params_)


#: Attributes whose derived objects the rebuild above knows.
DERIVED_ATTRIBUTES = frozenset({"_tree", "_loss", "_rng"})
