"""Headless Chromium for the site tests: Debian's ``/usr/bin/chromium`` driven by Playwright (never its own).

If Chromium is missing the browser tests FAIL (CI installs it): a skipped browser test proves nothing.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run",
        "--disable-component-update", "--disable-sync"]
#: Screenshots of the browser tests (ignored by git).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser, closed on exit."""
    from playwright.sync_api import sync_playwright  # only the browser tests need Playwright

    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)"
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


class Watcher:
    """Records console errors, page errors and failed or non-2xx requests of one page."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"))
        page.on("pageerror", lambda err: self.problems.append(f"page error: {err}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda res: res.status >= 400 and self.problems.append(f"{res.status}: {res.url}"))

    def _failed(self, request: Any) -> None:
        # ERR_ABORTED is Chromium cancelling a request it no longer needs (a favicon when the page
        # navigates on); a missing or broken file shows up as a 4xx/5xx response or another error.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed: {request.url} {request.failure}")
