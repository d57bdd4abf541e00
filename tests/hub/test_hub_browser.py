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
        # a live alert says what to do next too (#22.7)
        assert "What to do next:" in live.inner_text() and "Re-aim or mask the camera" in live.inner_text()
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


DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# page path -> text that must be on it
PAGES = {
    "index": ("/", ["Devices", "entrance: MISSING", "capture c-100", "Times in Europe/Berlin",
                    "Café du Coin, Lyon", "What to do next:", "Put the sign back or uncover it", "Tell: the venue's manager",
                    "Acknowledged by Ana (manager)", "by an operator (camaudit hub enroll)"]),
    "captures": ("/captures", ["Captures", "hour starting (Europe/Berlin)", "Export an evidence pack",
                               "notice not seen posted"]),
    "capture": ("/capture/dev1/c-100", ["Timeline", "2026-11-26 06:00:00 CET", "capture opened",
                                        "notice 'entrance' missing (not seen posted)",
                                        "Identifiable faces (tracks)", "at least min_face_px native pixels tall",
                                        "Download the evidence pack of this capture",
                                        "Café du Coin, Lyon", "What to do next",
                                        "entrance: VISIBLE (seen posted) since 2026-11-26 05:50:00 CET",
                                        "1 identifiable: frontal, sharp, 96 px; 1 not identifiable: 1 turned away"]),
}
# docs/ pictures (docs/hub.md): page name -> file stem; written when missing or with
# CAMAUDIT_UPDATE_DOCS=1, so that a test run leaves the checked-out tree as it was
DOCS_SHOTS = {"capture": "hub-capture", "index": "hub-alerts"}


def _tracks(journal, t: int) -> None:
    """Two signed track records for the story's capture c-100 (docs/tracks.md)."""
    for n, (px, eyes, yaw, ok, why) in enumerate([(96, 0.41, 0.2, True, []), (44, 0.04, 2.9, False, ["pose"])], 1):
        journal.append("track.end", "counter", {
            "capture": "c-100", "track": n, "first_frame": 5, "last_frame": 60, "first_ts": t + 1000,
            "last_ts": t + 9000, "frame_size": [1920, 1080], "boxes": [[5, 300, 200, px, px]],
            "peak": {"frame": 5, "box": [300, 200, px, px], "score": 0.9}, "identifiable": ok, "why_not": why,
            "definition": "camaudit-identifiable-2",
            "criteria": {"face_px": {"value": px, "passed": True, "min": 32, "unit": "px"},
                         "pose": {"value": {"eyes": eyes, "yaw": yaw}, "passed": ok, "min_eyes": 0.25,
                                  "max_yaw": 1.0, "unit": "ratio"},
                         "sharpness": {"value": 0.12, "passed": True, "min": 0.06, "unit": "ratio"}}},
            t + 9000)


def _login(page, hub) -> None:
    page.goto(hub.web_url + "/login")
    page.fill("#token", hub.token)
    page.click("button[type=submit]")
    page.wait_for_url(hub.web_url + "/")


