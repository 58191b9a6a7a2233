"""``dchub predict NAME SMILES...``: predictions with units and the applicability domain, as a table or CSV.

```
dchub predict esol-graphconv "CCO" "c1ccccc1O"
dchub predict tox21-mtc --input molecules.sdf.gz --output csv > predictions.csv
dchub predict esol-mtr --input library.csv --smiles-column SMILES --output predictions.csv
```

Every molecule gives one output row, in input order, led by the input's own columns (see
:mod:`dchub_client.cli._molecule_files`); a molecule that cannot be predicted keeps its row, with
empty predictions, and is named (by line or record number) in one warning.
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dchub_client import constants, terminal
from dchub_client.cli._common import table
from dchub_client.cli._molecule_files import InputFileError, Molecules, from_arguments, read_molecules
from dchub_client.cli._parser import SMILES_COLUMN
from dchub_client.errors import InvalidMoleculeWarning, PretrainedFormatError
from dchub_client.format.atomic import atomic_write_bytes

#: ``--output`` values that print to stdout, and the suffixes of the files it writes (with their separators).
PRINTED = ("table", "csv", "tsv")
WRITTEN = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class Output:
    """Where ``--output`` sends the predictions: ``table``/``csv``/``tsv`` on stdout, or a file (``path``)."""

    kind: str
    path: Path | None = None


def run_predict(args: argparse.Namespace) -> int:
    constants.prefer_legacy_keras()  # before load_pipeline imports a framework
    output = parse_output(args.output)  # before anything slow: a wrong --output is known at once
    if output.path is not None and args.input and _same_file(args.input, output.path):  # it would replace the input
        args.parsed_by.error(f"--output {args.output} is the --input file; write the predictions elsewhere (the "
                             f"input's columns come first in them)")
    molecules = _molecules(args)
    for note in molecules.notes:
        print(f"dchub: warning: {note}", file=sys.stderr)
    # the models layer brings numpy and a framework: imported for `dchub predict` only, so other commands start fast
    from dchub_client.models import dependencies
    from dchub_client.models.pipeline import load_pipeline

    dependencies.require("deepchem", "dchub predict")  # before the model is downloaded

    pipeline = load_pipeline(args.spec, refresh=args.refresh)
    if pipeline.featurizer is None:
        raise PretrainedFormatError(f"{args.spec} holds a model without its featurizer, so it cannot turn SMILES "
                                    f"into features: dchub predict needs a folder saved with "
                                    f"to_pretrained(model, path, featurizer=...)")
    frame, failures = _predict(pipeline, molecules.smiles)
    if failures:
        print(f"dchub: warning: {_failure_text(failures, molecules)}", file=sys.stderr)
    reasons = {i: why for i, _, why in failures}
    if output.kind == "table":
        # task names, units and class labels are the model's (a stranger's) text: shown, not obeyed
        print(terminal.shown(describe(pipeline, args.spec)))
        print(terminal.shown(_table_text(frame, pipeline, molecules, reasons, constants.terminal_columns()),
                             lines=True))
    else:
        _write(frame, molecules, reasons, output)
    # every row written, as always; but a run that predicted nothing failed (a script must notice)
    return 1 if failures and len(failures) == len(molecules.smiles) else 0


def parse_output(value: str) -> Output:
    """``--output``: ``table``, ``csv`` or ``tsv`` (stdout), or a ``.csv``/``.tsv`` file whose folder can be written.

    Raises:
        InputFileError: any other value; a file that is a folder, or in a folder that cannot be made or written.
    """
    if value.lower() in PRINTED:
        return Output(value.lower())
    path = Path(value).expanduser()
    if path.suffix.lower() not in WRITTEN:
        raise InputFileError(f"--output {value!r}: use table, csv or tsv (printed), or a file name ending in "
                             f"{' or '.join(WRITTEN)}")
    if path.is_dir():
        raise InputFileError(f"--output {value!r} is a folder; give a file name")
    existing = next(p for p in [path.parent.absolute(), *path.parent.absolute().parents] if p.exists())
    if not existing.is_dir():
        raise InputFileError(f"--output {value!r}: {existing} is a file, so the folder cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputFileError(f"--output {value!r}: cannot write in {existing} (permission denied)")
    return Output(path.suffix.lower().lstrip("."), path)


def _molecules(args: argparse.Namespace) -> Molecules:
    """The molecules the command line gives; a wrong combination of arguments is a usage error (exit 2,
    with ``dchub predict``'s usage), as argparse's own."""
    if args.smiles and args.input:
        args.parsed_by.error("give SMILES as arguments or --input FILE, not both")
    if args.input:
        return read_molecules(args.input, args.smiles_column)
    if args.smiles_column != SMILES_COLUMN:
        args.parsed_by.error(f"--smiles-column names the column of an --input table that holds SMILES; without "
                             f"--input, give SMILES as arguments: dchub predict {args.spec} CCO")
    if not args.smiles:
        args.parsed_by.error("no molecules: give SMILES as arguments or --input FILE")
    return from_arguments(args.smiles)


def _same_file(a: Path, b: Path) -> bool:
    """Whether *a* and *b* name one file (links and ``..`` included)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _predict(pipeline: Any, smiles: list[str | None]) -> tuple[Any, list[tuple[int, Any, str]]]:
    """The pipeline's frame, and ``(position, smiles, reason)`` of each molecule it could not predict."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InvalidMoleculeWarning)
        frame = pipeline.predict(smiles, as_frame=True)
    failures = []
    for warning in caught:
        if issubclass(warning.category, InvalidMoleculeWarning):
            failures.extend(getattr(warning.message, "failures", []))
        else:  # not ours to read: shown as any other warning is
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return frame, sorted(failures)


def _failure_text(failures: list[tuple[int, Any, str]], molecules: Molecules) -> str:
    """``2 of 5 molecules could not be featurized ...: line 4 'C1CC(' (invalid SMILES), record 7 ...``."""
    def one(i: int, smiles: Any, why: str) -> str:
        label = f"{molecules.where[i]} {smiles!r}" if smiles else molecules.where[i]
        if not smiles and molecules.names and molecules.names[i]:
            label += f" named {molecules.names[i]!r}"
        return f"{label} ({molecules.missing.get(i, why)})"

    shown = ", ".join(one(*failure) for failure in failures[:10])
    more = f" and {len(failures) - 10} more" if len(failures) > 10 else ""
    return (f"{len(failures)} of {len(molecules.smiles)} molecules could not be featurized, so they have no "
            f"predictions: {shown}{more}")


def describe(pipeline: Any, spec: str) -> str:
    """One line above the table: the model, the output shape, the domain rule."""
    parts = [spec]
    if pipeline.outputs is not None:
        parts.append(f"{pipeline.outputs.kind}, predict() shape {pipeline.outputs.shape_text}")
    if pipeline.applicability is not None:
        parts.append(f"in domain: Tanimoto similarity to the nearest training molecule >= "
                     f"{pipeline.applicability.threshold:g}")
    return " · ".join(parts)


# --- CSV and TSV ----------------------------------------------------------------------------------


def _write(frame: Any, molecules: Molecules, reasons: dict[int, str], output: Output) -> None:
    """The input's columns, then the predictions, one row per molecule; values as the model gave them, and
    empty cells for a molecule in *reasons* (not predicted: nor is it in or out of the domain)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=WRITTEN[f".{output.kind}"], lineterminator="\n")
    writer.writerow(_unique([*molecules.columns, *frame.columns]))
    values = [_column_text(frame[c].to_numpy()) for c in frame.columns]
    for i, row in enumerate(molecules.rows):
        writer.writerow([*row, *("" if i in reasons else column[i] for column in values)])
    if output.path is None:
        sys.stdout.write(buffer.getvalue())
        return
    output.path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(output.path, buffer.getvalue().encode("utf-8"))
    print(f"wrote {len(molecules.rows)} predictions to {os.fspath(output.path)}", file=sys.stderr)


