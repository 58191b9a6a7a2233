"""dchub_client: save, share and load pretrained DeepChem models without pickle.

Example:
    >>> import dchub_client as hub
    >>> hub.to_pretrained(model, "out/esol")          # doctest: +SKIP
    >>> model = hub.from_pretrained("out/esol")       # doctest: +SKIP
    >>> hub.get_weights(model)                        # doctest: +SKIP
"""
from __future__ import annotations

import logging

__version__ = "0.1.0"

from dchub_client.hub.resolve import download  # noqa: E402
from dchub_client.models import deepchem_hooks as _deepchem_hooks  # noqa: E402
from dchub_client.models.allowlist import policies as _policies  # noqa: E402
from dchub_client.models.allowlist.registry import register_class  # noqa: E402
from dchub_client.models.domain import ApplicabilityDomain, DomainResult  # noqa: E402
from dchub_client.models.encoding import register_encoder  # noqa: E402
from dchub_client.models.interface import (
    Model,
    from_pretrained,
    get_parameters,
    get_weight,
    get_weights,
    set_weight,
    to_pretrained,
)
from dchub_client.models.outputs import OutputContract  # noqa: E402
from dchub_client.models.pipeline import Pipeline, load_pipeline  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())
_policies.install()
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
