"""Allowlist policies for scikit-learn, xgboost and lightgbm estimators (skops-style trusted types).

A ``params.json`` may name an estimator class only if it is a concrete ``BaseEstimator``
subclass defined in the package's own public modules: never a function, never a class from a
test or testing-helper module, never anything outside these packages. Non-estimator objects of
a fitted model (trees, neighbour trees, losses, boosters) are never named by the file: they are
rebuilt by fixed code in :mod:`dchub_client.models.adapters.sklearn_objects`.
"""
from __future__ import annotations

import inspect
from typing import Any

from dchub_client.models.allowlist.registry import Kind, add_policy

#: Module name parts that mark test helpers, refused even inside trusted packages.
_UNTRUSTED_PARTS = frozenset({"tests", "_testing", "testing", "_mocking", "conftest"})
#: Base class (module, name) and the module prefix its trusted subclasses must come from.
_ESTIMATOR_ROOTS: dict[str, tuple[tuple[str, str], str]] = {
    "sklearn": (("sklearn.base", "BaseEstimator"), "sklearn."),
    "xgboost": (("xgboost.sklearn", "XGBModel"), "xgboost."),
    "lightgbm": (("lightgbm.sklearn", "LGBMModel"), "lightgbm."),
}


def _base(package: str) -> type | None:
    (module, name), _prefix = _ESTIMATOR_ROOTS[package]
    try:
        return getattr(__import__(module, fromlist=[name]), name)
    except ImportError:
        return None


def is_trusted_estimator_class(obj: Any) -> bool:
    """True for a concrete estimator class from the public modules of sklearn, xgboost or lightgbm."""
    if not inspect.isclass(obj) or inspect.isabstract(obj):
        return False
    module = getattr(obj, "__module__", "") or ""
    package = module.split(".")[0]
    if package not in _ESTIMATOR_ROOTS or not module.startswith(_ESTIMATOR_ROOTS[package][1]):
        return False
    if _UNTRUSTED_PARTS.intersection(module.split(".")) or module.startswith("sklearn.utils"):
        return False
    base = _base(package)
    return base is not None and issubclass(obj, base) and not obj.__name__.startswith("_")


def _policy(name: str, obj: Any, kind: Kind) -> bool:
    return kind in ("class", "ref") and is_trusted_estimator_class(obj)


def install() -> None:
    """Register the estimator policies (idempotent)."""
    for package in _ESTIMATOR_ROOTS:
        add_policy(package, _policy)
