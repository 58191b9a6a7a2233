"""What a publish sends, and in which order.

A built hub is scanned into :class:`HubFile` records, each of one *kind*. Kinds are published in
:data:`ORDER` — blobs, manifests, pages, ``SHA256SUMS``/``.nojekyll``, ``index.json`` last — so a
reader of the target only ever sees an index whose manifests and blobs are already there.
"""
from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dchub_client.errors import DchubError
from dchub_client.format import hubfiles, jsonstrict, layout
from dchub_client.format.hashing import sha256_file
from dchub_client.format.sums import hub_files
from dchub_client.humanize import human_size
from hubgen.errors import PublishError

BLOB, MANIFEST, PAGE, META, INDEX = "blob", "manifest", "page", "meta", "index"
#: The order in which kinds reach a target; each kind is complete before the next starts.
ORDER: tuple[str, ...] = (BLOB, MANIFEST, PAGE, META, INDEX)

#: Blobs and manifests never change once written: cacheable forever.
IMMUTABLE = "public, max-age=31536000, immutable"
#: ``index.json``, pages and sums change with each publish.
SHORT_LIVED = "public, max-age=60"

_LABELS = {BLOB: "blobs", MANIFEST: "manifests", PAGE: "pages", INDEX: layout.INDEX_FILE,
           META: f"{layout.SUMS_FILE}, {layout.REGISTRY_FILE}, {layout.NOJEKYLL}"}
_BLOB_RE = re.compile(r"^blobs/sha256/([0-9a-f]{2})/([0-9a-f]{64})$")
_MANIFEST_RE = re.compile(r"^models/[^/]+/[^/]+/manifest\.json$")
_TYPES = {".json": "application/json", ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".js": "application/javascript", ".svg": "image/svg+xml",
          ".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8"}


