"""Adapter for DeepChem's ``SingletaskToMultitask``: a model made of one model per task.

Its pretrained folder holds no weights of its own. Each member is a complete pretrained folder in a
sub-folder, ``members/<i>`` for the i-th task, saved and loaded with :func:`dchub_client.to_pretrained` and
:func:`dchub_client.from_pretrained` (so each is verified and allowlisted like any folder);
``params.json`` ``extra["members"]`` lists ``{"task": ..., "folder": "members/<i>"}`` in task order, and
``parameters`` holds the tasks. The ``model_builder`` function is not stored: the loaded model's builder
returns the loaded members.

DeepChem keeps fitted members only on disk (``SklearnModel.save()`` writes a joblib file in each task's
``model_dir``; ``predict`` reloads it): saving reads each member back with DeepChem's own ``reload()`` from
the model's own directories, written by this process' DeepChem. A loaded model keeps its members in memory:
its ``predict`` and ``fit`` work without any joblib file.

Weight names: ``singletasktomultitask-members.<i>.<member layer>-<j>`` for the member's weight
``<member model>-<member layer>-<j>``.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dchub_client.errors import PretrainedFormatError, UnknownWeightError, UnsupportedModelError
from dchub_client.format import layout
from dchub_client.models.adapters.base import Adapter, WeightSpec

SINGLETASK_TO_MULTITASK = "deepchem.models.multitask.SingletaskToMultitask"
MEMBERS_KEY = layout.EXTRA_MEMBERS
MEMBERS_FOLDER = layout.MEMBERS_DIR


class MemberModels:
    """The ``model_builder`` of a loaded ``SingletaskToMultitask``: returns the loaded member of a task's folder."""

    def __init__(self, members: Mapping[str, Any]) -> None:
        self.members = dict(members)  # task model_dir -> loaded member

    def __call__(self, model_dir: str) -> Any:
        return _KeptInMemory(self.members[model_dir])


class _KeptInMemory:
    """A member as DeepChem's composite uses it, except that ``save``/``reload`` keep it in memory."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def save(self) -> None:
        """Nothing to write: the member stays in memory (save the composite with ``to_pretrained``)."""

    def reload(self) -> None:
        """Nothing to read: the member is the loaded one."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


class CompositeAdapter(Adapter):
    """``SingletaskToMultitask``: members in sub-folders, weights those of the members."""

    framework = "composite"
    base_classes = (SINGLETASK_TO_MULTITASK,)
    composite: ClassVar[bool] = True

    def members(self, model: Any) -> list[tuple[str, Any]]:
        """``(sub-folder, member model)`` per task, in task order."""
        found = []
        for i, task in enumerate(model.tasks):
            member = model.model_builder(model.task_model_dirs[task])
            member.reload()  # DeepChem's own storage of a fitted member (a no-op for loaded members)
            found.append((f"{MEMBERS_FOLDER}/{i}", member.model if isinstance(member, _KeptInMemory) else member))
        return found

    def parameters(self, model: Any) -> dict[str, Any]:
        args = super().parameters(model)
        return {k: v for k, v in args.items() if k != "model_builder"}

    def extra(self, model: Any) -> dict[str, Any]:
        return {MEMBERS_KEY: [{"task": _json_task(task), "folder": f"{MEMBERS_FOLDER}/{i}"}
                              for i, task in enumerate(model.tasks)]}

    def build(self, cls: type, parameters: dict[str, Any]) -> Any:
        return super().build(cls, {**parameters, "model_builder": MemberModels({})})

    def load_members(self, model: Any, *, extra: Mapping[str, Any], source: Path, verify: bool | None) -> None:
        """Load every member folder (checked as *verify* says) and make the model's builder return them."""
        from dchub_client.models import interface  # members are folders like any other (interface imports us)

        entries = _member_entries(extra, model.tasks, source)
        loaded = {model.task_model_dirs[task]: interface.from_pretrained(source.parent / folder, verify=verify)
                  for task, folder in entries}
        model.model_builder = MemberModels(loaded)

    # --- weights: those of the members, renamed ---------------------------------------------------
    def _named(self, model: Any) -> dict[str, tuple[Any, str]]:
        from dchub_client.models import adapters  # the members' own adapters

        named: dict[str, tuple[Any, str]] = {}
        for folder, member in self.members(model):
            i = folder.rsplit("/", 1)[1]
            for name in adapters.for_model(member).specs(member):
                _model, layer_index = name.split("-", 1)
                named[f"{self.model_name(model)}-{MEMBERS_FOLDER}.{i}.{layer_index}"] = (member, name)
        return named

    def specs(self, model: Any) -> dict[str, WeightSpec]:
        from dchub_client.models import adapters  # the members' own adapters

        specs = {}
        for name, (member, own) in self._named(model).items():
            specs[name] = adapters.for_model(member).specs(member)[own]
        return specs

    def read(self, model: Any) -> Iterator[tuple[str, str, np.ndarray]]:
        """Every member weight under its composite name (saved in the members' folders, not the composite's)."""
        from dchub_client.models import adapters  # the members' own adapters

        named = self._named(model)
        for member in {id(m): m for m, _own in named.values()}.values():
            renamed = {own: name for name, (m, own) in named.items() if m is member}
            for own, key, array in adapters.for_model(member).read(member):
                yield renamed[own], key, array

    def assign(self, model: Any, values: Mapping[str, Any]) -> None:
        from dchub_client.models import adapters  # the members' own adapters

        named = self._named(model)
        for name, value in values.items():
            if name not in named:
                raise UnknownWeightError(name, type(model).__name__, [])
            member, own = named[name]
            adapters.for_model(member).assign(member, {own: value})

    def save_training_state(self, model: Any) -> tuple[dict[str, Any], list[tuple[str, str, np.ndarray]]]:
        return {}, []  # each member folder carries its own

    def load_training_state(self, model: Any, data: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        if data:
            raise PretrainedFormatError(f"'extra.training' of a {type(model).__name__} must be empty")


def _json_task(task: Any) -> Any:
    if isinstance(task, np.generic):
        return task.item()
    if not isinstance(task, (str, int)):
        raise UnsupportedModelError(f"task names must be strings or integers to be stored, got {task!r}")
    return task


def _member_entries(extra: Mapping[str, Any], tasks: list[Any], source: Path) -> list[tuple[Any, str]]:
    entries = extra.get(MEMBERS_KEY)
    if not isinstance(entries, list) or len(entries) != len(tasks):
        raise PretrainedFormatError(f"'extra.{MEMBERS_KEY}' must list one member folder per task", path=source)
    checked = []
    for i, (entry, task) in enumerate(zip(entries, tasks)):
        if not isinstance(entry, dict) or entry.get("folder") != f"{MEMBERS_FOLDER}/{i}" or entry.get("task") != task:
            raise PretrainedFormatError(f"'extra.{MEMBERS_KEY}[{i}]' must be {{'task': {task!r}, 'folder': "
                                        f"'{MEMBERS_FOLDER}/{i}'}}", path=source)
        checked.append((task, entry["folder"]))
    return checked
