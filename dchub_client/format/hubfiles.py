"""The hub format: ``index.json`` and model manifests (see ``docs/format.md`` section 2).

Pure functions, no I/O: callers fetch the bytes (from a folder, a mirror or the cache) and hand
them here. ``hubgen`` writes hubs with the same definitions, so there is one idea of a valid hub.

API (strict JSON decoding is :func:`dchub_client.format.jsonstrict.loads`):
    dumps(obj) -> bytes
        Canonical JSON encoding (sorted keys, indent 1, UTF-8, trailing newline): the bytes hubgen
        writes for manifests (and what index signatures sign), so the same content always hashes the same.
    index_dumps(obj) -> bytes
        The compact encoding of ``index.json`` (sorted keys, no indentation): 10,000 models fit in ~1.5 MB.
    parse_index(data, source) -> Index
        Validate a decoded ``index.json``.
    parse_manifest(data, source, *, name=None, version=None) -> Manifest
        Validate a decoded manifest; with *name*/*version*, also check it is the one expected.
    read_manifest(data, ref, source, *, name=None, version=None) -> Manifest
        Check manifest bytes against the index's sha256 and size, then parse them: the one reader.
    index_to_json(index) / manifest_to_json(manifest) -> dict
        The inverse of the parsers (``parse_index(index_to_json(i)) == i``); an index is always written
        in the current format (2.0: manifest paths that follow from name and version are left out).
    parse_model_entry(name, data, source) / model_entry_to_json(entry) -> ModelEntry / dict
        One model of an index (what a cached index's lookup file stores per line).
    blob_path(sha256) -> str
        ``blobs/sha256/<sha[:2]>/<sha>``, relative to the hub root.
    manifest_path(name, version) -> str
        ``models/<name>/<version>/manifest.json``.
    validate_name(value, what=..., source=None) / validate_version(...) / validate_relpath(...)
        Name, version and in-hub path rules; raise :class:`HubFormatError`.
    check_file_paths(paths, source=None)
        The paths of one manifest form one folder: no duplicates, no file that is also a folder,
        no reserved name (the cache's snapshot marker).
    version_key(version) / latest_version(versions)
        Version ordering: PEP 440 via ``packaging.version`` when every version parses, else strings.

Dataclasses (frozen): :class:`Index` (``models: dict[str, ModelEntry]``), :class:`ModelEntry`
(``latest``, ``versions: dict[str, VersionRef]``), :class:`VersionRef` (``manifest``, ``sha256``,
``size``), :class:`Manifest` (``files: tuple[FileEntry, ...]``), :class:`FileEntry` (``path``,
``sha256``, ``size``, ``parts: tuple[Part, ...]``; ``blobs`` lists what to fetch), :class:`Part`.

Every function raises :class:`dchub_client.errors.HubFormatError` (a ``ValueError``) naming the
*source* (a path or URL) and the field at fault.

Example:
    >>> index = parse_index(loads(raw_bytes, "https://hub/index.json"), "https://hub/index.json")  # doctest: +SKIP
    >>> ref = index.models["esol-mtr"].versions[index.models["esol-mtr"].latest]  # doctest: +SKIP
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from dchub_client.errors import HubFormatError, ManifestMismatchError
from dchub_client.format import jsonstrict, layout
from dchub_client.format.hashing import is_sha256, sha256_bytes, shown_pair

if TYPE_CHECKING:
    import datetime

#: Model names and versions: URL- and file-name-safe, at most this long.
MAX_NAME_LENGTH = 100
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,%d}$" % (MAX_NAME_LENGTH - 1))
#: A path inside a manifest or the hub: at most this long, each component at most MAX_COMPONENT_BYTES (UTF-8).
MAX_PATH_LENGTH = 1024
MAX_COMPONENT_BYTES = 255
#: Control characters (NUL, newline, DEL, ...): never in a path (nor lone surrogates: :func:`_forbidden_chars`).
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f]")


# --- names and paths ---------------------------------------------------------------------


def validate_name(value: object, what: str = "model name", source: str | None = None) -> str:
    """Return *value* if it is a valid hub name (``[A-Za-z0-9][A-Za-z0-9._-]*``, <= 100 chars)."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value) or ".." in value:
        raise HubFormatError(
            f"invalid {what} {value!r}: use 1-{MAX_NAME_LENGTH} characters from A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit (no path separators, spaces or '..')", source=source)
    return value


def validate_version(value: object, source: str | None = None) -> str:
    """Return *value* if it is a valid version string (same rules as names)."""
    return validate_name(value, "version", source)


