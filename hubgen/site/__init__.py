"""The catalogue site: data for each page (:mod:`.views`), SVG charts (:mod:`.svg`), and rendering
with Jinja2 (:mod:`.render`)."""
from hubgen.site.render import render_site

__all__ = ["render_site"]
