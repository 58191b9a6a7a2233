"""Pipelines in ``params.json``: encoding and decoding the featurizer and the fitted transformers.

A pretrained folder may hold, besides the model, the featurizer it was trained on and the fitted
DeepChem transformers (``docs/format.md`` §1, "Pipelines"). They live in ``params.json``
``extra["pipeline"]``: the featurizer as a tagged ``object`` (allowlisted ``class``), each
transformer as a tagged ``state`` whose numpy arrays are stored as further weights
(``pipeline-transformers.<i>-<j>``, listed in ``extra["auxiliary_weights"]``) and referenced as
``{"__dchub__": "weight", "name": ...}``. Nothing outside the allowlist is ever built. The entry
may also hold the output contract (``outputs``, :mod:`dchub_client.models.outputs`) and the
applicability domain (``domain``, :mod:`dchub_client.models.domain`), whose training fingerprints
are the auxiliary weight ``pipeline-domain.fingerprints``.

Saving (:func:`encode_pipeline`) is called by :func:`dchub_client.models.interface.to_pretrained`;
loading (:func:`decode_pipeline`) by :func:`dchub_client.models.pipeline.load_pipeline`. This module
imports neither, so saving and loading run one way.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dchub_client import quiet
from dchub_client.errors import ParameterEncodingError, PretrainedFormatError, WeightFileError
from dchub_client.format import layout, pretrained
from dchub_client.format.stamps import Stamps
from dchub_client.models import encoding
from dchub_client.models.allowlist import registry
from dchub_client.models.domain import FINGERPRINTS_WEIGHT, ApplicabilityDomain
from dchub_client.models.outputs import OutputContract

#: Transformer arrays are stored as weights named ``pipeline-transformers.<i>-<j>``.
TRANSFORMER_PREFIX = "pipeline-transformers"
#: Transformer attributes that are references to data, not fitted state: never stored.
DROPPED_TRANSFORMER_ATTRIBUTES = frozenset({"dataset"})
#: Molecules featurized by the original and the rebuilt featurizer when saving: they must agree.
PROBE_SMILES = ("CCO", "O=C(O)c1ccccc1N", "C1CC[NH2+]CC1")
_TAG = layout.TAG


# --- saving ---------------------------------------------------------------------------------


def encode_pipeline(featurizer: Any, transformers: Sequence[Any], *, outputs: OutputContract | None = None,
                    domain: ApplicabilityDomain | None = None,
                    ) -> tuple[dict[str, Any], list[tuple[str, str, np.ndarray]]]:
    """Encode a featurizer, transformers, output contract and applicability domain for ``extra["pipeline"]``.

    Returns:
        ``(json_ready_spec, [(weight_name, attribute, array), ...])``.

    Raises:
        ParameterEncodingError: the featurizer or a transformer is off the allowlist, holds an
            attribute that is not plain state, or the featurizer does not rebuild identically.
    """
    spec: dict[str, Any] = {"featurizer": None, "transformers": []}
    if featurizer is not None:
        spec["featurizer"] = _encode_featurizer(featurizer)
    arrays: list[tuple[str, str, np.ndarray]] = []
    for i, transformer in enumerate(transformers):
        encoded, found = _encode_transformer(transformer, i)
        spec["transformers"].append(encoded)
        arrays.extend(found)
    if outputs is not None:
        spec[layout.PIPELINE_OUTPUTS] = outputs.to_json()
    if domain is not None:
        spec[layout.PIPELINE_DOMAIN], fingerprints = domain.to_json(_encode_featurizer)
        arrays.append((FINGERPRINTS_WEIGHT, "fingerprints", fingerprints))
    return spec, arrays


def _encode_featurizer(featurizer: Any) -> dict[str, Any]:
    if not callable(getattr(featurizer, "featurize", None)):
        raise ParameterEncodingError("featurizer", f"{type(featurizer).__name__} has no featurize() method")
    encoded = encoding.encode_value(featurizer, "featurizer")
    if not isinstance(encoded, dict) or encoded.get(_TAG) != "object":
        raise ParameterEncodingError("featurizer", "must be stored as a constructible object (class + arguments)")
    rebuilt = encoding.decode_value(encoded, None)
    for smiles in PROBE_SMILES:
        with quiet.frameworks_quiet():  # our probe, not the user's featurizing: RDKit's deprecation notes unsaid
            same = _same(featurizer.featurize([smiles]), rebuilt.featurize([smiles]))
        if not same:
            raise ParameterEncodingError(
                "featurizer", f"{type(featurizer).__name__} rebuilt from {encoded['kwargs']} featurizes {smiles!r} "
                "differently: some constructor argument is not kept as an attribute; register the class with "
                "dchub_client.register_class before creating the featurizer")
    return encoded


def _same(a: Any, b: Any, depth: int = 0) -> bool:
    """Structural equality of featurizer outputs (arrays, ConvMol/GraphData objects, containers)."""
    if depth > 8:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.hasobject or b.dtype.hasobject:
            return a.shape == b.shape and all(_same(x, y, depth + 1) for x, y in zip(a.ravel(), b.ravel()))
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k], depth + 1) for k in a)
    if hasattr(a, "__dict__") and not callable(a):
        return type(a) is type(b) and _same(vars(a), vars(b), depth + 1)
    return bool(a == b) if not callable(a) else True


def _encode_transformer(transformer: Any, i: int) -> tuple[dict[str, Any], list[tuple[str, str, np.ndarray]]]:
    cls = type(transformer)
    where = f"transformers[{i}]"
    if not registry.is_allowed(cls, "state"):
        raise ParameterEncodingError(where, f"{registry.qualified_name(cls)} is not an allowlisted transformer "
                                            "(a deepchem.trans.Transformer, or a class passed to register_class)")
    state: dict[str, Any] = {}
    arrays: list[tuple[str, str, np.ndarray]] = []
    for attr, value in sorted(vars(transformer).items()):
        path = f"{where}.{attr}"
        if attr in DROPPED_TRANSFORMER_ATTRIBUTES:
            continue
        if isinstance(value, np.ndarray) and not value.dtype.hasobject:
            name = pretrained.validate_weight_name(f"{TRANSFORMER_PREFIX}.{i}-{len(arrays)}")
            arrays.append((name, attr, value))
            state[attr] = {_TAG: "weight", "name": name}
        elif _is_plain(value):
            state[attr] = encoding.encode_value(value, path)
        else:
            raise ParameterEncodingError(path, f"a {type(value).__name__} is not fitted transformer state (only "
                                               "numbers, strings, arrays and containers of them are stored)")
    return {_TAG: "state", "class": registry.qualified_name(cls), "state": state}, arrays


def _is_plain(value: Any, depth: int = 0) -> bool:
    if depth > 16:
        return False
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, np.generic):
        return not isinstance(value, (np.void, np.object_))
    if isinstance(value, np.ndarray):
        return not value.dtype.hasobject
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_is_plain(k, depth + 1) and _is_plain(v, depth + 1) for k, v in value.items())
    return False


# --- loading --------------------------------------------------------------------------------


def decode_featurizer(data: Any, *, source: str | Path | None = None) -> Any:
    """Rebuild a featurizer from its tagged ``object``, refusing classes off the allowlist or non-featurizers.

    Raises:
        UntrustedClassError: the class is not on the allowlist (nothing from its module is imported).
        PretrainedFormatError: the entry is malformed or names a class without ``featurize``.
    """
    if data is None:
        return None
    if not isinstance(data, dict) or data.get(_TAG) != "object" or not isinstance(data.get("class"), str):
        raise PretrainedFormatError("extra.pipeline.featurizer must be a tagged object with a 'class'", path=source)
    cls = registry.resolve(data["class"], "class", source=source)
    if not isinstance(cls, type) or not callable(getattr(cls, "featurize", None)):
        raise PretrainedFormatError(f"extra.pipeline.featurizer: {data['class']!r} is not a featurizer "
                                    "(it has no featurize method)", path=source)
    return encoding.decode_value(data, source)


def decode_transformers(data: Any, weights: Mapping[str, Any], *, source: str | Path | None = None) -> list[Any]:
    """Rebuild the transformers; *weights* maps weight names to arrays or :class:`WeightReader`.

    Raises:
        WeightFileError: a transformer refers to a weight that is not stored (the message names it).
        UntrustedClassError: a transformer class is not allowed as ``state``.
    """
    if data is None:
        return []
    if not isinstance(data, list):
        raise PretrainedFormatError("extra.pipeline.transformers must be a list", path=source)
    return [_decode_transformer(item, i, weights, source) for i, item in enumerate(data)]


def _decode_transformer(data: Any, i: int, weights: Mapping[str, Any], source: Any) -> Any:
    where = f"extra.pipeline.transformers[{i}]"
    if not isinstance(data, dict) or data.get(_TAG) != "state" or not isinstance(data.get("state"), dict):
        raise PretrainedFormatError(f"{where} must be a tagged state object", path=source)
    cls = registry.resolve(str(data.get("class")), "state", source=source)
    state = {}
    for attr, value in data["state"].items():
        if isinstance(value, dict) and value.get(_TAG) == "weight":
            state[str(attr)] = _transformer_array(value.get("name"), f"{where}.{attr}", weights, source)
        else:
            state[str(attr)] = encoding.decode_value(value, source)
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _transformer_array(name: Any, where: str, weights: Mapping[str, Any], source: Any) -> np.ndarray:
    if not isinstance(name, str) or name not in weights:
        raise WeightFileError(f"{where} refers to weight {name!r}, which params.json does not list "
                              "(the transformer's fitted arrays are missing)", path=source, weight=str(name))
    value = weights[name]
    return np.array(value.load() if isinstance(value, pretrained.WeightReader) else value, copy=True)


@dataclass(frozen=True)
class StoredPipeline:
    """What ``extra["pipeline"]`` holds, rebuilt: each part None (or empty) when the folder stores none."""

    featurizer: Any = None
    transformers: tuple[Any, ...] = ()
    outputs: OutputContract | None = None
    domain: ApplicabilityDomain | None = None


def decode_pipeline(folder: Path, info: pretrained.PretrainedInfo, *, verify: bool,
                    notes: Stamps | None = None) -> StoredPipeline:
    """The featurizer, transformers, output contract and domain stored in *folder*'s ``params.json`` (*info*).

    Raises:
        PretrainedFormatError: a malformed ``extra.pipeline`` entry.
        UntrustedClassError: the featurizer, the domain's featurizer or a transformer class is off the allowlist.
        WeightFileError: a transformer's arrays or the domain's fingerprints are missing.
    """
    source = folder / layout.PARAMS_FILE
    spec = info.extra.get(layout.EXTRA_PIPELINE)
    if spec is None:
        return StoredPipeline()
    if not isinstance(spec, dict):
        raise PretrainedFormatError("extra.pipeline must be an object", path=source)
    readers = {name: pretrained.WeightReader(folder, entry, verify=verify, stamps=notes)
               for name, entry in info.weights.items()
               if name.startswith(TRANSFORMER_PREFIX + ".") or name == FINGERPRINTS_WEIGHT}
    return StoredPipeline(featurizer=decode_featurizer(spec.get("featurizer"), source=source),
                          transformers=tuple(decode_transformers(spec.get("transformers"), readers, source=source)),
                          outputs=decode_outputs(spec.get(layout.PIPELINE_OUTPUTS), source=source),
                          domain=decode_domain(spec.get(layout.PIPELINE_DOMAIN), readers, source=source))


def decode_outputs(data: Any, *, source: str | Path | None = None) -> OutputContract | None:
    """The stored output contract (None when the folder states none: it is then inferred from the model).

    Raises:
        PretrainedFormatError: the entry is malformed.
    """
    return None if data is None else OutputContract.from_json(data, source=source)


def decode_domain(data: Any, weights: Mapping[str, Any], *,
                  source: str | Path | None = None) -> ApplicabilityDomain | None:
    """Rebuild the stored applicability domain; *weights* maps weight names to arrays or readers.

    Raises:
        UntrustedClassError: the domain's featurizer is off the allowlist.
        WeightFileError: the fingerprints are not stored.
        PretrainedFormatError: the entry is malformed.
    """
    if data is None:
        return None
    where = f"extra.pipeline.{layout.PIPELINE_DOMAIN}"
    if not isinstance(data, dict):
        raise PretrainedFormatError(f"{where} must be an object", path=source)
    featurizer = decode_featurizer(data.get("featurizer"), source=source)
    if featurizer is None:
        raise PretrainedFormatError(f"{where} has no featurizer", path=source)
    reference = data.get("fingerprints")
    name = reference.get("name") if isinstance(reference, dict) and reference.get(_TAG) == "weight" else None
    fingerprints = _transformer_array(name, f"{where}.fingerprints", weights, source)
    return ApplicabilityDomain.from_json(data, featurizer, fingerprints, source=source)
