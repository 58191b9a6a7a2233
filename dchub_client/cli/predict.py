"""``dchub predict NAME SMILES...``: predictions with units and the applicability domain, as a table or CSV.

```
dchub predict esol-graphconv "CCO" "c1ccccc1O"
dchub predict tox21-mtc --input molecules.smi --output csv > predictions.csv
dchub predict esol-mtr --input library.csv --smiles-column SMILES --output predictions.csv
```
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from dchub_client import constants
from dchub_client.cli._common import table
from dchub_client.cli._parser import SMILES_COLUMN
from dchub_client.errors import DchubError, InvalidMoleculeWarning
from dchub_client.format.atomic import atomic_write_bytes

#: Molecules read from one input file at most (a guard against reading the wrong file).
MAX_INPUT_MOLECULES = 1_000_000


class InputFileError(DchubError, ValueError):
    """An input file of ``dchub predict`` is unreadable or holds no SMILES."""


def run_predict(args: argparse.Namespace) -> int:
    constants.prefer_legacy_keras()  # before load_pipeline imports a framework
    smiles = list(args.smiles) + (read_molecules(args.input, args.smiles_column) if args.input else [])
    if not smiles:
        raise InputFileError("no molecules: give SMILES as arguments or --input FILE")
    # the models layer brings numpy and a framework: imported for `dchub predict` only, so other commands start fast
    from dchub_client.models.pipeline import load_pipeline

    pipeline = load_pipeline(args.spec, refresh=args.refresh)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InvalidMoleculeWarning)
        frame = pipeline.predict(smiles, as_frame=True)
    for warning in caught:
        if issubclass(warning.category, InvalidMoleculeWarning):
            print(f"dchub: warning: {warning.message}", file=sys.stderr)
    _emit(frame, args.output, describe(pipeline, args.spec))
    return 0


def read_molecules(path: Path, column: str = SMILES_COLUMN) -> list[str]:
    """The SMILES of a ``.smi`` file (first field of each non-empty, non-comment line) or a ``.csv`` column.

    Raises:
        InputFileError: the file is unreadable, not UTF-8, lacks the column, or holds no SMILES.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(f"{path}: cannot read the molecules: {err}") from err
    smiles = _csv_column(text, column, path) if path.suffix.lower() == ".csv" else _smi_lines(text)
    if not smiles:
        raise InputFileError(f"{path}: holds no SMILES")
    if len(smiles) > MAX_INPUT_MOLECULES:
        raise InputFileError(f"{path}: {len(smiles)} molecules, more than {MAX_INPUT_MOLECULES}; split the file")
    return smiles


def _smi_lines(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _csv_column(text: str, column: str, path: Path) -> list[str]:
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    match = next((f for f in fields if f.strip().lower() == column.lower()), None)
    if match is None:
        raise InputFileError(f"{path}: no column {column!r} (columns: {', '.join(fields) or 'none'}); "
                             "name the SMILES column with --smiles-column")
    return [row[match].strip() for row in reader if (row.get(match) or "").strip()]


def describe(pipeline: Any, spec: str) -> str:
    """One line above the table: the model, the output shape, the domain rule."""
    parts = [spec]
    if pipeline.outputs is not None:
        parts.append(f"{pipeline.outputs.kind}, predict() shape {pipeline.outputs.shape_text}")
    if pipeline.applicability is not None:
        parts.append(f"in domain: Tanimoto similarity to the nearest training molecule >= "
                     f"{pipeline.applicability.threshold:g}")
    return " · ".join(parts)


def _emit(frame: Any, output: str, header: str) -> None:
    if output == "table":
        print(header)
        print(table(["SMILES", *frame.columns], [[s, *(_cell(v) for v in row)]
                                                 for s, row in zip(frame.index, frame.itertuples(index=False))]))
        return
    data = frame.to_csv(index_label="smiles", float_format="%.6g", lineterminator="\n").encode()
    if output == "csv":
        sys.stdout.write(data.decode())
    elif output.lower().endswith(".csv"):
        atomic_write_bytes(Path(output), data)
        print(f"wrote {len(frame)} predictions to {os.fspath(output)}", file=sys.stderr)
    else:
        raise InputFileError(f"--output {output!r}: use table, csv, or a file name ending in .csv")


def _cell(value: Any) -> str:
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return "in" if value else "OUT"
    if isinstance(value, float) and math.isnan(value):
        return "invalid"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
