"""The catalogue site rendered by ``hubgen build``: layout, content, escaping, links, determinism."""
from __future__ import annotations

import html.parser
import re
import urllib.parse
from pathlib import Path

import pytest

from dchub_client.format import hubfiles, jsonstrict, layout
from hubgen.errors import BuildError
from hubgen.site import render
from tests.hubgen.site.support import (
    BIG_ELEMENTS,
    EPOCH,
    MOMENTUM,
    XSS,
    build_site_hub,
    make_sources,
    page_links,
    site_files,
)

PAGES = ["index.html", "models/big-net/index.html", "models/esol-mtr/index.html", "models/tox-clf/index.html"]
ASSETS = ["assets/favicon.svg", "assets/search.js", "assets/site.css"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site_hub(tmp_path_factory.mktemp("site"))


class TagCollector(html.parser.HTMLParser):
    """The element names, script sources and ``on*`` attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.scripts: list[str | None] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        if tag == "script":
            self.scripts.append(dict(attrs).get("src"))
        self.handlers += [name for name, _ in attrs if name.startswith("on")]


def _text(hub: Path, rel: str) -> str:
    return (hub / rel).read_text(encoding="utf-8")


def _rows(page: str, table_id: str | None = None) -> list[str]:
    body = page.split(f'id="{table_id}"', 1)[1] if table_id else page
    body = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[ >].*?</tr>", body, re.S)


def test_layout_and_sums(hub: Path) -> None:
    assert sorted(site_files(hub)) == sorted(PAGES + ASSETS)
    sums = (hub / layout.SUMS_FILE).read_text().splitlines()
    listed = {line.split("  ", 1)[1] for line in sums}
    assert set(PAGES + ASSETS) <= listed


def test_home_lists_every_model_with_its_columns(hub: Path) -> None:
    page = _text(hub, "index.html")
    assert "<title>Site test hub</title>" in page
    assert "with &lt;b&gt;markup&lt;/b&gt; that must stay text" in page
    rows = _rows(page, "models")
    assert [re.search(r'href="([^"]+)"', r).group(1) for r in rows] == [
        "models/big-net/index.html", "models/esol-mtr/index.html", "models/tox-clf/index.html"]
    esol = rows[1]
    cells = [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", esol, re.S)]
    assert cells == [["esol-mtr", "1.1.0", "Multitask", "regressor", "on", "ESOL", "&lt;script&gt;alert(1)&lt;/script&gt;",
                      "data:", "delaney", "solubility", "fingerprints"], ["regression"], ["torch"], ["rmse", "0.5817"],
                     ["MIT"], [cells[5][0], "KiB"]]
    assert 'title="10,369 parameters"' in esol  # 64*128+64 + 32*64+32 + 1*32+1 parameters
    assert 'data-search="esol-mtr regression torch deepchem.models.fcnet.multitaskregressor solubility ' \
           'fingerprints multitask regressor on esol &lt;script&gt;alert(1)&lt;/script&gt; delaney mit"' in esol
    assert "search-box" in page and "hidden" in page.split('id="search-box"')[1].split(">")[0]


def test_model_page_card_versions_and_snippet(hub: Path) -> None:
    page = _text(hub, "models/esol-mtr/index.html")
    assert "Multitask regressor on ESOL &lt;script&gt;alert(1)&lt;/script&gt;" in page
    for text in ("<dt>Training data</dt><dd>delaney</dd>", "<dt>Intended use</dt><dd>teaching and benchmarks</dd>",
                 "<dt>License</dt><dd>MIT</dd>", "<td>rmse</td><td class=\"num\">0.5817</td>",
                 "Delaney, J. S. (2004) &lt;i&gt;JCICS&lt;/i&gt;"):
        assert text in page
    versions = re.findall(r'<details class="version">.*?</details>', page.split('id="versions"', 1)[1], re.S)
    assert [re.search(r"<code>(.*?)</code>", r).group(1) for r in versions] == ["esol-mtr@1.1.0", "esol-mtr@1.0.0"]
    assert 'href="1.1.0/manifest.json"' in versions[0] and "latest" in versions[0]
    assert 'export DEEPCHEM_MODEL_HUB="<span class="hub-root" data-fallback="https://example.org/hub/">' \
           'https://example.org/hub/</span>"' in page
    assert 'import dchub_client\nmodel = dchub_client.from_pretrained("esol-mtr@1.1.0")</code>' in page


def _name(row: str) -> str:
    """The weight name in a weights-table row, without its line-break opportunities."""
    return re.search(r"<code>(.*?)</code>", row).group(1).replace("<wbr>", "")


def test_model_page_hyperparameters_weights_and_charts(hub: Path) -> None:
    page = _text(hub, "models/esol-mtr/index.html")
    params = dict(re.findall(r"<tr><th>(.*?)</th><td><code>(.*?)</code></td></tr>", page))
    assert params == {"dropouts": "(0.1, 0.1)", "layer_sizes": "[64, 32]", "n_features": "128", "n_tasks": "1",
                      "optimizer": "deepchem.models.optimizers.Adam(learning_rate=0.001)"}
    assert "Saved with deepchem 2.8.0, torch 2.13.0." in page
    rows = _rows(page, "weights-table")
    names = [_name(r) for r in rows]
    assert names == [f"multitaskregressor-{layer}-{i}" for layer in ("layers.0", "layers.1", "heads.0")
                     for i in (0, 1)]
    first = rows[0]
    assert '<td class="shape">64 × 128</td>' in first and "<code>float32</code>" in first and "32.0 KiB" in first
    sha = re.search(r'title="([0-9a-f]{64})">([0-9a-f]{12})<', first)
    assert sha and sha.group(1).startswith(sha.group(2))
    assert page.count("<svg") == 1 + 2  # parameters per layer + a histogram per layer of 100 values or more
    assert "<code>heads.0</code> · " not in page  # 33 values: no histogram
    chart = page.split('class="chart bars"', 1)[1].split("</svg>", 1)[0]
    assert re.findall(r"<title>(.*?)</title>", chart) == ["layers.0: 8,256", "layers.1: 2,080", "heads.0: 33"]


def test_auxiliary_weights_are_listed_apart_and_not_counted(hub: Path) -> None:
    """``extra["auxiliary_weights"]`` decides (not a name prefix): listed apart, not counted, charted or plotted."""
    tox = _text(hub, "models/tox-clf/index.html")
    assert [_name(r) for r in _rows(tox, "weights-table")] == [
        f"multitaskclassifier-{layer}-{i}" for layer in ("layers.0", "layers.1") for i in (0, 1)]
    aux = _rows(tox, "auxiliary-table")
    assert len(aux) == 1 and _name(aux[0]) == MOMENTUM and "<td>training state</td>" in aux[0]
    assert '<td class="shape">16 × 8</td>' in aux[0] and "<code>float32</code>" in aux[0] and "512 B" in aux[0]
    assert "4 arrays, 178 parameters." in tox  # 16*8+16 + 2*16+2, without the momentum's 128
    assert 'title="178 parameters"' in _rows(_text(hub, "index.html"), "models")[2]
    chart = tox.split('class="chart bars"', 1)[1].split("</svg>", 1)[0]
    assert re.findall(r"<title>(.*?)</title>", chart) == ["layers.0: 144", "layers.1: 34"]
    assert "momentum" not in tox.split('id="layers"', 1)[1].split('id="weights"', 1)[0]
    assert tox.count('class="chart histogram"') == 1  # layers.1 has 34 values: too few for a histogram
    highs = re.findall(r'text-anchor="end">([^<]*)</text>\n</svg>', tox)
    assert highs and all(float(h) < 10 for h in highs)  # the 1e6 momentum values are in no histogram
    esol = _text(hub, "models/esol-mtr/index.html")
    aux = _rows(esol, "auxiliary-table")
    assert [_name(r) for r in aux] == ["pipeline-transformers.0-0", "pipeline-transformers.0-1"]
    assert "<td>NormalizationTransformer.y_means</td>" in aux[0] and "<code>float64</code>" in aux[0]
    assert "6 arrays, 10.4K parameters." in esol
    assert "transformers" not in esol.split('class="chart bars"', 1)[1].split("</svg>", 1)[0]
    assert 'id="auxiliary-table"' not in _text(hub, "models/big-net/index.html")  # no empty section


def test_pipeline_section_and_snippet(hub: Path) -> None:
    esol = _text(hub, "models/esol-mtr/index.html")
    section = esol.split('<section id="pipeline">', 1)[1].split("</section>", 1)[0]
    assert '<th>Featurizer</th><td><code title="deepchem.feat.molecule_featurizers.circular_fingerprint.' \
           'CircularFingerprint">CircularFingerprint</code>' in section
    args = re.findall(r'<tr class="arg"><th>(.*?)</th><td><code>(.*?)</code></td></tr>', section)
    assert args == [("radius", "2"), ("size", "128"), ("chiral", "false")]
    assert '<code title="deepchem.trans.transformers.NormalizationTransformer">NormalizationTransformer</code> ' \
           '<span class="meta">on y</span>' in section
    snippet = re.search(r'<pre id="snippet-pipeline"><code>(.*?)</code></pre>', esol, re.S)
    assert snippet and snippet.group(1) == ('import dchub_client\npipeline = dchub_client.load_pipeline('
                                            '"esol-mtr@1.1.0")\npipeline.predict(["CCO"], as_frame=True)')
    assert "<code>dchub predict esol-mtr@1.1.0 " in esol
    assert 'model = dchub_client.from_pretrained("esol-mtr@1.1.0")' in esol  # the model alone, too
    tox = _text(hub, "models/tox-clf/index.html")
    assert 'id="pipeline"' not in tox and "snippet-pipeline" not in tox and "load_pipeline" not in tox


def test_metrics_show_split_and_dataset(hub: Path) -> None:
    tox = _text(hub, "models/tox-clf/index.html")
    table = tox.split('<table class="metrics" id="metrics-table">', 1)[1].split("</table>", 1)[0]
    assert "<th>Metric</th><th class=\"num\">Value</th><th>Held-out set</th><th>Data set</th>" in table
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in _rows(table)]
    assert cells == [
        ["accuracy", "0.9123", "random 80/20 (seed 0), held-out test set", "Tox21 NR-AR"],
        ["roc_auc", "0.8", "scaffold 80/20 (deepchem ScaffoldSplitter), held-out test set", "Tox21 NR-AR"],
        ["roc_auc", "0.75", "external test set", "ClinTox"]]
    home = _rows(_text(hub, "index.html"), "models")[2]
    assert '<td data-label="Headline"><strong>roc_auc 0.8</strong><br><span class="measured" title="measured on ' \
           'scaffold 80/20 (deepchem ScaffoldSplitter), held-out test set · Tox21 NR-AR">scaffold 80/20, held-out ' \
           'test set</span>' in home
    esol = _text(hub, "models/esol-mtr/index.html")  # {name: value} metrics: no split, no empty columns
    assert "<th>Metric</th><th class=\"num\">Value</th></tr>" in esol and "<th>Split</th>" not in esol
    assert "<strong>rmse 0.5817</strong>" in _rows(_text(hub, "index.html"), "models")[1]


def test_card_mapping_is_readable(hub: Path) -> None:
    tox = _text(hub, "models/tox-clf/index.html")
    assert ('<dt>Training data</dt><dd>Tox21 NR-AR<br><span class="pairs"><span class="pair"><span class="key">'
            'molecules</span> 7265</span><span class="pair"><span class="key">source</span> tox21.csv.gz</span>'
            '</span></dd>') in tox
    assert "{&#34;" not in tox and '{"' not in tox  # no raw JSON


def test_long_weight_tables_start_folded(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hubgen.site import views

    index, manifests = _load(hub)
    assert b'<details class="weights">' not in \
        render.render_pages(hub, index=index, manifests=manifests)["models/esol-mtr/index.html"]
    monkeypatch.setattr(views, "FOLD_WEIGHTS_OVER", 5)
    page = render.render_pages(hub, index=index, manifests=manifests)["models/esol-mtr/index.html"].decode()
    folded = page.split('<details class="weights">', 1)[1].split("</details>", 1)[0]
    assert "<summary>Show all 6 weight arrays</summary>" in folded and len(_rows(folded, "weights-table")) == 6
    assert 'id="auxiliary-table"' in page.split('<details class="weights">', 1)[1].split("</details>", 1)[1]


def test_large_weight_histogram_is_sampled(hub: Path) -> None:
    page = _text(hub, "models/big-net/index.html")
    assert f"65,536 values sampled of {BIG_ELEMENTS:,}" in page
    counts = re.findall(r"<title>[^<]* to [^<]*: ([\d,]+)</title>", page)
    assert len(counts) == 24 and sum(int(c.replace(",", "")) for c in counts) == 65_536


def test_hostile_card_renders_as_text(hub: Path) -> None:
    for rel in PAGES:
        page = _text(hub, rel)
        assert XSS not in page and "javascript:" not in page
        tags = TagCollector()
        tags.feed(page)
        assert tags.scripts == [f"{'../../' if '/' in rel else ''}assets/search.js"]
        assert "img" not in tags.names and "i" not in tags.names and "b" not in tags.names
        assert not tags.handlers, f"{rel}: event handler attributes {tags.handlers}"
    esol = _text(hub, "models/esol-mtr/index.html")
    readme = esol.split('<div class="readme">', 1)[1].split("</div>", 1)[0]
    assert "<h3>ESOL regressor</h3>" in readme and "<strong>Delaney</strong>" in readme
    assert '<a href="https://doi.org/10.1021/ci034243x" rel="nofollow noopener noreferrer">the paper</a>' in readme
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;" in readme
    assert "datasets:" not in readme  # the YAML front matter is not shown
    assert "<ul><li>fast</li><li>small</li></ul>" in readme


def test_every_link_and_asset_resolves(hub: Path) -> None:
    checked = 0
    for rel in PAGES:
        links = page_links(hub / rel)
        for tag, link in links.links:
            url = urllib.parse.urlsplit(link)
            if url.scheme in ("http", "https", "mailto"):
                assert tag == "a", f"{rel}: external resource {link} (the site must be self-contained)"
                continue
            assert not url.scheme and not url.netloc and not link.startswith("/"), f"{rel}: non-relative {link}"
            if not url.path:
                assert url.fragment in links.ids, f"{rel}: broken anchor {link}"
                continue
            target = (hub / rel).parent / urllib.parse.unquote(url.path)
            assert target.resolve().is_relative_to(hub.resolve()), f"{rel}: {link} leaves the hub"
            assert target.is_file(), f"{rel}: {link} does not exist"
            checked += 1
    assert checked > 30


def test_two_builds_give_identical_pages(tmp_path: Path, hub: Path) -> None:
    again = build_site_hub(tmp_path)
    assert site_files(again) == site_files(hub)
    assert (again / layout.SUMS_FILE).read_bytes() == (hub / layout.SUMS_FILE).read_bytes()


def test_pages_do_not_depend_on_parts(tmp_path: Path, hub: Path) -> None:
    """Only the file list links each part of a file stored in parts; histograms and the rest are the same."""
    parted = build_site_hub(tmp_path, part_size=256 << 10)
    manifest = jsonstrict.loads((parted / "models/big-net/1.0/manifest.json").read_bytes())
    assert any(f.get("parts") for f in manifest["files"])

    def without_file_links(files: dict[str, bytes]) -> dict[str, bytes]:
        return {rel: re.sub(rb'<section id="versions">.*?</section>', b"", data, flags=re.S) for rel, data in files.items()}

    assert without_file_links(site_files(parted)) == without_file_links(site_files(hub))
    big = _text(parted, "models/big-net/index.html")
    assert "part 1" in big and "part 2" in big and "part 1" not in _text(hub, "models/big-net/index.html")


def test_rebuild_in_place_rewrites_nothing(tmp_path: Path) -> None:
    sources = make_sources(tmp_path / "src")
    hub = build_site_hub(tmp_path, sources=sources)
    before = {rel: (hub / rel).stat().st_mtime_ns for rel in PAGES + ASSETS}
    build_site_hub(tmp_path, sources=sources)
    assert {rel: (hub / rel).stat().st_mtime_ns for rel in PAGES + ASSETS} == before


def test_placeholder_mirror_without_mirrors(tmp_path: Path) -> None:
    sources = make_sources(tmp_path / "src")
    sources.write_text(sources.read_text().replace("mirrors: [https://example.org/hub/]\n", ""))
    page = _text(build_site_hub(tmp_path, sources=sources), "models/tox-clf/index.html")
    assert 'export DEEPCHEM_MODEL_HUB="<span class="hub-root" data-fallback="https://&lt;where-this-hub-is-hosted&gt;/">' \
        'https://&lt;where-this-hub-is-hosted&gt;/</span>"' in page
    assert "The hub lists no mirror" in _text(tmp_path / "hub", "index.html")


def _load(hub: Path) -> tuple[hubfiles.Index, dict[tuple[str, str], hubfiles.Manifest]]:
    index = hubfiles.parse_index(jsonstrict.loads((hub / "index.json").read_bytes()))
    manifests = {(n, v): hubfiles.parse_manifest(jsonstrict.loads((hub / r.manifest).read_bytes()))
                 for n, m in index.models.items() for v, r in m.versions.items()}
    return index, manifests


def test_render_site_names_a_missing_blob(tmp_path: Path) -> None:
    hub = build_site_hub(tmp_path)
    index, manifests = _load(hub)
    weight = next(f for f in manifests[("tox-clf", "0.2")].files if f.path.endswith(".npy"))
    blob = hub / hubfiles.blob_path(weight.sha256)
    blob.unlink()
    (hub / layout.SITE_CACHE_FILE).unlink()  # histograms are cached by content hash: a damaged hub is `hubgen verify`'s job
    with pytest.raises(BuildError, match=re.escape(str(blob)) + ".*missing"):
        render.render_site(hub, index=index, manifests=manifests)


def test_render_site_names_a_corrupt_params_blob(tmp_path: Path) -> None:
    hub = build_site_hub(tmp_path)
    index, manifests = _load(hub)
    params = next(f for f in manifests[("tox-clf", "0.2")].files if f.path == "params.json")
    (hub / hubfiles.blob_path(params.sha256)).write_bytes(b"{}")
    with pytest.raises(BuildError, match=r"models/tox-clf/0.2/manifest.json: params.json does not match its sha256"):
        render.render_site(hub, index=index, manifests=manifests)


def test_render_site_refuses_a_npy_header_that_disagrees(tmp_path: Path) -> None:
    import numpy as np

    hub = build_site_hub(tmp_path)
    index, manifests = _load(hub)
    weight = next(f for f in manifests[("tox-clf", "0.2")].files if f.path == "multitaskclassifier-layers.0-0.npy")
    blob = hub / hubfiles.blob_path(weight.sha256)
    with open(blob, "wb") as handle:
        np.save(handle, np.zeros(3, dtype=np.float64))
    (hub / layout.SITE_CACHE_FILE).unlink()
    with pytest.raises(BuildError, match=r"header says shape \(3,\) dtype float64, but params.json says \(16, 8\) float32"):
        render.render_site(hub, index=index, manifests=manifests)


def test_build_killed_after_the_site_can_be_rerun(tmp_path: Path) -> None:
    """A first build killed after writing the site (before index.json) leaves a folder the next build accepts."""
    sources = make_sources(tmp_path / "src")
    hub = build_site_hub(tmp_path, sources=sources)
    pages = site_files(hub)
    for name in ("index.json", layout.SUMS_FILE, ".nojekyll"):
        (hub / name).unlink()
    build_site_hub(tmp_path, sources=sources)
    assert (hub / "index.json").is_file() and site_files(hub) == pages


def test_rebuild_reuses_histograms_of_unchanged_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hubgen.build import build_hub
    from hubgen.site import reader

    hub = build_site_hub(tmp_path)
    yaml_path = tmp_path / "src" / "hub_manifest.yaml"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    before = site_files(hub)
    assert (hub / layout.SITE_CACHE_FILE).is_file() and layout.SITE_CACHE_FILE not in (hub / layout.SUMS_FILE).read_text()

    def no_reading(*args, **kwargs):
        raise AssertionError("a weight was sampled again")

    with monkeypatch.context() as patch:
        patch.setattr(reader, "sample_weight", no_reading)
        build_hub(yaml_path, hub)
    assert site_files(hub) == before, "pages from cached histograms are byte-identical"
    (hub / layout.SITE_CACHE_FILE).write_text("{not json")  # a damaged cache only costs time
    build_hub(yaml_path, hub)
    assert site_files(hub) == before


def test_pages_say_how_to_install_the_client(hub: Path) -> None:
    index = (hub / "index.html").read_text()
    install = index.split('<section id="install">', 1)[1].split("</section>", 1)[0]
    assert "dchub_client" in install and 'pip install -c constraints.txt -e ".[all]"' in install
    page = (hub / "models/esol-mtr/index.html").read_text()  # a torch model: the torch and deepchem extras
    load = page.split('<section id="load">', 1)[1].split("</section>", 1)[0]
    assert '".[torch,deepchem]"' in load and load.index("pip install") < load.index("DEEPCHEM_MODEL_HUB")


def test_a_rebuild_renders_only_the_pages_whose_model_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from hubgen.build import build_hub

    hub = build_site_hub(tmp_path)
    yaml_path = tmp_path / "src" / "hub_manifest.yaml"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    rendered: list[str] = []
    real = render._render
    monkeypatch.setattr(render, "_render", lambda env, template, **kw: rendered.append(
        kw["model"].name if "model" in kw else template) or real(env, template, **kw))
    before = {rel: (hub / rel).stat().st_mtime_ns for rel in site_files(hub)}
    build_hub(yaml_path, hub)
    assert rendered == []  # nothing changed: no page rendered, no page touched
    assert {rel: (hub / rel).stat().st_mtime_ns for rel in site_files(hub)} == before
    shutil.copytree(tmp_path / "src" / "tox", tmp_path / "src" / "tox-v3")
    yaml_path.write_text(yaml_path.read_text() + "  - name: tox-clf\n    version: '0.3'\n    path: tox-v3\n")
    build_hub(yaml_path, hub)
    assert sorted(rendered) == ["index.html", "tox-clf"]  # the home page lists the new version; other pages stay
    after = {rel: (hub / rel).stat().st_mtime_ns for rel in site_files(hub)}
    assert [rel for rel in after if after[rel] != before[rel]] == ["index.html", "models/tox-clf/index.html"]
    rendered.clear()
    (hub / "models" / "esol-mtr" / "index.html").unlink()  # a page gone missing is rendered again
    build_hub(yaml_path, hub)
    assert rendered == ["esol-mtr"] and (hub / "models" / "esol-mtr" / "index.html").is_file()


def test_pages_are_fingerprinted_by_their_own_model_and_the_hub_header() -> None:
    def ref(name: str, version: str, c: str) -> hubfiles.VersionRef:
        return hubfiles.VersionRef(f"models/{name}/{version}/manifest.json", c * 64, 10)

    a = hubfiles.ModelEntry(name="a", latest="1.0", versions={"1.0": ref("a", "1.0", "a")})
    b = hubfiles.ModelEntry(name="b", latest="1.0", versions={"1.0": ref("b", "1.0", "b")})
    b2 = hubfiles.ModelEntry(name="b", latest="2.0", versions={"1.0": ref("b", "1.0", "b"), "2.0": ref("b", "2.0", "c")})
    index = hubfiles.Index(name="h", title="H", description="", mirrors=(), generated="2026", models={"a": a, "b": b})
    base = render.fingerprints(index)
    grown = render.fingerprints(index._replace(models={"a": a, "b": b2}, generated="2027"))
    assert grown["models/a/index.html"] == base["models/a/index.html"]  # another model's version, the date: not a's
    assert grown["models/b/index.html"] != base["models/b/index.html"] and grown["index.html"] != base["index.html"]
    new_model = render.fingerprints(index._replace(models={"a": a, "b": b, "c": b}))
    assert new_model["models/a/index.html"] != base["models/a/index.html"]  # a page may link a model now present
    retitled = render.fingerprints(index._replace(title="Other"))
    assert retitled["models/a/index.html"] != base["models/a/index.html"]
