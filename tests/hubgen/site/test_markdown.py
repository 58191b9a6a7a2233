"""The safe Markdown subset used for model cards: markup we allow, and everything else as text."""
from __future__ import annotations

import html.parser

import pytest

from hubgen.site.markdown import render_markdown, strip_front_matter

ALLOWED_TAGS = {"p", "a", "strong", "em", "code", "pre", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote"}


class _Elements(html.parser.HTMLParser):
    """tag -> attribute -> values, for every element of a fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, dict[str, list[str]]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        seen = self.tags.setdefault(tag, {})
        for name, value in attrs:
            seen.setdefault(name, []).append(value or "")


def test_front_matter_is_dropped() -> None:
    assert strip_front_matter("---\nlicense: MIT\ntags: [a]\n---\n# Hi\n") == "# Hi\n"
    assert strip_front_matter("no front matter\n---\n") == "no front matter\n---\n"
    assert str(render_markdown("---\nx: 1\n...\nbody")) == "<p>body</p>"


def test_block_constructs() -> None:
    text = "# Title\n\nline one\nline two\n\n- a\n- b\n  more\n\n1. x\n2) y\n\n> quoted\n\n```py\nif a < b:\n```\n"
    assert str(render_markdown(text)).split("\n") == [
        "<h3>Title</h3>", "<p>line one line two</p>", "<ul><li>a</li><li>b more</li></ul>",
        "<ol><li>x</li><li>y</li></ol>", "<blockquote><p>quoted</p></blockquote>",
        "<pre><code>if a &lt; b:</code></pre>"]


def test_inline_constructs() -> None:
    out = str(render_markdown("**b** *e* `<x> *not em*` [doc](https://x.org/a_b_c?q=1&r=2) snake_case_name"))
    assert out == ('<p><strong>b</strong> <em>e</em> <code>&lt;x&gt; *not em*</code> '
                   '<a href="https://x.org/a_b_c?q=1&amp;r=2" rel="nofollow noopener noreferrer">doc</a> '
                   "snake_case_name</p>")


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    '[x](https://ok.org/" onmouseover="alert(1))',
    "![x](https://tracker.example/pixel.png)",
    "<iframe src=https://evil.example></iframe>",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "`</code><script>alert(1)</script>`",
])
def test_hostile_input_is_text(hostile: str) -> None:
    elements = _Elements()
    elements.feed(str(render_markdown(hostile)))
    assert set(elements.tags) <= ALLOWED_TAGS
    for tag, attrs in elements.tags.items():
        assert set(attrs) <= ({"href", "rel"} if tag == "a" else set()), (tag, attrs)
    for href in elements.tags.get("a", {}).get("href", []):
        assert href.startswith(("https://", "http://", "mailto:")) and '"' not in href


def test_links_only_to_web_and_mail() -> None:
    out = str(render_markdown("[a](README.md) [b](/etc/passwd) [c](mailto:x@y.org) [d](http://x.org)"))
    assert out == ('<p>a b <a href="mailto:x@y.org" rel="nofollow noopener noreferrer">c</a> '
                   '<a href="http://x.org" rel="nofollow noopener noreferrer">d</a></p>')