@dataclass(frozen=True)
class HubFile:
    """One file of a built hub: path relative to the root (``/``-separated), kind, size and sha256."""

    rel: str
    path: Path
    kind: str
    size: int
    sha256: str

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` a server should send for this file."""
        if self.kind == BLOB:
            return "application/octet-stream"
        if self.rel in (layout.SUMS_FILE, layout.REGISTRY_FILE, layout.NOJEKYLL):
            return "text/plain; charset=utf-8"
        suffix = Path(self.rel).suffix.lower()
        return _TYPES.get(suffix) or mimetypes.guess_type(self.rel)[0] or "application/octet-stream"

    @property
    def cache_control(self) -> str:
        """``Cache-Control``: immutable for blobs and manifests, short-lived for everything else."""
        return IMMUTABLE if self.kind in (BLOB, MANIFEST) else SHORT_LIVED


@dataclass(frozen=True)
class LocalHub:
    """A scanned hub folder: its parsed index, the index's bytes and every publishable file."""

    root: Path
    index: hubfiles.Index
    index_bytes: bytes
    files: tuple[HubFile, ...]


@dataclass
class PublishPlan:
    """Files to send per kind, and what the target already holds (counts and bytes per kind)."""

    send: dict[str, list[HubFile]] = field(default_factory=lambda: {k: [] for k in ORDER})
    kept: dict[str, list[HubFile]] = field(default_factory=lambda: {k: [] for k in ORDER})

    @classmethod
    def of(cls, files: Iterable[HubFile], needs: Callable[[HubFile], bool]) -> PublishPlan:
        """Sort *files* into sent and kept by the target's ``needs(file)``."""
        plan = cls()
        for item in files:
            (plan.send if needs(item) else plan.kept)[item.kind].append(item)
        return plan

    @property
    def files_to_send(self) -> int:
        """How many files the plan sends."""
        return sum(len(v) for v in self.send.values())

    @property
    def bytes_to_send(self) -> int:
        """How many bytes the plan sends."""
        return sum(f.size for v in self.send.values() for f in v)


def kind_of(rel: str) -> str:
    """The kind of a hub file, from its relative path."""
    if rel == layout.INDEX_FILE:
        return INDEX
    if rel in (layout.SUMS_FILE, layout.REGISTRY_FILE, layout.NOJEKYLL):
        return META
    if _BLOB_RE.match(rel):
        return BLOB
    if _MANIFEST_RE.match(rel):
        return MANIFEST
    return PAGE


def scan_hub(root: str | Path) -> LocalHub:
    """Read a built hub folder and check it is whole enough to publish.

    Every manifest the index lists must match its recorded sha256 and every blob must be present
    with its recorded size (blobs are not re-hashed: ``hubgen verify DIR`` does that).
    Private files (``hubgen.build.PRIVATE_NAMES``) are never listed.

    Raises:
        PublishError: *root* is not a hub folder, or a referenced file is missing or wrong.
    """
    root = Path(root)
    index_path = root / layout.INDEX_FILE
    if not index_path.is_file():
        raise PublishError(f"{root}: no {layout.INDEX_FILE}; build the hub first (hubgen build --out {root})")
    data = index_path.read_bytes()
    try:
        index = hubfiles.parse_index(jsonstrict.loads(data, str(index_path)), str(index_path))
    except DchubError as err:
        raise PublishError(f"{index_path}: invalid hub index: {err}") from err
    _check_whole(root, index)
    files = tuple(_hub_file(root, rel) for rel in hub_files(root, layout.PRIVATE_NAMES))
    return LocalHub(root=root, index=index, index_bytes=data, files=files)


def _hub_file(root: Path, rel: str) -> HubFile:
    path = root / rel
    kind = kind_of(rel)
    digest = rel.rsplit("/", 1)[-1] if kind == BLOB else sha256_file(path)
    return HubFile(rel=rel, path=path, kind=kind, size=path.stat().st_size, sha256=digest)


def _check_whole(root: Path, index: hubfiles.Index) -> None:
    for name, model in index.models.items():
        for version, ref in model.versions.items():
            manifest = _read_manifest(root, name, version, ref)
            for entry in manifest.files:
                for blob in entry.blobs:
                    _check_blob(root, blob, manifest.name, manifest.version)


def _read_manifest(root: Path, name: str, version: str, ref: hubfiles.VersionRef) -> hubfiles.Manifest:
    path = root / ref.manifest
    hint = f"; the hub is not whole (run hubgen verify {root})"
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise PublishError(f"{path}: manifest of {name}@{version} is missing{hint}") from err
    try:
        return hubfiles.read_manifest(data, ref, str(path), name=name, version=version)
    except DchubError as err:
        raise PublishError(f"invalid manifest of {name}@{version}: {err}{hint}") from err


def _check_blob(root: Path, blob: hubfiles.Part, name: str, version: str) -> None:
    path = root / hubfiles.blob_path(blob.sha256)
    try:
        size = path.stat().st_size
    except FileNotFoundError as err:
        raise PublishError(f"{path}: blob of {name}@{version} is missing; the hub is not whole "
                           f"(run hubgen verify {root})") from err
    if size != blob.size:
        raise PublishError(f"{path}: {size} bytes, the manifest of {name}@{version} says {blob.size}; "
                           f"the hub is damaged (run hubgen verify {root})")


def check_target_index(local: hubfiles.Index, remote: bytes | None, where: str, *, force: bool = False) -> list[str]:
    """Refuse to overwrite a target whose hub this publish would damage; return warnings.

    The target's ``index.json`` (if any) must name the same hub, carry no higher index ``version``
    (a signed hub's versions only increase), and every model version it lists must be in the local
    index with the same manifest sha256 (published versions never change or vanish).
    With *force*, the problems are returned as warnings instead.

    Raises:
        PublishError: a problem was found and *force* is false.
    """
    if remote is None:
        return []
    problems = _index_problems(local, remote, where)
    if problems and not force:
        raise PublishError(f"{where}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1
                                                        else "") + "; pass --force to overwrite it anyway")
    return [f"{where}: {p}" for p in problems]


def _index_problems(local: hubfiles.Index, remote: bytes, where: str) -> list[str]:
    try:
        index = hubfiles.parse_index(jsonstrict.loads(remote, where), where)
    except DchubError as err:
        return [f"the target's {layout.INDEX_FILE} is not a valid hub index ({err})"]
    if index.name != local.name:
        return [f"the target holds hub {index.name!r}, not {local.name!r}"]
    problems = []
    if index.version is not None and (local.version is None or local.version < index.version):
        problems.append(f"the target's index is version {index.version}, newer than this hub's "
                        f"({local.version}): clients that trust the hub's keys would refuse this one as a rollback")
    for name, model in sorted(index.models.items()):
        for version, ref in sorted(model.versions.items()):
            mine = local.models.get(name)
            have = mine.versions.get(version) if mine else None
            if have is None:
                problems.append(f"the target publishes {name}@{version}, which this hub lacks (versions are never "
                                "removed: build from the same hub folder)")
            elif have.sha256 != ref.sha256:
                problems.append(f"{name}@{version} differs from the published one (published versions never change)")
    return problems


def plan_lines(plan: PublishPlan) -> list[str]:
    """Counts and bytes per kind, for ``--dry-run`` and the summary: a table whose columns line up whatever
    the lengths of the labels, counts and sizes."""
    rows: list[tuple[str, int, str, int | None, str]] = []
    for kind in ORDER:
        send, kept = plan.send[kind], plan.kept[kind]
        if send or kept:
            rows.append((_LABELS[kind], len(send), f"({human_size(sum(f.size for f in send))})",
                         len(kept), f"({human_size(sum(f.size for f in kept))})"))
    rows.append(("total", plan.files_to_send, f"({human_size(plan.bytes_to_send)})", None, ""))
    label_w, send_w, size_w = (max(len(str(row[i])) for row in rows) for i in range(3))
    kept_w = max((len(str(row[3])) for row in rows if row[3] is not None), default=0)
    lines = []
    for label, n_send, send_size, n_kept, kept_size in rows:
        line = f"{label:<{label_w}}  {n_send:>{send_w}} to send {send_size:<{size_w}}"
        if n_kept is not None:
            line += f"  {n_kept:>{kept_w}} unchanged {kept_size}"
        lines.append(line.rstrip())
    return lines


__all__ = ["BLOB", "HubFile", "INDEX", "LocalHub", "MANIFEST", "META", "ORDER", "PAGE", "PublishPlan",
           "check_target_index", "kind_of", "plan_lines", "scan_hub"]
