"""Pretrained pipelines: featurizer + model + output transformers (+ card), loaded as one object.

How the featurizer and transformers are stored is :mod:`dchub_client.models.pipeline_codec`.

Example:
    >>> pipe = dchub_client.load_pipeline("freewilson-pic50-mtr")  # doctest: +SKIP
    >>> pipe.predict(["CCO", "c1ccccc1"])                          # doctest: +SKIP
    array([[5.61], [5.48]], dtype=float32)
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dchub_client.errors import (
    InvalidMoleculeError,
    InvalidMoleculeWarning,
    PretrainedFormatError,
)
from dchub_client.format import layout, pretrained
from dchub_client.format.card import Card, read_folder_card
from dchub_client.models import interface, netguard, pipeline_codec

logger = logging.getLogger(__name__)

Errors = Literal["warn", "raise"]


@dataclass(frozen=True)
class Pipeline:
    """A loaded pretrained pipeline: ``predict(smiles)`` featurizes, predicts and undoes output transforms.

    Attributes:
        model: the DeepChem model.
        featurizer: the featurizer it was trained on (None if the folder stores none).
        transformers: the fitted transformers, in the order they were applied to the training data.
        card: the folder's model card, if any.
        path: the folder the pipeline was loaded from.
    """

    model: Any
    featurizer: Any
    transformers: tuple[Any, ...] = ()
    card: Card | None = None
    path: Path | None = None

    def predict(self, smiles: Sequence[str], *, errors: Errors = "warn") -> np.ndarray:
        """Predict for SMILES strings, in the training data's units.

        Molecules that cannot be parsed or featurized give NaN rows and one
        :class:`InvalidMoleculeWarning` naming them and their positions, or (``errors="raise"``)
        an :class:`InvalidMoleculeError` listing them; the rest of the batch is predicted.
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
            return self._all_failed(len(smiles))
        predictions = self._predict_features(features, [smiles[i] for i in ok])
        out = np.full((len(smiles), *predictions.shape[1:]), np.nan, dtype=_float_dtype(predictions))
        out[ok] = predictions
        return out

    def _predict_features(self, features: np.ndarray, ids: list[str]) -> np.ndarray:
        import deepchem as dc

        dataset = dc.data.NumpyDataset(features, ids=np.array(ids))
        for transformer in self.transformers:
            if getattr(transformer, "transform_X", False):
                dataset = transformer.transform(dataset)
        outputs = [t for t in self.transformers if getattr(t, "transform_y", False)]
        return np.asarray(self.model.predict(dataset, outputs))

    def _all_failed(self, n: int) -> np.ndarray:
        features, ok, _ = _featurize(self.featurizer, [pipeline_codec.PROBE_SMILES[0]])
        shape = self._predict_features(features, [pipeline_codec.PROBE_SMILES[0]]).shape[1:] if ok else ()
        return np.full((n, *shape), np.nan)


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

    RDLogger.DisableLog("rdApp.*")
    try:
        mols = [Chem.MolFromSmiles(s) if s.strip() else None for s in smiles]
    finally:
        RDLogger.EnableLog("rdApp.*")
    failures = [(i, s, "invalid SMILES") for i, (s, m) in enumerate(zip(smiles, mols)) if m is None]
    parsed = [i for i, m in enumerate(mols) if m is not None]
    if not parsed:
        return None, [], failures
    raw = list(featurizer.featurize([mols[i] for i in parsed]))
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
        NetworkAccessError: building the model, featurizer or a transformer tried to use the network.
        WeightFileError: a transformer's arrays are missing.

    Example:
        >>> dchub_client.load_pipeline("freewilson-pic50-mtr").predict(["CCO"])  # doctest: +SKIP
    """
    folder, verified = interface.locate(name_or_path, refresh=refresh)
    check = (not verified) if verify is None else verify
    info = pretrained.read_params(folder)
    card = read_folder_card(folder)
    with netguard.no_network(info.class_name, source=folder / layout.PARAMS_FILE):  # loading never phones home
        featurizer, transformers = pipeline_codec.decode_pipeline(folder, info, verify=check)
        model = interface.build_from_folder(folder, info, verify=check, **overrides)
    return Pipeline(model=model, featurizer=featurizer, transformers=tuple(transformers), card=card, path=folder)
