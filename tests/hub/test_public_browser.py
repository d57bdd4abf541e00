"""The public notice page in a real headless Chromium at phone width (390 px): no sideways
scrolling, the form sent from the page answers "Received" with a reference, no cookie is
set; the screenshot goes to docs/public-notice-390.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from publicdata import fill_public
from test_hub_browser import PHONE, browser  # noqa: F401  (the same Chromium fixture and phone)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_public_page_at_phone_width(make_hub, tmp_path: Path, browser) -> None:  # noqa: F811
    hub = make_hub(web=True, timezone="Europe/Berlin", public={"operator": "Example Cafe Ltd"})
    journal, pub, _ = fill_public(hub, tmp_path)
    try:
        ctx = browser.new_context(**PHONE)
        page = ctx.new_page()
        page.goto(hub.web_url + "/public/dev1/entrance")
        page.wait_for_load_state("networkidle")
        body = page.locator("body").inner_text()
        for t in ("Independent camera audit", "Example Cafe Ltd, 1 Main St", "Last 30 days", "Was I filmed?",
                  "door: covered (dark or uniform picture)"):
            assert t in body, t
        assert page.locator("#days tbody tr").count() == 30
        scroll_w, inner_w = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert inner_w == 390 and scroll_w <= inner_w, f"scrolls sideways: {scroll_w} > {inner_w}"
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / "public-notice-390.png"), full_page=True)
        # the form, filled and sent as a passer-by would
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo

        day = (datetime.now(ZoneInfo("Europe/Berlin")).date() - timedelta(days=1)).isoformat()
        page.fill("input[name=since]", f"{day}T14:00")
        page.fill("input[name=until]", f"{day}T14:30")
        page.select_option("select[name=camera]", "door")
        page.fill("input[name=contact]", "me-unique-55@example.net")
        page.click("#was-i-filmed button[type=submit]")
        page.wait_for_selector("#ref")
        assert re.fullmatch(r"R-[0-9A-F]{10}", page.locator("#ref").inner_text())
        assert "me-unique-55" not in page.content()
        scroll_w, inner_w = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll_w <= inner_w
        assert ctx.cookies() == []
        ctx.close()
    finally:
        pub.stop()
        journal.close()
