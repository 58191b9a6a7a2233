"""Molecule drawings for the model pages: RDKit 2D depictions written as SVG files at build time.

Each drawing is its own file, ``assets/molecules/<hash>.svg``, shown with ``<img>``: an SVG loaded
as an image runs no script and keeps its own styles under the pages' Content-Security-Policy.
SMILES come from model cards and folders (user data), so CXSMILES extensions (which can carry
free-text atom labels) are not parsed, and overlong SMILES are not drawn.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from dchub_client.format import layout

#: Where the drawings live, relative to the hub root.
MOLECULES_DIR = f"{layout.SITE_ASSETS_DIR}/molecules"
#: SMILES longer than this are not drawn.
MAX_SMILES_CHARS = 400
WIDTH, HEIGHT = 220, 160
#: Bond length (pixels) and largest atom-label font: every drawing at one scale (shrunk only to fit).
BOND_LENGTH = 26
MAX_FONT = 16


@dataclass(frozen=True)
class Drawing:
    """A molecule's picture: its path relative to the hub root, and its SVG text."""

    path: str
    svg: bytes


def drawing_path(smiles: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    """Where the drawing of *smiles* goes (a hash of the SMILES and the size: the same molecule, one file)."""
    digest = hashlib.sha256(f"{width}x{height}:{smiles}".encode()).hexdigest()[:24]
    return f"{MOLECULES_DIR}/{digest}.svg"


def draw(smiles: str, *, width: int = WIDTH, height: int = HEIGHT) -> Drawing | None:
    """The SVG depiction of *smiles*, or None when RDKit cannot parse or draw it."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem.Draw import rdMolDraw2D

    if not isinstance(smiles, str) or not smiles or len(smiles) > MAX_SMILES_CHARS:
        return None
    params = Chem.SmilesParserParams()
    params.allowCXSMILES = False
    params.parseName = False
    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles, params)
        if mol is None or mol.GetNumAtoms() == 0:
            return None
        drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
        options = drawer.drawOptions()
        options.clearBackground = False
        options.fixedBondLength = BOND_LENGTH  # small molecules are not blown up to fill the picture
        options.maxFontSize = MAX_FONT
        rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
        drawer.FinishDrawing()
    except (RuntimeError, ValueError):
        return None
    finally:
        RDLogger.EnableLog("rdApp.*")
    return Drawing(drawing_path(smiles, width, height), drawer.GetDrawingText().encode("utf-8"))


__all__ = ["Drawing", "draw", "drawing_path", "MOLECULES_DIR"]
