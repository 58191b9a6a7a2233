"""Recipes: the code that produces a model's pretrained folder when ``hub_manifest.yaml`` names one.

A recipe is ``package.module:function``; ``function(folder)`` writes the pretrained folder into
*folder* (a temporary folder swapped into place when it returns). It runs when the model's folder
is missing, on ``--rebuild``, or when the module's ``recipe_sha256()`` differs from the
``recipe_sha256`` recorded in the folder's card (its sources changed).

:func:`run_all` runs the stale recipes one after the other, or with ``jobs > 1`` in that many
worker processes (spawned, each single-threaded: training small models in parallel uses the
cores better than one process's threads). A recipe must then not rely on state left by another
one in the same process (a fine-tuned model retrains or reloads its base: seeded, it gets the
same weights).
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path

from dchub_client import quiet
from dchub_client.errors import DchubError
from dchub_client.format.atomic import atomic_folder
from dchub_client.format.card import read_folder_card
from hubgen.errors import RecipeError
from hubgen.manifest import ModelSpec

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def importable_from(folder: Path) -> Iterator[None]:
    """While inside, recipes (``package.module:function``) are found next to ``hub_manifest.yaml`` first."""
    entry = str(folder.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def changed(model: ModelSpec) -> bool:
    """The folder's card records a ``recipe_sha256`` that differs from the recipe module's ``recipe_sha256()``."""
    try:
        card = read_folder_card(model.path)
    except DchubError:
        return True  # a broken card is rebuilt by its recipe
    recorded = card.metadata.get("recipe_sha256") if card is not None else None
    if recorded is None:
        return False
    module_name = (model.recipe or "").partition(":")[0]
    try:
        current = getattr(importlib.import_module(module_name), "recipe_sha256", None)
    except ImportError as err:
        raise RecipeError(f"{model.where}: cannot import recipe {model.recipe!r}: {err}") from err
    if current is None or current() == recorded:
        return False
    logger.info("%s: recipe sources changed since %s was built; rebuilding", model.ref, model.path)
    return True


def run(model: ModelSpec) -> None:
    """Run the model's recipe into a temporary folder and swap it into ``model.path``.

    Raises:
        RecipeError: the recipe cannot be imported, or it failed (the message names it and the cause).
    """
    module_name, _, func_name = (model.recipe or "").partition(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as err:
        raise RecipeError(f"{model.where}: cannot import recipe {model.recipe!r}: {err}") from err
    logger.info("%s: running recipe %s", model.ref, model.recipe)
    try:
        with atomic_folder(model.path, overwrite=True) as tmp, _log_prefix(model.ref), \
                quiet.frameworks_quiet(native=True):
            func(tmp)
    except DchubError as err:
        raise RecipeError(f"{model.where}: recipe {model.recipe!r} failed: {err}") from err
    except Exception as err:  # a recipe is user code: any failure stops the build, with its cause
        raise RecipeError(f"{model.where}: recipe {model.recipe!r} failed: {type(err).__name__}: {err}") from err
    # the recipe saved into a hidden temp folder (its own log lines name that one): say where it ended up
    logger.info("%s: recipe done: %s", model.ref, model.path)


#: Environment of a worker process: one thread per math library (the pool provides the parallelism).
WORKER_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def stale(models: Sequence[ModelSpec], *, rebuild: bool = False) -> list[ModelSpec]:
    """The models whose recipe must run: folder missing, ``rebuild``, or recipe sources changed."""
    return [m for m in models if m.recipe and (rebuild or not m.path.exists() or changed(m))]


def run_all(models: Sequence[ModelSpec], *, jobs: int = 1, root: Path | None = None) -> None:
    """Run the recipes of *models* (in their order), in *jobs* worker processes when ``jobs > 1``.

    Args:
        models: the models whose recipe runs (see :func:`stale`).
        jobs: worker processes; 1 runs every recipe in this process.
        root: the folder recipes are imported from (next to ``hub_manifest.yaml``).

    Raises:
        RecipeError: a recipe failed; the others still running are left to finish, none is started.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if jobs == 1 or len(models) <= 1:
        for model in models:
            run(model)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold TF or torch state
    initargs = (str(root.resolve()) if root else None, logging.getLogger().getEffectiveLevel(), not quiet.enabled())
    with ProcessPoolExecutor(max_workers=min(jobs, len(models)), mp_context=context, initializer=_worker_start,
                             initargs=initargs) as pool:
        futures = [pool.submit(run, model) for model in models]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f.done() and f.exception() is not None]
        if failed:
            for future in futures:
                future.cancel()
            raise failed[0].exception()  # type: ignore[misc]


def _worker_start(root: str | None, log_level: int, verbose: bool) -> None:
    for key, value in WORKER_THREADS.items():
        os.environ.setdefault(key, value)
    if root is not None:
        sys.path.insert(0, root)
    # logging as the hubgen CLI sets it up: its own lines at its level, framework chatter only when verbose
    logging.basicConfig(level=log_level, format="%(message)s", handlers=[quiet.StderrHandler()])
    quiet.set_verbose(verbose)
    quiet.silence_frameworks()


class _Prefix(logging.Filter):
    """Prefixes every record with the model being built (parallel recipes interleave their lines)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_recipe_prefixed", False):
            record.msg, record._recipe_prefixed = f"{self.prefix}: {record.msg}", True
        return True


@contextlib.contextmanager
def _log_prefix(prefix: str) -> Iterator[None]:
    """While a recipe runs, the root logger's handlers prefix its log lines with *prefix*."""
    handlers = logging.getLogger().handlers
    flt = _Prefix(prefix)
    for handler in handlers:
        handler.addFilter(flt)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(flt)
