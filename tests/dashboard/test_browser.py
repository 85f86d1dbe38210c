"""The dashboard in a real headless Chromium: the ``kfp-triggers dashboard`` command over a filled store.

Playwright drives the system's Chromium (``/usr/bin/chromium``; no browser is downloaded). Without it
the test is skipped, except under ``CI=true``, where that is a failure. Screenshots of each page
visited are written to ``build/dashboard/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.conftest import ROOT
from tests.dashboard.conftest import Journal
from tests.emulator.support import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SHOTS = ROOT / "build" / "dashboard"
STARTUP_LIMIT_S = 20.0


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the browser test needs Chromium under CI=true: {reason}")
    pytest.skip(f"no browser: {reason}")


@pytest.fixture
def dashboard(journal: Journal) -> Iterator[str]:
    """``kfp-triggers dashboard --store URL --port N`` running; yields its base URL."""
    port = free_port()
    exe = Path(sys.executable).with_name("kfp-triggers")
    proc = subprocess.Popen(
        [str(exe), "dashboard", "--store", journal.url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/dashboard/events", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"the dashboard did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
                    ) from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """The system Chromium, headless, driven by Playwright."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_from_the_event_list_to_an_event_and_on_to_its_run(
    browser: Any, dashboard: str, journal: Journal
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(f"{dashboard}/dashboard/events")
    assert page.title() == "Events · kfp-triggers"
    assert page.locator("h1").inner_text() == "Events"
    header = page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert header == "rgb(29, 36, 48)", "the packaged stylesheet is not applied"
    row = page.locator("tr", has=page.locator(f'a[href="/dashboard/events/{journal.push}"]'))
    assert "train-on-main: accepted" in row.inner_text()
    assert "release-on-tag: rejected" in row.inner_text()
    page.screenshot(path=str(SHOTS / "events.png"))

    row.locator("a.event-link").click()
    page.wait_for_url(f"**/dashboard/events/{journal.push}")
    assert page.locator("h1").inner_text() == f"Event {journal.push}"
    body = page.locator("pre.body").inner_text()
    assert '"full_name": "acme-ml/fraud-model"' in body
    page.screenshot(path=str(SHOTS / "event.png"), full_page=False)

    page.locator("a.run-link", has_text="run-1").click()
    page.wait_for_url("**/dashboard/runs/run-1")
    assert page.locator("h1").inner_text() == "Run run-1 SUCCEEDED"
    assert page.locator("a.backend-link").get_attribute("href") == "https://kfp.example/#/runs/details/run-1"
    assert page.locator("a.event-link").get_attribute("href") == f"/dashboard/events/{journal.push}"
    page.screenshot(path=str(SHOTS / "run.png"))

    # A body holding markup is shown as text: no script runs, no element is made of it.
    page.goto(f"{dashboard}/dashboard/events/{journal.hostile}")
    assert "<script>alert('body')</script>" in page.locator("pre.body").inner_text()
    assert page.locator("main script, main img, main b").count() == 0
    assert dialogs == []
    page.close()
    assert all((SHOTS / name).stat().st_size > 0 for name in ("events.png", "event.png", "run.png"))
