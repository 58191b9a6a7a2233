"""The applicability domain of a pipeline: how close a query molecule is to what the model has seen.

At save time the training molecules' fingerprints are stored with the pipeline (one packed-bit
``.npy`` auxiliary array, ``pipeline-domain.fingerprints``) together with the fingerprint's
featurizer (an allowlisted DeepChem featurizer, e.g. ``CircularFingerprint(radius=2, size=2048)``)
and a similarity threshold. ``Pipeline.domain(smiles)`` gives each query's largest Tanimoto
similarity to the training set and whether it reaches the threshold.

``params.json`` ``extra["pipeline"]["domain"]``:

```
{"featurizer": {"__dchub__": "object", "class": "deepchem.feat...CircularFingerprint", ...},
 "fingerprints": {"__dchub__": "weight", "name": "pipeline-domain.fingerprints"},
 "bits": 2048, "molecules": 902, "threshold": 0.33, "measure": "max-tanimoto"}
```
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dchub_client.errors import PretrainedFormatError
from dchub_client.format.layout import DOMAIN_FINGERPRINTS_WEIGHT, TAG

#: The weight name of the packed training fingerprints.
FINGERPRINTS_WEIGHT = DOMAIN_FINGERPRINTS_WEIGHT
MEASURE = "max-tanimoto"
#: Queries are compared with the training set in blocks of this many molecules (bounds memory).
BLOCK = 512


@dataclass(frozen=True)
class DomainResult:
    """Per query: the largest Tanimoto similarity to a training molecule, and whether it is in the domain.

    Molecules that cannot be parsed or fingerprinted have similarity NaN and are not in the domain.
    """

    similarity: np.ndarray
    inside: np.ndarray
    threshold: float


@dataclass(frozen=True, eq=False)
class ApplicabilityDomain:
    """Training-set fingerprints (packed bits, ``(n_train, ceil(bits / 8))`` uint8), their featurizer, a threshold."""

    featurizer: Any
    fingerprints: np.ndarray
    bits: int
    threshold: float

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"the domain threshold is a Tanimoto similarity in [0, 1], got {self.threshold}")
        if self.fingerprints.dtype != np.uint8 or self.fingerprints.ndim != 2 \
                or self.fingerprints.shape[1] != (self.bits + 7) // 8 or len(self.fingerprints) == 0:
            raise ValueError(f"domain fingerprints must be non-empty packed bits of shape (n, {(self.bits + 7) // 8}) "
                             f"uint8, got {self.fingerprints.shape} {self.fingerprints.dtype}")

    @classmethod
    def from_smiles(cls, featurizer: Any, smiles: Sequence[str], *, threshold: float) -> ApplicabilityDomain:
        """Fingerprint the training molecules *smiles* with *featurizer* (molecules it cannot handle are skipped).

        Example:
            >>> domain = ApplicabilityDomain.from_smiles(dc.feat.CircularFingerprint(size=2048),  # doctest: +SKIP
            ...                                          train_smiles, threshold=0.3)
        """
        bits, ok = _fingerprint(featurizer, list(smiles))
        if not ok.any():
            raise ValueError("none of the training molecules could be fingerprinted")
        return cls(featurizer, np.packbits(bits[ok], axis=1), bits.shape[1], float(threshold))

    @property
    def molecules(self) -> int:
        """The number of training molecules."""
        return len(self.fingerprints)

    def similarity(self, smiles: Sequence[str]) -> np.ndarray:
        """Each query's largest Tanimoto similarity to a training molecule (NaN if it cannot be fingerprinted)."""
        queries, ok = _fingerprint(self.featurizer, list(smiles), bits=self.bits)
        out = np.full(len(queries), np.nan)
        if ok.any():
            out[ok] = max_tanimoto(queries[ok], np.unpackbits(self.fingerprints, axis=1, count=self.bits).astype(bool))
        return out

    def check(self, smiles: Sequence[str]) -> DomainResult:
        """:meth:`similarity` and the in/out flag against :attr:`threshold`."""
        similarity = self.similarity(smiles)
        with np.errstate(invalid="ignore"):
            inside = similarity >= self.threshold
        return DomainResult(similarity, inside, self.threshold)

    def to_json(self, encode_featurizer: Any) -> tuple[dict[str, Any], np.ndarray]:
        """``(extra["pipeline"]["domain"] entry, packed fingerprints)``; *encode_featurizer* tags the featurizer."""
        return ({"featurizer": encode_featurizer(self.featurizer),
                 "fingerprints": {TAG: "weight", "name": FINGERPRINTS_WEIGHT},
                 "bits": self.bits, "molecules": self.molecules, "threshold": self.threshold, "measure": MEASURE},
                self.fingerprints)

    @classmethod
    def from_json(cls, data: Any, featurizer: Any, fingerprints: np.ndarray, *,
                  source: str | Path | None = None) -> ApplicabilityDomain:
        """Rebuild a stored domain (the featurizer already decoded, the fingerprints already read).

        Raises:
            PretrainedFormatError: the entry or the array is malformed.
        """
        where = "extra.pipeline.domain"
        if not isinstance(data, dict) or data.get("measure") != MEASURE:
            raise PretrainedFormatError(f"{where} must be an object with measure {MEASURE!r}", path=source)
        bits, threshold = data.get("bits"), data.get("threshold")
        if not isinstance(bits, int) or isinstance(bits, bool) or not 0 < bits <= 1 << 20 \
                or not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
            raise PretrainedFormatError(f"{where} needs an integer 'bits' and a numeric 'threshold'", path=source)
        try:
            return cls(featurizer, np.asarray(fingerprints), bits, float(threshold))
        except ValueError as err:
            raise PretrainedFormatError(f"{where}: {err}", path=source) from err


