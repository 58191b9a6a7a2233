"""The hub's vocabulary: every file name, layout path and metadata key of dchub's formats, spelled once.

The client, ``dchub mirror`` (:mod:`dchub_client.hub.export`) and ``hubgen`` import these names
instead of spelling them, so a folder written by one is read by the others. See ``docs/format.md``.

Example:
    >>> blob_path("ab" + "0" * 62)
    'blobs/sha256/ab/ab00000000000000000000000000000000000000000000000000000000000000'
    >>> manifest_path("esol-mtr", "1.0.0")
    'models/esol-mtr/1.0.0/manifest.json'
"""
from __future__ import annotations

# --- the pretrained folder (docs/format.md section 1) --------------------------------------------

#: The file that says what to build and lists the weights.
PARAMS_FILE = "params.json"
#: The optional model card (Markdown with YAML front matter).
CARD_FILE = "README.md"
#: Every weight is ``<name>.npy``.
WEIGHT_SUFFIX = ".npy"
PRETRAINED_FORMAT = "dchub-pretrained"
PRETRAINED_FORMAT_VERSION = "1.0"

#: The key that marks a tagged value (tuple, ndarray, object, weight reference...) in ``params.json``.
TAG = "__dchub__"

#: Keys of ``params.json`` ``extra`` (what is neither a constructor argument nor a model weight).
EXTRA_TRAINING = "training"                     # optimizer state + global step (include_optimizer=True)
EXTRA_AUXILIARY = "auxiliary_weights"           # weights that are not model variables
EXTRA_PIPELINE = "pipeline"                     # featurizer + fitted transformers
EXTRA_KERAS_SIGNATURE = "keras_input_signature"  # one input batch's shapes, to create Keras variables
EXTRA_SKLEARN = "sklearn_estimator"             # a fitted scikit-learn / GBDT estimator
EXTRA_MEMBERS = "members"                       # a composite model's member folders, one per task
#: A composite model (``SingletaskToMultitask``) keeps member ``i`` as a complete pretrained folder in
#: ``members/<i>`` inside its own folder.
MEMBERS_DIR = "members"

#: Keys of ``extra["pipeline"]`` besides the featurizer and transformers.
PIPELINE_OUTPUTS = "outputs"                    # the output contract (tasks, units, classes)
PIPELINE_DOMAIN = "domain"                      # the applicability domain (fingerprints + threshold)
#: The auxiliary weight holding the training set's packed fingerprints.
DOMAIN_FINGERPRINTS_WEIGHT = "pipeline-domain.fingerprints"

#: Files a recipe may add to a pretrained folder, which the catalogue site shows (docs/format.md).
EVALUATION_FILE = "evaluation.json"             # every held-out prediction of the evaluation splits
TRAINING_SET_FILE = "training_set.json"         # what the published model was trained on (MW, logP, scaffolds)
REFERENCE_FILE = "reference_predictions.json"   # the original pipeline's predictions; the first are examples

# --- the hub tree (docs/format.md section 2) -----------------------------------------------------

INDEX_FILE = "index.json"
MANIFEST_FILE = "manifest.json"
#: ``sha256sum -c SHA256SUMS`` in the hub root checks every file.
SUMS_FILE = "SHA256SUMS"
#: The same checksums in pooch's registry format: ``pooch.create(base_url=HUB, registry=None)``,
#: ``.load_registry(...)`` on this file, then ``.fetch(path)`` verifies every file it downloads.
REGISTRY_FILE = "registry.txt"
#: Tells GitHub Pages not to run Jekyll (which hides some paths).
NOJEKYLL = ".nojekyll"
BLOBS_DIR = "blobs"
MODELS_DIR = "models"
BLOB_PREFIX = f"{BLOBS_DIR}/sha256"
INDEX_FORMAT = "dchub-index"
MANIFEST_FORMAT = "dchub-manifest"
#: ``index.json`` 2.0: compact (no indentation) and without the manifest paths that follow from name and
#: version (:func:`manifest_path`). Readers accept 1.x too.
INDEX_FORMAT_VERSION = "2.0"
INDEX_FORMAT_MAJORS = ("1", "2")
MANIFEST_FORMAT_VERSION = "1.0"

#: The marker file of a cache snapshot folder (it holds the sha256 of the manifest the snapshot was built
#: from). Written by the cache, never by a hub: no manifest may list a file of this name, at any depth and
#: in any letter case (a case-insensitive file system would otherwise alias it).
SNAPSHOT_MARKER = ".dchub-manifest"
#: Names reserved for the client: refused as any component of a manifest's file paths (compared casefolded).
RESERVED_NAMES = frozenset({SNAPSHOT_MARKER})

#: Keys of ``index.json`` that the signing layer owns (``dchub_client.hub.trust``): the signatures over the
#: rest, and the chain of signed key-rotation records (each naming a new key set, signed by the old one).
INDEX_SIGNATURES = "signatures"
INDEX_KEY_ROTATIONS = "key_rotations"
KEY_ROTATION_TYPE = "dchub-key-rotation"

#: The catalogue site's entry page and asset folder.
SITE_INDEX = "index.html"
SITE_ASSETS_DIR = "assets"

#: hubgen's private work files inside a hub folder: never listed in SHA256SUMS, never published or served.
BUILD_CACHE_FILE = ".hubgen-cache.json"
BUILD_TMP_DIR = ".hubgen-tmp"
SITE_CACHE_FILE = ".hubgen-site-cache.json"
SITE_PAGES_FILE = ".hubgen-site-pages.json"
PRIVATE_NAMES = frozenset({BUILD_CACHE_FILE, BUILD_TMP_DIR, SITE_CACHE_FILE, SITE_PAGES_FILE})


def blob_path(sha256: str) -> str:
    """Where a blob lives, relative to the hub root: ``blobs/sha256/<first 2 hex>/<hex>``.

    The digest is not validated here; :func:`dchub_client.format.hubfiles.blob_path` does.
    """
    return f"{BLOB_PREFIX}/{sha256[:2]}/{sha256}"


def manifest_path(name: str, version: str) -> str:
    """Where a model version's manifest lives: ``models/<name>/<version>/manifest.json``.

    The name and version are not validated here; :func:`dchub_client.format.hubfiles.manifest_path` does.
    """
    return f"{MODELS_DIR}/{name}/{version}/{MANIFEST_FILE}"
