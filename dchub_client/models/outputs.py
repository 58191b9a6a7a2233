"""The output contract of a pipeline: what ``Pipeline.predict`` returns, whatever the model class.

* regression: ``(n_molecules, n_tasks)`` values in the training data's units;
* classification: ``(n_molecules, n_tasks, n_classes)`` class probabilities.

A pipeline saved with an explicit contract (``to_pretrained(..., outputs=OutputContract...)``)
stores it in ``params.json`` ``extra["pipeline"]["outputs"]`` with the task names and units:

```
{"kind": "regression", "tasks": [{"name": "log solubility", "unit": "log10(mol/L)"}]}
{"kind": "classification", "tasks": [{"name": "NR-AR"}, ...], "classes": ["inactive", "active"]}
```

Without one, the contract is inferred from the model (DeepChem's ``n_tasks``/``mode``/``n_classes``,
scikit-learn's ``is_classifier``/``n_outputs_``/``classes_``), with tasks named ``task 0``, ...
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dchub_client.errors import PretrainedFormatError

Kind = Literal["regression", "classification"]
KINDS = ("regression", "classification")
#: The largest number of tasks or classes a stored contract may declare.
MAX_OUTPUTS = 100_000


@dataclass(frozen=True)
class Task:
    """One predicted quantity: its name and, for regression, its unit."""

    name: str
    unit: str = ""


@dataclass(frozen=True)
class OutputContract:
    """What ``predict`` returns: the kind of output, the tasks (with units) and the classes.

    Example:
        >>> OutputContract.regression(["log solubility"], unit="log10(mol/L)").shape_text
        '(n_molecules, 1)'
    """

    kind: Kind
    tasks: tuple[Task, ...]
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"output kind must be one of {KINDS}, got {self.kind!r}")
        if not self.tasks:
            raise ValueError("an output contract needs at least one task")
        if self.kind == "classification" and len(self.classes) < 2:
            raise ValueError("a classification contract needs at least two classes")
        if self.kind == "regression" and self.classes:
            raise ValueError("a regression contract has no classes")

    @classmethod
    def regression(cls, tasks: Sequence[str], *, unit: str | Sequence[str] = "") -> OutputContract:
        """Regression on *tasks*, all in *unit* (or one unit per task)."""
        units = [unit] * len(tasks) if isinstance(unit, str) else list(unit)
        if len(units) != len(tasks):
            raise ValueError(f"{len(tasks)} tasks but {len(units)} units")
        return cls("regression", tuple(Task(str(t), str(u)) for t, u in zip(tasks, units)))

    @classmethod
    def classification(cls, tasks: Sequence[str], *,
                       classes: Sequence[str] = ("inactive", "active")) -> OutputContract:
        """Classification on *tasks* into *classes* (the last one is the "positive" class)."""
        return cls("classification", tuple(Task(str(t)) for t in tasks), tuple(str(c) for c in classes))

    @property
    def n_tasks(self) -> int:
        """The number of tasks."""
        return len(self.tasks)

    @property
    def shape_text(self) -> str:
        """``(n_molecules, 12, 2)``: the shape ``predict`` returns, in words."""
        tail = f", {len(self.classes)}" if self.kind == "classification" else ""
        return f"(n_molecules, {self.n_tasks}{tail})"

    def shape(self, n: int) -> tuple[int, ...]:
        """The shape of ``predict``'s result for *n* molecules."""
        return (n, self.n_tasks, len(self.classes)) if self.kind == "classification" else (n, self.n_tasks)

    def normalize(self, predictions: Any, n: int) -> np.ndarray:
        """Reshape a model's raw output for *n* molecules to :meth:`shape`.

        Raises:
            ValueError: the model returned a number of values that does not fit the contract.
        """
        array = np.asarray(predictions)
        shape = self.shape(n)
        if array.size != int(np.prod(shape)):
            raise ValueError(f"the model returned {array.shape} for {n} molecules, which does not fit the output "
                             f"contract {self.shape_text} ({self.kind}, tasks {[t.name for t in self.tasks]})")
        return array.reshape(shape)

    def columns(self) -> list[str]:
        """One column name per task: ``"log solubility (log10(mol/L))"``, ``"NR-AR (P(active))"``."""
        if self.kind == "classification":
            return [f"{t.name} (P({self.classes[-1]}))" for t in self.tasks]
        return [f"{t.name} ({t.unit})" if t.unit else t.name for t in self.tasks]

    def per_task(self, predictions: np.ndarray) -> np.ndarray:
        """``(n, n_tasks)``: the values, or the probability of the last ("positive") class."""
        return predictions[:, :, -1] if self.kind == "classification" else predictions

    def to_json(self) -> dict[str, Any]:
        """The ``extra["pipeline"]["outputs"]`` entry (also the card's ``outputs``)."""
        data: dict[str, Any] = {"kind": self.kind, "shape": self.shape_text,
                                "tasks": [{"name": t.name, **({"unit": t.unit} if t.unit else {})}
                                          for t in self.tasks]}
        if self.classes:
            data["classes"] = list(self.classes)
        return data

    @classmethod
    def from_json(cls, data: Any, *, source: str | Path | None = None) -> OutputContract:
        """Validate and rebuild a stored contract.

        Raises:
            PretrainedFormatError: the entry is malformed; the message says which part.
        """
        where = "extra.pipeline.outputs"
        if not isinstance(data, dict) or data.get("kind") not in KINDS:
            raise PretrainedFormatError(f"{where} must be an object whose 'kind' is one of {KINDS}", path=source)
        tasks, classes = data.get("tasks"), data.get("classes", [])
        if not isinstance(tasks, list) or not 0 < len(tasks) <= MAX_OUTPUTS or not all(_is_task(t) for t in tasks):
            raise PretrainedFormatError(f"{where}.tasks must be a non-empty list of {{name, unit}} objects",
                                        path=source)
        if not isinstance(classes, list) or len(classes) > MAX_OUTPUTS or not all(isinstance(c, str) for c in classes):
            raise PretrainedFormatError(f"{where}.classes must be a list of strings", path=source)
        try:
            return cls(data["kind"], tuple(Task(t["name"], t.get("unit", "")) for t in tasks), tuple(classes))
        except ValueError as err:
            raise PretrainedFormatError(f"{where}: {err}", path=source) from err


def _is_task(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("unit", ""), str)


def infer(model: Any) -> OutputContract | None:
    """The contract a model's own attributes imply, or None when they say nothing."""
    estimator = getattr(model, "model", None)
    if type(model).__name__ == "SklearnModel" and estimator is not None:
        return _infer_sklearn(estimator)
    n_tasks = getattr(model, "n_tasks", None)
    if not isinstance(n_tasks, int) or n_tasks < 1:
        return None
    names = [f"task {i}" for i in range(n_tasks)]
    mode = getattr(model, "mode", None)
    n_classes = getattr(model, "n_classes", None)
    if mode == "classification" or (mode is None and isinstance(n_classes, int)):
        return OutputContract.classification(names, classes=[f"class {i}" for i in range(n_classes or 2)])
    return OutputContract.regression(names)


def _infer_sklearn(estimator: Any) -> OutputContract | None:
    from sklearn.base import is_classifier

    n_outputs = int(getattr(estimator, "n_outputs_", 1) or 1)
    names = [f"task {i}" for i in range(n_outputs)]
    if is_classifier(estimator):
        classes = getattr(estimator, "classes_", None)
        if classes is None or n_outputs != 1:
            return None
        return OutputContract.classification(names, classes=[str(c) for c in classes])
    return OutputContract.regression(names)


__all__ = ["OutputContract", "Task", "infer"]