def test_pages_at_desktop_and_phone_widths(make_hub, tmp_path: Path, browser) -> None:
    """Every page at 1280 px and on a 390 px phone: key text present, no sideways scrolling
    on the phone; screenshots in artifacts/ (the capture page also in docs/ for the README,
    when missing or with CAMAUDIT_UPDATE_DOCS=1)."""
    from brokers import wait_for
    from hubdata import T5, add_story

    hub = make_hub(web=True, timezone="Europe/Berlin", venue="Café du Coin, Lyon")
    journal, pub = fill(hub, tmp_path)
    add_story(hub, journal, pub)
    _tracks(journal, T5)
    pub.notify()
    head = journal.head[0]
    wait_for(lambda: hub.store.count_events("dev1") == head, what="track records stored")
    (acked,) = [a for a in hub.store.open_alerts() if a.get("capture") == "c-0"]
    hub.store.acknowledge("event", "dev1", acked["seq"], "Ana (manager)", "sign put back at the counter",
                          T5 + 3_600_000)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        for width, opts in (("desktop", DESKTOP), ("phone", PHONE)):
            ctx = browser.new_context(**opts)
            page = ctx.new_page()
            page.goto(hub.web_url + "/login")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(path=str(ARTIFACTS / f"hub-login-{width}.png"))
            _login(page, hub)
            for name, (path, texts) in PAGES.items():
                page.goto(hub.web_url + path)
                page.wait_for_load_state("networkidle") if name != "index" else page.wait_for_selector(
                    "#devices-state.on", timeout=30000)
                body = page.locator("body").inner_text()
                for t in texts:
                    assert t in body, f"{name} ({width}): {t!r} missing"
                scroll_w, inner_w = page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]")
                assert scroll_w <= inner_w, f"{name} scrolls sideways at {width}: {scroll_w} > {inner_w}"
                page.screenshot(path=str(ARTIFACTS / f"hub-{name}-{width}.png"), full_page=True)
                docs_png = DOCS / "hub-capture.png"  # the README's picture: refreshed on request only,
                # so that a test run leaves the checked-out tree as it was
                update = os.environ.get("CAMAUDIT_UPDATE_DOCS") == "1"
                if name == "capture" and width == "desktop" and (not docs_png.exists() or update):
                    DOCS.mkdir(exist_ok=True)
                    page.screenshot(path=str(docs_png), full_page=True)
                if name in DOCS_SHOTS:
                    px = opts["viewport"]["width"]  # type: ignore[index]
                    shot = DOCS / f"{DOCS_SHOTS[name]}-{px}.png"
                    if not shot.exists() or update:
                        page.screenshot(path=str(shot), full_page=True)
            ctx.close()
    finally:
        pub.stop()
        journal.close()


def test_devices_table_and_notice_state_update_live(make_hub, tmp_path: Path, browser) -> None:
    from hubdata import T5, add_story

    hub = make_hub(web=True, timezone="Europe/Berlin")
    journal, pub = fill(hub, tmp_path)
    add_story(hub, journal, pub)
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        _login(page, hub)
        notice = page.locator('#devices tr[data-device="dev1"] span[data-notice="entrance"]')
        assert notice.inner_text() == "entrance: MISSING"
        stored = page.locator('#devices tr[data-device="dev1"] td.stored')
        before = int(stored.inner_text())
        journal.append("notice.restored", "door", {"notice": "entrance", "state": "VISIBLE",
                                                  "covers": ["counter"], "why": "seen"}, T5 + 3_600_000)
        pub.notify()
        # no reload: the page polls /api/devices
        page.wait_for_function(
            "() => document.querySelector('#devices span[data-notice=\"entrance\"]').textContent"
            " === 'entrance: VISIBLE'", timeout=30000)
        assert "visible" in (notice.get_attribute("class") or "")
        assert "2026-11-26 07:00:00 CET" in (notice.get_attribute("title") or "")
        assert int(stored.inner_text()) > before  # (a checkpoint may come along)
        # a device enrolled while the page is open appears without a manual reload
        from camaudit.store.keys import DeviceKey

        hub.enroll("dev2", DeviceKey.generate().public_hex)
        page.wait_for_selector('#devices tr[data-device="dev2"]', timeout=30000)
        page.wait_for_selector("#live-state.on", timeout=30000)
        # a live alert links to its capture page
        ts = int(time.time() * 1000)
        cap = journal.append("capture.end", "door", {"capture": "c-live", "start": ts - 5000, "end": ts,
                                                     "verdict": "unconsented", "reasons": ["privacy_zone"]}, ts)
        journal.append("alert", "door", {"text": "face in privacy zone at the door", "capture": "c-live",
                                         "reasons": ["privacy_zone"], "ref_seq": cap.seq}, ts)
        pub.notify()
        live = page.locator("#alerts li.new").first
        live.wait_for(timeout=30000)
        assert "face in a privacy zone" in live.inner_text()
        assert live.locator("time").inner_text().endswith(("CET", "CEST", "GMT+1", "GMT+2"))
        live.locator("a.capture-link").click()
        page.wait_for_url("**/capture/dev1/c-live")
        assert "face in a privacy zone" in page.locator("#verdict").inner_text()
        page.close()
    finally:
        pub.stop()
        journal.close()
