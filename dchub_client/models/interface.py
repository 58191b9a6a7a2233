"""The weights interface: one set of functions for every supported model.

``get_weights``, ``get_weight``, ``set_weight``, ``get_parameters``, ``to_pretrained`` and
``from_pretrained`` work on any DeepChem model (through its adapter) and on any class that
implements :class:`Model`. Importing :mod:`dchub_client` also attaches them as methods to
DeepChem's ``Model`` (see :mod:`dchub_client.models.deepchem_hooks`).
"""
from __future__ import annotations

import abc
import contextlib
import difflib
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from dchub_client import quiet
from dchub_client.errors import (
    ChecksumError,
    MissingDependencyError,
    ModelClassMismatchError,
    ParameterEncodingError,
    PretrainedFormatError,
    UnknownWeightError,
    WeightFileError,
    WeightMismatchError,
)
from dchub_client.format import layout, pretrained, stamps
from dchub_client.format.card import Card, parse_card
from dchub_client.hub.resolve import resolve_pretrained
from dchub_client.models import adapters, dependencies, encoding, introspection, netguard, pipeline_codec
from dchub_client.models.allowlist import registry

logger = logging.getLogger(__name__)


class Model(abc.ABC):
    """The dchub model interface.

    DeepChem's models satisfy it through adapters (``isinstance(dc_model, dchub_client.Model)``
    is true once :mod:`dchub_client` is imported). A class of your own can implement the three
    abstract methods, register itself with :func:`dchub_client.register_class`, and gets
    ``to_pretrained``, ``from_pretrained`` and ``model[name]`` for free.
    """

    @abc.abstractmethod
    def get_weights(self) -> dict[str, np.ndarray]:
        """Every weight by name (``model_name-layer_name-i``), as numpy arrays."""

    @abc.abstractmethod
    def set_weight(self, name: str, value: Any) -> None:
        """Replace one weight's values (same shape, compatible dtype)."""

    @abc.abstractmethod
    def get_parameters(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model."""

    def to_pretrained(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Save to a pretrained folder; see :func:`dchub_client.to_pretrained`."""
        return to_pretrained(self, path, **options)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str], **options: Any) -> Any:
        """Load a pretrained folder or hub model of this class; see :func:`dchub_client.from_pretrained`."""
        return from_pretrained(name_or_path, expected_class=cls, **options)

    def __getitem__(self, name: str) -> np.ndarray:
        return get_weight(self, name)

    def __setitem__(self, name: str, value: Any) -> None:
        self.set_weight(name, value)


# --- reading and writing weights ----------------------------------------------------------------


def get_weights(model: Any) -> dict[str, np.ndarray]:
    """Every weight of *model* by name, as numpy arrays (copies, safe to modify).

    Example:
        >>> weights = dchub_client.get_weights(model)  # doctest: +SKIP
        >>> weights["multitaskregressor-layers.0-0"].shape  # doctest: +SKIP
        (1000, 1024)
    """
    adapter = adapters.for_model(model)
    if adapter.framework == "native":
        return type(model).get_weights(model)
    return {name: np.array(array, copy=True) for name, _key, array in adapter.read(model)}


def get_weight(model: Any, name: str) -> np.ndarray:
    """One weight of *model* by name (a copy); raises :class:`UnknownWeightError` with suggestions."""
    adapter = adapters.for_model(model)
    _check_name(adapter.specs(model), name, model)
    for found, _key, array in adapter.read(model):
        if found == name:
            return np.array(array, copy=True)
    raise AssertionError("unreachable: specs and read disagree")  # pragma: no cover


def set_weight(model: Any, name: str, value: Any) -> None:
    """Set one weight of *model*.

    The name must exist (close names are suggested), the shape must match, and the dtype must be
    castable within its kind (e.g. float64 to float32, not float to int).

    Raises:
        UnknownWeightError: no weight of that name.
        WeightMismatchError: wrong shape or dtype.
    """
    adapter = adapters.for_model(model)
    specs = adapter.specs(model)
    _check_name(specs, name, model)
    value = _check_value(specs[name], name, value)
    adapter.assign(model, {name: value})


def _check_name(specs: Mapping[str, Any], name: str, model: Any) -> None:
    if name not in specs:
        close = difflib.get_close_matches(str(name), list(specs), n=3, cutoff=0.6)
        raise UnknownWeightError(str(name), type(model).__name__, close)


