"""Recipes of the example hub (``hub_manifest.yaml``): one small module per model.

Each module has ``build(output_dir: pathlib.Path) -> None``, which trains its model on the
MoleculeNet data in ``recipes/data/`` (or molecules shipped inside RDKit; never downloaded) on a
random and a scaffold split, evaluates both held-out test sets, and writes a pretrained pipeline
folder (model, featurizer, transformers, output contract, applicability domain, a card with the
measured metrics and the MoleculeNet comparison, the held-out predictions, a training-set summary,
``reference_predictions.json``); and ``recipe_sha256() -> str``, the hash of its sources, which the
card records so that ``hubgen build`` re-runs a recipe whose sources changed.
"""
import logging

import dchub_client  # noqa: F401  (before DeepChem: models then record their constructor arguments)

# The recipes log their own progress (molecules featurized, epochs kept, metrics); DeepChem's
# per-molecule featurization warnings and import-time notes would bury it in `bash scripts/hub.sh`.
logging.getLogger("deepchem").setLevel(logging.ERROR)
