"""The catalogue site: static HTML pages for a built hub, rendered with Jinja2 (autoescape on).

``hubgen build`` calls :func:`render_site` after writing manifests and before ``index.json``. The
site is self-contained (no CDN, fonts or external scripts) and every link is relative, so it works
under any sub-path (GitHub Pages project sites) and from ``file://``:

```
index.html                     the catalogue: a table of models and a search box
models/<name>/index.html       one page per model (what it returns, how good it is, what it has seen,
                               how to cite and load it, every version's files; engineering detail folded)
assets/site.css, search.js, favicon.svg
assets/molecules/<hash>.svg    RDKit drawings of the pages' molecules (shown with <img>)
```

The data is computed in :mod:`hubgen.site.views`; ``site_templates/`` only presents it. Output is
deterministic: the same hub gives byte-identical pages.

A rebuild renders only the pages whose inputs changed (``only_changed=True``, as ``hubgen build``
calls it): each page's inputs are fingerprinted (the templates and the site code; the hub's header
and the names of its models; for a model page, its own entry in the index, which pins its manifests
and through them every byte it shows; for the home page, the whole index) and recorded in a private
file of the hub folder (:data:`layout.SITE_PAGES_FILE`). A model page must therefore depend on
nothing but those: a new version of one model re-renders its page and the home page only.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from dchub_client.format import hubfiles, layout
from dchub_client.format.atomic import write_if_changed
from hubgen.errors import BuildError
from hubgen.site import reader, values, views
from hubgen.site.histogram_cache import HistogramCache
from hubgen.workers import MIN_VERSIONS

if TYPE_CHECKING:
    from hubgen.workers import Workers

logger = logging.getLogger(__name__)

#: The templates and static assets: the source tree's top-level ``site_templates/``, which the
#: build configuration installs as the package ``hubgen.site.templates`` (so a wheel renders too).
TEMPLATES_DIR = Path(str(importlib.resources.files("hubgen.site.templates")))
#: Static files copied as they are into ``assets/``.
ASSETS = ("favicon.svg", "search.js", "site.css")


def render_site(out_dir: str | Path, *, index: hubfiles.Index,
                manifests: dict[tuple[str, str], hubfiles.Manifest], only_changed: bool = False,
                on_write: Callable[[Path, bytes], None] | None = None, workers: Workers | None = None) -> list[Path]:
    """Write the catalogue site of the hub at *out_dir*; return the files that changed.

    Args:
        out_dir: the hub folder, whose blobs and manifests are already written.
        index: the hub's index (the one about to be written).
        manifests: every manifest of the hub by ``(name, version)``.
        only_changed: render only the pages whose inputs changed since the last render (see the
            module doc); by default every page is rendered (and written if its bytes differ).
        on_write: called with the path and bytes of each file written (``hubgen build`` notes their
            digests for ``SHA256SUMS``).
        workers: processes that render the model pages when there are many (:mod:`hubgen.workers`);
            the home page is rendered here meanwhile.

    Returns:
        The paths written (files whose bytes were already right are left alone).

    Raises:
        BuildError: a template or a blob the site needs is missing or unreadable.

    Example:
        >>> render_site("public/", index=index, manifests=manifests)  # doctest: +SKIP
        [PosixPath('public/index.html'), PosixPath('public/models/esol-mtr/index.html'), ...]
    """
    out = Path(out_dir)
    record = PageRecord(out / layout.SITE_PAGES_FILE)
    prints = fingerprints(index)
    stale = {rel for rel, mark in prints.items() if not only_changed or not record.current(out, rel, mark)}
    histograms = HistogramCache(out / layout.SITE_CACHE_FILE)
    pages = _render_stale(out, index, manifests, histograms, stale, workers) if stale else {}

    def write(item: tuple[str, bytes]) -> bool:
        wrote = write_if_changed(out / item[0], item[1])
        if wrote and on_write is not None:
            on_write(out / item[0], item[1])
        return wrote

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="hubgen-page") as pool:  # file creation: kernel time
        changed = list(pool.map(write, sorted(pages.items())))
    written = [out / rel for (rel, _), wrote in zip(sorted(pages.items()), changed) if wrote]
    if pages:
        histograms.save()
    record.save({rel: prints[rel] for rel in prints})
    logger.info("site: %d pages and assets rendered, %d written", len(pages), len(written))
    return written


def render_pages(out_dir: Path, *, index: hubfiles.Index, manifests: dict[tuple[str, str], hubfiles.Manifest],
                 histograms: HistogramCache | None = None, only: set[str] | None = None) -> dict[str, bytes]:
    """The files of the site (all of them, or those in *only*), by path relative to the hub root, without
    writing anything."""
    if only is None:
        hub = views.gather(out_dir, index, manifests, histograms)
    elif SITE_HOME in only:  # every model's row, and the full view of those whose page is rendered
        hub = views.gather(out_dir, index, manifests, histograms,
                           pages=[n for n in index.models if _model_href(n) in only])
    else:
        hub = views.gather(out_dir, index, manifests, histograms,
                           names=[n for n in index.models if _model_href(n) in only])
    env = _environment()
    pages = {SITE_HOME: _render(env, "index.html", hub=hub, root="")} if only is None or SITE_HOME in only else {}
    for model in hub.models:
        if only is None or model.href in only:
            pages[model.href] = _render(env, "model.html", hub=hub, model=model, root="../../")
    for name in ASSETS:
        if only is None or f"assets/{name}" in only:
            pages[f"assets/{name}"] = _asset(name)
    pages.update(hub.drawings)  # those of the models gathered in full (content-addressed: never stale)
    return pages


SITE_HOME = layout.SITE_INDEX


def _render_stale(out: Path, index: hubfiles.Index, manifests: dict[tuple[str, str], hubfiles.Manifest],
                  histograms: HistogramCache, stale: set[str], workers: Workers | None) -> dict[str, bytes]:
    """:func:`render_pages` of *stale*; many model pages are rendered by *workers* while this process
    renders the rest (the home page needs every model's row, which is cheap next to a model page)."""
    names = [name for name in index.models if _model_href(name) in stale]
    if workers is None or len(names) < MIN_VERSIONS:
        return render_pages(out, index=index, manifests=manifests, histograms=histograms, only=stale)
    rest = stale - {_model_href(name) for name in names}
    job = functools.partial(_render_in_worker, out, hubfiles.dumps(hubfiles.index_to_json(index)))
    pages: dict[str, bytes] = {}

    def here() -> None:
        if rest:
            pages.update(render_pages(out, index=index, manifests=manifests, histograms=histograms, only=rest))

    def done(_chunk: Sequence[str], result: tuple[dict[str, bytes], dict[str, Any]]) -> None:
        pages.update(result[0])
        histograms.absorb(result[1])

    workers.map_chunks(job, names, done=done, meanwhile=here)
    return pages


def _render_in_worker(out: Path, index_json: bytes, names: Sequence[str]) -> tuple[dict[str, bytes], dict[str, Any]]:
    """In a build worker: the pages of the models *names* (with their drawings) and the histograms they used.

    The manifests are read from the hub folder (they are written before the site is rendered)."""
    index = _parse_index(index_json)
    manifests = reader.read_manifests(out, index, names)
    histograms = HistogramCache(out / layout.SITE_CACHE_FILE)
    pages = render_pages(out, index=index, manifests=manifests, histograms=histograms,
                         only={_model_href(name) for name in names})
    return pages, histograms.used()


@functools.lru_cache(maxsize=1)
def _parse_index(data: bytes) -> hubfiles.Index:
    """The index a worker renders from, parsed once per worker (it is the same for every chunk)."""
    return hubfiles.parse_index(json.loads(data), layout.INDEX_FILE)


def _model_href(name: str) -> str:
    return f"{layout.MODELS_DIR}/{name}/index.html"


def fingerprints(index: hubfiles.Index) -> dict[str, str]:
    """Every page of the site (by path) and the digest of what it is made from (see the module doc)."""
    stamp = _code_stamp()
    header = json.dumps([index.name, index.title, index.description, list(index.mirrors), dict(index.extra),
                         sorted(index.models)],  # a page links its base model only when the hub has it
                        sort_keys=True, ensure_ascii=False, default=str)
    home = hubfiles.dumps(hubfiles.index_to_json(index))
    out = {SITE_HOME: _digest(stamp, home)}
    for name, model in index.models.items():
        entry = json.dumps([name, model.latest, {v: [r.manifest, r.sha256, r.size] for v, r in model.versions.items()}],
                           sort_keys=True)
        out[_model_href(name)] = _digest(stamp, header.encode(), entry.encode())
    for name in ASSETS:
        out[f"assets/{name}"] = _digest(stamp, name.encode())
    return out


def _digest(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _code_stamp() -> str:
    """A digest of the templates, the assets and the site's code: any change re-renders every page."""
    files = sorted([*TEMPLATES_DIR.rglob("*"), *Path(__file__).parent.glob("*.py")])
    return _digest(*(f"{p.name}\0".encode() + p.read_bytes() for p in files if p.is_file()))


class PageRecord:
    """The fingerprint each page was last rendered from (a private JSON file of the hub folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            pages = data.get("pages") if isinstance(data, dict) and data.get("version") == 1 else None
        except (OSError, ValueError):
            pages = None
        self.pages: dict[str, str] = pages if isinstance(pages, dict) else {}

    def current(self, out: Path, rel: str, mark: str) -> bool:
        """True when *rel* was rendered from *mark* and is still there."""
        return self.pages.get(rel) == mark and (out / rel).is_file()

    def save(self, pages: dict[str, str]) -> None:
        write_if_changed(self.path, json.dumps({"version": 1, "pages": dict(sorted(pages.items()))},
                                               separators=(",", ":")).encode("utf-8"), private=True)


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    if not (TEMPLATES_DIR / "base.html").is_file():
        raise BuildError(f"{TEMPLATES_DIR}: site templates not found (base.html is missing); "
                         "reinstall dchub (pip install --force-reinstall dchub)")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, auto_reload=False)  # no stat per page
    env.filters["breakable"] = values.breakable
    return env


def _render(env: jinja2.Environment, template: str, **context: object) -> bytes:
    try:
        return env.get_template(template).render(**context).encode("utf-8")
    except jinja2.TemplateError as err:
        raise BuildError(f"{TEMPLATES_DIR / template}: cannot render: {err}") from err


def _asset(name: str) -> bytes:
    path = TEMPLATES_DIR / "assets" / name
    try:
        return path.read_bytes()
    except OSError as err:
        raise BuildError(f"{path}: site asset missing: {err}") from err


__all__ = ["PageRecord", "TEMPLATES_DIR", "fingerprints", "render_pages", "render_site"]