def validate_relpath(value: object, source: str | None = None) -> str:
    """Return *value* if it is a relative ``/``-separated path without ``..``, empty or absolute parts."""
    if not isinstance(value, str) or not value or len(value) > MAX_PATH_LENGTH:
        raise HubFormatError(f"invalid path {value!r}: must be a non-empty string", source=source)
    parts = value.split("/")
    if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts) \
            or re.match(r"^[A-Za-z]:", value):
        raise HubFormatError(f"invalid path {value!r}: must be relative, '/'-separated, without '..', '.' "
                             "or empty components", source=source)
    if _forbidden_chars(value):
        raise HubFormatError(f"invalid path {value!r}: control characters (NUL, newline, ...) or lone "
                             "surrogates are not allowed", source=source)
    if any(len(p.encode("utf-8")) > MAX_COMPONENT_BYTES for p in parts):
        raise HubFormatError(f"invalid path {value[:80]!r}...: a component is longer than "
                             f"{MAX_COMPONENT_BYTES} bytes", source=source)
    return value


def _forbidden_chars(value: str) -> bool:
    """Whether *value* holds a control character or a lone surrogate (no file name can hold one as UTF-8).

    Surrogates are found by encoding, not by a character class: a regular expression with the
    surrogate range takes ~0.9 ms to compile, at every start of ``dchub`` (0.1 ms without it).
    """
    if _CONTROL_CHARS.search(value):
        return True
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def blob_path(sha256: str) -> str:
    """Where a blob lives, relative to the hub root: ``blobs/sha256/ab/abcdef…``."""
    if not is_sha256(sha256):
        raise HubFormatError(f"not a sha256 digest: {sha256!r}")
    return layout.blob_path(sha256)


def manifest_path(name: str, version: str) -> str:
    """Where a model version's manifest lives: ``models/<name>/<version>/manifest.json``."""
    return layout.manifest_path(validate_name(name), validate_version(version))


def version_key(version: str) -> tuple[int, Any]:
    """A sort key: PEP 440 versions sort by meaning and above any non-PEP 440 string."""
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def latest_version(versions: Iterable[str]) -> str:
    """The highest of *versions*: by ``packaging.version`` when they all parse, else by string."""
    items = list(versions)
    if not items:
        raise HubFormatError("no versions to choose the latest from")
    keys = [version_key(v) for v in items]
    if all(k[0] == 1 for k in keys):
        return max(items, key=version_key)
    return max(items)


# --- JSON --------------------------------------------------------------------------------


