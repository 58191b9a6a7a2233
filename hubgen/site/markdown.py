"""A tiny, safe Markdown subset for model cards (``README.md``), with no dependency.

Everything is HTML-escaped first; only these constructs become markup: ATX headings (shifted down
two levels, to sit under the page's own headings), paragraphs, ``-``/``*``/``+`` and numbered
lists, ``>`` quotes, fenced code blocks, inline code, ``**strong**``, ``*emphasis*`` and links to
``http(s)://`` or ``mailto:`` (anything else, including relative links and images, stays text).
Raw HTML is shown as text. A leading YAML front matter block (``---`` ... ``---``) is dropped.
"""
from __future__ import annotations

import html
import re

from markupsafe import Markup

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?^(?:---|\.\.\.)[ \t]*$\r?\n?", re.S | re.M)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_BULLET = re.compile(r"^[ \t]{0,3}[-*+][ \t]+(.*)$")
_NUMBERED = re.compile(r"^[ \t]{0,3}\d{1,9}[.)][ \t]+(.*)$")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?(.*)$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]*)(?:\s+&quot;[^)]*&quot;)?\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+&quot;[^)]*&quot;)?\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_SAFE_URL = re.compile(r"^(?:https?://|mailto:)[^\s\"'<>`]+$", re.I)


def strip_front_matter(text: str) -> str:
    """*text* without a leading YAML front matter block."""
    return _FRONT_MATTER.sub("", text, count=1)


def render_markdown(text: str) -> Markup:
    """Render the Markdown body of a model card as safe HTML (see the module docstring)."""
    lines = strip_front_matter(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        i = _block(lines, i, out)
    return Markup("\n".join(out))


def _block(lines: list[str], i: int, out: list[str]) -> int:
    """Render the block starting at line *i* into *out*; return the index of the next block."""
    line = lines[i]
    if not line.strip():
        return i + 1
    if _FENCE.match(line):
        return _fenced(lines, i, out)
    heading = _HEADING.match(line)
    if heading:
        level = min(len(heading.group(1)) + 2, 6)
        out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        return i + 1
    for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
        if pattern.match(line):
            return _list(lines, i, out, pattern, tag)
    if _QUOTE.match(line):
        j = _run(lines, i, lambda s: bool(_QUOTE.match(s)))
        body = " ".join(_QUOTE.match(s).group(1) for s in lines[i:j])  # type: ignore[union-attr]
        out.append(f"<blockquote><p>{inline(body)}</p></blockquote>")
        return j
    j = _run(lines, i, lambda s: bool(s.strip()) and not _starts_block(s))
    out.append(f"<p>{inline(' '.join(s.strip() for s in lines[i:max(j, i + 1)]))}</p>")
    return max(j, i + 1)


def _starts_block(line: str) -> bool:
    return any(p.match(line) for p in (_FENCE, _HEADING, _BULLET, _NUMBERED, _QUOTE))


def _run(lines: list[str], i: int, keep) -> int:  # type: ignore[no-untyped-def]
    while i < len(lines) and keep(lines[i]):
        i += 1
    return i


def _fenced(lines: list[str], i: int, out: list[str]) -> int:
    fence = _FENCE.match(lines[i]).group(1)  # type: ignore[union-attr]
    j = i + 1
    while j < len(lines) and not lines[j].strip().startswith(fence):
        j += 1
    out.append("<pre><code>" + html.escape("\n".join(lines[i + 1:j])) + "</code></pre>")
    return j + 1


def _list(lines: list[str], i: int, out: list[str], pattern: re.Pattern[str], tag: str) -> int:
    items: list[str] = []
    while i < len(lines):
        match = pattern.match(lines[i])
        if match:
            items.append(match.group(1).strip())
        elif lines[i].strip() and items and lines[i][:1] in " \t":
            items[-1] += " " + lines[i].strip()  # a continuation line of the item
        else:
            break
        i += 1
    out.append(f"<{tag}>" + "".join(f"<li>{inline(item)}</li>" for item in items) + f"</{tag}>")
    return i


def inline(text: str) -> str:
    """Escape *text* and apply the inline constructs (code spans are left untouched inside)."""
    pieces = []
    last = 0
    for match in _CODE_SPAN.finditer(text):
        pieces.append(_inline_plain(text[last:match.start()]))
        pieces.append("<code>" + html.escape(match.group(2).strip()) + "</code>")
        last = match.end()
    pieces.append(_inline_plain(text[last:]))
    return "".join(pieces)


def _inline_plain(text: str) -> str:
    escaped = _IMAGE.sub(lambda m: m.group(1), html.escape(text))
    pieces = []
    last = 0
    for match in _LINK.finditer(escaped):
        pieces.append(_emphasis(escaped[last:match.start()]))
        pieces.append(_link(match.group(1), match.group(2)))
        last = match.end()
    pieces.append(_emphasis(escaped[last:]))
    return "".join(pieces)


def _emphasis(escaped: str) -> str:
    return _EM.sub(r"<em>\2</em>", _STRONG.sub(r"<strong>\2</strong>", escaped))


def _link(label: str, url: str) -> str:
    if not _SAFE_URL.match(html.unescape(url)):
        return _emphasis(label)
    return f'<a href="{url}" rel="nofollow noopener noreferrer">{_emphasis(label)}</a>'
