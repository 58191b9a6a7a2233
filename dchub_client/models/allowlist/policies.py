"""The built-in allowlist policies: what of DeepChem, torch, numpy, Keras and TensorFlow Probability
``params.json`` may name.

Each policy only inspects an object that was imported from its own (trusted) package. A class
may be *constructed* (``class``), rebuilt from its ``__dict__`` (``state``), or passed along
uncalled (``ref``) only if its policy says so. Anything else is refused.
"""
from __future__ import annotations

import types
from typing import Any

from dchub_client.models.allowlist.registry import Kind, add_policy, refuse_network_class

#: DeepChem base classes whose subclasses may be constructed from keyword arguments.
_DEEPCHEM_CONSTRUCTIBLE = (
    "deepchem.models.Model",
    "deepchem.models.optimizers.Optimizer",
    "deepchem.models.optimizers.LearningRateSchedule",
    "deepchem.models.losses.Loss",
    "deepchem.feat.Featurizer",
)
#: DeepChem base classes whose subclasses may be rebuilt from their attributes (fitted state): transformers,
#: and vocabularies built from data (GroverModel's ``atom_vocab``/``bond_vocab``).
_DEEPCHEM_STATEFUL = ("deepchem.trans.Transformer",
                      "deepchem.feat.vocabulary_builders.vocabulary_builder.VocabularyBuilder")

#: DeepChem classes whose constructors download (loading from a folder never touches the network). The
#: network guard (``dchub_client.models.netguard``) refuses any other that tries; these are refused up front,
#: by name and by base class, so nothing of them runs. ``tests/security/test_network_guard.py`` checks that
#: every allowlisted class seen reaching for the network is listed here.
_DEEPCHEM_NETWORK_CLASSES = {
    "deepchem.feat.material_featurizers.cgcnn_featurizer.CGCNNFeaturizer":
        "downloads atom_init.json from DeepChem's bucket",
    "deepchem.feat.molecule_featurizers.mol2vec_fingerprint.Mol2VecFingerprint":
        "downloads the mol2vec model from GitHub (and unpickles it) unless given a path, which params.json "
        "may not give",
    "deepchem.models.torch_models.chemberta.Chemberta":
        "fetches its tokenizer from the Hugging Face Hub",
}

#: torch functions (outside torch.nn.functional) usable as activation functions.
_TORCH_FUNCTIONS = frozenset({
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "exp", "abs", "square", "sqrt", "erf",
})


def _resolve_bases(names: tuple[str, ...]) -> tuple[type, ...]:
    import importlib

    bases = []
    for name in names:
        module, attr = name.rsplit(".", 1)
        bases.append(getattr(importlib.import_module(module), attr))
    return tuple(bases)


def _subclass_of(obj: Any, bases: tuple[type, ...]) -> bool:
    return isinstance(obj, type) and issubclass(obj, bases)


def _deepchem(name: str, obj: Any, kind: Kind) -> bool:
    if kind == "state":
        return _subclass_of(obj, _resolve_bases(_DEEPCHEM_STATEFUL))
    if _subclass_of(obj, _resolve_bases(_DEEPCHEM_CONSTRUCTIBLE)):
        return True
    return _is_framework_layer(obj)


def _is_framework_layer(obj: Any) -> bool:
    """DeepChem's own torch modules and Keras layers (building blocks of user models)."""
    if not isinstance(obj, type):
        return False
    for base in ("torch.nn.Module", "tf_keras.layers.Layer"):
        module, attr = base.rsplit(".", 1)
        try:
            cls = getattr(__import__(module, fromlist=[attr]), attr)
        except ImportError:
            continue
        if issubclass(obj, cls):
            return True
    return False


def _torch(name: str, obj: Any, kind: Kind) -> bool:
    import torch

    if kind == "state":
        return False
    if isinstance(obj, type):
        return issubclass(obj, torch.nn.Module) and obj.__module__.startswith("torch.nn.")
    if kind != "ref":
        return False
    module = getattr(obj, "__module__", "") or ""
    if module == "torch.nn.functional":
        return True
    if module == "torch.nn.init" and name.startswith("torch.nn.init.") and not name.rsplit(".", 1)[1].startswith("_"):
        return True  # initializers (xavier_uniform_...) passed to a layer's constructor
    return name in {f"torch.{fn}" for fn in _TORCH_FUNCTIONS} and getattr(torch, obj.__name__, None) is obj


def _numpy(name: str, obj: Any, kind: Kind) -> bool:
    import numpy as np

    return kind == "ref" and isinstance(obj, type) and issubclass(obj, np.generic) and not issubclass(
        obj, (np.object_, np.void))


#: Modules of the Keras packages whose classes are built-in initializers, regularizers and constraints.
_KERAS_BUILTIN_MODULES = (".initializers.", ".regularizers.", ".constraints.")


def _keras(name: str, obj: Any, kind: Kind) -> bool:
    """Keras activations (``ref``), Keras layer classes, and the built-in initializers, regularizers and
    constraints, from the Keras packages themselves."""
    if kind == "state":
        return False
    module = getattr(obj, "__module__", "") or ""
    if kind == "ref" and isinstance(obj, types.FunctionType) and (".activations" in module or module.startswith(
            ("tensorflow.python.ops.nn", "tensorflow.python.ops.math_ops", "tensorflow.python.ops.gen_nn_ops"))):
        return True
    if module.split(".")[0] not in {"tf_keras", "keras", "tensorflow"}:
        return False
    if isinstance(obj, type) and any(part in module + "." for part in _KERAS_BUILTIN_MODULES):
        return not obj.__name__.startswith("_")
    return _is_framework_layer(obj)


def _tfp(name: str, obj: Any, kind: Kind) -> bool:
    """TensorFlow Probability's distributions, bijectors and the Keras layers they hold (``AutoregressiveNetwork``),
    rebuilt from their recorded ``parameters``; never a function (``real_nvp_default_template`` returns closures)."""
    if kind == "state" or not isinstance(obj, type) or obj.__name__.startswith("_"):
        return False
    module = getattr(obj, "__module__", "") or ""
    if not module.startswith(("tensorflow_probability.python.distributions.",
                              "tensorflow_probability.python.bijectors.")):
        return False
    from tensorflow_probability import bijectors, distributions

    return issubclass(obj, (distributions.Distribution, bijectors.Bijector)) or _is_framework_layer(obj)


def install() -> None:
    """Register the built-in policies (idempotent: called by the registry before its first use)."""
    add_policy("deepchem", _deepchem)
    for name, fetches in _DEEPCHEM_NETWORK_CLASSES.items():
        refuse_network_class(name, fetches)
    add_policy("torch", _torch)
    add_policy("numpy", _numpy)
    for package in ("tensorflow", "tf_keras", "keras"):
        add_policy(package, _keras)
    add_policy("tensorflow_probability", _tfp)
