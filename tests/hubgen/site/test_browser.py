"""The site in a real headless Chromium (Debian's ``/usr/bin/chromium``), served under a sub-path.

No console errors or failed requests, the search box filters the table, a model page shows its
weights table and SVG charts, links work from ``file://`` too; screenshots go to ``test-artifacts/``.
The browser comes from :mod:`tests._support.browser` (the ``browser`` fixture).
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests._support.browser import ARTIFACTS, Watcher
from tests.hubgen.site.support import build_site_hub, page_links, serving

PAGES = ["index.html", "models/big-net/index.html", "models/esol-mtr/index.html", "models/tox-clf/index.html"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site_hub(tmp_path_factory.mktemp("browser"))


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Page, Watcher]]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    watcher = Watcher(tab)
    try:
        yield tab, watcher
    finally:
        context.close()


def _shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"site-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000
    return path


def _visible_models(page: Page) -> list[str]:
    return page.eval_on_selector_all("#models tbody tr:not([hidden]) td:first-child a", "els => els.map(e => e.textContent)")


def test_search_filters_the_table(hub: Path, page: tuple[Page, Watcher]) -> None:
    tab, watcher = page
    with serving(hub) as server:
        tab.goto(server.url + "index.html")
        tab.wait_for_load_state("networkidle")
        assert tab.is_visible("#search")
        assert _visible_models(tab) == ["big-net", "esol-mtr", "tox-clf"]
        tab.fill("#search", "")
        tab.type("#search", "solub")  # by tag, as you type
        assert _visible_models(tab) == ["esol-mtr"]
        assert tab.text_content("#search-count") == "1 of 3 models"
        tab.fill("#search", "classification")  # by task
        assert _visible_models(tab) == ["tox-clf"]
        tab.fill("#search", "TORCH embed")  # framework and tag, any case
        assert _visible_models(tab) == ["big-net"]
        tab.fill("#search", "no-such-model")
        assert _visible_models(tab) == [] and tab.is_visible("#no-match")
        tab.fill("#search", "")
        assert _visible_models(tab) == ["big-net", "esol-mtr", "tox-clf"] and not tab.is_visible("#no-match")
        _shot(tab, "home")
    assert watcher.problems == []


def test_model_page_shows_weights_and_charts(hub: Path, page: tuple[Page, Watcher]) -> None:
    tab, watcher = page
    with serving(hub) as server:
        tab.goto(server.url + "index.html")
        tab.click("text=esol-mtr")
        tab.wait_for_load_state("networkidle")
        assert tab.url == server.url + "models/esol-mtr/index.html"
        assert not tab.is_visible("#weights-table")  # engineering detail starts folded, below the card
        tab.click("#engineering > summary")
        assert tab.is_visible("#weights-table")
        assert tab.locator("#weights-table tbody tr").count() == 6
        assert tab.locator("svg.chart").count() == 3  # the bar chart, two histograms (heads.0 has too few values)
        box = tab.locator("svg.chart.bars").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 40
        assert tab.locator("svg.chart.histogram rect").count() == 2 * 24
        assert tab.text_content("#snippet-python") == \
            'import dchub_client\nmodel = dchub_client.from_pretrained("esol-mtr@1.1.0")'
        assert tab.is_visible("button.copy")
        assert tab.evaluate("typeof window.alert") == "function"  # the hostile card ran nothing
        assert "<script>alert(1)</script>" in tab.text_content("p.description")
        _shot(tab, "model")
        tab.goto(server.url + "models/big-net/index.html")
        tab.wait_for_load_state("networkidle")
        tab.click("#engineering > summary")
        assert tab.locator("svg.chart.histogram").count() == 1
        _shot(tab, "model-sampled")
    assert watcher.problems == []


def test_every_page_and_link_over_http(hub: Path, page: tuple[Page, Watcher]) -> None:
    """Load every page and fetch every relative link through the sub-path server: nothing 404s."""
    tab, watcher = page
    with serving(hub) as server:
        for rel in PAGES:
            tab.goto(server.url + rel)
            tab.wait_for_load_state("networkidle")
            for tag, link in page_links(hub / rel).links:
                if urllib.parse.urlsplit(link).scheme or link.startswith("#"):
                    continue
                url = urllib.parse.urljoin(server.url + rel, link)
                assert url.startswith(server.url), f"{rel}: {link} leaves the sub-path"
                response = tab.request.get(url)
                assert response.status == 200, f"{rel}: <{tag}> {link} -> {url}: {response.status}"
        assert tab.request.get(server.url.rstrip("/") + "/../index.html").status == 404
        assert tab.request.get(server.url.replace("/myhub/", "/") + "index.html").status == 404
    assert watcher.problems == []


def test_how_to_load_says_what_address_it_shows(hub: Path, page: tuple[Page, Watcher]) -> None:
    """The note under "Point dchub at this hub" says what the snippet holds: the address being browsed (or
    the folder opened) once the script put it there, the first mirror without script. It said "This is the
    hub's first mirror" under the address being browsed."""
    tab, watcher = page
    model = "models/esol-mtr/index.html"
    with serving(hub) as server:
        tab.goto(server.url + model)
        tab.wait_for_load_state("networkidle")
        assert tab.text_content("#snippet-shell") == f'export DEEPCHEM_MODEL_HUB="{server.url}"'
        assert tab.text_content(".hub-root-note") == "This is the address you are browsing this hub at."
    tab.goto((hub / model).as_uri())
    tab.wait_for_load_state("load")
    assert tab.text_content("#snippet-shell") == f'export DEEPCHEM_MODEL_HUB="{hub}/"'
    assert tab.text_content(".hub-root-note") == "This is the folder you opened this hub from."
    assert watcher.problems == []
    assert "This is the hub's first mirror; when you browse" in (hub / model).read_text()  # without script


