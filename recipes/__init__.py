"""Recipes of the example hub (``hub_manifest.yaml``): one small module per model.

Each module has ``build(output_dir: pathlib.Path) -> None``, which trains its model on molecules
shipped inside RDKit (never downloaded), evaluates it on a held-out split, and writes a
pretrained pipeline folder (model, featurizer, transformers, card with the measured metrics,
``reference_predictions.json``); and ``recipe_sha256() -> str``, the hash of its sources, which
the card records so that ``hubgen build`` re-runs a recipe whose sources changed.
"""

import dchub_client  # noqa: F401,E402  (before DeepChem: models then record their constructor arguments)
