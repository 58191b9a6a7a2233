"""Pretrained pipelines: featurizer + model + output transformers (+ card), loaded as one object.

How the featurizer, transformers, output contract (:mod:`dchub_client.models.outputs`) and
applicability domain (:mod:`dchub_client.models.domain`) are stored is
:mod:`dchub_client.models.pipeline_codec`.

Example:
    >>> pipe = dchub_client.load_pipeline("esol-mtr")   # doctest: +SKIP
    >>> pipe.predict(["CCO", "c1ccccc1"])               # doctest: +SKIP
    array([[ 0.82], [-1.71]], dtype=float32)
"""
from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dchub_client import quiet
from dchub_client.errors import (
    InvalidMoleculeError,
    InvalidMoleculeWarning,
    PretrainedFormatError,
    warn_caller,
)
from dchub_client.format import layout, pretrained
from dchub_client.format.card import Card, read_folder_card
from dchub_client.models import interface, netguard, pipeline_codec
from dchub_client.models import outputs as output_contracts
from dchub_client.models.domain import ApplicabilityDomain, DomainResult
from dchub_client.models.outputs import OutputContract

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
        outputs: what :meth:`predict` returns (tasks, units, classes); inferred from the model
            when the folder does not state it, None when it cannot be.
        applicability: the training set's fingerprints and the similarity threshold that
            :meth:`domain` checks against (None when the folder stores none).
        name: what :func:`load_pipeline` loaded, for messages and ``repr``: ``name@version`` for a
            model of a hub, the folder's name for a folder ("" when built by hand).
    """

    model: Any
    featurizer: Any
    transformers: tuple[Any, ...] = ()
    card: Card | None = None
    path: Path | None = None
    outputs: OutputContract | None = None
    applicability: ApplicabilityDomain | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if self.outputs is None:
            object.__setattr__(self, "outputs", output_contracts.infer(self.model))

    def __repr__(self) -> str:
        """One line: ``<Pipeline esol-mtr@1.0.0: MultitaskRegressor, 1 task (log solubility), featurizer
        CircularFingerprint, domain>`` (the card, the weights and the fingerprints are attributes)."""
        parts = [type(self.model).__name__]
        if self.outputs is not None:
            names = [t.name for t in self.outputs.tasks]
            shown = ", ".join(names[:3]) + (f", ... {names[-1]}" if len(names) > 3 else "")
            parts.append(f"{self.outputs.kind}, {len(names)} task{'s' * (len(names) != 1)} ({shown})")
        parts.append(f"featurizer {type(self.featurizer).__name__}" if self.featurizer is not None
                     else "no featurizer")
        if self.applicability is not None:
            parts.append(f"domain: Tanimoto >= {self.applicability.threshold:g}")
        return f"<Pipeline {self.name or '(unnamed)'}: {'; '.join(parts)}>"

    def predict(self, smiles: Sequence[str | None], *, errors: Errors = "warn", as_frame: bool = False) -> Any:
        """Predict for SMILES strings, in the training data's units.

        Returns ``(n_molecules, n_tasks)`` values for a regressor and ``(n_molecules, n_tasks,
        n_classes)`` probabilities for a classifier (see :attr:`outputs`). With ``as_frame=True``,
        a pandas DataFrame indexed by SMILES with one column per task (named after the task and
        its unit; a classifier's column is the probability of the last class), and, when the
        pipeline has an applicability domain, ``domain similarity`` and ``in domain`` columns.

        Molecules that cannot be parsed or featurized, and missing ones (``None`` or NaN, what a
        pandas column gives for an empty cell), give NaN rows and one :class:`InvalidMoleculeWarning`
        naming them and their 0-based positions (its ``failures`` attribute lists ``(position,
        smiles, reason)``), or (``errors="raise"``) an :class:`InvalidMoleculeError` listing them;
        the rest of the batch is predicted. Other items that are not strings raise ``TypeError``.

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
        with quiet.frameworks_quiet():
            features, ok, failures = _featurize(self.featurizer, smiles)
        if failures:
            _report(failures, len(smiles), errors)
        if not ok:
            out = self._all_failed(len(smiles))
        else:
            with quiet.frameworks_quiet(native=True):
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
        features, ok, _ = _featurize(self.featurizer, [pipeline_codec.PROBE_SMILES[0]])
        shape = self._predict_features(features, [pipeline_codec.PROBE_SMILES[0]]).shape[1:] if ok else ()
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


def _smiles_list(smiles: Sequence[str | None]) -> list[str | None]:
    """The items as a list, missing ones (None, NaN, ``pandas.NA``) as None."""
    if isinstance(smiles, str):
        raise TypeError("predict expects a sequence of SMILES strings, not one string; wrap it in a list")
    items = [None if _missing(s) else s for s in smiles]
    bad = [i for i, s in enumerate(items) if s is not None and not isinstance(s, str)]
    if bad:
        raise TypeError(f"predict expects SMILES strings (or None for a missing one); item {bad[0]} is a "
                        f"{type(items[bad[0]]).__name__}")
    return items


def _missing(item: Any) -> bool:
    if item is None or (isinstance(item, (float, np.floating)) and math.isnan(item)):
        return True
    pandas = sys.modules.get("pandas")  # pandas.NA, in a string column; never imported for this check
    return pandas is not None and item is getattr(pandas, "NA", None)


def _parse(smiles: str | None) -> tuple[Any, str]:
    """``(molecule or None, why not)``."""
    from rdkit import Chem

    if smiles is None:
        return None, "no SMILES"
    if not smiles.strip():
        return None, "empty SMILES"
    mol = Chem.MolFromSmiles(smiles)
    return mol, "" if mol is not None else "invalid SMILES"


def _featurize(featurizer: Any, smiles: list[str | None]) -> tuple[Any, list[int], list[tuple[int, Any, str]]]:
    """Featurize the parsable molecules; return (features of the good ones, their positions, failures)."""
    from rdkit import rdBase

    blocker = rdBase.BlockLogs()  # parse errors are reported per molecule; featurizers' deprecation noise dropped
    try:
        parses = [_parse(s) for s in smiles]
        mols = [m for m, _ in parses]
        failures = [(i, s, why) for i, (s, (m, why)) in enumerate(zip(smiles, parses)) if m is None]
        parsed = [i for i, m in enumerate(mols) if m is not None]
        if not parsed:
            return None, [], failures
        raw = list(featurizer.featurize([mols[i] for i in parsed]))
    finally:
        del blocker  # the log's previous state comes back
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


def _report(failures: list[tuple[int, Any, str]], n: int, errors: Errors) -> None:
    if errors == "raise":
        raise InvalidMoleculeError(failures)
    shown = ", ".join(f"#{i} {s!r} ({why})" for i, s, why in failures[:10])
    more = f" and {len(failures) - 10} more" if len(failures) > 10 else ""
    warn_caller(InvalidMoleculeWarning(f"{len(failures)} of {n} molecules could not be featurized; their "
                                       f"predictions are NaN: {shown}{more}", failures), InvalidMoleculeWarning)


def _float_dtype(predictions: np.ndarray) -> np.dtype:
    return predictions.dtype if predictions.dtype.kind == "f" else np.dtype(np.float64)


def load_pipeline(name_or_path: str | os.PathLike[str], *, verify: bool | None = None, refresh: bool = False,
                  **overrides: Any) -> Pipeline:
    """Load a pretrained pipeline (model, featurizer, transformers, card) from a folder or a hub.

    Args:
        name_or_path: a folder (an existing path wins) or a hub name ``name`` / ``name@version``.
        verify: check every weight's sha256 (as :func:`dchub_client.from_pretrained`'s *verify*: by default
            not the hub cache's files, nor a folder's files verified before and unchanged since).
        refresh: fetch the hub index again.
        **overrides: constructor arguments for the model (e.g. ``batch_size=``).

    Raises:
        PretrainedFormatError: malformed folder, pipeline entry or card (the message names the file).
        UntrustedClassError: the model, featurizer or a transformer class is off the allowlist.
        NetworkAccessError: building the model, featurizer or a transformer tried to use the network.
        WeightFileError: a transformer's arrays or the domain's fingerprints are missing.

    Example:
        >>> dchub_client.load_pipeline("esol-mtr").predict(["CCO"])  # doctest: +SKIP
    """
    folder, verified = interface.locate(name_or_path, refresh=refresh)
    check, notes = interface.checks(folder, verified=verified, verify=verify)
    info = pretrained.read_params(folder)
    card = read_folder_card(folder)
    with quiet.frameworks_quiet(native=True), interface.how_to_repair(name_or_path, verified=verified), \
            netguard.no_network(info.class_name, source=folder / layout.PARAMS_FILE):  # never phones home
        stored = pipeline_codec.decode_pipeline(folder, info, verify=check, notes=notes)
        model = interface.build_from_folder(folder, info, verify=check, notes=notes, **overrides)
    if notes is not None:
        notes.save()
    return Pipeline(model=model, featurizer=stored.featurizer, transformers=stored.transformers, card=card,
                    path=folder, outputs=stored.outputs, applicability=stored.domain, name=_name(folder))


def _name(folder: Path) -> str:
    """``name@version`` of a hub model's snapshot folder (``<name>/<version>/`` holding the cache's marker),
    else the folder's own name."""
    if (folder / layout.SNAPSHOT_MARKER).is_file():
        return f"{folder.parent.name}@{folder.name}"
    return folder.resolve().name
