"""The adapter contract: how dchub reads and writes one framework's models.

An adapter never decides the file format (that is :mod:`dchub_client.format.pretrained`) nor the
allowlist (:mod:`dchub_client.models.allowlist.registry`); it only maps a live model to named numpy arrays
and back, and builds a model from decoded constructor arguments.
"""
from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dchub_client.errors import UnsupportedModelError
from dchub_client.models.recording import recorded_args, split_varargs


@dataclass(frozen=True)
class WeightSpec:
    """Shape and dtype of one weight of a live model, and the framework's own key for it."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype


class Adapter(abc.ABC):
    """Base class of the framework adapters (torch, keras, sklearn, ...)."""

    #: Short framework name written to ``params.json``.
    framework: ClassVar[str]
    #: Fully qualified names of the classes this adapter handles (checked along the MRO, no import).
    base_classes: ClassVar[tuple[str, ...]]
    #: A model made of other models: its weights are saved in its members' own folders (see :meth:`members`).
    composite: ClassVar[bool] = False

    # --- which models -------------------------------------------------------------------
    def handles_class(self, cls: type) -> bool:
        """True when *cls* derives from one of :attr:`base_classes` (no framework import needed)."""
        names = {f"{c.__module__}.{c.__qualname__}" for c in getattr(cls, "__mro__", ())}
        return not names.isdisjoint(self.base_classes)

    # --- weights -------------------------------------------------------------------------
    @abc.abstractmethod
    def specs(self, model: Any) -> dict[str, WeightSpec]:
        """Every weight of *model*, in a stable order, by dchub name."""

    @abc.abstractmethod
    def read(self, model: Any) -> Iterator[tuple[str, str, np.ndarray]]:
        """Yield ``(name, key, array)`` for every weight; arrays may alias live memory (no copy)."""

    @abc.abstractmethod
    def assign(self, model: Any, values: Mapping[str, Any]) -> None:
        """Set weights from arrays or :class:`~dchub_client.format.pretrained.WeightReader` objects.

        Values have already been checked for shape and dtype against :meth:`specs`.
        """

    # --- construction --------------------------------------------------------------------
    def parameters(self, model: Any) -> dict[str, Any]:
        """The constructor arguments of *model* (recorded at construction), without ``model_dir``."""
        args = recorded_args(model)
        if args is None:
            raise UnsupportedModelError(
                f"the constructor arguments of this {type(model).__name__} were not recorded: import "
                "dchub_client before creating the model (or register its class with dchub_client.register_class "
                "first). A model created earlier can still be saved: create a new one with the same arguments "
                "now, copy the weights over (new.set_weight(name, value) for each of old.get_weights().items()), "
                "and save the new one")
        return {k: v for k, v in args.items() if k != "model_dir"}

    def build(self, cls: type, parameters: dict[str, Any]) -> Any:
        """Construct a model of *cls* whose variables exist (ready for :meth:`assign`)."""
        args, kwargs = split_varargs(parameters)
        return cls(*args, **kwargs)

    def members(self, model: Any) -> list[tuple[str, Any]]:
        """``(sub-folder, member model)`` of a :attr:`composite` model, each saved as a pretrained folder."""
        return []

    def extra(self, model: Any) -> dict[str, Any]:
        """Adapter data (JSON-ready) saved in ``params.json`` ``extra`` (e.g. an input signature)."""
        return {}

    def prepare(self, model: Any, *, extra: Mapping[str, Any], weights: Mapping[str, Any],
                source: Path) -> None:
        """After :meth:`build`, before :meth:`assign`: create the variables the stored model had.

        Args:
            extra: ``params.json`` ``extra`` (e.g. what :meth:`extra` saved: an input signature).
            weights: the stored model weights' :class:`~dchub_client.format.pretrained.WeightEntry` by name
                (e.g. to size lazy layers).
            source: the ``params.json`` path, for error messages.
        """

    def load_members(self, model: Any, *, extra: Mapping[str, Any], source: Path, verify: bool | None) -> None:
        """Instead of :meth:`prepare` and :meth:`assign` for a :attr:`composite` model: load its member
        folders and attach them to *model*.

        Args:
            extra: ``params.json`` ``extra`` (where :meth:`extra` listed the members).
            source: the ``params.json`` path; member folders are relative to its folder.
            verify: ``from_pretrained``'s *verify* for each member: the composite's own check (a folder
                of the hub cache is not hashed again; ``verify=True`` hashes every member's bytes).
        """
        raise NotImplementedError(f"{type(self).__name__} has no member folders")

    def class_name(self, model: Any) -> str:
        """The fully qualified class recorded in ``params.json``."""
        cls = type(model)
        return f"{cls.__module__}.{cls.__qualname__}"

    def model_name(self, model: Any) -> str:
        """The ``model_name`` prefix of weight names: the lower-case class name."""
        return type(model).__name__.lower()

    def versions(self) -> dict[str, str]:
        """Versions of the frameworks involved, recorded for information."""
        return {}

    # --- training state (optional) --------------------------------------------------------
    def save_training_state(self, model: Any) -> tuple[dict[str, Any], list[tuple[str, str, np.ndarray]]]:
        """JSON data and extra arrays that let training resume (optimizer state, global step)."""
        raise UnsupportedModelError(f"{type(model).__name__}: saving the optimizer state is not supported")

    def load_training_state(self, model: Any, data: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`save_training_state` wrote."""
        raise UnsupportedModelError(f"{type(model).__name__}: restoring the optimizer state is not supported")
