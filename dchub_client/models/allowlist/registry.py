"""The allowlist: which classes and functions a ``params.json`` may name.

A name is resolved only if it was registered by the user (:func:`register_class`) or lies in a
trusted package *and* passes that package's policy (e.g. a DeepChem loss, a ``torch.nn``
module). Names outside the trusted packages are refused before anything is imported.
"""
from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from dchub_client.errors import NetworkAccessError, UntrustedClassError
from dchub_client.models import dependencies
from dchub_client.models.recording import record_init

T = TypeVar("T")
Kind = Literal["class", "ref", "state"]
#: A policy answers: may the object *obj* named *name* be used as *kind*?
Policy = Callable[[str, Any, Kind], bool]

_REGISTERED: dict[str, Any] = {}
_POLICIES: dict[str, list[Policy]] = {}
#: ``module.QualName`` of classes whose constructors use the network -> what they fetch. Never resolved
#: (nor their subclasses, however named) unless registered; :mod:`dchub_client.models.netguard` catches others.
_NETWORK_CLASSES: dict[str, str] = {}
_built_in = False  # whether the built-in policies are installed
_BUILT_IN_LOCK = threading.Lock()


def _built_in_policies() -> None:
    """Install the built-in policies (:mod:`.policies`) before the allowlist is first consulted: not at
    ``import dchub_client``, which the ``dchub`` command pays for on every run."""
    global _built_in
    if _built_in:
        return
    with _BUILT_IN_LOCK:  # a thread arriving meanwhile waits: it must not judge by half the policies
        if not _built_in:
            from dchub_client.models.allowlist import policies  # late: policies imports us, and a pull needs neither

            policies.install()
            _built_in = True


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a class or function."""
    return f"{obj.__module__}.{obj.__qualname__}"


def register_class(obj: T, *, name: str | None = None) -> T:
    """Trust a class (or function) of your own so ``params.json`` may name it.

    Registering a class also makes its instances record their constructor arguments, so a
    model that contains one (e.g. your ``nn.Module`` inside a ``TorchModel``) can be saved.
    Usable as a decorator.

    Example:
        >>> @dchub_client.register_class
        ... class MyNet(torch.nn.Module): ...  # doctest: +SKIP
    """
    if not callable(obj):
        raise TypeError(f"register_class expects a class or function, got {obj!r}")
    if "<locals>" in getattr(obj, "__qualname__", ""):
        raise TypeError(f"register_class({obj.__qualname__}): it is defined inside a function, so no other process "
                        "can import it to load a folder that names it; define it at module level and register it there")
    _REGISTERED[name or qualified_name(obj)] = obj
    if isinstance(obj, type):
        record_init(obj)
    return obj


def add_policy(package: str, policy: Policy) -> None:
    """Trust some objects of a top-level *package* (used by the adapters). Idempotent."""
    policies = _POLICIES.setdefault(package, [])
    if policy not in policies:
        policies.append(policy)


def refuse_network_class(name: str, fetches: str) -> None:
    """Never build the class *name* (``module.QualName``) or a subclass from ``params.json``: its constructor
    uses the network (*fetches* says what it fetches, for the error message). Idempotent."""
    _NETWORK_CLASSES[name] = fetches


def _network_use(obj: Any) -> str | None:
    _built_in_policies()
    for base in getattr(obj, "__mro__", ()) if isinstance(obj, type) else ():
        fetches = _NETWORK_CLASSES.get(qualified_name_or_none(base) or "")
        if fetches is not None:
            return fetches
    return None


def is_allowed(obj: Any, kind: Kind) -> bool:
    """Whether *obj* may be named in ``params.json`` as *kind*."""
    _built_in_policies()
    try:
        name = qualified_name(obj)
    except AttributeError:
        return False
    if _REGISTERED.get(name) is obj:
        return True
    if _network_use(obj) is not None:
        return False
    return any(policy(name, obj, kind) for policy in _POLICIES.get(name.split(".")[0], ()))


def resolve(name: str, kind: Kind, *, source: str | Path | None = None) -> Any:
    """Return the object *name* refers to, if the allowlist permits it.

    Raises:
        UntrustedClassError: the name is not registered and not in a trusted package, or the
            object found does not pass its package's policy. Untrusted modules are never imported.
        NetworkAccessError: the class is known to use the network in its constructor (an UntrustedClassError).
        MissingDependencyError: a trusted package, or one its module imports, is not installed (the message
            names the extra of ``dchub`` that installs it).
    """
    _built_in_policies()
    if isinstance(name, str) and name in _REGISTERED:
        return _REGISTERED[name]
    if not isinstance(name, str) or not all(p.isidentifier() for p in name.split(".")):
        raise UntrustedClassError(str(name), path=source, reason="not a dotted Python name")
    if any(part.startswith("__") for part in name.split(".")):
        raise UntrustedClassError(name, path=source, reason="dunder names (__main__...) are never resolved")
    package = name.split(".")[0]
    if package not in _POLICIES:
        raise UntrustedClassError(name, path=source, reason=f"package {package!r} is not trusted")
    obj = _import_object(name, source)
    if qualified_name_or_none(obj) != name and not _alias_ok(obj, name):
        raise UntrustedClassError(name, path=source, reason="name does not match the object it refers to")
    fetches = _network_use(obj)
    if fetches is not None:
        raise NetworkAccessError(qualified_name(obj), path=source, attempts=(f"its constructor {fetches}",))
    if not any(policy(name, obj, kind) for policy in _POLICIES[package]):
        raise UntrustedClassError(name, path=source, reason=f"not allowed as {kind}")
    return obj


def qualified_name_or_none(obj: Any) -> str | None:
    try:
        return qualified_name(obj)
    except AttributeError:
        return None


def _alias_ok(obj: Any, name: str) -> bool:
    # numpy scalar types and C functions report another module (numpy.float32 -> numpy.float32 is fine,
    # torch.relu -> torch._C._VariableFunctions.relu). Accept when the public path leads to the object and
    # the object belongs to the package the name starts with: a re-export through another trusted package
    # (deepchem....torch.fx.GraphModule) must not be judged by that package's policy.
    module = getattr(obj, "__module__", None) or ""
    return getattr(obj, "__name__", None) == name.rsplit(".", 1)[-1] and \
        module.split(".")[0] == name.split(".")[0]


def _import_object(name: str, source: str | Path | None) -> Any:
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError as err:
            dependencies.raise_if_missing(err, f"{source}: {name}" if source else name)
            continue
        except (Exception, SystemExit) as err:  # a trusted package's module that fails or exits on import
            raise UntrustedClassError(name, path=source, reason=f"importing it failed ({err!r})") from err
        try:
            for attr in parts[cut:]:
                if attr.startswith("__"):
                    raise AttributeError(attr)
                obj = getattr(obj, attr)
        except AttributeError as err:
            raise UntrustedClassError(name, path=source, reason="no such object") from err
        return obj
    raise UntrustedClassError(name, path=source, reason="module cannot be imported")
