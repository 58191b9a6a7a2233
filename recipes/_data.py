"""The molecules the example models are trained on; nothing is downloaded.

* ``recipes/data/delaney-processed.csv``: ESOL, 1128 molecules with their measured aqueous
  solubility (log10 of mol/L), as distributed by MoleculeNet/DeepChem.
* ``recipes/data/tox21.csv.gz``: Tox21, 8014 molecules tested in 12 assays (active/inactive,
  blank where a molecule was not tested), as distributed by MoleculeNet/DeepChem.
* RDKit's ``Data/NCI/first_200.props.sdf``: 200 NCI molecules with Daylight's cLogP (shipped
  inside the RDKit wheel), used by the fine-tuning example.

Provenance, citations and licenses: ``recipes/data/README.md``.
"""
from __future__ import annotations

import csv
import functools
import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
ESOL_FILE = DATA_DIR / "delaney-processed.csv"
TOX21_FILE = DATA_DIR / "tox21.csv.gz"
ESOL_LABEL = "measured log solubility in mols per litre"
TOX21_TASKS = ("NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
               "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53")


@dataclass(frozen=True)
class MoleculeSet:
    """Molecules with their labels (``y``: ``(n, n_tasks)``, NaN where a label is missing)."""

    name: str
    source: str
    citation: str
    smiles: tuple[str, ...]
    y: np.ndarray
    tasks: tuple[str, ...]
    unit: str

    def describe(self) -> dict[str, object]:
        """For the card's ``training_data``."""
        return {"name": self.name, "source": self.source, "citation": self.citation,
                "molecules": len(self.smiles), "tasks": list(self.tasks)}


@functools.lru_cache(maxsize=None)
def esol() -> MoleculeSet:
    """ESOL (Delaney): measured log solubility (log10 mol/L) of 1128 molecules."""
    rows = list(csv.DictReader(io.StringIO(_read_text(ESOL_FILE))))
    smiles = tuple(row["smiles"].strip() for row in rows)
    y = np.array([[float(row[ESOL_LABEL])] for row in rows], dtype=np.float32)
    return MoleculeSet("ESOL (Delaney 2004, MoleculeNet)", "recipes/data/delaney-processed.csv",
                       "Delaney, J. S. J. Chem. Inf. Comput. Sci. 2004, 44, 1000-1005", _checked(smiles, ESOL_FILE),
                       y, ("log solubility",), "log10(mol/L)")


@functools.lru_cache(maxsize=None)
def tox21() -> MoleculeSet:
    """Tox21: 8014 molecules x 12 assays (1 active, 0 inactive, NaN not tested)."""
    rows = list(csv.DictReader(io.StringIO(_read_text(TOX21_FILE))))
    smiles = tuple(row["smiles"].strip() for row in rows)
    y = np.array([[float(row[t]) if row[t] != "" else np.nan for t in TOX21_TASKS] for row in rows],
                 dtype=np.float32)
    return MoleculeSet("Tox21 (Tox21 Data Challenge 2014, MoleculeNet)", "recipes/data/tox21.csv.gz",
                       "Tox21 Data Challenge 2014, https://tripod.nih.gov/tox21/challenge/",
                       _checked(smiles, TOX21_FILE), y, TOX21_TASKS, "probability of activity")


@functools.lru_cache(maxsize=None)
def nci_property(prop: str) -> MoleculeSet:
    """Every molecule of RDKit's ``Data/NCI/first_200.props.sdf`` with a numeric *prop* (e.g. ``CLOGP``)."""
    from rdkit import Chem, RDConfig

    path = Path(RDConfig.RDDataDir, "NCI", "first_200.props.sdf")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found in the installed RDKit (the example hub needs RDKit's "
                                "shipped data files)")
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
    return MoleculeSet(f"NCI {prop} (RDKit Data/NCI/first_200.props.sdf)", "rdkit/Data/NCI/first_200.props.sdf",
                       "NCI Open Database, as shipped with RDKit", tuple(smiles),
                       np.asarray(labels, dtype=np.float32).reshape(-1, 1), (prop,), "log units")


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the example hub's data file is missing (see recipes/data/README.md)")
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def _checked(smiles: tuple[str, ...], path: Path) -> tuple[str, ...]:
    if not smiles:
        raise ValueError(f"{path}: no molecules")
    return smiles
