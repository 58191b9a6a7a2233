"""Give every DeepChem model the dchub interface, without importing DeepChem eagerly.

:func:`install` (called when :mod:`dchub_client` is imported) patches DeepChem's base classes as
soon as they exist: now if DeepChem is already imported, otherwise right after the module that
defines them is executed (a post-import hook on ``sys.meta_path``).

For ``deepchem.models.Model``:

* every existing and future subclass records the arguments of its outermost constructor call;
* ``get_weights``, ``set_weight``, ``get_parameters``, ``to_pretrained``, ``from_pretrained`` and
  ``model[name]`` are attached (never replacing a method DeepChem defines itself);
* ``deepchem.models.Model`` becomes a virtual subclass of :class:`dchub_client.Model`.

For ``deepchem.feat.Featurizer``: every subclass records its constructor arguments, so a
pipeline's featurizer is saved exactly as it was built.

Idempotent.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import importlib.machinery

_FLAG = "_dchub_patched"


def _interface() -> Any:
    # imported on first use: the interface pulls in numpy, and `import dchub_client` (the CLI) must not
    from dchub_client.models import interface

    return interface


def install() -> None:
    """Patch DeepChem's base classes now, or as soon as DeepChem imports them."""
    pending = False
    for module_name, (attr, patch) in _TARGETS.items():
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, attr):
            patch(getattr(module, attr))
        else:
            pending = True
    if pending and not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())


def record_subclasses(base: type) -> None:
    """Make *base* and all its subclasses, existing and future, record their constructor arguments."""
    if base.__dict__.get(_FLAG):
        return
    # imported when DeepChem is: recording needs `inspect`, which `import dchub_client` (the CLI) must not pay for
    from dchub_client.models.recording import record_init

    for cls in [base, *_all_subclasses(base)]:
        record_init(cls)
    previous = base.__dict__.get("__init_subclass__")

    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        if previous is not None:
            previous.__func__(cls, **kwargs)
        else:
            super(base, cls).__init_subclass__(**kwargs)
        record_init(cls)

    base.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
    setattr(base, _FLAG, True)


def patch_model_class(base: type) -> None:
    """Apply the patches described in the module docstring to *base* (``deepchem.models.Model``)."""
    if base.__dict__.get(_FLAG):
        return
    record_subclasses(base)
    for name, method in _METHODS.items():
        if not hasattr(base, name):
            setattr(base, name, method)
    _interface().Model.register(base)


def _all_subclasses(cls: type) -> list[type]:
    found, todo = [], list(cls.__subclasses__())
    while todo:
        sub = todo.pop()
        if sub not in found:
            found.append(sub)
            todo.extend(sub.__subclasses__())
    return found


def _from_pretrained(cls: type, name_or_path: Any, **options: Any) -> Any:
    return _interface().from_pretrained(name_or_path, expected_class=cls, **options)


_METHODS: dict[str, Any] = {
    "get_weights": lambda self: _interface().get_weights(self),
    "set_weight": lambda self, name, value: _interface().set_weight(self, name, value),
    "get_parameters": lambda self: _interface().get_parameters(self),
    "to_pretrained": lambda self, path, **options: _interface().to_pretrained(self, path, **options),
    "from_pretrained": classmethod(_from_pretrained),
    "__getitem__": lambda self, name: _interface().get_weight(self, name),
    "__setitem__": lambda self, name, value: _interface().set_weight(self, name, value),
}


#: module -> (attribute, patch): what to patch once each module has been executed.
_TARGETS: dict[str, tuple[str, Any]] = {
    "deepchem.models.models": ("Model", patch_model_class),
    "deepchem.feat.base_classes": ("Featurizer", record_subclasses),
}


class _PostImportFinder:
    """Finds the modules of :data:`_TARGETS` through the other finders, and patches them once executed
    (a meta path finder needs only ``find_spec``; no ABC, so ``importlib.abc`` is not imported at start-up)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


class _PatchingLoader:
    """Runs the real loader, then the patch."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        attr, patch = _TARGETS[module.__name__]
        patch(getattr(module, attr))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
