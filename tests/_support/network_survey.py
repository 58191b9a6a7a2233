"""Build every allowlisted class a ``params.json`` can name, with its default arguments, under the network guard.

Run as ``python -m tests._support.network_survey OUT.json`` (a fresh process: the audit hooks it adds stay
for the life of the process). The guard's hook is installed first and a recording hook after it, so the
recorder sees only network operations the guard let through. Each class is built directly (``cls()``),
not through the decoder, so classes the allowlist refuses up front are observed too. Writes::

    {"classes": [...], "network": {qualname: [attempts]}, "leaked": [[class, event, args]], "errors": {...}}
"""
from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import sys
import warnings
from typing import Any

#: The namespaces whose classes a params.json names in practice (the allowlist's trusted packages).
MODULES = ("deepchem.feat", "deepchem.models", "deepchem.models.torch_models", "deepchem.models.losses",
           "deepchem.models.optimizers", "deepchem.models.layers", "deepchem.models.torch_models.layers",
           "torch.nn", "tf_keras.layers")


def allowlisted_classes() -> dict[str, type]:
    """``qualname -> class`` for every concrete class of :data:`MODULES` and scikit-learn the allowlist
    admits as ``class``, or refuses only because its constructor uses the network."""
    from dchub_client.models.allowlist import registry

    found: dict[str, type] = {}
    candidates = [getattr(importlib.import_module(m), n, None) for m in MODULES
                  for n in dir(importlib.import_module(m))]
    from sklearn.utils import all_estimators

    candidates += [cls for _, cls in all_estimators()]
    for obj in candidates:
        if not inspect.isclass(obj) or inspect.isabstract(obj):
            continue
        name = registry.qualified_name_or_none(obj)
        if name and (registry.is_allowed(obj, "class") or registry._network_use(obj)):
            found[name] = obj
    return found


def _survey(out: str) -> None:
    import dchub_client  # noqa: F401 - installs the allowlist policies
    from dchub_client.errors import NetworkAccessError
    from dchub_client.models import netguard

    netguard.install()
    state: dict[str, Any] = {"current": None, "leaked": []}

    def record(event: str, args: tuple[Any, ...]) -> None:
        if state["current"] is not None and event in netguard._DESCRIBE:
            state["leaked"].append([state["current"], event, repr(args)[:200]])

    sys.addaudithook(record)
    classes = allowlisted_classes()
    network: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for name, cls in sorted(classes.items()):
        state["current"] = name
        try:
            with netguard.no_network(name):
                cls()
        except NetworkAccessError as err:
            network[name] = list(err.attempts)
        except BaseException as err:  # noqa: BLE001 - most classes need arguments; only the network matters
            errors[name] = type(err).__name__
        finally:
            state["current"] = None
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"classes": sorted(classes), "network": network, "leaked": state["leaked"], "errors": errors},
                  handle)


if __name__ == "__main__":
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    _survey(sys.argv[1])
