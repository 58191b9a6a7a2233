"""Framework adapters, found by the model's class without importing any framework.

Adapters register here in order; the first whose :meth:`Adapter.handles_class` accepts a class
handles it. Framework modules are imported only when their adapter is first used.
"""
from __future__ import annotations

import importlib
from typing import Any

from dchub_client.errors import UnsupportedModelError
from dchub_client.models.adapters.base import Adapter, WeightSpec

#: ``(module, class)`` of each adapter, most specific first.
_ADAPTERS: list[tuple[str, str]] = [
    ("dchub_client.models.adapters.native", "NativeAdapter"),
    ("dchub_client.models.adapters.torch", "TorchAdapter"),
    ("dchub_client.models.adapters.keras", "KerasAdapter"),
    ("dchub_client.models.adapters.sklearn", "SklearnAdapter"),
    ("dchub_client.models.adapters.gbdt", "GBDTAdapter"),
    ("dchub_client.models.adapters.metalearning", "MetaLearnerAdapter"),
    ("dchub_client.models.adapters.rl", "PolicyAdapter"),
    ("dchub_client.models.adapters.composite", "CompositeAdapter"),
]
_INSTANCES: dict[tuple[str, str], Adapter] = {}


def _load(entry: tuple[str, str]) -> Adapter:
    if entry not in _INSTANCES:  # importing an adapter module imports no framework
        _INSTANCES[entry] = getattr(importlib.import_module(entry[0]), entry[1])()
    return _INSTANCES[entry]


def for_class(cls: type) -> Adapter:
    """The adapter that handles models of class *cls*."""
    for entry in _ADAPTERS:
        adapter = _load(entry)
        if adapter.handles_class(cls):
            return adapter
    raise UnsupportedModelError(f"dchub has no adapter for {cls.__module__}.{cls.__qualname__}")


def for_model(model: Any) -> Adapter:
    """The adapter that handles *model*."""
    return for_class(type(model))


__all__ = ["Adapter", "WeightSpec", "for_class", "for_model"]