def _column_text(values: Any) -> list[str]:
    """Each value as the shortest text that reads back as the same float32 (at most 9 significant digits).

    Models compute in float32; transforms undone in float64 add digits that are noise (a forest's float64
    output, rounded so, moves by less than one part in 10⁷).
    """
    import numpy as np

    if values.dtype.kind != "f":
        return [str(v) for v in values.tolist()]
    with np.errstate(over="ignore"):
        single = values.astype(np.float32)
    return ["" if math.isnan(v) else str(s) if math.isfinite(s) or not math.isfinite(v) else repr(float(v))
            for v, s in zip(values, single)]  # str: numpy's shortest round-trip text of a float32


def _unique(names: list[str]) -> list[str]:
    """Column names, a repeated one numbered (an input column named like a prediction: ``in domain (2)``)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


# --- the terminal ---------------------------------------------------------------------------------


def _table_text(frame: Any, pipeline: Any, molecules: Molecules, reasons: dict[int, str], width: int) -> str:
    """One row per molecule when that fits *width*; else one block per molecule, one line per task."""
    names = molecules.names if molecules.names and any(molecules.names) else None
    header = ["SMILES", *(["name"] if names else []), *frame.columns]
    rows = [[s or "(no SMILES)", *([names[i]] if names else []),
             *("invalid" if i in reasons else _cell(v) for v in row)]
            for i, (s, row) in enumerate(zip(molecules.smiles, frame.itertuples(index=False)))]
    wide = table(header, rows)
    if max(len(line) for line in wide.splitlines()) <= width:
        return wide
    return _blocks(frame, pipeline, molecules, reasons)


def _blocks(frame: Any, pipeline: Any, molecules: Molecules, reasons: dict[int, str]) -> str:
    """``SMILES  name  (line 3)`` then ``  task  value  unit`` lines and the domain line, per molecule."""
    tasks = pipeline.outputs.tasks
    units = ([f"P({pipeline.outputs.classes[-1]})"] * len(tasks) if pipeline.outputs.kind == "classification"
             else [t.unit for t in tasks])
    labels = [t.name for t in tasks] + (["domain similarity"] if pipeline.applicability is not None else [])
    pad = max(len(label) for label in labels)
    from_file = not molecules.where[0].startswith("argument")
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        name = molecules.names[i] if molecules.names else ""
        out.append("  ".join(p for p in (molecules.smiles[i] or "(no SMILES)", name,
                                         f"({molecules.where[i]})" if from_file else "") if p))
        if i in reasons:
            out.append(f"  no prediction: {molecules.missing.get(i, reasons[i])}")
        else:
            out += [f"  {t.name.ljust(pad)}  {_cell(v):>7}  {u}".rstrip() for t, v, u in zip(tasks, row, units)]
            if pipeline.applicability is not None:
                inside = "in domain" if row[-1] else "OUT of domain"
                out.append(f"  {labels[-1].ljust(pad)}  {_cell(row[-2]):>7}  {inside}")
        out.append("")
    return "\n".join(out).rstrip("\n")


def _cell(value: Any) -> str:
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return "in" if value else "OUT"
    if isinstance(value, float) and math.isnan(value):
        return "invalid"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
