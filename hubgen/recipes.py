"""Recipes: the code that produces a model's pretrained folder when ``hub_manifest.yaml`` names one.

A recipe is ``package.module:function``; ``function(folder)`` writes the pretrained folder into
*folder* (a temporary folder swapped into place when it returns). It runs when the model's folder
is missing, on ``--rebuild``, or when the module's ``recipe_sha256()`` differs from the
``recipe_sha256`` recorded in the folder's card (its sources changed).
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

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
        with atomic_folder(model.path, overwrite=True) as tmp:
            func(tmp)
    except DchubError as err:
        raise RecipeError(f"{model.where}: recipe {model.recipe!r} failed: {err}") from err
    except Exception as err:  # a recipe is user code: any failure stops the build, with its cause
        raise RecipeError(f"{model.where}: recipe {model.recipe!r} failed: {type(err).__name__}: {err}") from err
