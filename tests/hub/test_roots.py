"""Hub roots as users paste them: one spelling per place (dchub_client.hub.roots)."""
from __future__ import annotations

import os

import pytest

from dchub_client.errors import HubFormatError
from dchub_client.hub.mirrors import parse_mirror
from dchub_client.hub.roots import normalize_root


@pytest.mark.parametrize("spelling", [
    "http://127.0.0.1:8000/", "http://127.0.0.1:8000", "HTTP://127.0.0.1:8000/", "http://127.0.0.1:8000/index.html",
    "http://127.0.0.1:8000/index.json", "  http://127.0.0.1:8000//  ", "http://127.0.0.1:8000/#top",
    "http://127.0.0.1:8000/?x=1",
])
def test_spellings_of_one_http_root_are_one_key(spelling):
    assert normalize_root(spelling) == "http://127.0.0.1:8000/"


@pytest.mark.parametrize("spelling, expected", [
    ("https://Example.ORG:443/Hub", "https://example.org/Hub/"),  # the path keeps its case
    ("http://example.org:80/hub/index.html", "http://example.org/hub/"),
    ("https://example.org:8443/a/b/", "https://example.org:8443/a/b/"),
    ("http://user:Secret@Example.org/hub", "http://user:Secret@example.org/hub/"),
    ("http://[::1]:8080/hub/index.json", "http://[::1]:8080/hub/"),
    ("http://example.org/hub/index.html/", "http://example.org/hub/index.html/"),  # a folder of that name
])
def test_http_roots(spelling, expected):
    assert normalize_root(spelling) == expected


def test_local_spellings_are_one_absolute_path(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    hub.mkdir()
    (hub / "index.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    for spelling in (str(hub), f"{hub}/", "hub", "./hub/", f"file://{hub}", f"file://localhost{hub}/",
                     f"{hub}/index.json", f"{hub}/index.html", f"file://{hub}/index.html"):
        assert normalize_root(spelling) == str(hub), spelling
    monkeypatch.setenv("HOME", str(tmp_path))
    assert normalize_root("~/hub") == str(hub)
    assert normalize_root(f"file://{tmp_path}/with%20space") == str(tmp_path / "with space")


def test_a_folder_named_index_json_is_a_root_not_a_file(tmp_path):
    folder = tmp_path / "index.json"
    folder.mkdir()
    assert normalize_root(str(folder)) == str(folder)


@pytest.mark.parametrize("root, message", [
    ("ftp://example.org/hub/", "unsupported mirror"),
    ("s3://bucket/prefix", "read over HTTPS"),
    ("http:///no-host", "no host"),
    ("http://example.org:99999/", "invalid mirror URL"),
])
def test_bad_roots_are_refused_with_what_to_use(root, message):
    with pytest.raises(HubFormatError, match=message):
        normalize_root(root)


def test_parse_mirror_uses_the_normal_form(tmp_path):
    assert parse_mirror("HTTP://LocalHost:80/x/index.html").root == "http://localhost/x/"
    mirror = parse_mirror(f"file://{tmp_path}/")
    assert mirror.kind == "local" and mirror.root == str(tmp_path) and mirror.path == tmp_path
    assert os.path.isabs(parse_mirror("relative/hub").root)
