"""What the site shows of a model's pipeline and auxiliary arrays, read from ``params.json`` ``extra``.

``extra["pipeline"]`` holds the featurizer (a tagged ``object``: class and arguments) and the fitted
transformers (tagged ``state``); ``extra["auxiliary_weights"]`` lists the weights that are not model
parameters (transformer arrays, optimizer state: ``docs/format.md`` §1). The site counts, charts and
plots only model weights, and lists the auxiliary ones apart, each with what uses it.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dchub_client.format import layout, pretrained
from hubgen.site.values import clip, describe, short_class

#: Keys of ``params.json`` ``extra`` (``docs/format.md`` §1).
PIPELINE_KEY = layout.EXTRA_PIPELINE
AUXILIARY_KEY = layout.EXTRA_AUXILIARY
TRAINING_KEY = "training"
_TAG = layout.TAG
#: Transformer state flags, and what each says the transformer applies to.
_APPLIES = (("transform_X", "X"), ("transform_y", "y"), ("transform_w", "w"))


@dataclass(frozen=True)
class TransformerView:
    """One fitted transformer of the pipeline, in the order it was applied to the training data."""

    class_name: str
    short: str
    applies_to: str


@dataclass(frozen=True)
class PipelineView:
    """The featurizer (class and arguments, or none) and the transformers of a pipeline."""

    featurizer_class: str
    featurizer_short: str
    featurizer_args: tuple[tuple[str, str], ...]
    transformers: tuple[TransformerView, ...]


def auxiliary_names(info: pretrained.PretrainedInfo | None) -> frozenset[str]:
    """The weights ``params.json`` lists as auxiliary (not model parameters)."""
    names = info.extra.get(AUXILIARY_KEY) if info is not None else None
    if not isinstance(names, list):
        return frozenset()
    return frozenset(n for n in names if isinstance(n, str))


def pipeline(info: pretrained.PretrainedInfo | None) -> PipelineView | None:
    """The pipeline stored with the model, or ``None`` when it has none."""
    spec = info.extra.get(PIPELINE_KEY) if info is not None else None
    if not isinstance(spec, dict):
        return None
    featurizer = spec.get("featurizer")
    cls, args = "", ()
    if isinstance(featurizer, dict):
        cls = str(featurizer.get("class", ""))
        kwargs = featurizer.get("kwargs")
        args = tuple((str(k), clip(describe(v))) for k, v in kwargs.items()) if isinstance(kwargs, dict) else ()
    items = spec.get("transformers")
    transformers = tuple(_transformer(t) for t in items if isinstance(t, dict)) if isinstance(items, list) else ()
    return PipelineView(featurizer_class=cls, featurizer_short=short_class(cls), featurizer_args=args,
                        transformers=transformers)


def _transformer(spec: dict[str, Any]) -> TransformerView:
    cls = str(spec.get("class", ""))
    state = spec.get("state") if isinstance(spec.get("state"), dict) else {}
    applies = ", ".join(label for flag, label in _APPLIES if state.get(flag) is True)
    return TransformerView(class_name=cls, short=short_class(cls), applies_to=applies)


def roles(info: pretrained.PretrainedInfo | None) -> dict[str, str]:
    """What uses each auxiliary weight: ``NormalizationTransformer.y_means``, ``training state``."""
    if info is None:
        return {}
    found: dict[str, str] = {}
    spec = info.extra.get(PIPELINE_KEY)
    items = spec.get("transformers") if isinstance(spec, dict) else None
    for transformer in items if isinstance(items, list) else ():
        state = transformer.get("state") if isinstance(transformer, dict) else None
        for attr, value in state.items() if isinstance(state, dict) else ():
            for name in _references(value):
                found.setdefault(name, f"{short_class(str(transformer.get('class', '')))}.{attr}")
    domain = spec.get(layout.PIPELINE_DOMAIN) if isinstance(spec, dict) else None
    for name in _references(domain.get("fingerprints") if isinstance(domain, dict) else None):
        found.setdefault(name, "applicability domain (training-set fingerprints)")
    training = set(_strings(info.extra.get(TRAINING_KEY)))
    for name in auxiliary_names(info):
        if name not in found:
            found[name] = "training state" if name in training else ""
    return found


def _references(value: Any, depth: int = 0) -> Iterator[str]:
    """The weight names referenced (``{"__dchub__": "weight", "name": ...}``) inside *value*."""
    if depth > 32:
        return
    if isinstance(value, dict):
        if value.get(_TAG) == "weight" and isinstance(value.get("name"), str):
            yield value["name"]
            return
        for item in value.values():
            yield from _references(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, depth + 1)


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string inside *value* (a weight named anywhere in the training state belongs to it)."""
    if depth > 32:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth + 1)
