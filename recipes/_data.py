"""Real molecules that ship inside the RDKit wheel: nothing is downloaded.

* ``Data/NCI/first_5k.tpsa.csv``: 5000 NCI molecules with their topological polar surface area.
* ``Data/NCI/first_200.props.sdf``: 200 NCI molecules with computed properties (``CLOGP``, ``AMW``...).
* ``Contrib/FreeWilson/data/CHEMBL2321810.smi`` + ``CHEMBL2321810_act.csv``: 1017 compounds of one
  ChEMBL series (CHEMBL2321810) with measured activities (pIC50).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class MoleculeSet:
    """SMILES with one real label each, and where they come from."""

    name: str
    source: str
    smiles: tuple[str, ...]
    y: np.ndarray

    def describe(self) -> dict[str, object]:
        """For the card's ``training_data``."""
        return {"name": self.name, "source": self.source, "molecules": len(self.smiles)}


def _rdkit_path(*parts: str) -> tuple[Path, str]:
    from rdkit import RDConfig

    base = RDConfig.RDContribDir if parts[0] == "Contrib" else RDConfig.RDDataDir
    path = Path(base, *parts[1:])
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found in the installed RDKit (the example hub needs RDKit's "
                                "shipped data files)")
    return path, "rdkit/" + "/".join(parts)


def _canonical(smiles: str) -> str | None:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(mol) if mol is not None and mol.GetNumAtoms() > 0 else None


def nci_tpsa(limit: int = 2000) -> MoleculeSet:
    """The first *limit* parsable molecules of ``first_5k.tpsa.csv`` with their TPSA (Å²)."""
    path, source = _rdkit_path("Data", "NCI", "first_5k.tpsa.csv")
    smiles, labels = [], []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(line for line in handle if not line.startswith("#")):
            canonical = _canonical(row[0])
            if canonical is not None and canonical not in smiles:
                smiles.append(canonical)
                labels.append(float(row[1]))
            if len(smiles) == limit:
                break
    return MoleculeSet("NCI TPSA", source, tuple(smiles), np.asarray(labels, dtype=np.float32).reshape(-1, 1))


def nci_property(prop: str) -> MoleculeSet:
    """Every molecule of ``first_200.props.sdf`` with a numeric *prop* (e.g. ``CLOGP``)."""
    from rdkit import Chem

    path, source = _rdkit_path("Data", "NCI", "first_200.props.sdf")
    smiles, labels = [], []
    for mol in Chem.SDMolSupplier(os.fspath(path)):
        if mol is None or not mol.HasProp(prop) or mol.GetNumAtoms() == 0:
            continue
        try:
            value = float(mol.GetProp(prop))
        except ValueError:
            continue
        smiles.append(Chem.MolToSmiles(mol))
        labels.append(value)
    return MoleculeSet(f"NCI {prop}", source, tuple(smiles), np.asarray(labels, dtype=np.float32).reshape(-1, 1))


def freewilson_pic50() -> MoleculeSet:
    """The 1017 CHEMBL2321810 compounds with their pIC50, joined by compound id."""
    smi_path, smi_source = _rdkit_path("Contrib", "FreeWilson", "data", "CHEMBL2321810.smi")
    act_path, act_source = _rdkit_path("Contrib", "FreeWilson", "data", "CHEMBL2321810_act.csv")
    with open(act_path, newline="", encoding="utf-8") as handle:
        activity = {row["Name"]: float(row["Act"]) for row in csv.DictReader(handle)}
    smiles, labels = [], []
    for line in smi_path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] in activity:
            canonical = _canonical(parts[0])
            if canonical is not None:
                smiles.append(canonical)
                labels.append(activity[parts[1]])
    return MoleculeSet("CHEMBL2321810 pIC50", f"{smi_source} + {act_source}", tuple(smiles),
                       np.asarray(labels, dtype=np.float32).reshape(-1, 1))
