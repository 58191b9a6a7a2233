"""Real molecules for tests: the NCI sample that ships inside RDKit's wheel (no download)."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np


def nci_sdf() -> Path:
    """``rdkit/Data/NCI/first_200.props.sdf``: 200 real molecules with measured properties."""
    from rdkit import RDConfig

    return Path(RDConfig.RDDataDir) / "NCI" / "first_200.props.sdf"


@functools.lru_cache(maxsize=1)
def nci_molecules(limit: int = 64) -> tuple[list[str], np.ndarray]:
    """``(smiles, y)``: canonical SMILES and a real label (the NCI ``AMW`` molecular weight, scaled)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    smiles, labels = [], []
    for mol in Chem.SDMolSupplier(os.fspath(nci_sdf())):
        if mol is None or mol.GetNumAtoms() < 3 or mol.GetNumAtoms() > 40:
            continue
        smiles.append(Chem.MolToSmiles(mol))
        labels.append(float(mol.GetProp("AMW")) / 100.0)
        if len(smiles) == limit:
            break
    return smiles, np.asarray(labels, dtype=np.float32).reshape(-1, 1)


def binary_labels(y: np.ndarray) -> np.ndarray:
    """A real binary task from a real label: above or below the median."""
    return (y > np.median(y)).astype(np.float32)
