"""The example hub's pages in headless Chromium at 1280 and 390 px (a desktop and a phone).

Served by ``hubgen serve``'s server under a sub-path on 127.0.0.1: no console errors or failed
requests; every model page shows what it returns (drawn examples), how good it is (a parity plot
with one point per held-out molecule, or one ROC-AUC bar per Tox21 task), what it has seen and
how to cite it; the search box finds models by description, data set, task, framework and
license; on a phone nothing overflows the page, chart text is at least 10 px and weight names
break only at their separators; "How to load" shows the address the page is browsed at.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from dchub_client.format import hubfiles
from tests._support.browser import ARTIFACTS, Watcher
from tests.hubgen.site.support import serving

WIDTHS = (1280, 390)
#: The smallest rendered font size (px) of any chart text.
MIN_CHART_FONT = 10.0
FONT_SIZES = """() => Array.from(document.querySelectorAll('svg text')).filter(t => t.getClientRects().length)
  .map(t => { const svg = t.ownerSVGElement; const box = svg.viewBox.baseVal;
              const scale = box && box.width ? svg.getBoundingClientRect().width / box.width : 1;
              return parseFloat(getComputedStyle(t).fontSize) * scale; })"""
#: Names whose wrapping is checked: each run of text between <wbr> breaks must stay on one line.
SPLIT_SEGMENTS = """(selector) => Array.from(document.querySelectorAll(selector)).filter(c => c.getClientRects().length)
  .flatMap(code => Array.from(code.childNodes).filter(n => n.nodeType === 3).map(n => {
    const range = document.createRange(); range.selectNodeContents(n);
    const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
    return tops.size > 1 ? n.textContent : null; })).filter(Boolean)"""


def _tab(browser: Any, width: int) -> tuple[Any, Page, Watcher]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    return context, tab, Watcher(tab)


def _open_everything(tab: Page) -> None:
    tab.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")


def _models(hub: Path) -> dict[str, dict]:
    index = hubfiles.parse_index(json.loads((hub / "index.json").read_text()))
    return {name: json.loads((hub / m.versions[m.latest].manifest).read_text()) for name, m in index.models.items()}


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_reads_well_at_desktop_and_phone_width(built_hub, browser, width):
    context, tab, watcher = _tab(browser, width)
    try:
        with serving(built_hub.hub) as server:
            pages = ["index.html", *(f"models/{name}/index.html" for name in sorted(_models(built_hub.hub)))]
            for rel in pages:
                tab.goto(server.url + rel)
                tab.wait_for_load_state("networkidle")
                _open_everything(tab)
                assert tab.evaluate("document.documentElement.scrollWidth") <= width, (rel, width)
                sizes = tab.evaluate(FONT_SIZES)
                assert all(size >= MIN_CHART_FONT for size in sizes), (rel, width, min(sizes, default=None))
                assert tab.evaluate(SPLIT_SEGMENTS, "td.name code, code.name") == [], (rel, width)
                images = tab.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
                assert all(images), rel
                ARTIFACTS.mkdir(exist_ok=True)
                tab.screenshot(path=str(ARTIFACTS / f"example-{width}-{rel.replace('/', '_')}.png"), full_page=True)
            if width == 390:  # the models table became one card per model
                tab.goto(server.url + "index.html")
                assert not tab.is_visible("table.models thead")
                box = tab.locator("table.models tbody tr").first.bounding_box()
                assert box and box["width"] <= width
    finally:
        context.close()
    assert watcher.problems == []


def test_model_pages_show_what_a_chemist_asks(built_hub, browser):
    context, tab, watcher = _tab(browser, 1280)
    models = _models(built_hub.hub)
    try:
        with serving(built_hub.hub) as server:
            for name, manifest in sorted(models.items()):
                card = manifest["card"]
                evaluation = json.loads((built_hub.folders[name] / "evaluation.json").read_text())
                tab.goto(server.url + f"models/{name}/index.html")
                tab.wait_for_load_state("networkidle")
                assert tab.locator("#returns figure.example img").count() == 3, name
                assert card["outputs"]["shape"] in tab.text_content("#returns p.contract"), name
                for split in ("random", "scaffold"):
                    figure = tab.locator(f"#plot-{split}")
                    test_size = len(evaluation["splits"][split]["smiles"])
                    if card["task"] == "regression":
                        assert figure.locator("circle.point").count() == test_size, (name, split)
                    else:
                        assert figure.locator("svg.auc-bars g rect.bar").count() == 12, (name, split)
                assert tab.locator("#metrics-table tbody tr").count() == len(card["metrics"]), name
                if "moleculenet" in card:
                    text = tab.text_content("#performance .comparison")
                    assert f"{card['moleculenet']['published']} ± {card['moleculenet']['spread']}" in text, name
                assert tab.locator("#training svg.histogram").count() == 2, name
                assert tab.locator("#training figure.scaffold img").count() >= 3, name
                assert f"at least {card['domain']['threshold']:g}" in tab.text_content("#training"), name
                assert "@article{wu2018moleculenet" in tab.text_content("#bibtex") or "moleculenet" not in card
                assert tab.is_visible("button[data-copy='bibtex']"), name
                assert tab.get_attribute("#cite a[rel='license']", "href") == "https://opensource.org/license/mit"
                assert not tab.is_visible("#weights"), name  # engineering detail starts folded
                tab.click("#engineering > summary")
                assert tab.is_visible("#weights") and tab.is_visible("#hyperparameters"), name
            tab.goto(server.url + "models/nci-clogp-finetuned/index.html")
            tab.click("a.base-model")
            tab.wait_for_load_state("networkidle")
            assert tab.url == server.url + "models/esol-mtr/index.html"
    finally:
        context.close()
    assert watcher.problems == []


def test_search_finds_models_by_what_chemists_type(built_hub, browser):
    context, tab, watcher = _tab(browser, 1280)
    try:
        with serving(built_hub.hub) as server:
            tab.goto(server.url + "index.html")
            tab.wait_for_load_state("networkidle")

            def visible(query: str) -> list[str]:
                tab.fill("#search", query)
                return tab.eval_on_selector_all("#models tbody tr:not([hidden]) td.model > a",
                                                "els => els.map(e => e.textContent)")

            assert visible("solubility") == ["esol-graphconv", "esol-mtr", "esol-rf"]  # description
            assert visible("tox21") == ["tox21-graphconv", "tox21-mtc"]  # data set
            assert visible("nr-ahr") == ["tox21-graphconv", "tox21-mtc"]  # a task
            assert visible("sklearn") == ["esol-rf"]  # framework
            assert visible("keras classification") == ["tox21-graphconv"]
            assert visible("mit")  # license
            assert visible("apache-2.0") == [] and tab.is_visible("#no-match")
    finally:
        context.close()
    assert watcher.problems == []


def test_how_to_load_shows_the_address_being_browsed(built_hub, browser):
    context, tab, watcher = _tab(browser, 1280)
    try:
        with serving(built_hub.hub) as server:
            tab.goto(server.url + "models/esol-mtr/index.html")
            tab.wait_for_load_state("networkidle")
            assert tab.text_content("#snippet-shell") == f'export DEEPCHEM_MODEL_HUB="{server.url}"'
            tab.goto(server.url + "index.html")
            assert tab.text_content("#mirrors code.hub-root") == server.url
            assert tab.locator("#mirrors ul.mirrors a").count() == 1
        tab.goto((built_hub.hub / "models" / "esol-mtr" / "index.html").as_uri())
        tab.wait_for_load_state("load")
        assert tab.text_content("#snippet-shell") == f'export DEEPCHEM_MODEL_HUB="{built_hub.hub}/"'
    finally:
        context.close()
    assert watcher.problems == []
    page = (built_hub.hub / "models" / "esol-mtr" / "index.html").read_text()
    assert "https://deepchemdata.s3-us-west-1.amazonaws.com/modelhub/" in page  # what shows without script
