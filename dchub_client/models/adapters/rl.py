"""Adapter for DeepChem's reinforcement-learning ``Policy`` (``dc.rl.Policy``, used by ``A2C`` and ``PPO``).

A ``Policy`` is a factory: ``create_model()`` returns a new Keras model each call. dchub gives each
policy instance one network, :func:`network` (created on first use and kept on the policy), and its
weights are that network's, named like the Keras adapter's (``mypolicy-layers.2-0``). A network
trained elsewhere (e.g. ``a2c._model.model``) is bound with :func:`attach_network` before saving.
The policy class is the user's own: register it with :func:`dchub_client.register_class`.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from dchub_client.errors import UnsupportedModelError
from dchub_client.models.adapters import keras as keras_adapter
from dchub_client.models.adapters.base import Adapter, WeightSpec

_POLICY = "deepchem.rl.Policy"
_NETWORK = "_dchub_network"


def network(policy: Any) -> Any:
    """The Keras network whose weights are the policy's (``policy.create_model()``, created once)."""
    model = policy.__dict__.get(_NETWORK)
    if model is None:
        keras_adapter.tensorflow()
        model = policy.create_model()
        attach_network(policy, model)
    return model


def attach_network(policy: Any, model: Any) -> None:
    """Make *model* (e.g. the network an ``A2C`` trained: ``a2c._model.model``) the policy's network."""
    if not getattr(model, "built", False):
        raise UnsupportedModelError(f"the network of this {type(policy).__name__} has no variables yet: "
                                    "create_model() must return a built (functional) Keras model")
    policy.__dict__[_NETWORK] = model


class PolicyAdapter(Adapter):
    """``dc.rl.Policy`` subclasses: the weights are those of :func:`network`."""

    framework = "rl"
    base_classes = (_POLICY,)

    def _variables(self, policy: Any) -> dict[str, tuple[str, Any]]:
        return keras_adapter.variables(network(policy), self.model_name(policy))

    def specs(self, model: Any) -> dict[str, WeightSpec]:
        return keras_adapter.specs_of(self._variables(model))

    def read(self, model: Any) -> Iterator[tuple[str, str, np.ndarray]]:
        return keras_adapter.read_variables(self._variables(model))

    def assign(self, model: Any, values: Mapping[str, Any]) -> None:
        keras_adapter.assign_variables(self._variables(model), values)

    def build(self, cls: type, parameters: dict[str, Any]) -> Any:
        keras_adapter.tensorflow()
        policy = super().build(cls, parameters)
        network(policy)
        return policy

    def versions(self) -> dict[str, str]:
        return {"tensorflow": keras_adapter.tensorflow().__version__}