def max_tanimoto(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each query row's largest Tanimoto similarity to a reference row (both bool, same width)."""
    ref = reference.astype(np.float32)
    ref_counts = ref.sum(axis=1)
    out = np.empty(len(queries))
    for start in range(0, len(queries), BLOCK):
        q = queries[start:start + BLOCK].astype(np.float32)
        common = q @ ref.T
        union = q.sum(axis=1)[:, None] + ref_counts[None, :] - common
        similarity = np.divide(common, union, out=np.zeros_like(common), where=union > 0)
        out[start:start + BLOCK] = similarity.max(axis=1)
    return out


def _fingerprint(featurizer: Any, smiles: list[str], bits: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(bool fingerprints, ok mask)``; rows of molecules that failed are all False."""
    from rdkit import Chem, rdBase

    blocker = rdBase.BlockLogs()  # restores the caller's log settings when deleted (EnableLog would not)
    try:
        mols = [Chem.MolFromSmiles(s) if isinstance(s, str) and s.strip() else None for s in smiles]
        parsed = [i for i, m in enumerate(mols) if m is not None]
        raw: list[Any] = [None] * len(smiles)
        for i, features in zip(parsed, featurizer.featurize([mols[i] for i in parsed]) if parsed else ()):
            raw[i] = features
    finally:
        del blocker
    ok = np.array([isinstance(f, np.ndarray) and f.ndim == 1 and f.size > 0 for f in raw], dtype=bool)
    width = bits or next((f.size for f, good in zip(raw, ok) if good), 0)
    out = np.zeros((len(smiles), width), dtype=bool)
    for i in np.flatnonzero(ok):
        if raw[i].size != width:
            raise ValueError(f"the domain featurizer gave {raw[i].size} bits for {smiles[i]!r}, expected {width}")
        out[i] = raw[i] > 0
    return out, ok


__all__ = ["ApplicabilityDomain", "DomainResult", "FINGERPRINTS_WEIGHT", "max_tanimoto"]