def test_site_works_from_file_urls(hub: Path, page: tuple[Page, Watcher]) -> None:
    tab, watcher = page
    tab.goto((hub / "index.html").as_uri())
    tab.wait_for_load_state("load")
    assert tab.evaluate("getComputedStyle(document.querySelector('header.site')).backgroundColor") \
        == "rgb(43, 93, 140)"  # the stylesheet loaded
    tab.fill("#search", "tox")  # the script runs
    assert _visible_models(tab) == ["tox-clf"]
    tab.fill("#search", "")
    tab.click("text=esol-mtr")
    tab.wait_for_load_state("load")
    assert tab.url == (hub / "models/esol-mtr/index.html").as_uri()
    assert tab.locator("#weights-table tbody tr").count() == 6 and tab.locator("svg.chart").count() == 3
    tab.click("a.home")
    tab.wait_for_load_state("load")
    assert tab.url == (hub / "index.html").as_uri()
    assert watcher.problems == []


def test_the_watcher_sees_a_missing_asset(hub: Path, tmp_path: Path, page: tuple[Page, Watcher]) -> None:
    """The checks above can fail: a page whose stylesheet 404s is reported."""
    import shutil

    broken = tmp_path / "hub"
    shutil.copytree(hub, broken)
    (broken / "assets" / "site.css").unlink()
    tab, watcher = page
    with serving(broken) as server:
        tab.goto(server.url + "index.html")
        tab.wait_for_load_state("networkidle")
    assert any(p.startswith("404: ") and p.endswith("/myhub/assets/site.css") for p in watcher.problems), \
        watcher.problems


def test_narrow_screen_has_no_page_overflow(hub: Path, browser: Any) -> None:
    """On a 390 px phone long names, hashes and tables wrap or scroll inside their box, not the page."""
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        tab = context.new_page()
        for rel in PAGES:
            tab.goto((hub / rel).as_uri())
            tab.wait_for_load_state("load")
            tab.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            assert tab.evaluate("document.documentElement.scrollWidth") <= 390, rel
        assert tab.is_visible("#snippet-python")
        tab.goto((hub / "models/esol-mtr/index.html").as_uri())
        tab.click("#engineering > summary")
        assert tab.is_visible("#snippet-pipeline") and tab.is_visible("#auxiliary-table")
        assert tab.locator("#auxiliary-table tbody tr").count() == 2
        for snippet in tab.locator(".snippet").all():  # each Copy button sits above its code, never over it
            button, code = snippet.locator("button.copy").bounding_box(), snippet.locator("pre").bounding_box()
            first_line = tab.evaluate("pre => { const r = document.createRange(); r.selectNodeContents(pre);"
                                      " return r.getClientRects()[0].top; }", snippet.locator("pre").element_handle())
            assert button and code and button["y"] + button["height"] <= first_line
        _shot(tab, "model-narrow")
    finally:
        context.close()


#: The whitespace-separated tokens of an element's text that the browser laid out over more than one line.
SPLIT_TOKENS = """(el) => { const split = []; const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    for (const m of n.textContent.matchAll(/\\S+/g)) {
      const r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
      if (new Set(Array.from(r.getClientRects()).map(c => Math.round(c.top))).size > 1) { split.push(m[0]); }
    } }
  return split; }"""
#: Mean brightness of the outer 6 px columns of an element's screenshot, (left, right).
EDGE_STRIPS = 6


