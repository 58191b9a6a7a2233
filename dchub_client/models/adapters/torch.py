"""Adapter for DeepChem's ``TorchModel`` and its subclasses.

Weight names: ``<model class, lower-case>-<dotted module path>-<i>`` where ``i`` counts the
module's own parameters, then its persistent buffers (e.g. BatchNorm running statistics), then
tensors held as plain attributes, in registration order. The root module's own variables use
the layer name ``root``.
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from dchub_client.errors import InvalidWeightNameError, UnsupportedModelError
from dchub_client.format import layout
from dchub_client.format.pretrained import WeightEntry, WeightReader, validate_weight_name
from dchub_client.models import dependencies
from dchub_client.models.adapters.base import Adapter, WeightSpec
from dchub_client.models.recording import split_varargs

ROOT_LAYER = "root"
_TORCH_MODEL = "deepchem.models.torch_models.torch_model.TorchModel"
#: Parameters that DeepChem uses as input slots, overwritten with each batch by ``forward`` and never
#: trained: they hold data, not weights, so they are not saved (DeepChem's torch GAN keeps the last batch's
#: noise in ``noise_input``, whose shape then depends on that batch). ``{module class: attribute names}``.
INPUT_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "deepchem.models.torch_models.gan.GAN": frozenset({"noise_input"}),
}


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:
        raise dependencies.missing("torch", "this model") from err
    return torch


def variables(module: Any, prefix: str, *, lazy: bool = False) -> dict[str, tuple[str, Any]]:
    """``{dchub name: (state_dict key, tensor)}`` for a ``torch.nn.Module``, in a stable order.

    Uninitialized parameters of lazy modules (``nn.LazyLinear`` before its first forward pass)
    keep their index but are left out, unless *lazy*.
    """
    found: dict[str, tuple[str, Any]] = {}
    keys: dict[str, str] = {}  # every name, lazy or not, so that a clash never depends on training
    for path, sub in module.named_modules():
        for i, (attr, tensor) in enumerate(_own_tensors(sub)):
            name = validate_weight_name(f"{prefix}-{path or ROOT_LAYER}-{i}")
            key = f"{path}.{attr}" if path else attr
            _check_unique(name, key, keys)
            if _is_uninitialized(tensor) and not lazy:
                continue
            found[name] = (key, tensor)
    return found


def _check_unique(name: str, key: str, keys: dict[str, str]) -> None:
    """Record that *key* is called *name*; two tensors with one name would overwrite each other."""
    if name in keys:
        raise InvalidWeightNameError(
            f"weight name {name!r} is given to both {keys[name]!r} and {key!r}: the root module's own "
            f"tensors use the layer name {ROOT_LAYER!r}, so rename the submodule called {ROOT_LAYER!r}")
    keys[name] = key


def _own_tensors(module: Any) -> list[tuple[str, Any]]:
    """A module's parameters, persistent buffers, then plain tensor attributes, in registration order.

    Plain tensor attributes are state too: some DeepChem layers (``WeaveLayer``'s ``W_AA``...) keep
    weights that way, outside ``state_dict``, so DeepChem's own checkpoints lose them. Private
    attributes and results of a computation (``grad_fn`` set) are activations cached by a forward
    pass (``SeqToSeq._embedding``), not state, and are left out.
    """
    torch = _torch()
    skip = _placeholders(type(module))
    own = [(n, p) for n, p in module._parameters.items() if p is not None and n not in skip]
    own += [(n, b) for n, b in module._buffers.items()
            if b is not None and n not in module._non_persistent_buffers_set]
    own += [(n, t) for n, t in vars(module).items()
            if isinstance(t, torch.Tensor) and not n.startswith("_") and t.grad_fn is None]
    return own


def _placeholders(cls: type) -> frozenset[str]:
    names = [INPUT_PLACEHOLDERS.get(f"{c.__module__}.{c.__qualname__}", frozenset()) for c in cls.__mro__]
    return frozenset().union(*names)


def _is_uninitialized(tensor: Any) -> bool:
    from torch.nn.parameter import UninitializedTensorMixin

    return isinstance(tensor, UninitializedTensorMixin)


def to_numpy(tensor: Any) -> np.ndarray:
    """A numpy view (no copy on CPU) of a tensor's data."""
    torch = _torch()
    data = tensor.detach()
    if data.dtype == torch.bfloat16:
        raise UnsupportedModelError("bfloat16 weights are not supported by format 1.0; convert to float32")
    return data.cpu().numpy()


class TorchAdapter(Adapter):
    """DeepChem ``TorchModel``s: the weights are those of ``model.model`` (an ``nn.Module``)."""

    framework = "torch"
    base_classes = (_TORCH_MODEL,)

    def _variables(self, model: Any) -> dict[str, tuple[str, Any]]:
        return variables(model.model, self.model_name(model))

    def prepare(self, model: Any, *, extra: Mapping[str, Any], weights: Mapping[str, WeightEntry],
                source: Path) -> None:
        """Materialize lazy parameters that the stored model had initialized, with the stored shapes."""
        torch = _torch()
        for name, (_key, tensor) in variables(model.model, self.model_name(model), lazy=True).items():
            if name in weights and _is_uninitialized(tensor):
                tensor.materialize(weights[name].shape, dtype=getattr(torch, weights[name].dtype.name))

    def specs(self, model: Any) -> dict[str, WeightSpec]:
        return {name: WeightSpec(key, tuple(t.shape), to_numpy(t).dtype)
                for name, (key, t) in self._variables(model).items()}

    def read(self, model: Any) -> Iterator[tuple[str, str, np.ndarray]]:
        for name, (key, tensor) in self._variables(model).items():
            yield name, key, to_numpy(tensor)

    def build(self, cls: type, parameters: dict[str, Any]) -> Any:
        """Construct without random initialization (every weight is overwritten right after), then
        set up the optimizer and global step as DeepChem's own ``restore()`` does."""
        args, kwargs = split_varargs(parameters)
        with skip_init():
            model = cls(*args, **kwargs)
        model._ensure_built()
        return model

    def assign(self, model: Any, values: Mapping[str, Any]) -> None:
        torch = _torch()
        live = self._variables(model)

        def fill(name: str) -> None:
            tensor, value = live[name][1], values[name]
            with torch.no_grad():
                if tensor.device.type == "cpu" and tensor.is_contiguous():
                    _fill(tensor.detach().numpy(), value)
                else:
                    tensor.copy_(torch.from_numpy(_as_array(value)))

        # Reading and hashing release the GIL: large folders load on every core.
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for future in [pool.submit(fill, name) for name in values]:
                future.result()

    def versions(self) -> dict[str, str]:
        return {"torch": _torch().__version__.split("+")[0]}

    def save_training_state(self, model: Any) -> tuple[dict[str, Any], list[tuple[str, str, np.ndarray]]]:
        """The optimizer (and learning-rate schedule) of ``fit``, those DeepChem creates for ``fit(variables=...)``
        (e.g. one per task in ``ProgressiveMultitaskModel``), and the global step."""
        model._ensure_built()
        arrays: list[tuple[str, str, np.ndarray]] = []
        state: dict[str, Any] = {"global_step": int(model._global_step)}
        state.update(_optimizer_state(model._pytorch_optimizer, model._lr_schedule, "optimizer", arrays))
        names = {id(tensor): name for name, (_key, tensor) in self._variables(model).items()}
        subsets = []
        for i, (params, (optimizer, schedule)) in enumerate(getattr(model, "_optimizer_for_vars", {}).items()):
            if not all(id(p) in names for p in params):
                raise UnsupportedModelError(f"{type(model).__name__}: an optimizer of fit(variables=...) trains "
                                            "tensors that are not weights of the model; its state cannot be saved")
            subset = _optimizer_state(optimizer, schedule, f"optimizer{i + 1}", arrays)
            subsets.append({"weights": [names[id(p)] for p in params], **subset})
        if subsets:
            state["variable_optimizers"] = subsets
        return state, arrays

    def load_training_state(self, model: Any, data: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        torch = _torch()
        model._ensure_built()
        _load_optimizer_state(model._pytorch_optimizer, model._lr_schedule, data, arrays, torch)
        live = self._variables(model)
        for subset in data.get("variable_optimizers", []):
            params = tuple(live[name][1] for name in subset["weights"])
            optimizer = model.optimizer._create_pytorch_optimizer(list(params))
            schedule = _schedule_for(model, optimizer)
            _load_optimizer_state(optimizer, schedule, subset, arrays, torch)
            model._optimizer_for_vars[params] = (optimizer, schedule)
        model._global_step = int(data["global_step"])


def _schedule_for(model: Any, optimizer: Any) -> Any:
    """The learning-rate schedule DeepChem creates for an optimizer (``TorchModel.fit_generator``)."""
    from deepchem.models.optimizers import LearningRateSchedule

    rate = model.optimizer.learning_rate
    return rate._create_pytorch_schedule(optimizer) if isinstance(rate, LearningRateSchedule) else None


def _optimizer_state(optimizer: Any, schedule: Any, path: str, arrays: list) -> dict[str, Any]:
    state = {"optimizer": _tensors_to_refs(optimizer.state_dict(), path, arrays)}
    if schedule is not None:
        state["lr_schedule"] = _tensors_to_refs(schedule.state_dict(), f"{path}-schedule", arrays)
    return state


def _load_optimizer_state(optimizer: Any, schedule: Any, data: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                          torch: Any) -> None:
    optimizer.load_state_dict(_int_keys(_refs_to_tensors(data["optimizer"], arrays, torch)))
    if schedule is not None and "lr_schedule" in data:
        schedule.load_state_dict(_refs_to_tensors(data["lr_schedule"], arrays, torch))


_SKIP_INIT_LOCK = threading.Lock()
_SKIPPING = threading.local()  # .depth: nesting level of skip_init() on this thread


@contextlib.contextmanager
def skip_init() -> Iterator[None]:
    """Make ``torch.nn.init``'s in-place initializers no-ops on this thread while a model is built.

    Random initialization of a large model costs more than reading its weights; the loader
    overwrites every parameter and persistent buffer afterwards (and checks that it did).
    Other threads keep initializing normally. Re-entrant.
    """
    _install_init_wrappers()
    _SKIPPING.depth = getattr(_SKIPPING, "depth", 0) + 1
    try:
        yield
    finally:
        _SKIPPING.depth -= 1


def _install_init_wrappers() -> None:
    """Replace, once per process, each in-place initializer of ``torch.nn.init`` with a wrapper
    that does nothing on a thread inside :func:`skip_init` and calls the real function otherwise."""
    init = _torch().nn.init
    with _SKIP_INIT_LOCK:
        for name in dir(init):
            fn = getattr(init, name)
            if (name.endswith("_") and not name.startswith("_") and callable(fn)
                    and not getattr(fn, "_dchub_skippable", False)):
                setattr(init, name, _skippable(fn))


def _skippable(fn: Any) -> Any:
    @functools.wraps(fn)
    def initializer(*args: Any, **kwargs: Any) -> Any:
        if getattr(_SKIPPING, "depth", 0):
            return args[0] if args else kwargs.get("tensor")
        return fn(*args, **kwargs)

    initializer._dchub_skippable = True  # type: ignore[attr-defined]
    return initializer


def _fill(target: np.ndarray, value: Any) -> None:
    if isinstance(value, WeightReader):
        value.read_into(target)
    else:
        np.copyto(target, np.asarray(value), casting="same_kind")


def _as_array(value: Any) -> np.ndarray:
    return np.array(value.load() if isinstance(value, WeightReader) else value, copy=True)


# --- optimizer state: nested dicts of tensors <-> JSON + named arrays ---------------------------


def _tensors_to_refs(obj: Any, path: str, arrays: list) -> Any:
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        name = validate_weight_name(path)
        arrays.append((name, path, to_numpy(obj).copy()))
        return {layout.TAG: "weight", "name": name}
    if isinstance(obj, dict):
        return {layout.TAG: "dict", "items": [[k, _tensors_to_refs(v, f"{path}-{k}", arrays)]
                                              for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_tensors_to_refs(v, f"{path}-{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, float) and not np.isfinite(obj):
        return {layout.TAG: "float", "value": repr(obj)}
    return obj


def _refs_to_tensors(obj: Any, arrays: Mapping[str, np.ndarray], torch: Any) -> Any:
    if isinstance(obj, list):
        return [_refs_to_tensors(v, arrays, torch) for v in obj]
    if not isinstance(obj, dict):
        return obj
    tag = obj.get(layout.TAG)
    if tag == "weight":
        return torch.from_numpy(np.array(arrays[obj["name"]], copy=True))
    if tag == "float":
        return float(obj["value"])
    if tag == "dict":
        return {k: _refs_to_tensors(v, arrays, torch) for k, v in obj["items"]}
    return {k: _refs_to_tensors(v, arrays, torch) for k, v in obj.items()}


def _int_keys(state: dict[str, Any]) -> dict[str, Any]:
    state = dict(state)
    state["state"] = {int(k): v for k, v in state.get("state", {}).items()}
    return state
