"""Run every benchmark (``benchmarks/bench_*.py``) and print one table of ratios.

Usage: ``.venv/bin/python benchmarks/run.py [--quick] [--only NAME]``

Each ``bench_*.py`` module exposes ``run(quick: bool) -> list[Row]``; every row compares our
code with a peer or a physical limit measured in the same run (DeepChem's own save/restore,
``openssl dgst -sha256``, ``curl`` to a file and to ``/dev/null``, ``curl | openssl dgst``, plain
pooch, ``np.load``, ``cp``), prints ``ours / peer`` and grades it against the target of the issue
that asked for it (``docs/benchmarks.md``). A new module is picked up by its name alone.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))  # the project's tests/_support (molecules) for the adapter benchmarks

from _common import Row  # noqa: E402


def _modules(only: str | None) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    return [n for n in names if only is None or only in n]


def _format(rows: list[Row]) -> str:
    header = f"{'benchmark':58} {'ours':>10} {'peer':>10}  {'peer name':24} {'ratio':>7} {'target':>8}  ok"
    lines = [header, "-" * len(header)]
    for r in rows:
        target = "" if r.target is None else (">= " if r.higher_is_better else "<= ") + f"{r.target:g}"
        ok = {True: "yes", False: "NO", None: "-"}[r.ok]
        lines.append(f"{r.benchmark:58} {r.ours:>9.3f}{r.unit:1} {r.peer:>9.3f}{r.unit:1}  {r.peer_name:24} "
                     f"{r.ratio:>7.2f} {target:>8}  {ok}")
        if r.note:
            lines.append(f"    {r.note}")
    return "\n".join(lines)


def _compiled() -> None:
    """Byte-compile dchub's packages, as installing a wheel does.

    The start-up rows time new processes. Without ``.pyc`` files (an editable install run with
    ``PYTHONDONTWRITEBYTECODE=1``, as on the development machine) every command would compile its
    ~40 modules from source first, about 40 ms that no installed copy pays.
    """
    import compileall

    for package in ("dchub_client", "hubgen"):
        compileall.compile_dir(str(HERE.parent / package), quiet=1)


def _quiet() -> None:
    """The frameworks' chatter (DeepChem, TensorFlow, RDKit's C++ log) off, so the table can be read."""
    from dchub_client import quiet

    quiet.silence_frameworks()
    try:
        from rdkit import RDLogger
    except ImportError:
        return
    RDLogger.DisableLog("rdApp.*")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    parser.add_argument("--only", help="run only the benchmark modules whose name contains this")
    args = parser.parse_args(argv)
    _quiet()
    _compiled()
    rows: list[Row] = []
    failed = []
    for name in _modules(args.only):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(importlib.import_module(name).run(args.quick))
        except Exception:  # one broken benchmark must not hide the others
            traceback.print_exc()
            failed.append(name)
    print(_format(rows))
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
