"""The optional packages a model may need, and what to install when one is missing.

The distribution's extras (``pyproject.toml``) install them; ``tests/models/test_dependencies.py`` checks this
table against the extras, so that a message never names an extra that does not exist. Only these
names are ever suggested: a package named by a stranger's ``params.json`` is refused by the allowlist,
never offered to ``pip``.
"""
from __future__ import annotations

from dchub_client.errors import MissingDependencyError

#: A top-level package -> (its name for people, the extra of ``dchub`` that installs it).
PACKAGES: dict[str, tuple[str, str]] = {
    "deepchem": ("DeepChem", "deepchem"),
    "rdkit": ("RDKit", "deepchem"),
    "torch": ("PyTorch", "torch"),
    "tensorflow": ("TensorFlow", "tensorflow"),
    "tf_keras": ("tf-keras", "tensorflow"),
    "sklearn": ("scikit-learn", "sklearn"),
    "xgboost": ("XGBoost", "boost"),
    "lightgbm": ("LightGBM", "boost"),
    "torch_geometric": ("PyTorch Geometric", "zoo"),
    "tensorflow_probability": ("TensorFlow Probability", "zoo"),
}


def missing(package: str, needed_by: str) -> MissingDependencyError:
    """The error saying that *needed_by* needs *package* (a key of :data:`PACKAGES`) and how to install it."""
    label, extra = PACKAGES[package]
    return MissingDependencyError(f"{needed_by} needs {label}, which is not installed: pip install 'dchub[{extra}]'")


def require(package: str, needed_by: str) -> None:
    """Raise :func:`missing` unless *package* is installed (found, not imported: DeepChem takes seconds)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a broken or half-removed installation
        found = False
    if not found:
        raise missing(package, needed_by)


def raise_if_missing(err: ImportError, needed_by: str) -> None:
    """Raise :class:`MissingDependencyError` when *err* is a whole package not being installed
    (``import torch`` failing inside ``deepchem.models.fcnet``, or ``deepchem`` itself): with the extra
    that installs it when it is one of :data:`PACKAGES`, else naming it only (DeepChem's optional
    ``dgl``, which no extra installs). A missing module inside a package is the caller's to judge.

    Callers pass errors from importing modules of trusted packages only, so the name is theirs, never
    one a loaded folder chose.
    """
    name = getattr(err, "name", None)
    if not isinstance(err, ModuleNotFoundError) or not name or "." in name:
        return
    if name in PACKAGES:
        raise missing(name, needed_by) from err
    raise MissingDependencyError(f"{needed_by} needs the package {name!r}, which is not installed "
                                 "(no extra of dchub installs it)") from err


__all__ = ["PACKAGES", "missing", "raise_if_missing", "require"]
