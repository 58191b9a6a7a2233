"""Every concrete model class of the installed DeepChem: ``deepchem.models.Model`` and all its subclasses.

Every module under ``deepchem.models`` is imported (DeepChem's own ``__init__`` silently skips those whose
optional dependencies are missing). Classes of a module that cannot be imported are read from its source:
a class is a model class if one of its bases is (by name), so ``class Chemberta(HuggingFaceModel)`` is found
even though ``transformers`` is absent.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Found:
    """A model class: its qualified name, dchub framework (or the missing package) and why it cannot be imported."""

    name: str
    framework: str
    import_error: str | None = None


def discover() -> list[Found]:
    """All model classes of DeepChem, sorted by name."""
    import deepchem.models

    failed = _import_all(deepchem.models)
    classes = {_qualified(c): c for c in _subclasses(deepchem.models.Model) if c.__module__.startswith("deepchem.")}
    found = [Found(name, _framework(cls)) for name, cls in classes.items()]
    frameworks = {name.rsplit(".", 1)[1]: f.framework for name, f in zip(classes, found)}
    found += _from_source(failed, frameworks)
    return sorted(found, key=lambda f: f.name)


def _import_all(package: object) -> dict[str, str]:
    """Import every non-test module of *package*; ``{module: error}`` of those that fail (a failing package
    counts for all its modules, which are then never imported)."""
    failed: dict[str, str] = {}

    def record(name: str) -> None:
        failed[name] = _first_error(name)

    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".", onerror=record):  # type: ignore
        if ".tests" in info.name or info.name in failed:
            continue
        try:
            importlib.import_module(info.name)
        except Exception as err:  # noqa: BLE001 - any import failure is reported as a reason
            failed[info.name] = f"{type(err).__name__}: {err}"
    for name, error in list(failed.items()):
        spec = importlib.util.find_spec(name)
        for sub in pkgutil.iter_modules(spec.submodule_search_locations or [] if spec else []):
            failed.setdefault(f"{name}.{sub.name}", error)
    return failed


def _first_error(name: str) -> str:
    try:
        importlib.import_module(name)
    except Exception as err:  # noqa: BLE001
        return f"{type(err).__name__}: {err}"
    return "ImportError"


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _framework(cls: type) -> str:
    from dchub_client.errors import UnsupportedModelError
    from dchub_client.models import adapters

    try:
        return adapters.for_class(cls).framework
    except UnsupportedModelError:
        return "none"


def _from_source(failed: dict[str, str], frameworks: dict[str, str]) -> list[Found]:
    """Model classes defined in modules that cannot be imported: classes with a base that is a model class (by
    name, repeated until nothing changes), with that base's framework, or the missing package for a direct
    subclass of ``Model``."""
    classes = [(module, node.name, [_base_name(b) for b in node.bases])
               for module in sorted(failed) for node in _class_defs(module)]
    found: dict[str, Found] = {}
    changed = True
    while changed:
        changed = False
        for module, name, bases in classes:
            qualified = f"{module}.{name}"
            known = [frameworks[b] for b in bases if b in frameworks]
            if qualified in found or not (known or "Model" in bases):
                continue
            error = failed[module]
            framework = known[0] if known else _missing_module(error)
            frameworks[name] = framework
            found[qualified] = Found(qualified, framework, error)
            changed = True
    return list(found.values())


def _class_defs(module: str) -> list[ast.ClassDef]:
    spec = importlib.util.find_spec(module) if "." not in module else _spec_without_import(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return []
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    return [node for node in tree.body if isinstance(node, ast.ClassDef)]


def _spec_without_import(module: str) -> object:
    """The spec of a module whose parent package may fail to import: searched in the parent's folder."""
    parent, _, leaf = module.rpartition(".")
    parent_spec = importlib.util.find_spec(parent) if "." not in parent else _spec_without_import(parent)
    locations = getattr(parent_spec, "submodule_search_locations", None) or []
    for location in locations:
        for candidate in (Path(location) / leaf / "__init__.py", Path(location) / f"{leaf}.py"):
            if candidate.is_file():
                return importlib.util.spec_from_file_location(module, candidate)
    return None


def _missing_module(error: str) -> str:
    return error.split("'")[1] if "No module named '" in error else "none"


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def is_abstract(name: str) -> bool:
    """Whether an importable class declares abstract methods (none of DeepChem's do; its bases raise instead)."""
    module, _, attr = name.rpartition(".")
    return inspect.isabstract(getattr(importlib.import_module(module), attr))
