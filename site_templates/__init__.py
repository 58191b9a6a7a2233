"""The catalogue site's Jinja2 templates and static assets, installed as the package ``hubgen.site.templates``.

Presentation only: every value a page shows is computed in :mod:`hubgen.site.views`.
"""
