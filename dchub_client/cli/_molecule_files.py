"""The molecules ``dchub predict`` reads: SMILES arguments, or a SMILES, CSV, TSV or SD file (gzipped or not).

Every record of a file is one molecule, in file order, and stays one, usable or not: a record without a
SMILES (an empty CSV cell, a short row, an SD record RDKit cannot read) has ``smiles`` None and a reason,
and its predictions are empty (``invalid`` in the table). With each molecule comes what lines the
predictions up with the input:

=================  ==================================================================================
file               columns carried into the output, before the predictions
=================  ==================================================================================
``.smi`` ...       ``smiles``, ``name`` (the rest of the line); a first line ``SMILES ...`` is a header
``.csv``, ``.tsv`` every column of the file, in its order, as written
``.sdf``           ``name`` (the record's title line), ``smiles`` (RDKit's), then the record's data fields
=================  ==================================================================================

Blank lines, ``#`` comment lines of SMILES files and CSV rows of empty cells are not molecules.
"""
from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dchub_client.errors import DchubError

#: Molecules read from one input file at most (a guard against reading the wrong file).
MAX_INPUT_MOLECULES = 1_000_000
#: File kinds by suffix (each also gzipped: ``.sdf.gz``).
KINDS = {".smi": "smi", ".smiles": "smi", ".txt": "smi", ".csv": "csv", ".tsv": "tsv", ".sdf": "sdf", ".sd": "sdf"}
SDF_END = "$$$$"


class InputFileError(DchubError, ValueError):
    """An input file of ``dchub predict`` is unreadable, of an unknown kind, or holds no molecules."""


@dataclass(frozen=True)
class Molecules:
    """The molecules to predict, in order, and what identifies each in the output.

    Attributes:
        smiles: each molecule's SMILES; None when its record has none (see *missing*).
        where: how messages name each molecule: ``line 12``, ``record 3``, ``argument 2``.
        columns: the input's columns carried into the output, before the predictions.
        rows: each molecule's values of *columns*.
        names: each molecule's name (SMILES and SD files), shown beside its SMILES; None without names.
        missing: position -> why that record has no SMILES.
        notes: what is odd about the file as a whole (rows with more fields than the header).
    """

    smiles: list[str | None]
    where: list[str]
    columns: list[str]
    rows: list[list[str]]
    names: list[str] | None = None
    missing: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def from_arguments(smiles: Sequence[str]) -> Molecules:
    """The SMILES given on the command line."""
    return Molecules(list(smiles), [f"argument {i}" for i in range(1, len(smiles) + 1)], ["smiles"],
                     [[s] for s in smiles])


def accepted_suffixes() -> str:
    """``.smi, .smiles, ... (each also .gz)``, for messages and help."""
    return ", ".join(KINDS) + " (each also gzipped, e.g. .sdf.gz)"


def file_kind(path: Path) -> tuple[str, bool]:
    """``(kind, gzipped)`` from the file's suffixes.

    Raises:
        InputFileError: a suffix that is none of :data:`KINDS` (with or without ``.gz``).
    """
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = (suffixes[:-1] if gzipped else suffixes)[-1:]
    kind = KINDS.get(suffix[0]) if suffix else None
    if kind is None:
        raise InputFileError(f"{path}: cannot tell what kind of file this is from its name; name it with one of "
                             f"{accepted_suffixes()}")
    return kind, gzipped


def read_molecules(path: Path, smiles_column: str) -> Molecules:
    """Every molecule of *path* (a SMILES, CSV, TSV or SD file, gzipped or not), in file order.

    Raises:
        InputFileError: an unknown suffix; the file is unreadable, not gzip when named so, not UTF-8
            (SMILES and tables), lacks *smiles_column* (tables), holds no molecules or too many.
    """
    kind, gzipped = file_kind(path)
    text = _read_text(path, gzipped, strict=kind != "sdf")
    if kind == "sdf":
        molecules = _sdf(text)
    elif kind == "smi":
        molecules = _smi(text)
    else:
        molecules = _table(text, "\t" if kind == "tsv" else ",", smiles_column, path)
    if not molecules.smiles:
        raise InputFileError(f"{path}: holds no molecules")
    if len(molecules.smiles) > MAX_INPUT_MOLECULES:
        raise InputFileError(f"{path}: {len(molecules.smiles)} molecules, more than {MAX_INPUT_MOLECULES}; "
                             "split the file")
    return molecules


