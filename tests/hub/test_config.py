"""The file of named hubs (dchub_client.hub.config) and the hubs it gives (dchub_client.hub.hubs)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dchub_client import constants
from dchub_client.errors import ConfigError
from dchub_client.hub import hubs
from dchub_client.hub.config import HubEntry, add_hub, dumps_config, load_config, parse_config, remove_hub, save_config

KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="  # 32 bytes, base64


def _write(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_location_follows_the_user_config_dir_and_dchub_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert constants.config_file() == tmp_path / "xdg" / "dchub" / "config.toml"
    monkeypatch.setenv("DCHUB_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert constants.config_file() == tmp_path / "elsewhere.toml"
    assert load_config().hubs == {} and load_config().search == ()  # no file: an empty config


@pytest.mark.parametrize("xdg", [None, "", "  ", "relative/xdg", "/abs/xdg", "/abs/xdg/"])
@pytest.mark.parametrize("home", [None, "/home/chemist", "/home/chemist/", "/", "relative-home"])
@pytest.mark.parametrize("kind", ["cache", "config"])
def test_user_folders_are_where_platformdirs_puts_them(kind, home, xdg, monkeypatch):
    """dchub names its cache and config folders itself on Linux (start-up time): the same as platformdirs."""
    import platformdirs

    monkeypatch.delenv("DEEPCHEM_HUB_CACHE", raising=False)
    monkeypatch.delenv("DCHUB_CONFIG", raising=False)
    for var, value in (("HOME", home), (f"XDG_{kind.upper()}_HOME", xdg)):
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, value)
    expected = Path(getattr(platformdirs, f"user_{kind}_dir")("dchub", appauthor=False))
    found = constants.cache_dir() if kind == "cache" else constants.config_file().parent
    assert found == expected


def test_a_config_round_trips_through_its_writer(tmp_path):
    path = _write(tmp_path, f"""
search = ["acme", "default"]
[hubs.acme]
mirrors = ["HTTPS://Models.Acme.example:443/hub/index.html", "/mnt/acme"]
keys = ["{KEY}"]
threshold = 1
[hubs."deepchem.org"]
mirrors = ["https://deepchem.example/modelhub"]
default = true
""")
    config = load_config(path)
    assert config.search == ("acme", "default")
    assert config.hubs["acme"] == HubEntry("acme", ("https://models.acme.example/hub/", "/mnt/acme"), (KEY,), 1)
    assert config.default is config.hubs["deepchem.org"]
    assert parse_config(dumps_config(config).encode(), path) == config


@pytest.mark.parametrize("text, message", [
    ("search = [", "not valid TOML"),
    ("colour = 'blue'", "unknown key 'colour'"),
    ("[hubs.acme]\nmirrors = []", "at least one hub root"),
    ("[hubs.acme]\nmirrors = ['http://a/']\nkeyz = []", r'\[hubs."acme"\] unknown key \'keyz\''),
    ("[hubs.acme]\nmirrors = ['ftp://a/']", "unsupported mirror"),
    ("[hubs.acme]\nmirrors = ['http://a/']\nthreshold = 2\nkeys = ['x']", "'threshold' must be an integer from 1"),
    ("[hubs.'a/b']\nmirrors = ['http://a/']", "invalid hub name 'a/b'"),
    ("[hubs.default]\nmirrors = ['http://a/']", "'default' is reserved"),
    ("search = ['nowhere']", "'search' names hub 'nowhere', which is not configured"),
    ("[hubs.a]\nmirrors = ['http://a/']\ndefault = true\n[hubs.b]\nmirrors = ['http://b/']\ndefault = true",
     "more than one hub is marked default"),
])
def test_a_bad_config_names_the_file_and_the_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value) and info.value.path == path


def test_add_and_remove_keep_one_default_and_the_search_list_consistent(tmp_path):
    config = load_config(tmp_path / "c.toml")
    config = add_hub(config, HubEntry("a", ("http://a/",), default=True))
    config = add_hub(config, HubEntry("b", ("http://b/",), default=True))
    assert [h.name for h in config.hubs.values() if h.default] == ["b"]
    with pytest.raises(ConfigError, match="already configured"):
        add_hub(config, HubEntry("a", ("http://c/",)))
    config = add_hub(config, HubEntry("a", ("http://c/",)), replace_existing=True)
    save_config(config.__class__(config.path, config.hubs, ("a", "default")))
    config = remove_hub(load_config(config.path), "a")
    assert list(config.hubs) == ["b"] and config.search == ("default",)
    with pytest.raises(ConfigError, match="no hub named 'a' is configured"):
        remove_hub(config, "a")


def test_the_default_hub_takes_its_mirrors_from_deepchem_model_hub_else_the_config(tmp_path, monkeypatch):
    path = _write(tmp_path, f'[hubs.dc]\nmirrors = ["http://dc.example/"]\nkeys = ["{KEY}"]\ndefault = true\n'
                            '[hubs.acme]\nmirrors = ["http://acme.example/"]\n')
    monkeypatch.setenv("DCHUB_CONFIG", str(path))
    monkeypatch.delenv("DEEPCHEM_MODEL_HUB")
    default = hubs.default_hub()
    assert default.name == "dc" and [m.root for m in default.mirrors] == ["http://dc.example/"]
    assert [k.raw.hex() for k in default.keys()] == [__import__("base64").b64decode(KEY).hex()]
    assert default.others == {"acme"}
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", "http://mirror.example/dc/ /mnt/dc")
    default = hubs.default_hub()
    assert default.name == "dc" and [m.root for m in default.mirrors] == ["http://mirror.example/dc/", "/mnt/dc"]
    assert hubs.named_hub("dc") == default  # the default hub is the same, by either name
    acme = hubs.named_hub("acme")
    assert acme.name == "acme" and acme.keys() == () and acme.others == {"dc"}
    assert hubs.search_order() == [default]
    with pytest.raises(ConfigError, match="no hub named 'nope' is configured .*dchub hub add nope") as caught:
        hubs.require_hub("nope")
    assert str(caught.value).startswith(f"{path}: ")  # the file that names the hubs


def test_without_a_config_the_default_hub_is_unpinned_and_uses_the_client_wide_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", "http://a.example/, http://b.example/")
    monkeypatch.setenv("DEEPCHEM_HUB_TRUSTED_KEYS", KEY)
    monkeypatch.setenv("DCHUB_CONFIG", str(tmp_path / "none.toml"))
    with pytest.raises(ConfigError) as caught:  # no file: the message points at none
        hubs.require_hub("nope")
    assert str(caught.value).startswith("no hub named 'nope' is configured (known: default)")
    default = hubs.default_hub()
    assert default.name is None and default.is_default and len(default.keys()) == 1
    assert [m.root for m in default.mirrors] == ["http://a.example/", "http://b.example/"]
