"""``hub_manifest.yaml``: load and validate the hub's source of truth (see ``docs/hub_manifest.md``).

Errors carry the YAML line and the dotted key of the offending value, from yaml's node marks.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dchub_client.errors import HubFormatError
from dchub_client.format import hubfiles
from hubgen.errors import ManifestError

#: Default largest blob: bigger files are stored as parts (GitHub Pages refuses files over 100 MB).
DEFAULT_PART_SIZE = 95 * 1024 * 1024

_TOP_KEYS = {"name", "title", "description", "mirrors", "part_size", "models"}
_MODEL_KEYS = {"name", "version", "path", "recipe", "latest", "card"}
_RECIPE_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
_CARD_STRINGS = ("description", "task", "license", "citation")


@dataclass(frozen=True)
class ModelSpec:
    """One ``models:`` entry: a model version to publish."""

    name: str
    version: str
    path: Path
    recipe: str | None = None
    latest: bool = False
    card: dict[str, Any] = field(default_factory=dict)
    where: str = ""

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class HubSpec:
    """The validated content of ``hub_manifest.yaml``."""

    source: Path
    name: str
    models: tuple[ModelSpec, ...]
    title: str = ""
    description: str = ""
    mirrors: tuple[str, ...] = ()
    part_size: int = DEFAULT_PART_SIZE


def load_hub_manifest(path: str | Path) -> HubSpec:
    """Read and validate ``hub_manifest.yaml``.

    Raises:
        ManifestError: the file is missing, is not YAML, or a key is missing or malformed; the
            message gives ``file:line: key: problem``.

    Example:
        >>> spec = load_hub_manifest("hub_manifest.yaml")  # doctest: +SKIP
        >>> [m.ref for m in spec.models]  # doctest: +SKIP
        ['esol-mtr@1.0.0']
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ManifestError("file not found", path=path) from err
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"cannot read: {err}", path=path) from err
    return _Validator(path).hub(_compose(text, path))


#: libyaml's loader when PyYAML was built with it (10x faster on a hub of thousands of models), else the pure one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str, path: Path) -> yaml.Node:
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        raise ManifestError(f"YAML syntax error: {problem}", path=path,
                            line=mark.line + 1 if mark else None) from err
    except RecursionError as err:  # "[[[[…": the composer recurses once per level
        raise ManifestError("YAML nested too deeply", path=path) from err
    if root is None:
        raise ManifestError("the file is empty", path=path)
    return root


