"""Adapter for DeepChem's ``SklearnModel``: scikit-learn estimators stored without pickle or joblib.

What is stored:

* ``parameters.model`` is the estimator as constructed: its class (on the allowlist of
  :mod:`.sklearn_allowlist`) and its hyperparameters. ``extra["sklearn_estimator"]`` describes the
  fitted estimator: class, hyperparameters (``get_params(deep=False)``) and fitted state:
  scalars, strings and tuples as JSON; every fitted array as a weight;
  nested estimators (forest members, ``Pipeline`` steps, ``init_``) recursively; decision trees as
  metadata plus their structured ``nodes`` array and ``values`` array. KD/ball trees of neighbour
  models are refit from ``_fit_X`` on loading (deterministic), gradient boosting losses come from
  ``_get_loss``. Loading builds only allowlisted estimator classes, checks every tree's node
  indices before the tree is used, and checks every SVM's arrays against each other
  (:mod:`.sklearn_svm`) before libsvm can see them; a refused ``set_weight`` is undone.
* Weight names are ``<model>-<layer>-<i>``: ``<model>`` the lower-case DeepChem class
  (``sklearnmodel``), ``<layer>`` the dotted path of the object owning the arrays, starting at
  ``model`` (the wrapped estimator): ``model`` for a linear model's ``coef_``, ``model.tree_`` for
  a decision tree, ``model.steps.1.1`` for the second step of a ``Pipeline``. ``<i>`` indexes the
  owner's arrays in sorted attribute order. The ``key`` is the attribute path.
* A collection of estimators whose arrays line up (a forest's ``estimators_``, gradient
  boosting's 2-D ``estimators_``) is stored *stacked*: its layer is the collection
  (``model.estimators_``) and each weight concatenates one attribute of all members along axis 0,
  e.g. ``sklearnmodel-model.estimators_-0`` = ``model.estimators_.*.tree_.nodes`` for a regression
  forest (``-1`` its ``values``; classifier trees add ``classes_`` first). Member sizes are in the
  description. Reading 2 files instead of 1000 is what makes a 500-tree forest load fast.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dchub_client.errors import (
    DchubError,
    PretrainedFormatError,
    UnsupportedModelError,
    WeightFileError,
)
from dchub_client.format import layout
from dchub_client.format.pretrained import WeightReader, validate_weight_name
from dchub_client.models import dependencies, encoding
from dchub_client.models.adapters import sklearn_state
from dchub_client.models.adapters.base import Adapter, WeightSpec
from dchub_client.models.allowlist import sklearn_estimators

SKLEARN_MODEL = "deepchem.models.sklearn_models.sklearn_model.SklearnModel"
GBDT_MODEL = "deepchem.models.gbdt_models.gbdt_model.GBDTModel"
#: Where ``params.json`` ``extra`` keeps the fitted estimator's description.
STATE_KEY = layout.EXTRA_SKLEARN


def _sklearn() -> Any:
    try:
        import sklearn
    except ImportError as err:
        raise dependencies.missing("sklearn", "this model") from err
    return sklearn


def named_leaves(estimator: Any, model_name: str) -> dict[str, sklearn_state.Leaf]:
    """``{weight name: leaf}`` for a live estimator: layers in order met, arrays by sorted attribute."""
    by_layer: dict[str, list[sklearn_state.Leaf]] = {}
    for leaf in sklearn_state.leaves(estimator):
        by_layer.setdefault(leaf.layer, []).append(leaf)
    named = {}
    for layer, group in by_layer.items():
        for i, leaf in enumerate(sorted(group, key=lambda item: item.attr)):
            named[validate_weight_name(f"{model_name}-{layer}-{i}")] = leaf
    return named


def _unsafe_error(found: tuple[str, str, str], leaves: Mapping[str, sklearn_state.Leaf],
                  values: Mapping[str, Any]) -> PretrainedFormatError:
    """The error for an unsafe fitted state, naming the weight (and its file) or params.json at fault."""
    key, class_name, reason = found
    message = f"refusing the fitted {class_name}: {key} {reason}"
    for name, value in values.items():
        if key in {leaves[name].key, *(m.key for m in leaves[name].members)}:
            path = value.path if isinstance(value, WeightReader) else None
            return WeightFileError(f"{message} (weight {name!r})", path=path, weight=name)
    files = [value.path for value in values.values() if isinstance(value, WeightReader)]
    return PretrainedFormatError(message, path=files[0].parent / layout.PARAMS_FILE if files else None)


class SklearnAdapter(Adapter):
    """DeepChem ``SklearnModel``s wrapping scikit-learn estimators (and pipelines of them)."""

    framework = "sklearn"
    base_classes = (SKLEARN_MODEL,)
    #: Subclasses handled by another adapter.
    excluded_classes: tuple[str, ...] = (GBDT_MODEL,)

    def __init__(self) -> None:
        sklearn_estimators.install()

    def handles_class(self, cls: type) -> bool:
        names = {f"{c.__module__}.{c.__qualname__}" for c in getattr(cls, "__mro__", ())}
        return super().handles_class(cls) and names.isdisjoint(self.excluded_classes)

    def _estimator(self, model: Any) -> Any:
        estimator = getattr(model, "model", None)
        if estimator is None:
            raise UnsupportedModelError(f"this {type(model).__name__} wraps no estimator (model.model is None)")
        return estimator

    def _leaves(self, model: Any) -> dict[str, sklearn_state.Leaf]:
        return named_leaves(self._estimator(model), self.model_name(model))

    def specs(self, model: Any) -> dict[str, WeightSpec]:
        specs = {}
        for name, leaf in self._leaves(model).items():
            shape, dtype = leaf.spec()
            specs[name] = WeightSpec(leaf.key, shape, dtype)
        return specs

    def read(self, model: Any) -> Iterator[tuple[str, str, np.ndarray]]:
        for name, leaf in self._leaves(model).items():
            yield name, leaf.key, leaf.get()

    def assign(self, model: Any, values: Mapping[str, Any]) -> None:
        """Fill weights, rebuild derived objects, then refuse (and undo) a state native code must not see."""
        estimator, leaves = self._estimator(model), self._leaves(model)
        backup = {name: leaves[name].get().copy() for name, value in values.items()
                  if not isinstance(value, WeightReader)}  # set_weight: undone if refused
        for name, value in values.items():
            leaves[name].put(value)
        sklearn_state.refresh(estimator)
        found = sklearn_state.unsafe(estimator)
        if found is None:
            return
        for name, old in backup.items():
            leaves[name].put(old)
        sklearn_state.refresh(estimator)
        raise _unsafe_error(found, leaves, values)

    def parameters(self, model: Any) -> dict[str, Any]:
        args = super().parameters(model)
        args.pop("model_instance", None)
        return args

    def extra(self, model: Any) -> dict[str, Any]:
        """The fitted estimator's description (its arrays are the weights)."""
        return {STATE_KEY: encoding.encode_value(sklearn_state.describe(self._estimator(model)), "model")}

    def prepare(self, model: Any, *, extra: Mapping[str, Any], weights: Mapping[str, Any],
                source: Path) -> None:
        """Replace the unfitted estimator built from the hyperparameters by the stored fitted one."""
        if STATE_KEY not in extra:
            raise PretrainedFormatError(f"'extra' has no {STATE_KEY!r}: the fitted estimator is missing", path=source)
        try:
            model.model = sklearn_state.materialize(encoding.decode_value(extra[STATE_KEY], source))
        except (ValueError, TypeError) as err:
            if isinstance(err, DchubError):
                raise
            raise PretrainedFormatError(f"malformed fitted estimator in 'extra': {err}", path=source) from err

    def versions(self) -> dict[str, str]:
        return {"sklearn": _sklearn().__version__}

    def save_training_state(self, model: Any) -> tuple[dict[str, Any], list[tuple[str, str, np.ndarray]]]:
        """Nothing beyond the fitted estimator: DeepChem's ``fit`` of an estimator trains it from scratch."""
        return {}, []

    def load_training_state(self, model: Any, data: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        if data:
            raise PretrainedFormatError(f"'extra.training' of a {type(model).__name__} must be empty, got "
                                        f"{sorted(data)}")
