"""``hubgen build``: pretrained folders → a static, content-addressed hub tree (``docs/format.md`` §2).

The build first gathers (manifest, folders, existing hub), then writes, in an order that keeps the
hub consistent if it is interrupted: blobs, manifests, the site, ``index.json`` (the commit point),
then ``SHA256SUMS`` and ``.nojekyll``. Published versions are never changed or removed.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dchub_client import constants
from dchub_client.errors import DchubError
from dchub_client.format import hubfiles, jsonstrict, layout, pretrained
from dchub_client.format.atomic import write_if_changed
from dchub_client.format.card import read_folder_card
from dchub_client.format.hashing import sha256_bytes
from dchub_client.format.sums import write_checksum_files
from dchub_client.humanize import counted
from hubgen import recipes
from hubgen.blobs import BlobStore, FileDigest, HashCache, StoreTotals
from hubgen.errors import BuildError, VersionConflictError
from hubgen.manifest import HubSpec, ModelSpec, load_hub_manifest
from hubgen.signing import (
    DEFAULT_EXPIRES_DAYS,
    MAX_EXPIRES_DAYS,
    SignSummary,
    check_not_retired,
    check_signer_kept,
    index_bytes,
    load_private_key,
    signed_summary,
)
from hubgen.site import reader
from hubgen.site import render as site_render
from hubgen.workers import Workers, pool_for

logger = logging.getLogger(__name__)

#: Top-level names hubgen itself writes; a non-empty output folder holding anything else is refused.
_OWN_NAMES = frozenset({layout.INDEX_FILE, layout.SUMS_FILE, layout.REGISTRY_FILE, layout.NOJEKYLL,
                        layout.BLOBS_DIR, layout.MODELS_DIR, layout.SITE_INDEX, layout.SITE_ASSETS_DIR,
                        *layout.PRIVATE_NAMES})

#: Files the client's cache writes into a snapshot folder: skipped, never published (no manifest may list them).
_CLIENT_MARKERS = layout.RESERVED_NAMES

#: Threads writing manifests (creating a file is mostly the kernel's time: a second core helps).
_WRITERS = 4

#: ``progress(done_bytes, total_bytes)``, called as files are read.
ProgressCallback = Callable[[int, int], None]

_Manifests = dict[tuple[str, str], hubfiles.Manifest]  # every manifest of the hub, by (name, version)


@dataclass(frozen=True)
class BuildSummary:
    """What a build did."""

    out_dir: Path
    models: int
    versions: int
    versions_new: int
    files: int
    bytes_total: int
    bytes_new: int
    bytes_reused: int
    bytes_hashed: int
    signed: SignSummary | None = None  # the signed index.json (None: built without --sign-key)


@dataclass(frozen=True)
class _Source:
    """A validated pretrained folder to publish as one model version."""

    spec: ModelSpec
    info: pretrained.PretrainedInfo
    files: tuple[tuple[str, Path], ...]


def build_hub(manifest_path: str | Path, out_dir: str | Path, *, part_size: int | None = None,
              rebuild: bool = False, progress: ProgressCallback | None = None,
              sign_keys: Sequence[str | Path] = (), expires_days: float = DEFAULT_EXPIRES_DAYS,
              jobs: int = 1, workers: int | None = None, new_signer: bool = False) -> BuildSummary:
    """Build (or update in place) the hub described by *manifest_path* into *out_dir*.

    Args:
        manifest_path: ``hub_manifest.yaml``.
        out_dir: the hub folder; created, or updated incrementally when it already holds a hub.
        part_size: largest blob in bytes (default: the manifest's ``part_size``, else 95 MiB).
        rebuild: run every model's recipe even when its folder exists.
        jobs: run stale recipes in this many worker processes (see :func:`hubgen.recipes.run_all`).
        workers: publish new versions and render model pages in this many processes (1: all in this
            one); by default one per core when there are many new versions (:mod:`hubgen.workers`).
        progress: called with ``(done_bytes, total_bytes)`` while files are read.
        sign_keys: private key files (``hubgen keygen``); each signs ``index.json``, which then
            carries ``expires`` (now + *expires_days*) and a ``version`` one above the previous.
        expires_days: lifetime of a signed index.
        new_signer: sign with *sign_keys* even when none of them signed the previous index nor is a key its
            key rotations hand over to (a deliberate fresh start; see
            :func:`hubgen.signing.check_signer_kept`).

    Returns:
        A :class:`BuildSummary`.

    Raises:
        ManifestError: the YAML is invalid (the message gives line and key).
        BuildError: a folder is missing or invalid, a recipe failed, or *out_dir* is not a hub.
        VersionConflictError: a published version would change; bump the version.
        SigningError: a signing key is unreadable or not ed25519, a key rotation of the hub in *out_dir*
            retired it, or the keys would replace the previous index's signers without a rotation or
            *new_signer* (nothing is written then).

    Example:
        >>> build_hub("hub_manifest.yaml", "public/")  # doctest: +SKIP
        BuildSummary(out_dir=PosixPath('public'), models=3, versions=4, ...)
    """
    spec = load_hub_manifest(manifest_path)
    if part_size is not None and part_size < 1:
        raise ValueError(f"part_size must be positive, got {part_size}")
    if not 0 < expires_days <= MAX_EXPIRES_DAYS:
        raise ValueError(f"expires_days must be more than 0 and at most {MAX_EXPIRES_DAYS}, got {expires_days}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    named = [(str(k), load_private_key(k)) for k in sign_keys]
    keys = [key for _, key in named]
    out = Path(out_dir)
    old = _existing_index(out, spec)
    if old is not None and named:  # before anything is written: keys whose index clients would refuse
        path = out / layout.INDEX_FILE
        previous = jsonstrict.loads(path.read_bytes(), str(path))
        check_not_retired(previous, named, path)
        check_signer_kept(previous, named, out, new_signer=new_signer)
    published = {(name, v) for name, model in (old.models.items() if old else ()) for v in model.versions}
    pool = pool_for(sum((m.name, m.version) not in published for m in spec.models), workers)
    with recipes.importable_from(spec.source.parent):
        recipes.run_all(recipes.stale(spec.models, rebuild=rebuild), jobs=jobs, root=spec.source.parent)
        # with workers, each new version's folder is checked by the worker that publishes it
        prepared = [_prepare(m) if pool is None or (m.name, m.version) in published else None for m in spec.models]
    store = BlobStore(out, part_size=part_size or spec.part_size, cache=HashCache(out / layout.BUILD_CACHE_FILE))
    builder = _Builder(spec, out, old, store, progress, keys=keys, expires_days=expires_days, pool=pool,
                       workers=workers)
    return builder.run(prepared)


# --- gathering -----------------------------------------------------------------------------


def _existing_index(out: Path, spec: HubSpec) -> hubfiles.Index | None:
    path = out / layout.INDEX_FILE
    if not path.is_file():
        _refuse_foreign_folder(out)
        return None
    try:
        index = hubfiles.parse_index(jsonstrict.loads(path.read_bytes(), str(path)), str(path))
    except DchubError as err:
        raise BuildError(f"{path}: the existing hub index is invalid ({err}); fix or remove it") from err
    if index.name != spec.name:
        raise BuildError(f"{out} holds hub {index.name!r} but {spec.source} describes {spec.name!r}; "
                         "build into another folder")
    return index


def _refuse_foreign_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out}: exists and is not a folder")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in _OWN_NAMES) if out.is_dir() else []
    if foreign:
        raise BuildError(f"{out}: folder is not empty and holds no hub ({', '.join(foreign[:3])}, ...); "
                         "build into an empty or new folder")


def _prepare(model: ModelSpec) -> _Source:
    """Validate the model's folder (its recipe, if any, has run) and list its files."""
    folder = model.path
    if not folder.is_dir():
        hint = "" if model.recipe else "; give a 'recipe' to produce it, or fix 'path'"
        raise BuildError(f"{model.where}: pretrained folder {folder} does not exist{hint}")
    try:
        info = pretrained.read_params(folder)
        pretrained.check_files(folder, info)
        folder_card = read_folder_card(folder)
    except DchubError as err:
        raise BuildError(f"{model.where}: invalid pretrained folder: {err}") from err
    if folder_card is not None and folder_card.metadata:  # the YAML's card entries win, key by key
        model = dataclasses.replace(model, card={**folder_card.metadata, **model.card})
    return _Source(model, info, tuple(_folder_files(model, folder, info)))


def _folder_files(model: ModelSpec, folder: Path, info: pretrained.PretrainedInfo,
                  prefix: str = "") -> list[tuple[str, Path]]:
    """The files of a pretrained folder as ``(relative path, path)``, a composite's member folders included.

    The only sub-folders allowed are the ``members/<i>`` that ``params.json`` lists (each a complete,
    checked pretrained folder); anything else that is not a plain, visible file is refused, but for the
    client's marker of a cache snapshot (a folder ``dchub pull`` printed is a pretrained folder too),
    which is left out: it is the cache's, not the model's.
    """
    members = _member_folders(model, folder, info)
    files = []
    with os.scandir(folder) as listing:  # the file types come with the listing: no stat per file
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        path = folder / entry.name
        if not prefix and entry.name in _CLIENT_MARKERS:
            continue
        if entry.name.startswith("."):
            raise BuildError(f"{model.where}: hidden file {path} in the pretrained folder; remove it")
        if entry.is_dir() and entry.name == layout.MEMBERS_DIR and members:
            files += _member_files(model, path, members, f"{prefix}{entry.name}/")
            continue
        if entry.is_dir():
            raise BuildError(f"{model.where}: {path} is a subfolder; pretrained folders (format v1) hold only "
                             f"files, and a composite model its {layout.MEMBERS_DIR}/<i> folders")
        if not entry.is_file():
            raise BuildError(f"{model.where}: {path} is not a regular file")
        try:
            hubfiles.validate_relpath(prefix + entry.name)
        except DchubError as err:
            raise BuildError(f"{model.where}: {err}") from err
        files.append((prefix + entry.name, path))
    return files


def _member_folders(model: ModelSpec, folder: Path, info: pretrained.PretrainedInfo) -> list[str]:
    """The member folder names (``0``, ``1`` ...) a composite's ``params.json`` lists; [] for other models."""
    listed = info.extra.get(layout.EXTRA_MEMBERS) or []
    names = [str(m.get("folder", "")) if isinstance(m, dict) else "" for m in listed]
    expected = [f"{layout.MEMBERS_DIR}/{i}" for i in range(len(names))]
    if names != expected:
        raise BuildError(f"{model.where}: {folder / layout.PARAMS_FILE}: extra.{layout.EXTRA_MEMBERS} must name "
                         f"the folders {expected} in order, got {names}")
    return [name.split("/", 1)[1] for name in names]


def _member_files(model: ModelSpec, members_dir: Path, members: list[str], prefix: str) -> list[tuple[str, Path]]:
    """Every member folder, checked as a pretrained folder of its own; nothing else under ``members/``."""
    present = sorted(p.name for p in members_dir.iterdir())
    if present != sorted(members):
        raise BuildError(f"{model.where}: {members_dir} holds {present}; params.json lists the members {members}")
    files = []
    for name in members:
        folder = members_dir / name
        try:
            info = pretrained.read_params(folder)
            pretrained.check_files(folder, info)
        except DchubError as err:
            raise BuildError(f"{model.where}: invalid member folder {folder}: {err}") from err
        files += _folder_files(model, folder, info, f"{prefix}{name}/")
    return files


def _folder_bytes(folder: Path) -> int:
    """The bytes of the files in *folder* and its sub-folders (what its publication will hash)."""
    total = 0
    try:
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    total += _folder_bytes(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and entry.name not in _CLIENT_MARKERS:
                    total += entry.stat(follow_symlinks=False).st_size
    except OSError:  # a missing folder: its worker reports it
        pass
    return total


# --- writing -------------------------------------------------------------------------------


class _Publisher:
    """Publishes new versions into a hub folder: their blobs, then their manifests (in this process or in a
    worker, see :func:`_publish_in_worker`), and remembers what it wrote so that a failed build can undo it."""

    def __init__(self, out: Path, store: BlobStore, tick: Callable[[int], None] | None = None) -> None:
        self.out, self.store, self.tick = out, store, tick
        self.written_manifests: list[Path] = []
        self.refs: dict[tuple[str, str], hubfiles.VersionRef] = {}  # of the manifests written

    def publish(self, sources: Sequence[_Source]) -> list[dict[str, FileDigest]]:
        """Store the blobs of *sources* and write their manifests; return their files' digests, in order."""
        digests = self.digests(sources, store=True)
        with ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="hubgen-manifest") as pool:
            list(pool.map(self._write_manifest, [_manifest(s, d) for s, d in zip(sources, digests)]))
        return digests

    def digests(self, sources: Sequence[_Source], *, store: bool) -> list[dict[str, FileDigest]]:
        """The digests of every file of *sources* (hashed a few files at a time), checked against params.json."""
        paths = [path for source in sources for _, path in source.files]
        found = iter(self.store.digest_all(paths, store=store, progress=self.tick))
        out = []
        for source in sources:
            digests = {rel: next(found) for rel, _ in source.files}
            for entry in source.info.weights.values():
                if digests[entry.file].sha256 != entry.sha256:
                    raise BuildError(f"{source.spec.where}: {source.spec.path / entry.file}: sha256 "
                                     f"{digests[entry.file].sha256} differs from {entry.sha256} in params.json; "
                                     "the file was changed after the folder was written")
            logger.info("%s: %s", source.spec.ref, counted(len(digests), "file"))
            out.append(digests)
        return out

    def _write_manifest(self, manifest: hubfiles.Manifest) -> None:
        rel = hubfiles.manifest_path(manifest.name, manifest.version)
        data = hubfiles.dumps(hubfiles.manifest_to_json(manifest))
        digest = sha256_bytes(data)
        if write_if_changed(self.out / rel, data):
            self.written_manifests.append(self.out / rel)
            self.store.cache.note(self.out / rel, data, digest)
        self.refs[(manifest.name, manifest.version)] = hubfiles.VersionRef(manifest=rel, sha256=digest, size=len(data))

    def absorb(self, done: _Published) -> None:
        """Take over what a worker published: its manifests' references, its hash cache entries, its counts."""
        self.refs.update(done.refs)
        self.written_manifests += done.written_manifests
        self.store.cache.update(done.cache_entries)
        self.store.stats.absorb(done.totals)

    def roll_back(self) -> None:
        """Remove what this publisher (and the workers it absorbed) added: nothing references it yet."""
        for path in self.written_manifests:
            path.unlink(missing_ok=True)
        self.written_manifests.clear()
        self.store.discard_new()


def _manifest(source: _Source, digests: dict[str, FileDigest]) -> hubfiles.Manifest:
    files = tuple(hubfiles.FileEntry(rel, d.sha256, d.size, d.parts) for rel, d in sorted(digests.items()))
    return hubfiles.Manifest(name=source.spec.name, version=source.spec.version,
                              class_name=source.info.class_name, framework=source.info.framework,
                              files=files, card=dict(source.spec.card))


@dataclass(frozen=True)
class _Published:
    """What a worker published (:func:`_publish_in_worker`), for the build's process to take over."""

    sources: list[_Source]  # the checked folders, in order
    digests: list[dict[str, FileDigest]]  # of each source's files: the manifests follow from them
    refs: dict[tuple[str, str], hubfiles.VersionRef]
    written_manifests: list[Path]
    cache_entries: dict[str, dict[str, Any]]
    totals: StoreTotals
    newest: float  # the latest modification time of the sources' files


def _publish_in_worker(out: Path, part_size: int, known: dict[str, dict[str, Any]],
                       models: Sequence[ModelSpec]) -> _Published:
    """Check and publish the folders of *models* in a worker process; on failure, undo this chunk's writes
    and raise."""
    cache = HashCache.of(known)
    publisher = _Publisher(out, BlobStore(out, part_size=part_size, cache=cache))
    try:
        sources = [_prepare(model) for model in models]
        digests = publisher.publish(sources)
        newest = max((path.stat().st_mtime for s in sources for _, path in s.files), default=0.0)
    except BaseException:
        publisher.roll_back()
        raise
    return _Published(sources, digests, publisher.refs, publisher.written_manifests, cache.entries(),
                      publisher.store.stats.totals(), newest)


class _Builder:
    """Holds one build's state: writes blobs, manifests, site, index and sums in that order."""

    def __init__(self, spec: HubSpec, out: Path, old: hubfiles.Index | None, store: BlobStore,
                 progress: ProgressCallback | None, *, keys: Sequence[Any] = (),
                 expires_days: float = DEFAULT_EXPIRES_DAYS, pool: Workers | None = None,
                 workers: int | None = None) -> None:
        self.spec, self.out, self.old, self.store = spec, out, old, store
        self.progress = progress
        self.done = 0
        self.total = 0  # the bytes progress counts to
        self.bytes_total = 0  # of every source folder (known once the workers have checked theirs)
        self.newest = 0.0
        self.publisher = _Publisher(out, store, self._tick)
        self.keys = list(keys)  # ed25519 private keys that sign index.json
        self.expires_days = expires_days
        self.pool = pool  # worker processes publishing new versions and rendering pages, if any
        self.workers = workers  # as build_hub was asked

    def run(self, prepared: list[_Source | None]) -> BuildSummary:
        """Build from the checked folders of the manifest's models (None: checked by the worker that publishes
        it)."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.store.clean_tmp()
        self._measure(prepared)
        try:
            sources, manifests, new = self._write_versions(prepared)
            index = self._dated(self._index(manifests))
            self._render_site(index, manifests)
            data = self._index_bytes(index)
            write_if_changed(self.out / layout.INDEX_FILE, data)
        except BaseException:
            self.publisher.roll_back()
            self.store.cache.save()
            raise
        finally:
            if self.pool is not None:
                self.pool.close()
            self.store.clean_tmp()
        write_if_changed(self.out / layout.NOJEKYLL, b"")
        write_checksum_files(self.out, digest=self.store.cache.sha256)  # unchanged files are not read again
        self.store.cache.save()
        signed = signed_summary(self.out / layout.INDEX_FILE, data) if self.keys else None
        return dataclasses.replace(self._summary(index, sources, new), signed=signed)

    def _index_bytes(self, index: hubfiles.Index) -> bytes:
        """The new ``index.json``: versioned above the old one and signed (see :mod:`hubgen.signing`)."""
        path = self.out / layout.INDEX_FILE
        old = jsonstrict.loads(path.read_bytes(), str(path)) if self.old is not None else None
        return index_bytes(hubfiles.index_to_json(index), old, keys=self.keys, expires_days=self.expires_days)

    def _measure(self, prepared: list[_Source | None]) -> None:
        """The bytes to hash (for progress) and the newest file (for the index's ``generated``), of the folders
        checked here; the workers report the newest of theirs, and their sizes are only listed for progress."""
        stats = [path.stat() for s in prepared if s is not None for _, path in s.files]
        self.total = self.bytes_total = sum(st.st_size for st in stats)
        self.newest = max((st.st_mtime for st in stats), default=0.0)
        if self.progress is not None:
            self.total += sum(_folder_bytes(m.path) for m, s in zip(self.spec.models, prepared) if s is None)

    def _tick(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done, self.total)

    def _write_versions(self, prepared: list[_Source | None]) -> tuple[list[_Source], _Manifests, int]:
        """Check published versions first (nothing is written if one conflicts), then add new ones; return every
        source (in the manifest's order), every manifest, and how many versions are new."""
        manifests = self._old_manifests()
        keys = [(m.name, m.version) for m in self.spec.models]
        for key, source in zip(keys, prepared):
            if key in manifests:
                self._check_published(source, manifests[key])  # type: ignore[arg-type]  # prepared: published
        fresh = [i for i, key in enumerate(keys) if key not in manifests]
        sources = list(prepared)
        published = self._publish([self.spec.models[i] for i in fresh], [prepared[i] for i in fresh])
        for i, (source, manifest) in zip(fresh, published):
            sources[i] = source
            manifests[(manifest.name, manifest.version)] = manifest
        return sources, manifests, len(fresh)  # type: ignore[return-value]  # every source is checked now

    def _publish(self, models: list[ModelSpec],
                 prepared: list[_Source | None]) -> list[tuple[_Source, hubfiles.Manifest]]:
        """The new versions' blobs and manifests, written here (from their checked folders, *prepared*) or by
        the workers (which check the folders of *models* themselves)."""
        if self.pool is None:
            sources: list[_Source] = prepared  # type: ignore[assignment]  # checked here when there are no workers
            digests = self.publisher.publish(sources)
        else:
            folders = {str(model.path) for model in models}
            job = functools.partial(_publish_in_worker, self.out, self.store.part_size,
                                    self.store.cache.entries_under(folders))

            def done(_chunk: Sequence[ModelSpec], result: _Published) -> None:
                self.publisher.absorb(result)
                self.newest = max(self.newest, result.newest)
                size = sum(d.size for files in result.digests for d in files.values())
                self.bytes_total += size
                self._tick(size)

            results = self.pool.map_chunks(job, models, done=done)
            sources = [s for result in results for s in result.sources]
            digests = [d for result in results for d in result.digests]
        return [(source, _manifest(source, files)) for source, files in zip(sources, digests)]

    def _old_manifests(self) -> _Manifests:
        return reader.read_manifests(self.out, self.old) if self.old else {}

    def _check_published(self, source: _Source, old: hubfiles.Manifest) -> None:
        digests = self.publisher.digests([source], store=False)[0]
        now = {(rel, d.sha256, d.size) for rel, d in digests.items()}
        then = {(f.path, f.sha256, f.size) for f in old.files}
        if now != then:
            changed = sorted({item[0] for item in now ^ then})
            raise VersionConflictError(
                f"{source.spec.where}: version {source.spec.ref} already exists in {self.out} with different bytes "
                f"({', '.join(changed[:5])}); published versions never change: bump the version")
        missing = [b for f in old.files for b in f.blobs if not self.store.has(b)]
        if missing:
            raise BuildError(f"{self.out}: {counted(len(missing), 'blob')} of the published {source.spec.ref} "
                             f"missing (first: {hubfiles.blob_path(missing[0].sha256)}); run hubgen verify")
        self.store.stats.add(reused=sum(f.size for f in old.files))
        if dict(source.spec.card) != old.card:
            logger.warning("%s: card changes are ignored for a published version; bump the version",
                           source.spec.ref)

    def _index(self, manifests: _Manifests) -> hubfiles.Index:
        explicit = {m.name: m.version for m in self.spec.models if m.latest}
        versions: dict[str, dict[str, hubfiles.VersionRef]] = {}
        for name, version in sorted(manifests):
            versions.setdefault(name, {})[version] = self._ref(name, version)
        models = {name: hubfiles.ModelEntry(name=name, latest=explicit.get(name) or hubfiles.latest_version(refs),
                                            versions=refs) for name, refs in versions.items()}
        return hubfiles.Index(name=self.spec.name, title=self.spec.title, description=self.spec.description,
                               mirrors=self.spec.mirrors, generated=self._generated(), models=models)

    def _ref(self, name: str, version: str) -> hubfiles.VersionRef:
        """Where a version's manifest is and its digest: published manifests are kept byte for byte, so
        the old index's reference stands; a new one's was noted when it was written."""
        if (name, version) in self.publisher.refs:
            return self.publisher.refs[(name, version)]
        return self.old.models[name].versions[version]  # type: ignore[union-attr]

    def _dated(self, index: hubfiles.Index) -> hubfiles.Index:
        """*index*, keeping the old index's ``generated`` when nothing else changed: an input's mtime that
        moved alone (the YAML file of a fresh clone, an editor's save) is no change to the hub, and a
        no-op build changes nothing (index, catalogue). ``SOURCE_DATE_EPOCH``, when set, always wins."""
        old = self.old
        if old is None or old.generated is None or old.generated == index.generated \
                or constants.source_date_epoch() is not None:
            return index
        content = (index.name, index.title, index.description, tuple(index.mirrors), index.models)
        if content != (old.name, old.title, old.description, tuple(old.mirrors), old.models):
            return index
        return index._replace(generated=old.generated)

    def _generated(self) -> str:
        epoch = constants.source_date_epoch()
        if epoch is None:
            epoch = int(max(self.spec.source.stat().st_mtime, self.newest))
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))

    def _render_site(self, index: hubfiles.Index, manifests: dict[tuple[str, str], hubfiles.Manifest]) -> None:
        """The catalogue is rendered after the manifests and before ``index.json``, so the index commits it too.

        Many stale model pages are rendered by workers even when few versions are new (a rebuild after
        the templates changed): the pool only starts its processes if the site uses it."""
        if self.pool is None:
            self.pool = pool_for(len(index.models), self.workers)
        site_render.render_site(self.out, index=index, manifests=manifests, only_changed=True,
                                on_write=self.store.cache.note, workers=self.pool)

    def _summary(self, index: hubfiles.Index, sources: list[_Source], new: int) -> BuildSummary:
        stats = self.store.stats
        return BuildSummary(out_dir=self.out, models=len(index.models),
                            versions=sum(len(m.versions) for m in index.models.values()), versions_new=new,
                            files=sum(len(s.files) for s in sources), bytes_total=self.bytes_total,
                            bytes_new=stats.bytes_new, bytes_reused=stats.bytes_reused,
                            bytes_hashed=stats.bytes_hashed)


__all__ = ["BuildSummary", "build_hub"]
