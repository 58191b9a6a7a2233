"""Adapter for DeepChem's ``GBDTModel`` (xgboost or lightgbm estimators).

The estimator is described exactly as for :mod:`.sklearn` (same weight names: ``gbdtmodel-model-<i>``);
its booster is stored in the library's own non-pickle format as one ``uint8`` weight: xgboost's
UBJSON (``save_raw("ubj")``) or lightgbm's model string (``model_to_string``), under the key
``model._Booster``.
"""
from __future__ import annotations

import importlib

from dchub_client.models.adapters.sklearn import GBDT_MODEL, SklearnAdapter


class GBDTAdapter(SklearnAdapter):
    """DeepChem ``GBDTModel``s wrapping ``XGBRegressor``/``XGBClassifier``/``LGBMRegressor``/``LGBMClassifier``."""

    framework = "gbdt"
    base_classes = (GBDT_MODEL,)
    excluded_classes = ()

    def versions(self) -> dict[str, str]:
        versions = super().versions()
        for package in ("xgboost", "lightgbm"):
            try:
                versions[package] = importlib.import_module(package).__version__
            except ImportError:
                continue
        return versions