class _Validator:
    """Walks the composed node tree, so every error knows its line and key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._constructor = yaml.SafeLoader("")

    # -- generic helpers --------------------------------------------------------------

    def fail(self, node: yaml.Node | None, key: str | None, message: str) -> ManifestError:
        line = node.start_mark.line + 1 if node is not None else None
        return ManifestError(message, path=self.path, line=line, key=key)

    def mapping(self, node: yaml.Node, key: str | None, allowed: set[str]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, "must be a mapping (key: value lines)")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for knode, vnode in node.value:
            name = self.value(knode)
            sub = f"{key}.{name}" if key else str(name)
            if not isinstance(name, str):
                raise self.fail(knode, sub, "keys must be strings")
            if name in out:
                raise self.fail(knode, sub, f"duplicate key (first on line {out[name][0].start_mark.line + 1})")
            if allowed and name not in allowed:
                raise self.fail(knode, sub, f"unknown key; expected one of {', '.join(sorted(allowed))}")
            out[name] = (knode, vnode)
        return out

    def value(self, node: yaml.Node, key: str | None = None) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as err:  # e.g. an unknown !tag
            raise self.fail(node, key, f"unreadable value: {getattr(err, 'problem', None) or err}") from err
        except RecursionError as err:
            raise self.fail(node, key, "value nested too deeply") from err

    def string(self, node: yaml.Node, key: str, *, raw: bool = False) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, key, "must be a string")
        value = node.value if raw else self.value(node)
        if not isinstance(value, str):
            raise self.fail(node, key, f"must be a string, got {type(value).__name__}; quote it")
        return value

    def checked(self, func: Any, node: yaml.Node, key: str, *args: Any) -> Any:
        try:
            return func(*args)
        except HubFormatError as err:
            raise self.fail(node, key, str(err)) from err

    # -- the schema -------------------------------------------------------------------

    def hub(self, root: yaml.Node) -> HubSpec:
        top = self.mapping(root, None, _TOP_KEYS)
        for required in ("name", "models"):
            if required not in top:
                raise self.fail(root, required, "missing required key")
        name_node = top["name"][1]
        name = self.checked(hubfiles.validate_name, name_node, "name",
                            self.string(name_node, "name"), "hub name")
        models = self.models(top["models"][1])
        return HubSpec(source=self.path, name=name, models=models,
                       title=self.optional_string(top, "title", None),
                       description=self.optional_string(top, "description", None),
                       mirrors=self.mirrors(top.get("mirrors")), part_size=self.part_size(top.get("part_size")))

    def optional_string(self, mapping: dict[str, Any], key: str, parent: str | None) -> str:
        if key not in mapping:
            return ""
        return self.string(mapping[key][1], f"{parent}.{key}" if parent else key)

    def mirrors(self, pair: tuple[yaml.Node, yaml.Node] | None) -> tuple[str, ...]:
        if pair is None:
            return ()
        node = pair[1]
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "mirrors", "must be a list of URLs")
        urls = []
        for i, item in enumerate(node.value):
            url = self.string(item, f"mirrors[{i}]")
            if not re.match(r"^(https?|file)://\S+$", url):
                raise self.fail(item, f"mirrors[{i}]", f"{url!r} is not an http(s):// or file:// URL")
            urls.append(url)
        return tuple(urls)

    def part_size(self, pair: tuple[yaml.Node, yaml.Node] | None) -> int:
        if pair is None:
            return DEFAULT_PART_SIZE
        value = self.value(pair[1])
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(pair[1], "part_size", f"must be a positive number of bytes, got {value!r}")
        return value

    def models(self, node: yaml.Node) -> tuple[ModelSpec, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "models", "must be a list of models")
        specs = [self.model(item, f"models[{i}]") for i, item in enumerate(node.value)]
        self.check_unique(specs, node.value)
        return tuple(specs)

    def model(self, node: yaml.Node, key: str) -> ModelSpec:
        fields = self.mapping(node, key, _MODEL_KEYS)
        for required in ("name", "version"):
            if required not in fields:
                raise self.fail(node, f"{key}.{required}", "missing required key")
        if "path" not in fields and "recipe" not in fields:
            raise self.fail(node, f"{key}.path", "missing required key (give 'path', and 'recipe' to produce it)")
        name_node, version_node = fields["name"][1], fields["version"][1]
        name = self.checked(hubfiles.validate_name, name_node, f"{key}.name", self.string(name_node, f"{key}.name"))
        # the raw scalar text, so that ``version: 1.10`` stays "1.10" instead of the float 1.1
        version = self.checked(hubfiles.validate_version, version_node, f"{key}.version",
                               self.string(version_node, f"{key}.version", raw=True))
        return ModelSpec(name=name, version=version, path=self.model_path(fields, key, name, version),
                         recipe=self.recipe(fields.get("recipe"), key), latest=self.latest(fields.get("latest"), key),
                         card=self.card(fields.get("card"), key),
                         where=f"{self.path}:{node.start_mark.line + 1}: {key} ({name}@{version})")

    def model_path(self, fields: dict[str, Any], key: str, name: str, version: str) -> Path:
        if "path" not in fields:
            return (self.path.parent / "models" / name / version).resolve()
        node = fields["path"][1]
        text = self.string(node, f"{key}.path")
        if not text.strip():
            raise self.fail(node, f"{key}.path", "must not be empty")
        return (self.path.parent / Path(text).expanduser()).resolve()

    def recipe(self, pair: tuple[yaml.Node, yaml.Node] | None, key: str) -> str | None:
        if pair is None:
            return None
        text = self.string(pair[1], f"{key}.recipe")
        if not _RECIPE_RE.match(text):
            raise self.fail(pair[1], f"{key}.recipe", f"{text!r} must look like 'package.module:function'")
        return text

    def latest(self, pair: tuple[yaml.Node, yaml.Node] | None, key: str) -> bool:
        if pair is None:
            return False
        value = self.value(pair[1])
        if not isinstance(value, bool):
            raise self.fail(pair[1], f"{key}.latest", f"must be true or false, got {value!r}")
        return value

    def card(self, pair: tuple[yaml.Node, yaml.Node] | None, key: str) -> dict[str, Any]:
        if pair is None:
            return {}
        fields = self.mapping(pair[1], f"{key}.card", set())
        card: dict[str, Any] = {}
        for name, (knode, vnode) in fields.items():
            sub = f"{key}.card.{name}"
            value = self.value(vnode)
            if name in _CARD_STRINGS and not isinstance(value, str):
                raise self.fail(vnode, sub, f"must be a string, got {type(value).__name__}")
            if name == "tags" and not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
                raise self.fail(vnode, sub, "must be a list of strings")
            self.check_json(value, vnode, sub)
            card[name] = value
        return card

    def check_json(self, value: Any, node: yaml.Node, key: str) -> None:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise self.fail(node, key, f"not representable in JSON ({err}); quote dates and similar values") from err

    def check_unique(self, specs: list[ModelSpec], nodes: list[yaml.Node]) -> None:
        seen: dict[tuple[str, str], int] = {}
        latest: dict[str, int] = {}
        for i, spec in enumerate(specs):
            line = nodes[i].start_mark.line + 1
            ref = (spec.name, spec.version)
            if ref in seen:
                raise self.fail(nodes[i], f"models[{i}]", f"duplicate model version {spec.ref} (first on line "
                                f"{seen[ref]})")
            seen[ref] = line
            if spec.latest and spec.name in latest:
                raise self.fail(nodes[i], f"models[{i}].latest", f"model {spec.name!r} already has 'latest: true' "
                                f"on line {latest[spec.name]}")
            if spec.latest:
                latest[spec.name] = line
