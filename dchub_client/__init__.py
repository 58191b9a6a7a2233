"""dchub_client: save, share and load pretrained DeepChem models without pickle.

Example:
    >>> import dchub_client as hub
    >>> hub.to_pretrained(model, "out/esol")          # doctest: +SKIP
    >>> model = hub.from_pretrained("out/esol")       # doctest: +SKIP
    >>> hub.get_weights(model)                        # doctest: +SKIP

The public names are imported on first use (PEP 562), so ``import dchub_client`` and the ``dchub``
command start without numpy or any framework; the DeepChem hooks are installed at import, as they
must be before any model is built (the allowlist's built-in policies when it is first consulted).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from dchub_client.models import deepchem_hooks as _deepchem_hooks  # noqa: E402

if TYPE_CHECKING:  # the names below, for type checkers and IDEs
    from dchub_client.hub.resolve import download
    from dchub_client.models.allowlist.registry import register_class
    from dchub_client.models.domain import ApplicabilityDomain, DomainResult
    from dchub_client.models.encoding import register_encoder
    from dchub_client.models.interface import (
        Model,
        from_pretrained,
        get_parameters,
        get_weight,
        get_weights,
        set_weight,
        to_pretrained,
    )
    from dchub_client.models.outputs import OutputContract
    from dchub_client.models.pipeline import Pipeline, load_pipeline

#: Where each public name lives (imported when first used).
_LAZY = {
    "download": "dchub_client.hub.resolve",
    "register_class": "dchub_client.models.allowlist.registry",
    "ApplicabilityDomain": "dchub_client.models.domain",
    "DomainResult": "dchub_client.models.domain",
    "OutputContract": "dchub_client.models.outputs",
    "register_encoder": "dchub_client.models.encoding",
    "Model": "dchub_client.models.interface",
    "from_pretrained": "dchub_client.models.interface",
    "get_parameters": "dchub_client.models.interface",
    "get_weight": "dchub_client.models.interface",
    "get_weights": "dchub_client.models.interface",
    "set_weight": "dchub_client.models.interface",
    "to_pretrained": "dchub_client.models.interface",
    "Pipeline": "dchub_client.models.pipeline",
    "load_pipeline": "dchub_client.models.pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dchub_client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# No handler of dchub's own (pooch and huggingface_hub show their warnings too): a program that configures
# logging decides what it shows; one that does not (a script, a notebook) sees dchub's warnings, such as a
# mirror skipped or a cached copy used offline, on stderr (logging.lastResort), and nothing below WARNING.
_deepchem_hooks.install()

__all__ = [
    "ApplicabilityDomain",
    "DomainResult",
    "Model",
    "OutputContract",
    "Pipeline",
    "__version__",
    "download",
    "from_pretrained",
    "get_parameters",
    "get_weight",
    "get_weights",
    "load_pipeline",
    "register_class",
    "register_encoder",
    "set_weight",
    "to_pretrained",
]