def _check_value(spec: adapters.WeightSpec, name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != spec.shape:
        raise WeightMismatchError(f"weight {name!r} has shape {spec.shape}, got a value of shape {array.shape}")
    if array.dtype != spec.dtype and not np.can_cast(array.dtype, spec.dtype, casting="same_kind"):
        raise WeightMismatchError(f"weight {name!r} has dtype {spec.dtype}, got {array.dtype} "
                                  "(cast it explicitly if that is what you want)")
    return array.astype(spec.dtype, copy=False)


def get_parameters(model: Any) -> dict[str, Any]:
    """The constructor arguments of *model* (those of its outermost constructor call, without ``model_dir``)."""
    adapter = adapters.for_model(model)
    if adapter.framework == "native":
        return dict(type(model).get_parameters(model))
    return adapter.parameters(model)


# --- saving ---------------------------------------------------------------------------------------


def to_pretrained(model: Any, path: str | os.PathLike[str], *, overwrite: bool = False,
                  include_optimizer: bool = False, files: Mapping[str, bytes] | None = None,
                  featurizer: Any = None, transformers: Sequence[Any] | None = None,
                  outputs: Any = None, domain: Any = None, card: Any = None) -> Path:
    """Save *model* as a pretrained folder: ``params.json`` plus one ``.npy`` per weight.

    Args:
        model: a DeepChem model, or an instance of a class implementing :class:`Model`.
        path: the folder to create (atomically). An existing non-empty folder is refused
            unless *overwrite*.
        include_optimizer: also save the optimizer state and global step, so training resumes.
        files: extra small files to place in the folder (e.g. ``{"README.md": card_bytes}``).
        featurizer: the DeepChem featurizer the model was trained on (stored as class + arguments;
            see :func:`dchub_client.load_pipeline`).
        transformers: the fitted DeepChem transformers of the training data, in the order applied;
            their arrays are stored as auxiliary weights.
        outputs: the pipeline's :class:`~dchub_client.OutputContract` (task names, units, classes);
            without it, ``load_pipeline`` infers one from the model.
        domain: an :class:`~dchub_client.ApplicabilityDomain` (the training set's fingerprints,
            stored as an auxiliary weight, and the similarity threshold).
        card: a model card (:class:`dchub_client.format.card.Card` or Markdown text), written as ``README.md``.

    Returns:
        The folder's path.

    Raises:
        ParameterEncodingError: a constructor argument cannot be stored; the message names it.

    Example:
        >>> dchub_client.to_pretrained(model, "out/esol")  # doctest: +SKIP
    """
    adapter = adapters.for_model(model)
    _check_class_loadable(type(model))
    parameters = encoding.encode_parameters(get_parameters(model))
    weights: Any = iter(()) if adapter.composite else adapter.read(model)
    members = {folder: _member_writer(member, include_optimizer) for folder, member in adapter.members(model)}
    extra: dict[str, Any] = dict(adapter.extra(model))
    auxiliary: list[str] = []
    if include_optimizer:
        state, arrays = adapter.save_training_state(model)
        extra[layout.EXTRA_TRAINING] = state
        auxiliary += [name for name, _, _ in arrays]
        weights = chain(weights, arrays)
    if featurizer is not None or transformers or outputs is not None or domain is not None:
        extra[layout.EXTRA_PIPELINE], arrays = pipeline_codec.encode_pipeline(featurizer, list(transformers or ()),
                                                                              outputs=outputs, domain=domain)
        auxiliary += [name for name, _, _ in arrays]
        weights = chain(weights, arrays)
    if auxiliary:
        extra[layout.EXTRA_AUXILIARY] = auxiliary
    files = _with_card(files, card)
    pretrained.write_pretrained(path, class_name=adapter.class_name(model), framework=adapter.framework,
                                parameters=parameters, weights=weights, versions=_versions(adapter),
                                extra=extra, files=files, subfolders=members, overwrite=overwrite)
    logger.info("saved %s to %s", type(model).__name__, path)
    return Path(path)


def _member_writer(member: Any, include_optimizer: bool) -> Any:
    return lambda folder: to_pretrained(member, folder, include_optimizer=include_optimizer)


def _with_card(files: Mapping[str, bytes] | None, card: Any) -> Mapping[str, bytes] | None:
    if card is None:
        return files
    data = card.to_bytes() if isinstance(card, Card) else parse_card(str(card), source="card").to_bytes()
    return {**(files or {}), layout.CARD_FILE: data}


def _check_class_loadable(cls: type) -> None:
    introspection.check_importable(cls, "<class>")
    if not registry.is_allowed(cls, "class"):
        raise ParameterEncodingError(
            "<class>", f"{registry.qualified_name(cls)} could not be loaded back: it is not on the allowlist; "
                       f"call dchub_client.register_class({cls.__name__})")


def _versions(adapter: adapters.Adapter) -> dict[str, str]:
    from dchub_client import __version__  # the package's __init__ imports this module: read it at call time

    versions = {"dchub": __version__, "numpy": np.__version__}
    if "deepchem" in sys.modules:
        versions["deepchem"] = getattr(sys.modules["deepchem"], "__version__", "unknown")
    versions.update(adapter.versions())
    return versions


# --- loading --------------------------------------------------------------------------------------


def from_pretrained(name_or_path: str | os.PathLike[str], *, expected_class: type | None = None,
                    verify: bool | None = None, refresh: bool = False, **overrides: Any) -> Any:
    """Load a model from a pretrained folder or a hub, without repeating its constructor arguments.

    Args:
        name_or_path: a folder (an existing path always wins), or a hub model ``name`` /
            ``name@version`` looked up in ``DEEPCHEM_MODEL_HUB``.
        expected_class: refuse a folder whose class is not this class or a subclass of it.
        verify: check every weight's sha256: True hashes every byte now, False none. Default: the hub
            cache's files were verified when they entered it; a folder given by path has each weight
            hashed unless it was verified before and has not changed since (its device, inode, size,
            mtime and ctime, noted in the user's cache: :mod:`dchub_client.format.stamps`).
        refresh: fetch the hub index again even if the cached one is recent.
        **overrides: constructor arguments to change (e.g. ``model_dir=``, ``batch_size=``).

    Returns:
        The model, with every weight set to the stored values. Loading prints nothing: what DeepChem,
        TensorFlow and RDKit print meanwhile is silenced (shown with ``DCHUB_DEBUG=1``, and shown
        anyway when the load fails), as in :func:`dchub_client.load_pipeline`.

    Raises:
        PretrainedFormatError: the folder is malformed (the message names the file and problem).
        UntrustedClassError: ``params.json`` names a class that is not on the allowlist.
        NetworkAccessError: building the model tried to use the network (an ``UntrustedClassError``);
            only fetching from the hub's mirrors does.
        ModelClassMismatchError: the folder holds a class unrelated to *expected_class*.

    Example:
        >>> model = dchub_client.from_pretrained("out/esol")  # doctest: +SKIP
    """
    folder, verified = locate(name_or_path, refresh=refresh)
    info = pretrained.read_params(folder)
    check, notes = checks(folder, verified=verified, verify=verify)
    # quiet as load_pipeline: the frameworks' chatter only when asked for
    with quiet.frameworks_quiet(native=True), how_to_repair(name_or_path, verified=verified):
        model = build_from_folder(folder, info, verify=check, notes=notes, expected_class=expected_class,
                                  **overrides)
    if notes is not None:
        notes.save()
    return model


def checks(folder: Path, *, verified: bool, verify: bool | None) -> tuple[bool, stamps.Stamps | None]:
    """Whether to hash the weights of *folder* (which the hub cache *verified*, or not) as the caller's
    *verify* asks, and the notes of files verified before that may spare it (a folder given by path,
    by default)."""
    if verify is None and not verified:
        return True, stamps.Stamps.of(folder)
    return (not verified) if verify is None else verify, None


@contextlib.contextmanager
def how_to_repair(name_or_path: str | os.PathLike[str], *, verified: bool) -> Iterator[None]:
    """A corrupt file of the hub cache's copy (found with ``verify=True``): the error says how to fetch it again."""
    try:
        yield
    except ChecksumError as err:
        if verified:
            name = os.fspath(name_or_path)
            err.add_note(f"this is the hub cache's copy of {name}: `dchub pull --verify {name}` (or "
                         f"dchub_client.download({name!r}, verify=True)) fetches its corrupt files again")
        raise


def locate(name_or_path: str | os.PathLike[str], *, refresh: bool = False) -> tuple[Path, bool]:
    """The local folder for *name_or_path*, and whether the hub cache verified its bytes.

    An existing path always wins; anything else is a hub name handed to
    :func:`dchub_client.hub.resolve.resolve_pretrained`. This is the models layer's one call
    into the hub client.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path, False
    resolved = resolve_pretrained(os.fspath(name_or_path), refresh=refresh)
    return resolved.path, resolved.verified


def build_from_folder(folder: Path, info: pretrained.PretrainedInfo, *, verify: bool,
                      notes: stamps.Stamps | None = None, expected_class: type | None = None,
                      **overrides: Any) -> Any:
    """Build the model a pretrained *folder* holds (its ``params.json`` already read as *info*).

    Args:
        folder: the pretrained folder.
        info: :func:`dchub_client.format.pretrained.read_params` of it.
        verify: check every weight's sha256 while reading it.
        notes: with *verify*, the notes of files verified before (not hashed again), to which the
            files hashed now are added; the caller saves them.
        expected_class: refuse a folder whose class is not this class or a subclass of it.
        **overrides: constructor arguments to change.

    Nothing here touches the network: the whole build runs under :func:`netguard.no_network`.

    Raises:
        PretrainedFormatError, UntrustedClassError, ModelClassMismatchError: as :func:`from_pretrained`.
        NetworkAccessError: building the model (or an object among its arguments) tried to use the network.
    """
    source = folder / layout.PARAMS_FILE
    with netguard.no_network(info.class_name, source=source):
        return _build_from_folder(folder, info, source, verify=verify, notes=notes,
                                  expected_class=expected_class, overrides=overrides)


def _build_from_folder(folder: Path, info: pretrained.PretrainedInfo, source: Path, *, verify: bool,
                       notes: stamps.Stamps | None, expected_class: type | None, overrides: dict[str, Any]) -> Any:
    cls = _model_class(info, source, expected_class)
    adapter = adapters.for_class(cls)
    if info.framework != adapter.framework:
        raise PretrainedFormatError(f"framework {info.framework!r} does not match {cls.__name__}'s "
                                    f"({adapter.framework!r})", path=source)
    pretrained.check_no_extra_files(folder, info)
    readers = {name: pretrained.WeightReader(folder, entry, verify=verify, stamps=notes)
               for name, entry in info.weights.items()}
    parameters = encoding.decode_parameters(info.parameters, source=source)
    model = _build(adapter, cls, {**parameters, **overrides}, source)
    auxiliary = _auxiliary_names(info, source)
    if adapter.composite:  # its weights are its members': folders of their own, checked as this one is
        adapter.load_members(model, extra=info.extra, source=source, verify=None if notes is not None else verify)
    else:
        adapter.prepare(model, extra=info.extra,
                        weights={n: e for n, e in info.weights.items() if n not in auxiliary}, source=source)
        _assign_all(adapter, model, {n: r for n, r in readers.items() if n not in auxiliary}, source)
    if layout.EXTRA_TRAINING in info.extra:
        arrays = {name: readers[name].load() for name in auxiliary}
        adapter.load_training_state(model, info.extra[layout.EXTRA_TRAINING], arrays)
    return model


def _build(adapter: adapters.Adapter, cls: type, parameters: dict[str, Any], source: Path) -> Any:
    try:
        return adapter.build(cls, parameters)
    except MissingDependencyError:
        raise
    except ImportError as err:  # a constructor that needs a package missing here (DeepChem's DGL models)
        dependencies.raise_if_missing(err, f"{source}: {cls.__name__}")
        raise MissingDependencyError(f"{source}: cannot build {cls.__name__}, a package it needs is missing "
                                     f"({err})") from err
    except TypeError as err:  # arguments the constructor does not take (edited file, other version)
        raise PretrainedFormatError(f"cannot build {cls.__name__} from its parameters: {err}", path=source) from err


def _auxiliary_names(info: pretrained.PretrainedInfo, source: Path) -> set[str]:
    names = info.extra.get(layout.EXTRA_AUXILIARY, [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n in info.weights for n in names):
        raise PretrainedFormatError(f"'extra.{layout.EXTRA_AUXILIARY}' must list names of weights in 'weights'",
                                    path=source)
    return set(names)


def _model_class(info: pretrained.PretrainedInfo, source: Path, expected: type | None) -> type:
    cls = registry.resolve(info.class_name, "class", source=source)
    if not isinstance(cls, type):
        raise PretrainedFormatError(f"{info.class_name!r} is not a class", path=source)
    if expected is not None and not issubclass(cls, expected):
        raise ModelClassMismatchError(f"{source}: holds a {info.class_name}, which is not a "
                                      f"{expected.__module__}.{expected.__qualname__}")
    return cls


def _assign_all(adapter: adapters.Adapter, model: Any, readers: Mapping[str, Any], source: Path) -> None:
    specs = adapter.specs(model)
    missing = [n for n in specs if n not in readers]
    extra = [n for n in readers if n not in specs]
    if missing or extra:
        raise WeightFileError(
            f"weights do not match the model built from it: missing {missing[:5]}, unexpected {extra[:5]} "
            "(was the folder written by another version of this class?)", path=source)
    for name, spec in specs.items():
        entry = readers[name].entry
        if entry.shape != spec.shape:
            raise WeightFileError(f"weight {name!r} is {list(entry.shape)} but the model expects "
                                  f"{list(spec.shape)}", path=readers[name].path, weight=name)
        if entry.dtype != spec.dtype and not np.can_cast(entry.dtype, spec.dtype, casting="same_kind"):
            raise WeightFileError(f"weight {name!r} has dtype {entry.dtype}, the model expects {spec.dtype}",
                                  path=readers[name].path, weight=name)
    adapter.assign(model, readers)
