"""Record the arguments of the outermost constructor call of a class's instances.

``record_init(cls)`` wraps ``cls.__init__`` so that each new instance keeps, in
``instance.__dict__["_dchub_init_args"]``, the arguments its outermost constructor call
received (``super().__init__`` calls inside it are not recorded again). This is how dchub
knows a model's constructor arguments without the user repeating them.
"""
from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dchub_client.errors import ParameterEncodingError

if TYPE_CHECKING:
    import inspect

ATTRIBUTE = "_dchub_init_args"
VARARGS_KEY = "*args"


def record_init(cls: type) -> None:
    """Make *cls* record constructor arguments. Idempotent; a class without its own ``__init__`` inherits it."""
    init = cls.__dict__.get("__init__")
    if init is None or getattr(init, "_dchub_recorder", False) or not isinstance(init, types.FunctionType):
        return
    import inspect  # when the first class is recorded: `import dchub_client` and the CLI start without it

    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        state = getattr(self, "__dict__", None)
        if state is not None and ATTRIBUTE not in state:
            recorded = _bind(signature, self, args, kwargs)
            if recorded is not None:
                state[ATTRIBUTE] = recorded
        init(self, *args, **kwargs)

    __init__._dchub_recorder = True  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]


def _bind(signature: inspect.Signature, self: Any, args: tuple, kwargs: dict) -> dict[str, Any] | None:
    try:
        bound = signature.bind(self, *args, **kwargs)
    except TypeError:
        return None  # the real __init__ will raise the proper error
    recorded: dict[str, Any] = {}
    params = list(signature.parameters.values())[1:]
    for param in params:
        if param.name not in bound.arguments:
            continue
        value = bound.arguments[param.name]
        if param.kind is param.VAR_KEYWORD:
            recorded.update(value)
        elif param.kind is param.VAR_POSITIONAL:
            if value:
                recorded[VARARGS_KEY] = tuple(value)
        else:
            recorded[param.name] = value
    return recorded


def recorded_args(obj: Any) -> dict[str, Any] | None:
    """The recorded constructor arguments of *obj*, or None when none were recorded."""
    state = getattr(obj, "__dict__", None)
    return None if state is None else state.get(ATTRIBUTE)


def split_varargs(parameters: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Split recorded (and decoded) constructor arguments into ``(args, kwargs)`` for ``cls(*args, **kwargs)``.

    Positional varargs are recorded under :data:`VARARGS_KEY`; after a trip through JSON they
    come back as a tuple or a list.

    Raises:
        ParameterEncodingError: the varargs entry is neither a tuple nor a list.

    Example:
        >>> split_varargs({"*args": [1, 2], "mode": "regression"})
        ((1, 2), {'mode': 'regression'})
    """
    kwargs = dict(parameters)
    args = kwargs.pop(VARARGS_KEY, ())
    if not isinstance(args, (tuple, list)):
        raise ParameterEncodingError(VARARGS_KEY, f"positional arguments must be a list, got {type(args).__name__}")
    return tuple(args), kwargs
