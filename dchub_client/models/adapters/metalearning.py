"""Adapter for DeepChem's ``MetaLearner`` (the learner that ``MAML`` and ``torch_maml.MAML`` optimize).

A ``MetaLearner`` is the user's own subclass: register it with :func:`dchub_client.register_class`
(which also records its constructor arguments). Its weights are the tensors of its ``variables``
property, TensorFlow variables (``dc.metalearning.MAML``) or torch parameters
(``dc.metalearning.torch_maml.MAML``). A variable held directly in an attribute is named by that
attribute (``sinelearner-w1-0``); any other by its index (``sinelearner-variables.3-0``).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from dchub_client.errors import UnsupportedModelError
from dchub_client.format.pretrained import WeightReader, validate_weight_name
from dchub_client.models.adapters.base import Adapter, WeightSpec

_META_LEARNER = "deepchem.metalearning.MetaLearner"


def _attribute_names(learner: Any) -> dict[int, str]:
    names: dict[int, str] = {}
    for attr, value in vars(learner).items():
        if not attr.startswith("_"):
            names.setdefault(id(value), attr)
    return names


def _is_torch(tensor: Any) -> bool:
    return type(tensor).__module__.startswith("torch")


def _numpy(tensor: Any) -> np.ndarray:
    if _is_torch(tensor):
        return tensor.detach().cpu().numpy()
    if hasattr(tensor, "numpy"):
        return np.asarray(tensor.numpy())
    raise UnsupportedModelError(f"MetaLearner variable of type {type(tensor).__name__} is neither a TensorFlow "
                                "variable nor a torch tensor")


class MetaLearnerAdapter(Adapter):
    """``dc.metalearning.MetaLearner`` subclasses: the weights are the tensors of ``learner.variables``."""

    framework = "metalearning"
    base_classes = (_META_LEARNER,)

    def _variables(self, learner: Any) -> dict[str, tuple[str, Any]]:
        names = _attribute_names(learner)
        prefix = self.model_name(learner)
        found: dict[str, tuple[str, Any]] = {}
        for i, tensor in enumerate(learner.variables):
            layer = names.get(id(tensor), f"variables.{i}")
            name = validate_weight_name(f"{prefix}-{layer}-0")
            if name in found:
                raise UnsupportedModelError(f"{type(learner).__name__}.variables lists {layer!r} twice")
            found[name] = (f"variables[{i}]", tensor)
        return found

    def specs(self, model: Any) -> dict[str, WeightSpec]:
        return {name: WeightSpec(key, tuple(int(d) for d in t.shape), _numpy(t).dtype)
                for name, (key, t) in self._variables(model).items()}

    def read(self, model: Any) -> Iterator[tuple[str, str, np.ndarray]]:
        for name, (key, tensor) in self._variables(model).items():
            yield name, key, _numpy(tensor)

    def assign(self, model: Any, values: Mapping[str, Any]) -> None:
        live = self._variables(model)
        for name, value in values.items():
            array = value.load() if isinstance(value, WeightReader) else np.asarray(value)
            tensor = live[name][1]
            if _is_torch(tensor):
                import torch

                with torch.no_grad():
                    tensor.copy_(torch.from_numpy(np.array(array, copy=True)))
            else:
                tensor.assign(array)

    def versions(self) -> dict[str, str]:
        import sys

        return {name: sys.modules[name].__version__.split("+")[0] for name in ("torch", "tensorflow")
                if name in sys.modules}
