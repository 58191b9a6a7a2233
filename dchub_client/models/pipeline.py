"""Pretrained pipelines: featurizer + model + output transformers (+ card), loaded as one object.

A pretrained folder may hold, besides the model, the featurizer it was trained on and the fitted
DeepChem transformers (``docs/format.md`` §1, "Pipelines"). They live in ``params.json``
``extra["pipeline"]``: the featurizer as a tagged ``object`` (allowlisted ``class``), each
transformer as a tagged ``state`` whose numpy arrays are stored as further weights
(``pipeline-transformers.<i>-<j>``, listed in ``extra["auxiliary_weights"]``) and referenced as
``{"__dchub__": "weight", "name": ...}``. Nothing outside the allowlist is ever built. The
pipeline may also state its output contract (:mod:`dchub_client.models.outputs`) and carry an
applicability domain (:mod:`dchub_client.models.domain`).

Example:
    >>> pipe = dchub_client.load_pipeline("esol-mtr")   # doctest: +SKIP
    >>> pipe.predict(["CCO", "c1ccccc1"])               # doctest: +SKIP
    array([[ 0.82], [-1.71]], dtype=float32)
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dchub_client.errors import (
    InvalidMoleculeError,
    InvalidMoleculeWarning,
    ParameterEncodingError,
    PretrainedFormatError,
    WeightFileError,
)
from dchub_client.format import layout, pretrained
from dchub_client.format.card import Card, read_folder_card
from dchub_client.models import encoding, interface
from dchub_client.models import outputs as output_contracts
from dchub_client.models.allowlist import registry
from dchub_client.models.domain import FINGERPRINTS_WEIGHT, ApplicabilityDomain, DomainResult
from dchub_client.models.outputs import OutputContract

logger = logging.getLogger(__name__)

#: Key of ``params.json`` ``extra`` that holds the pipeline.
PIPELINE_KEY = "pipeline"
#: Transformer arrays are stored as weights named ``pipeline-transformers.<i>-<j>``.
TRANSFORMER_PREFIX = "pipeline-transformers"
#: Keys of ``extra["pipeline"]``: the output contract and the applicability domain.
OUTPUTS_KEY = layout.PIPELINE_OUTPUTS
DOMAIN_KEY = layout.PIPELINE_DOMAIN
#: Transformer attributes that are references to data, not fitted state: never stored.
DROPPED_TRANSFORMER_ATTRIBUTES = frozenset({"dataset"})
#: Molecules featurized by the original and the rebuilt featurizer when saving: they must agree.
PROBE_SMILES = ("CCO", "O=C(O)c1ccccc1N", "C1CC[NH2+]CC1")
_TAG = encoding.TAG
Errors = Literal["warn", "raise"]


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
        spec[OUTPUTS_KEY] = outputs.to_json()
    if domain is not None:
        spec[DOMAIN_KEY], fingerprints = domain.to_json(_encode_featurizer)
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
        if not _same(featurizer.featurize([smiles]), rebuilt.featurize([smiles])):
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
class Pipeline:
    """A loaded pretrained pipeline: ``predict(smiles)`` featurizes, predicts and undoes output transforms.

    Attributes:
        model: the DeepChem model.
        featurizer: the featurizer it was trained on (None if the folder stores none).
        transformers: the fitted transformers, in the order they were applied to the training data.
        card: the folder's model card, if any.
        path: the folder the pipeline was loaded from.
        outputs: what :meth:`predict` returns (tasks, units, classes); inferred from the model
            when the folder does not state it, None when it cannot be.
        applicability: the training set's fingerprints and the similarity threshold that
            :meth:`domain` checks against (None when the folder stores none).
    """

    model: Any
    featurizer: Any
    transformers: tuple[Any, ...] = ()
    card: Card | None = None
    path: Path | None = None
    outputs: OutputContract | None = None
    applicability: ApplicabilityDomain | None = None

    def __post_init__(self) -> None:
        if self.outputs is None:
            object.__setattr__(self, "outputs", output_contracts.infer(self.model))

    def predict(self, smiles: Sequence[str], *, errors: Errors = "warn", as_frame: bool = False) -> Any:
        """Predict for SMILES strings, in the training data's units.

        Returns ``(n_molecules, n_tasks)`` values for a regressor and ``(n_molecules, n_tasks,
        n_classes)`` probabilities for a classifier (see :attr:`outputs`). With ``as_frame=True``,
        a pandas DataFrame indexed by SMILES with one column per task (named after the task and
        its unit; a classifier's column is the probability of the last class), and, when the
        pipeline has an applicability domain, ``domain similarity`` and ``in domain`` columns.

        Molecules that cannot be parsed or featurized give NaN rows and one
        :class:`InvalidMoleculeWarning` naming them and their positions, or (``errors="raise"``)
        an :class:`InvalidMoleculeError` listing them; the rest of the batch is predicted.

        Example:
            >>> pipe.predict(["CCO", "c1ccccc1O"], as_frame=True)  # doctest: +SKIP
                       log solubility (log10(mol/L))  domain similarity  in domain
            CCO                                 0.81               1.00       True
        """
        if errors not in ("warn", "raise"):
            raise ValueError(f"errors must be 'warn' or 'raise', got {errors!r}")
        if self.featurizer is None:
            raise PretrainedFormatError("this pipeline stores no featurizer; call .model.predict on features",
                                        path=self.path)
        smiles = _smiles_list(smiles)
        features, ok, failures = _featurize(self.featurizer, smiles)
        if failures:
            _report(failures, len(smiles), errors)
        if not ok:
            out = self._all_failed(len(smiles))
        else:
            predictions = self._predict_features(features, [smiles[i] for i in ok])
            out = np.full((len(smiles), *predictions.shape[1:]), np.nan, dtype=_float_dtype(predictions))
            out[ok] = predictions
        return self._frame(smiles, out) if as_frame else out

    def domain(self, smiles: Sequence[str]) -> DomainResult:
        """Each molecule's largest Tanimoto similarity to the training set, and whether it is in the domain.

        Raises:
            PretrainedFormatError: the pipeline stores no applicability domain.

        Example:
            >>> pipe.domain(["CCO", "[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1"]).inside  # doctest: +SKIP
            array([ True, False])
        """
        if self.applicability is None:
            raise PretrainedFormatError("this pipeline stores no applicability domain (it was saved without "
                                        "to_pretrained(..., domain=...))", path=self.path)
        return self.applicability.check(_smiles_list(smiles))

    def _predict_features(self, features: np.ndarray, ids: list[str]) -> np.ndarray:
        import deepchem as dc

        n_tasks = _label_columns(self.model, self.outputs)
        dataset = dc.data.NumpyDataset(features, np.zeros((len(ids), n_tasks), dtype=np.float32),
                                       np.ones((len(ids), n_tasks), dtype=np.float32), ids=np.array(ids))
        for transformer in self.transformers:
            if getattr(transformer, "transform_X", False):
                dataset = transformer.transform(dataset)
        undo = [t for t in self.transformers if getattr(t, "transform_y", False)]
        predictions = np.asarray(self.model.predict(dataset, undo))
        if self.outputs is None:
            return predictions
        try:
            return self.outputs.normalize(predictions, len(ids))
        except ValueError as err:
            raise PretrainedFormatError(str(err), path=self.path) from err

    def _all_failed(self, n: int) -> np.ndarray:
        if self.outputs is not None:
            return np.full(self.outputs.shape(n), np.nan)
        features, ok, _ = _featurize(self.featurizer, [PROBE_SMILES[0]])
        shape = self._predict_features(features, [PROBE_SMILES[0]]).shape[1:] if ok else ()
        return np.full((n, *shape), np.nan)

    def _frame(self, smiles: list[str], predictions: np.ndarray) -> Any:
        import pandas as pd

        if self.outputs is None:
            raise PretrainedFormatError("as_frame needs the pipeline's output contract, which neither the folder "
                                        "nor the model states", path=self.path)
        frame = pd.DataFrame(self.outputs.per_task(predictions), columns=self.outputs.columns(),
                             index=pd.Index(smiles, name="smiles"))
        if self.applicability is not None:
            result = self.applicability.check(smiles)
            frame[DOMAIN_COLUMNS[0]] = result.similarity
            frame[DOMAIN_COLUMNS[1]] = result.inside
        return frame


def _label_columns(model: Any, outputs: OutputContract | None) -> int:
    """How many label columns the (unlabelled) prediction dataset needs: some models' batch generators
    reshape the labels by their task count (a ``MultitaskClassifier`` one-hot encodes them)."""
    n_tasks = getattr(model, "n_tasks", None)
    if isinstance(n_tasks, int) and not isinstance(n_tasks, bool) and n_tasks > 0:
        return n_tasks
    return outputs.n_tasks if outputs is not None else 1


#: The columns ``predict(as_frame=True)`` adds when the pipeline has an applicability domain.
DOMAIN_COLUMNS = ("domain similarity", "in domain")


def _smiles_list(smiles: Sequence[str]) -> list[str]:
    if isinstance(smiles, str):
        raise TypeError("predict expects a sequence of SMILES strings, not one string; wrap it in a list")
    items = list(smiles)
    bad = [i for i, s in enumerate(items) if not isinstance(s, str)]
    if bad:
        raise TypeError(f"predict expects SMILES strings; item {bad[0]} is a {type(items[bad[0]]).__name__}")
    return items


def _featurize(featurizer: Any, smiles: list[str]) -> tuple[Any, list[int], list[tuple[int, str, str]]]:
    """Featurize the parsable molecules; return (features of the good ones, their positions, failures)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # parse errors are reported per molecule; featurizers' deprecation noise dropped
    try:
        mols = [Chem.MolFromSmiles(s) if s.strip() else None for s in smiles]
        failures = [(i, s, "invalid SMILES") for i, (s, m) in enumerate(zip(smiles, mols)) if m is None]
        parsed = [i for i, m in enumerate(mols) if m is not None]
        if not parsed:
            return None, [], failures
        raw = list(featurizer.featurize([mols[i] for i in parsed]))
    finally:
        RDLogger.EnableLog("rdApp.*")
    ok = [i for i, f in zip(parsed, raw) if not (isinstance(f, np.ndarray) and f.size == 0)]
    failures += [(i, smiles[i], "featurization failed") for i, f in zip(parsed, raw)
                 if isinstance(f, np.ndarray) and f.size == 0]
    good = [f for f in raw if not (isinstance(f, np.ndarray) and f.size == 0)]
    return _stack(good), ok, sorted(failures)


def _stack(items: list[Any]) -> np.ndarray:
    if items and all(isinstance(f, np.ndarray) for f in items) and len({f.shape for f in items}) == 1:
        return np.stack(items)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _report(failures: list[tuple[int, str, str]], n: int, errors: Errors) -> None:
    if errors == "raise":
        raise InvalidMoleculeError(failures)
    shown = ", ".join(f"#{i} {s!r} ({why})" for i, s, why in failures[:10])
    more = f" and {len(failures) - 10} more" if len(failures) > 10 else ""
    warnings.warn(f"{len(failures)} of {n} molecules could not be featurized; their predictions are NaN: "
                  f"{shown}{more}", InvalidMoleculeWarning, stacklevel=3)


def _float_dtype(predictions: np.ndarray) -> np.dtype:
    return predictions.dtype if predictions.dtype.kind == "f" else np.dtype(np.float64)


def load_pipeline(name_or_path: str | os.PathLike[str], *, verify: bool | None = None, refresh: bool = False,
                  **overrides: Any) -> Pipeline:
    """Load a pretrained pipeline (model, featurizer, transformers, card) from a folder or a hub.

    Args:
        name_or_path: a folder (an existing path wins) or a hub name ``name`` / ``name@version``.
        verify: check every weight's sha256 (default: unless the hub cache verified them).
        refresh: fetch the hub index again.
        **overrides: constructor arguments for the model (e.g. ``batch_size=``).

    Raises:
        PretrainedFormatError: malformed folder, pipeline entry or card (the message names the file).
        UntrustedClassError: the model, featurizer or a transformer class is off the allowlist.
        WeightFileError: a transformer's arrays are missing.

    Example:
        >>> dchub_client.load_pipeline("esol-mtr").predict(["CCO"])  # doctest: +SKIP
    """
    folder, verified = interface._locate(name_or_path, refresh=refresh)
    check = (not verified) if verify is None else verify
    info = pretrained.read_params(folder)
    source = folder / layout.PARAMS_FILE
    card = read_folder_card(folder)
    spec = _pipeline_spec(info, source)
    readers = {name: pretrained.WeightReader(folder, entry, verify=check) for name, entry in info.weights.items()
               if name.startswith(TRANSFORMER_PREFIX + ".") or name == FINGERPRINTS_WEIGHT}
    featurizer = decode_featurizer(spec.get("featurizer"), source=source)
    transformers = decode_transformers(spec.get("transformers"), readers, source=source)
    outputs = decode_outputs(spec.get(OUTPUTS_KEY), source=source)
    domain = decode_domain(spec.get(DOMAIN_KEY), readers, source=source)
    model = interface.from_pretrained(folder, verify=check, **overrides)
    return Pipeline(model=model, featurizer=featurizer, transformers=tuple(transformers), card=card, path=folder,
                    outputs=outputs, applicability=domain)


def _pipeline_spec(info: pretrained.PretrainedInfo, source: Path) -> dict[str, Any]:
    spec = info.extra.get(PIPELINE_KEY)
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise PretrainedFormatError("extra.pipeline must be an object", path=source)
    return spec


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
    if not isinstance(data, dict):
        raise PretrainedFormatError(f"extra.pipeline.{DOMAIN_KEY} must be an object", path=source)
    featurizer = decode_featurizer(data.get("featurizer"), source=source)
    if featurizer is None:
        raise PretrainedFormatError(f"extra.pipeline.{DOMAIN_KEY} has no featurizer", path=source)
    reference = data.get("fingerprints")
    name = reference.get("name") if isinstance(reference, dict) and reference.get(_TAG) == "weight" else None
    fingerprints = _transformer_array(name, f"extra.pipeline.{DOMAIN_KEY}.fingerprints", weights, source)
    return ApplicabilityDomain.from_json(data, featurizer, fingerprints, source=source)


def auxiliary_names(arrays: Iterable[tuple[str, str, np.ndarray]]) -> list[str]:
    """The weight names of encoded transformer arrays (for ``extra["auxiliary_weights"]``)."""
    return [name for name, _, _ in arrays]
