"""Inputs for the zoo census: real ESOL molecules, featurized the way each model family expects.

Every builder is deterministic (RDKit 2-D featurizers, fixed seeds for 3-D conformers), so the
training process and the fresh loading process compute the same dataset independently; numeric
feature arrays are also handed over as ``.npy`` files (see :mod:`tests.models.zoo.worker`).
"""
from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any

import numpy as np

ESOL_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "esol_sample.csv"
N_MOLECULES = 16


@functools.lru_cache(maxsize=None)
def esol(n: int = N_MOLECULES, max_atoms: int = 24) -> tuple[tuple[str, ...], np.ndarray]:
    """``(smiles, log solubility [n, 1])`` of the first *n* sample molecules with at most *max_atoms* heavy atoms."""
    from rdkit import Chem

    smiles, y = [], []
    with open(ESOL_SAMPLE, newline="") as handle:
        for row in csv.DictReader(handle):
            if Chem.MolFromSmiles(row["smiles"]).GetNumAtoms() <= max_atoms:
                smiles.append(row["smiles"])
                y.append(float(row["measured_log_solubility"]))
            if len(smiles) == n:
                break
    return tuple(smiles), np.asarray(y, dtype=np.float32).reshape(-1, 1)


def labels(y: np.ndarray, *, classification: bool = False, n_tasks: int = 1) -> np.ndarray:
    """Real labels: log solubility, or whether it is above the median; repeated for several tasks."""
    out = (y > np.median(y)).astype(np.float32) if classification else y
    return np.hstack([out] * n_tasks)


def dataset(X: Any, y: np.ndarray, smiles: tuple[str, ...]) -> Any:
    """A ``NumpyDataset`` with unit weights and the SMILES as ids."""
    import deepchem as dc

    return dc.data.NumpyDataset(X, y, np.ones_like(y), ids=np.array(smiles))


def featurize(featurizer: Any, smiles: tuple[str, ...]) -> np.ndarray:
    """Featurize, insisting that every molecule worked (a dropped molecule would misalign labels)."""
    X = featurizer.featurize(list(smiles))
    if len(X) != len(smiles) or any(isinstance(x, np.ndarray) and x.size == 0 for x in X):
        raise AssertionError(f"{type(featurizer).__name__} failed on some molecules")
    return X


def ecfp(smiles: tuple[str, ...], size: int = 64) -> np.ndarray:
    import deepchem as dc

    return featurize(dc.feat.CircularFingerprint(size=size, radius=2), smiles).astype(np.float32)


def char_tables(smiles: tuple[str, ...]) -> dict[str, Any]:
    """Character tables for the sequence models (TextCNN, Smiles2Vec, SeqToSeq)."""
    import deepchem as dc

    ids = dc.data.NumpyDataset(np.zeros((len(smiles), 1)), ids=np.array(smiles))
    char_dict, seq_length = dc.models.TextCNNModel.build_char_dict(ids)
    chars = sorted({c for s in smiles for c in s})
    return {"char_dict": char_dict, "seq_length": seq_length,
            "char_to_idx": {c: i for i, c in enumerate(["<pad>", "<unk>", *chars])}, "tokens": chars}


def graphs_with_globals(smiles: tuple[str, ...]) -> np.ndarray:
    """MolGraphConv graphs with edges, plus two real molecular descriptors as global features (MEGNet)."""
    import deepchem as dc
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    graphs = featurize(dc.feat.MolGraphConvFeaturizer(use_edges=True), smiles)
    out = []
    for s, g in zip(smiles, graphs):
        mol = Chem.MolFromSmiles(s)
        globals_ = np.array([[Descriptors.MolWt(mol) / 100.0, Descriptors.TPSA(mol) / 100.0]], dtype=np.float32)
        out.append(dc.feat.GraphData(g.node_features, g.edge_index, g.edge_features, global_features=globals_))
    return np.array(out, dtype=object)


def atomic_complexes(smiles: tuple[str, ...], n_atoms: int, max_neighbors: int = 4,
                     cutoff: float = 4.0) -> np.ndarray:
    """What ``AtomicConvFeaturizer`` computes for a protein-ligand complex, for pairs of real molecules.

    Molecule *i* is the ligand and molecule *i+1* (moved 6 Å away) the "protein": ``(coords, neighbour list,
    atomic numbers)`` of the ligand, the protein and both, padded to *n_atoms* (twice that for the complex).
    The featurizer itself needs PDB files and mdtraj; the 3-D conformers here are RDKit's (seeded ETKDG).
    """
    from rdkit import Chem
    from rdkit.Chem import AllChem

    conformers = []
    for s in smiles:
        mol = Chem.AddHs(Chem.MolFromSmiles(s))
        AllChem.EmbedMolecule(mol, randomSeed=0)
        mol = Chem.RemoveHs(mol)
        conformers.append((mol.GetConformer().GetPositions(), np.array([a.GetAtomicNum() for a in mol.GetAtoms()])))
    out = np.empty((len(smiles), 9), dtype=object)
    for i, (xyz, z) in enumerate(conformers):
        other_xyz, other_z = conformers[(i + 1) % len(conformers)]
        other_xyz = other_xyz + np.array([6.0, 0.0, 0.0])
        parts = [(xyz, z, n_atoms), (other_xyz, other_z, n_atoms),
                 (np.vstack([xyz, other_xyz]), np.concatenate([z, other_z]), 2 * n_atoms)]
        for k, (coords, numbers, size) in enumerate(parts):
            out[i, 3 * k:3 * k + 3] = _padded_fragment(coords, numbers, size, max_neighbors, cutoff)
    return out


def _padded_fragment(coords: np.ndarray, numbers: np.ndarray, size: int, max_neighbors: int,
                     cutoff: float) -> tuple[np.ndarray, dict[int, list[int]], np.ndarray]:
    distances = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=-1)
    neighbours = {}
    for i in range(len(coords)):
        close = [j for j in np.argsort(distances[i], kind="stable") if j != i and distances[i, j] < cutoff]
        neighbours[i] = [int(j) for j in close[:max_neighbors]]
    padded = np.zeros((size, 3))
    padded[:len(coords)] = coords
    z = np.zeros(size, dtype=np.int64)
    z[:len(numbers)] = numbers
    return padded, neighbours, z
