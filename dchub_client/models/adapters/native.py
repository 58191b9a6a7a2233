"""Adapter for user classes that implement :class:`dchub_client.Model` themselves.

Such a class provides ``get_weights``/``set_weight``/``get_parameters``; dchub only calls them.
Its class must be registered (:func:`dchub_client.register_class`) to be loadable.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from dchub_client.format.pretrained import WeightReader
from dchub_client.models.adapters.base import Adapter, WeightSpec


class NativeAdapter(Adapter):
    """Models that implement the dchub interface directly (not DeepChem models)."""

    framework = "native"
    base_classes = ()

    def handles_class(self, cls: type) -> bool:
        from dchub_client.models.interface import Model  # interface imports this package: look it up on use

        mro = getattr(cls, "__mro__", ())
        is_deepchem = any(f"{c.__module__}.{c.__qualname__}" == "deepchem.models.models.Model" for c in mro)
        return Model in mro and not is_deepchem

    def specs(self, model: Any) -> dict[str, WeightSpec]:
        return {name: WeightSpec(name, tuple(np.shape(v)), np.asarray(v).dtype)
                for name, v in model.get_weights().items()}

    def read(self, model: Any) -> Iterator[tuple[str, str, np.ndarray]]:
        for name, value in model.get_weights().items():
            yield name, name, np.asarray(value)

    def assign(self, model: Any, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            model.set_weight(name, value.load() if isinstance(value, WeightReader) else value)

    def parameters(self, model: Any) -> dict[str, Any]:
        return dict(model.get_parameters())