def dumps(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, indent 1, UTF-8, one trailing newline."""
    text = json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def index_dumps(obj: Any) -> bytes:
    """The bytes of ``index.json``: sorted keys, no whitespace, UTF-8, one trailing newline.

    Signatures do not depend on this encoding: they sign :func:`dumps` of the content.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


# --- the index ---------------------------------------------------------------------------


class VersionRef(NamedTuple):
    """Where one model version's manifest is, and how to check it."""

    manifest: str
    sha256: str
    size: int


class ModelEntry(NamedTuple):
    """One model of the index: its versions and which one is ``latest``."""

    name: str
    latest: str
    versions: dict[str, VersionRef]


class Index(NamedTuple):
    """A parsed ``index.json``. ``extra`` keeps unknown top-level keys (newer minor versions)."""

    name: str
    models: dict[str, ModelEntry]
    title: str = ""
    description: str = ""
    mirrors: tuple[str, ...] = ()
    generated: str | None = None
    format_version: str = layout.INDEX_FORMAT_VERSION
    extra: Mapping[str, Any] = MappingProxyType({})
    version: int | None = None
    expires: str | None = None


#: ``signatures`` is not part of the index content: it signs the rest (see ``dchub_client.hub.trust``).
_INDEX_KEYS = {"format", "format_version", "name", "title", "description", "mirrors", "generated", "models",
               "version", "expires", "signatures"}
#: ``expires``: RFC 3339 in UTC or with an offset, e.g. ``2026-12-28T00:00:00Z``.
_RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
#: Largest index ``version`` (fits a signed 64-bit integer in every JSON reader).
MAX_INDEX_VERSION = (1 << 53) - 1


def parse_index(data: Any, source: str | None = None) -> Index:
    """Validate a decoded ``index.json`` and return an :class:`Index`.

    Raises:
        HubFormatError: wrong ``format``, unknown major version, or any malformed field.
    """
    obj = _object(data, "index", source)
    version = _check_format(obj, layout.INDEX_FORMAT, source, layout.INDEX_FORMAT_MAJORS)
    models = _field(obj, "models", dict, source)
    mirrors = _field(obj, "mirrors", list, source, default=[])
    if not all(isinstance(m, str) for m in mirrors):
        raise HubFormatError("'mirrors' must be a list of strings", source=source)
    generated = obj.get("generated")
    if generated is not None and not isinstance(generated, str):
        raise HubFormatError("'generated' must be a string", source=source)
    return Index(
        version=_index_version(obj.get("version"), source), expires=_expires(obj.get("expires"), source),
        name=validate_name(obj.get("name"), "hub name", source),
        models={validate_name(n, source=source): parse_model_entry(n, m, source) for n, m in models.items()},
        title=_field(obj, "title", str, source, default=""),
        description=_field(obj, "description", str, source, default=""),
        mirrors=tuple(mirrors), generated=generated, format_version=version,
        extra={k: v for k, v in obj.items() if k not in _INDEX_KEYS},
    )


def parse_model_entry(name: str, data: Any, source: str | None = None) -> ModelEntry:
    """Validate one model of an index (``{"latest": ..., "versions": {...}}``) and return a :class:`ModelEntry`."""
    validate_name(name, source=source)
    where = f"model {name!r}"
    obj = _object(data, where, source)
    versions = _field(obj, "versions", dict, source, where=where)
    if not versions:
        raise HubFormatError(f"{where}: 'versions' is empty", source=source)
    refs = {validate_version(v, source): _parse_ref(name, v, r, source) for v, r in versions.items()}
    latest = obj.get("latest")
    if not isinstance(latest, str) or latest not in refs:
        raise HubFormatError(f"{where}: 'latest' is {latest!r}, which is not one of its versions", source=source)
    return ModelEntry(name=name, latest=latest, versions=refs)


def _parse_ref(name: str, version: str, data: Any, source: str | None) -> VersionRef:
    """One version's record; a 2.0 index leaves ``manifest`` out when it is :func:`manifest_path`."""
    where = f"model {name!r} version {version!r}"
    obj = _object(data, where, source)
    if "manifest" in obj:
        path = validate_relpath(_field(obj, "manifest", str, source, where=where), source)
    else:
        path = layout.manifest_path(name, version)  # both validated by the caller
    return VersionRef(manifest=path, sha256=_sha(obj, where, source), size=_size(obj, where, source))


def model_entry_to_json(entry: ModelEntry) -> dict[str, Any]:
    """The JSON object of one model of an index (the inverse of :func:`parse_model_entry`)."""
    versions = {}
    for version, ref in entry.versions.items():
        item: dict[str, Any] = {"sha256": ref.sha256, "size": ref.size}
        if ref.manifest != layout.manifest_path(entry.name, version):
            item["manifest"] = ref.manifest
        versions[version] = item
    return {"latest": entry.latest, "versions": versions}


def index_to_json(index: Index) -> dict[str, Any]:
    """The JSON object for *index* (the inverse of :func:`parse_index`), in the current format version."""
    out: dict[str, Any] = dict(index.extra)
    out.update({
        "format": layout.INDEX_FORMAT, "format_version": layout.INDEX_FORMAT_VERSION, "name": index.name,
        "title": index.title, "description": index.description, "mirrors": list(index.mirrors),
        "models": {name: model_entry_to_json(m) for name, m in index.models.items()},
    })
    for key, value in (("generated", index.generated), ("version", index.version), ("expires", index.expires)):
        if value is not None:
            out[key] = value
    return out


def _index_version(value: Any, source: str | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INDEX_VERSION:
        raise HubFormatError(f"'version' must be an integer from 0 to {MAX_INDEX_VERSION}, got {value!r}",
                             source=source)
    return value


def _expires(value: Any, source: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _RFC3339_RE.match(value):
        raise HubFormatError(f"'expires' must be an RFC 3339 time like '2026-12-28T00:00:00Z', got {value!r}",
                             source=source)
    try:
        parse_time(value)
    except ValueError as err:
        raise HubFormatError(f"'expires' is not a valid time: {value!r} ({err})", source=source) from err
    return value


def parse_time(value: str) -> datetime.datetime:
    """An RFC 3339 time (``...Z`` or ``...+01:00``) as an aware :class:`datetime.datetime`."""
    import datetime  # on first use: most indexes carry no times a pull reads (start-up, docs/benchmarks.md)

    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed


def utc_now() -> datetime.datetime:
    """Now, as an aware UTC :class:`datetime.datetime` (what :func:`parse_time` values compare with)."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc)


# --- manifests ---------------------------------------------------------------------------


class Part(NamedTuple):
    """One content-addressed piece of a file stored in parts."""

    sha256: str
    size: int


class FileEntry(NamedTuple):
    """One file of a model version. When ``parts`` is non-empty the file is stored only as its parts."""

    path: str
    sha256: str
    size: int
    parts: tuple[Part, ...] = ()

    @property
    def blobs(self) -> tuple[Part, ...]:
        """The blobs to fetch for this file, in order (the whole file, or its parts)."""
        return self.parts or (Part(self.sha256, self.size),)


class Manifest(NamedTuple):
    """A parsed model manifest. ``extra`` keeps unknown top-level keys."""

    name: str
    version: str
    class_name: str
    framework: str
    files: tuple[FileEntry, ...]
    card: Mapping[str, Any] = MappingProxyType({})
    format_version: str = layout.MANIFEST_FORMAT_VERSION
    extra: Mapping[str, Any] = MappingProxyType({})

    @property
    def size(self) -> int:
        """Total bytes of the model's files."""
        return sum(f.size for f in self.files)


_MANIFEST_KEYS = {"format", "format_version", "name", "version", "class", "framework", "card", "files"}


def parse_manifest(data: Any, source: str | None = None, *, name: str | None = None,
                   version: str | None = None) -> Manifest:
    """Validate a decoded manifest and return a :class:`Manifest`.

    With *name* / *version*, the manifest must be for that model version (guards against a
    mirror serving the wrong file under the right path).
    """
    obj = _object(data, "manifest", source)
    fmt_version = _check_format(obj, layout.MANIFEST_FORMAT, source, (layout.MANIFEST_FORMAT_VERSION.split(".")[0],))
    manifest = Manifest(
        name=validate_name(obj.get("name"), source=source),
        version=validate_version(obj.get("version"), source),
        class_name=_field(obj, "class", str, source),
        framework=_field(obj, "framework", str, source),
        files=_parse_files(_field(obj, "files", list, source), source),
        card=_field(obj, "card", dict, source, default={}),
        format_version=fmt_version,
        extra={k: v for k, v in obj.items() if k not in _MANIFEST_KEYS},
    )
    for expected, actual, what in ((name, manifest.name, "name"), (version, manifest.version, "version")):
        if expected is not None and expected != actual:
            raise HubFormatError(f"manifest is for {what} {actual!r}, expected {expected!r}", source=source)
    return manifest


def read_manifest(data: bytes, ref: VersionRef, source: str, *, name: str | None = None,
                  version: str | None = None) -> Manifest:
    """Check a manifest's bytes against what the index records for it, then parse and validate them.

    The one reader of manifests: the client (from a mirror or its cache), ``hubgen build``,
    ``hubgen verify`` and ``hubgen publish`` all go through it.

    Args:
        data: the manifest's bytes.
        ref: the index's record of it (sha256 and size).
        source: where the bytes came from (path or URL), named in errors.
        name, version: the model version the manifest must describe.

    Raises:
        ManifestMismatchError: the bytes are not the ones the index records (a :class:`HubFormatError`).
        HubFormatError: they are, but the manifest is malformed or for another model version.

    Example:
        >>> manifest = read_manifest(raw, index.models["esol"].versions["1.0"], url)  # doctest: +SKIP
    """
    actual = sha256_bytes(data)
    if actual != ref.sha256 or len(data) != ref.size:
        got, says = shown_pair(actual, ref.sha256)
        raise ManifestMismatchError(
            f"sha256 mismatch with {layout.INDEX_FILE}: got {got} ({len(data)} bytes), "
            f"the index says {says} ({ref.size} bytes)", source=source)
    return parse_manifest(jsonstrict.loads(data, source), source, name=name, version=version)


def _parse_files(items: list[Any], source: str | None) -> tuple[FileEntry, ...]:
    files = tuple(_parse_file(i, item, source) for i, item in enumerate(items))
    check_file_paths([entry.path for entry in files], source)
    return files


def check_file_paths(paths: Sequence[str], source: str | None = None) -> None:
    """Refuse a list of a model version's file paths that cannot be one folder.

    A path listed twice, a path that is also the folder of another (``README.md`` and
    ``README.md/x``), and a component that is a reserved name (:data:`layout.RESERVED_NAMES`,
    compared casefolded: the cache's snapshot marker) are refused.

    Raises:
        HubFormatError: naming the path and *source*.
    """
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            raise HubFormatError(f"file {path!r} is listed twice", source=source)
        seen.add(path)
        reserved = [p for p in path.split("/") if p.casefold() in layout.RESERVED_NAMES]
        if reserved:
            raise HubFormatError(f"invalid path {path!r}: {reserved[0]!r} is reserved (the name of the cache's "
                                 "snapshot marker); a manifest may not list it", source=source)
    for path in paths:
        parts = path.split("/")
        folder = next((f for f in ("/".join(parts[:i]) for i in range(1, len(parts))) if f in seen), None)
        if folder is not None:
            raise HubFormatError(f"{folder!r} is both a file and a folder (the manifest lists {folder!r} and "
                                 f"{path!r}); a model version's files must form one folder", source=source)


def _parse_file(i: int, data: Any, source: str | None) -> FileEntry:
    where = f"files[{i}]"
    obj = _object(data, where, source)
    path = validate_relpath(_field(obj, "path", str, source, where=where), source)
    where = f"file {path!r}"
    size = _size(obj, where, source)
    parts = tuple(_parse_part(f"{where} part {j}", p, source)
                  for j, p in enumerate(_field(obj, "parts", list, source, where=where, default=[])))
    if parts and sum(p.size for p in parts) != size:
        raise HubFormatError(f"{where}: its parts add up to {sum(p.size for p in parts)} bytes, not {size}",
                             source=source)
    return FileEntry(path=path, sha256=_sha(obj, where, source), size=size, parts=parts)


def _parse_part(where: str, data: Any, source: str | None) -> Part:
    obj = _object(data, where, source)
    return Part(sha256=_sha(obj, where, source), size=_size(obj, where, source))


def manifest_to_json(manifest: Manifest) -> dict[str, Any]:
    """The JSON object for *manifest* (the inverse of :func:`parse_manifest`)."""
    out: dict[str, Any] = dict(manifest.extra)
    out.update({
        "format": layout.MANIFEST_FORMAT, "format_version": manifest.format_version,
        "name": manifest.name, "version": manifest.version, "class": manifest.class_name,
        "framework": manifest.framework, "card": dict(manifest.card),
        "files": [_file_to_json(f) for f in manifest.files],
    })
    return out


def _file_to_json(entry: FileEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"path": entry.path, "sha256": entry.sha256, "size": entry.size}
    if entry.parts:
        out["parts"] = [{"sha256": p.sha256, "size": p.size} for p in entry.parts]
    return out


# --- field helpers -----------------------------------------------------------------------


def _object(data: Any, where: str, source: str | None) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise HubFormatError(f"{where} must be a JSON object, got {type(data).__name__}", source=source)
    return data


_MISSING = object()


def _field(obj: dict[str, Any], key: str, kind: type, source: str | None, *, where: str = "",
           default: Any = _MISSING) -> Any:
    prefix = f"{where}: " if where else ""
    if key not in obj:
        if default is _MISSING:
            raise HubFormatError(f"{prefix}missing required key {key!r}", source=source)
        return default
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise HubFormatError(f"{prefix}{key!r} must be a JSON {_KIND_NAMES.get(kind, kind.__name__)}, "
                             f"got {type(value).__name__}", source=source)
    return value


_KIND_NAMES = {dict: "object", list: "array", str: "string", int: "integer"}


def _sha(obj: dict[str, Any], where: str, source: str | None) -> str:
    value = obj.get("sha256")
    if not is_sha256(value):
        raise HubFormatError(f"{where}: 'sha256' must be 64 lower-case hex digits, got {value!r}", source=source)
    return value


def _size(obj: dict[str, Any], where: str, source: str | None) -> int:
    value = obj.get("size")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise HubFormatError(f"{where}: 'size' must be a non-negative integer, got {value!r}", source=source)
    return value


def _check_format(obj: dict[str, Any], expected: str, source: str | None, majors: tuple[str, ...]) -> str:
    if obj.get("format") != expected:
        raise HubFormatError(f"'format' must be {expected!r}, got {obj.get('format')!r}", source=source)
    version = obj.get("format_version")
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+", version):
        raise HubFormatError(f"'format_version' must look like '1.0', got {version!r}", source=source)
    if version.split(".")[0] not in majors:
        readable = " and ".join(f"{m}.x" for m in majors)
        raise HubFormatError(f"format version {version} is not supported (this dchub reads {readable}); "
                             "upgrade dchub", source=source)
    return version
