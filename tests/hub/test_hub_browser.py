"""The hub's web page in a real headless Chromium (Debian's chromium, driven by Playwright):
log in, see the device, watch an alert arrive live over SSE, filter captures. Saves a
screenshot to artifacts/hub.png."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hubdata import fill

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CHROMIUM = Path("/usr/lib/chromium/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} missing on CI (apt-get install chromium)")
        pytest.skip(f"Debian chromium not installed ({CHROMIUM}); apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()  # before the hub stops: an open SSE stream stalls uvicorn's shutdown


def test_login_device_live_alert_filter(make_hub, tmp_path: Path, browser) -> None:
    hub = make_hub(web=True)
    journal, pub = fill(hub, tmp_path)
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(hub.web_url + "/")
        assert page.url.endswith("/login")
        page.fill("#token", "wrong-token")
        page.click("button[type=submit]")
        assert page.locator(".error").inner_text() == "Wrong token."
        page.fill("#token", hub.token)
        page.click("button[type=submit]")
        page.wait_for_url(hub.web_url + "/")
        row = page.locator('#devices tr[data-device="dev1"]')
        assert row.locator("td").nth(1).inner_text() == "online"
        assert row.locator("td").nth(4).inner_text() == "0"  # lag

        page.wait_for_selector("#live-state.on", timeout=30000)
        before = page.locator("#alerts li").count()
        ts = int(time.time() * 1000)
        cap = journal.append("capture.end", "door", {"capture": "c-live", "verdict": "unconsented",
                                                     "reasons": ["privacy_zone"]}, ts)
        journal.append("alert", "door", {"text": "face in privacy zone at the door",
                                         "capture": "c-live", "reasons": ["privacy_zone"],
                                         "ref_seq": cap.seq}, ts)
        pub.notify()
        live = page.locator("#alerts li.new").first
        live.wait_for(timeout=30000)
        assert "face in privacy zone at the door" in live.inner_text()
        assert "dev1 / door" in live.inner_text()
        assert page.locator("#alerts li").count() == before + 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hub.png"), full_page=True)

        page.click("text=Captures")
        page.wait_for_url("**/captures")
        total = page.locator("#captures tbody tr").count()
        page.select_option("select[name=verdict]", "unconsented")
        page.select_option("select[name=feed]", "door")
        page.click("#filters button[type=submit]")
        page.wait_for_url("**/captures?*verdict=unconsented*")
        verdicts = page.locator("#captures tbody td.verdict").all_inner_texts()
        assert verdicts and set(verdicts) == {"unconsented"}
        assert len(verdicts) < total
        assert page.locator('figure[data-feed="door"] rect.bar').count() >= 1
        assert page.locator('figure[data-feed="counter"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "hub-captures.png"), full_page=True)
        page.close()
    finally:
        pub.stop()
        journal.close()
