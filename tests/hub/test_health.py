"""Mirror health: a mirror that fails to connect or times out is skipped for the rest of the process and,
for a while, by later processes; it is still tried when every other mirror fails."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from dchub_client.errors import MirrorError
from dchub_client.hub import health
from dchub_client.hub.resolve import resolve_pretrained
from tests._support.folders import make_folder, validate_folder
from tests._support.hubs import build_hub

CONNECT = 0.5


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    folder = make_folder(tmp_path / "src", seed=2, n_weights=20, size=500)
    return build_hub(tmp_path, {("many", "1.0"): folder, ("other", "1.0"): make_folder(tmp_path / "o", seed=3)})


@pytest.fixture(autouse=True)
def short_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPCHEM_HUB_CONNECT_TIMEOUT", str(CONNECT))


def test_a_silent_first_mirror_costs_one_connect_timeout_and_is_then_skipped(hub, serve, silent, monkeypatch,
                                                                              caplog, isolated_environment):
    good = serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{silent.url} {good.url}")
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="dchub_client.hub.health"):
        validate_folder(resolve_pretrained("many@1.0").path)
    assert time.monotonic() - start < CONNECT + 2.5
    assert silent.connections == 1  # the index request; the manifest and 22 files went straight to the good one
    skips = [r.getMessage() for r in caplog.records if "skipping mirror" in r.getMessage()]
    assert len(skips) == 1 and silent.url in skips[0] and f"no answer within {CONNECT:g} s" in skips[0]
    assert "for the rest of this run" in skips[0] and " ago" not in skips[0], skips  # found by this process
    record = health.MirrorHealth(isolated_environment)  # what a later process reads
    assert record.down(silent.url) is not None and record.down(good.url) is None


def test_a_later_process_skips_the_mirror_from_the_record_until_the_backoff_ends(hub, serve, silent, monkeypatch,
                                                                                 caplog, isolated_environment):
    good = serve(hub)
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{silent.url} {good.url}")
    resolve_pretrained("other@1.0")
    assert silent.connections == 1
    health._REGISTRY.clear()  # a new process: only the record remains
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dchub_client.hub.health"):
        resolve_pretrained("many@1.0", refresh=True)
    assert silent.connections == 1
    skips = [r.getMessage() for r in caplog.records if "skipping mirror" in r.getMessage()]
    assert len(skips) == 1 and "(found down 0 s ago: " in skips[0], skips  # the record's time, not this run's
    monkeypatch.setenv("DEEPCHEM_HUB_MIRROR_BACKOFF", "0.2")
    health._REGISTRY.clear()
    time.sleep(0.3)
    resolve_pretrained("many@1.0", refresh=True)
    assert silent.connections == 2  # tried again once the record was too old


def test_no_record_is_written_when_the_backoff_is_zero(hub, serve, silent, monkeypatch, isolated_environment):
    monkeypatch.setenv("DEEPCHEM_HUB_MIRROR_BACKOFF", "0")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{silent.url} {serve(hub).url}")
    resolve_pretrained("other@1.0")
    assert not (isolated_environment / health.RECORD_FILE).exists()


def test_a_down_mirror_is_still_tried_when_every_other_one_fails_and_forgotten_when_it_answers(
        hub, serve, monkeypatch, isolated_environment):
    partial, full = serve(hub, {"blobs/": "404"}), serve(hub)
    record = health.for_cache()
    record.mark_down(full.url, "timeout: no answer within 0.5 s")
    monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{full.url} {partial.url}")
    validate_folder(resolve_pretrained("other@1.0").path)  # the blobs are only on the "down" one
    assert full.blob_hits() > 0
    assert record.down(full.url) is None and health.MirrorHealth(isolated_environment).down(full.url) is None


def test_every_mirror_silent_fails_within_a_few_connect_timeouts_naming_them_in_order(silent, monkeypatch):
    from tests._support.servers import SilentServer

    other = SilentServer()
    try:
        monkeypatch.setenv("DEEPCHEM_MODEL_HUB", f"{silent.url} {other.url}")
        start = time.monotonic()
        with pytest.raises(MirrorError) as info:
            resolve_pretrained("many")
        assert time.monotonic() - start < 3 * CONNECT + 1
        assert list(info.value.failures) == [silent.url, other.url]
        assert all("no answer within" in why for why in info.value.failures.values())
    finally:
        other.close()
