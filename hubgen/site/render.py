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
"""
from __future__ import annotations

import functools
import importlib.resources
import logging
from pathlib import Path

import jinja2

from dchub_client.format import hubfiles, layout
from dchub_client.format.atomic import write_if_changed
from hubgen.errors import BuildError
from hubgen.site import values, views
from hubgen.site.histogram_cache import HistogramCache

logger = logging.getLogger(__name__)

#: The templates and static assets: the source tree's top-level ``site_templates/``, which the
#: build configuration installs as the package ``hubgen.site.templates`` (so a wheel renders too).
TEMPLATES_DIR = Path(str(importlib.resources.files("hubgen.site.templates")))
#: Static files copied as they are into ``assets/``.
ASSETS = ("favicon.svg", "search.js", "site.css")


def render_site(out_dir: str | Path, *, index: hubfiles.Index,
                manifests: dict[tuple[str, str], hubfiles.Manifest]) -> list[Path]:
    """Write the catalogue site of the hub at *out_dir*; return the files that changed.

    Args:
        out_dir: the hub folder, whose blobs and manifests are already written.
        index: the hub's index (the one about to be written).
        manifests: every manifest of the hub by ``(name, version)``.

    Returns:
        The paths written (files whose bytes were already right are left alone).

    Raises:
        BuildError: a template or a blob the site needs is missing or unreadable.

    Example:
        >>> render_site("public/", index=index, manifests=manifests)  # doctest: +SKIP
        [PosixPath('public/index.html'), PosixPath('public/models/esol-mtr/index.html'), ...]
    """
    out = Path(out_dir)
    histograms = HistogramCache(out / layout.SITE_CACHE_FILE)
    pages = render_pages(out, index=index, manifests=manifests, histograms=histograms)
    written = [out / rel for rel, data in sorted(pages.items()) if write_if_changed(out / rel, data)]
    histograms.save()
    logger.info("site: %d pages and assets, %d written", len(pages), len(written))
    return written


def render_pages(out_dir: Path, *, index: hubfiles.Index, manifests: dict[tuple[str, str], hubfiles.Manifest],
                 histograms: HistogramCache | None = None) -> dict[str, bytes]:
    """Every file of the site, by path relative to the hub root, without writing anything."""
    hub = views.gather(out_dir, index, manifests, histograms)
    env = _environment()
    pages = {"index.html": _render(env, "index.html", hub=hub, root="")}
    for model in hub.models:
        pages[model.href] = _render(env, "model.html", hub=hub, model=model, root="../../")
    for name in ASSETS:
        pages[f"assets/{name}"] = _asset(name)
    pages.update(hub.drawings)
    return pages


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    if not (TEMPLATES_DIR / "base.html").is_file():
        raise BuildError(f"{TEMPLATES_DIR}: site templates not found (base.html is missing); "
                         "reinstall dchub (pip install --force-reinstall dchub)")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
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


__all__ = ["render_site", "render_pages", "TEMPLATES_DIR"]