def _edges(png: bytes) -> tuple[float, float]:
    import io

    from PIL import Image, ImageStat

    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    left = ImageStat.Stat(image.crop((0, 0, EDGE_STRIPS, height))).mean[0]
    right = ImageStat.Stat(image.crop((width - EDGE_STRIPS, 0, width, height))).mean[0]
    return left, right


def test_a_long_class_name_wraps_at_its_dots(hub: Path, browser: Any) -> None:
    """A model's class (``deepchem.models.torch_models.MPNNModel``) wraps after a dot on a phone, never inside
    a name (``GraphConvMode`` / ``l`` on the example hub's pages), and reads and copies as one name."""
    context = browser.new_context(viewport={"width": 300, "height": 800})
    try:
        tab = context.new_page()
        tab.goto((hub / "models/big-net/index.html").as_uri())
        tab.wait_for_load_state("load")
        code = tab.locator("p.meta code").first
        assert code.text_content() == "deepchem.models.torch_models.MPNNModel"
        lines = code.evaluate("""(el) => { const tops = []; const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
          for (let n = walk.nextNode(); n; n = walk.nextNode()) {
            const r = document.createRange(); r.selectNodeContents(n);
            tops.push(new Set(Array.from(r.getClientRects()).map(c => Math.round(c.top))).size); }
          return tops; }""")
        assert len(lines) == 4 and all(n == 1 for n in lines), lines  # each dotted part on one line
        assert code.evaluate("el => new Set(Array.from(el.getClientRects()).map(c => Math.round(c.top))).size") > 1
    finally:
        context.close()


def test_phone_metrics_table_fits_its_box(hub: Path, browser: Any) -> None:
    """At 390 px a metrics table with a data-set column fits its box: it was 7 px wider (13 px on the example
    hub's pages), its last column cut off with nothing saying that it scrolls."""
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        tab = context.new_page()
        tab.goto((hub / "models/tox-clf/index.html").as_uri())
        tab.wait_for_load_state("load")
        assert tab.locator("#metrics-table th").last.text_content() == "Data set"
        box = tab.locator("#metrics-table").locator("xpath=..")
        assert box.evaluate("b => b.scrollWidth - b.clientWidth") <= 0
    finally:
        context.close()


def test_a_table_that_scrolls_shades_the_side_with_more(hub: Path, browser: Any) -> None:
    """A table that cannot fit a phone (the weights) shades the edge it scrolls towards, as docs sites do."""
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        tab = context.new_page()
        tab.goto((hub / "models/tox-clf/index.html").as_uri())
        tab.wait_for_load_state("load")
        tab.click("#engineering > summary")
        box = tab.locator("#weights-table").locator("xpath=..")
        assert box.evaluate("b => b.scrollWidth - b.clientWidth") > 50  # it has to scroll
        box.evaluate("b => { b.firstElementChild.style.visibility = 'hidden'; }")  # the box's own background only
        left, right = _edges(box.screenshot())
        assert right < left - 5, (left, right)  # more on the right: its edge is shaded
        box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
        left, right = _edges(box.screenshot())
        assert left < right - 5, (left, right)  # scrolled to the end: the shade moved left
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_commands_never_break_inside_a_token_and_copy_intact(hub: Path, browser: Any, width: int) -> None:
    """At 390 px the install command broke inside ".[torch,deepchem]": a command now keeps its line and
    scrolls inside its box, on a desktop it fits, and Copy yields the single-line command."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        tab = context.new_page()
        with serving(hub) as server:
            tab.goto(server.url + "models/esol-mtr/index.html")
            tab.wait_for_load_state("networkidle")
            tab.click("#engineering > summary")
            snippets = tab.locator(".snippet pre:not(.bibtex)").all()
            for pre in snippets:
                assert pre.evaluate(SPLIT_TOKENS) == [], (width, pre.text_content())
            assert len(snippets) == 5  # install from a clone, from a wheel, the hub, the pipeline, the model
            assert tab.evaluate("document.documentElement.scrollWidth") <= width
            install = tab.locator("#snippet-install")
            if width == 1280:
                assert install.evaluate("p => p.scrollWidth <= p.clientWidth")
            tab.click("button[data-copy=snippet-install]")
            tab.wait_for_function("() => document.querySelector('button[data-copy=snippet-install]').textContent"
                                  " === 'Copied'")
            assert tab.evaluate("navigator.clipboard.readText()") == \
                'pip install -c constraints.txt -e ".[torch,deepchem]"'
            assert tab.text_content("#snippet-wheel") == 'pip install "dchub-0.1.0-py3-none-any.whl[torch,deepchem]"'
            ARTIFACTS.mkdir(exist_ok=True)
            install.screenshot(path=str(ARTIFACTS / f"site-install-{width}.png"))
    finally:
        context.close()