def _read_text(path: Path, gzipped: bool, *, strict: bool) -> str:
    """The file's text, line ends made ``\\n``; an SD file's names need not be UTF-8 (*strict* False)."""
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as handle:
            data = handle.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise InputFileError(f"{path}: not a readable gzip file ({err})") from err
    except OSError as err:
        raise InputFileError(f"{path}: cannot read the molecules: {err.strerror or err}") from err
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if strict:
            raise InputFileError(f"{path}: not UTF-8 text ({err}); is it a binary or compressed file?") from err
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _smi(text: str) -> Molecules:
    smiles: list[str | None] = []
    where, names, first = [], [], True
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.split(None, 1)
        if not fields or fields[0].startswith("#"):
            continue
        header, first = first and fields[0].lower() == "smiles", False
        if not header:  # a first line "SMILES Name" names the fields
            smiles.append(fields[0])
            names.append(fields[1].strip() if len(fields) > 1 else "")
            where.append(f"line {number}")
    return Molecules(smiles, where, ["smiles", "name"], [[s or "", n] for s, n in zip(smiles, names)], names)


def _table(text: str, delimiter: str, column: str, path: Path) -> Molecules:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    match = next((i for i, f in enumerate(header) if f.strip().lower() == column.strip().lower()), None)
    if match is None:
        raise InputFileError(f"{path}: no column {column!r} (columns: {', '.join(header) or 'none'}); "
                             "name the SMILES column with --smiles-column")
    molecules = Molecules([], [], header, [])
    long_rows = []
    start = reader.line_num + 1
    for row in reader:
        if any(cell.strip() for cell in row):
            if len(row) > len(header):
                long_rows.append(f"line {start} ({len(row)})")
            _add_row(molecules, row[:len(header)] + [""] * (len(header) - len(row)), match, f"line {start}")
        start = reader.line_num + 1
    if long_rows:
        molecules.notes.append(f"{path}: {len(long_rows)} row(s) have more fields than the header's "
                               f"{len(header)}, and their extra fields are left out (a separator inside an "
                               f"unquoted field?): {', '.join(long_rows[:10])}")
    return molecules


def _add_row(molecules: Molecules, row: list[str], match: int, where: str) -> None:
    smiles = row[match].strip()
    if not smiles:
        molecules.missing[len(molecules.smiles)] = "no SMILES in this row"
    molecules.smiles.append(smiles or None)
    molecules.where.append(where)
    molecules.rows.append(row)


def _sdf(text: str) -> Molecules:
    """Each record of an SD file (up to each ``$$$$`` line) parsed by RDKit, as ``SDMolSupplier`` would."""
    from rdkit import Chem, rdBase  # only SD files need RDKit here

    records: list[tuple[str, dict[str, str], str | None]] = []
    blocker = rdBase.BlockLogs()  # a record RDKit cannot read is reported per record, not by RDKit's log
    try:
        for block in _sdf_blocks(text):
            mol = Chem.MolFromMolBlock(block)
            name = mol.GetProp("_Name") if mol is not None else block.split("\n", 1)[0].strip()
            records.append((name, _sd_fields(block), Chem.MolToSmiles(mol) if mol is not None else None))
    finally:
        del blocker
    fields = list(dict.fromkeys(key for _, data, _ in records for key in data))
    missing = {i: "RDKit cannot read this record" for i, (_, _, s) in enumerate(records) if s is None}
    return Molecules([s for _, _, s in records], [f"record {i}" for i in range(1, len(records) + 1)],
                     ["name", "smiles", *fields],
                     [[name, s or "", *(data.get(f, "") for f in fields)] for name, data, s in records],
                     [name for name, _, _ in records], missing)


def _sdf_blocks(text: str) -> list[str]:
    blocks, lines = [], []
    for line in text.split("\n"):
        if line.rstrip() == SDF_END:
            blocks.append("\n".join(lines))
            lines = []
        else:
            lines.append(line)
    if "".join(lines).strip():  # a last record without its $$$$
        blocks.append("\n".join(lines))
    return blocks


def _sd_fields(block: str) -> dict[str, str]:
    """The data fields after ``M  END``: ``>  <NAME>`` lines, each followed by its value up to a blank line."""
    fields: dict[str, str] = {}
    _, _, tail = block.partition("M  END")
    name, value = None, []
    for line in tail.split("\n")[1:]:
        if name is None and line.startswith(">") and "<" in line:
            name = line.split("<", 1)[1].split(">", 1)[0]
        elif name is not None and not line.strip():
            fields[name], name, value = "\n".join(value), None, []
        elif name is not None:
            value.append(line)
    if name is not None:
        fields[name] = "\n".join(value)
    return fields
