"""#22.2: the hub's capture page, the pack's report and `camaudit log` say the same thing about
the notices behind every capture of the demo story (one derivation: report/notice_facts.py).

The demo runs for real (device, mosquitto, hub on 127.0.0.1); the hub's page is rendered from
the hub.db it filled, the report from the device's journal, `log` by the CLI."""

from __future__ import annotations

import html
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from camaudit import demo_story
from camaudit.core.record import Event
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.web.app import create_app
from camaudit.hub.web.live import LiveAlerts
from camaudit.report import words
from camaudit.report.model import build

pytestmark = pytest.mark.integration
TOKEN = "one-truth-token-0123456789"


def _cli(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "camaudit.cli", *args], capture_output=True,
                          text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("demo")
    _cli("demo", "--data-dir", str(tmp), "--no-serve")
    return tmp


def _journal(db: Path) -> list[Event]:
    con = sqlite3.connect(db)
    try:
        return [Event.from_json(t) for (t,) in con.execute("SELECT json FROM events ORDER BY seq")]
    finally:
        con.close()


def hub_page_words(hub_db: Path, device: str, capture: str) -> tuple[str, str]:
    """(what the capture page says of the notices, the whole page)."""
    store = HubStore(hub_db)
    app = create_app(store, TOKEN, LiveAlerts(), timezone=demo_story.TIMEZONE)
    with TestClient(app) as c:
        r = c.get(f"/capture/{device}/{capture}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    said = [html.unescape(w) for w in re.findall(r'data-words="([^"]*)"', r.text)]
    return (" | ".join(said) if said else "no notice covers this camera"), r.text


def test_capture_page_report_and_log_agree_for_every_act(demo: Path) -> None:
    db = demo / "device" / "journal.db"
    report = build(_journal(db), {"device": demo_story.DEVICE_ID, "created": 0})
    log_out = _cli("log", "--db", str(db))
    by_feed = {c.row.feed: c for c in report.captures}
    assert set(by_feed) == {a.feed for a in demo_story.ACTS}
    for act in demo_story.ACTS:
        item = by_feed[act.feed]
        in_report = words.notice_state_text(item, report)
        in_page, page = hub_page_words(demo / "hub" / "hub.db", demo_story.DEVICE_ID, item.row.capture)
        m = re.search(rf"^  {re.escape(item.row.capture)} \({act.feed}\): (.*)$", log_out, re.M)
        assert m, log_out
        assert in_page == in_report == m.group(1), (act.feed, in_page, in_report, m.group(1))
        if act.sign is not None:
            # the covering notice is named, and no page contradicts the verdict
            assert act.sign in in_page, (act.feed, in_page)
            assert "reported no notice state" not in page
        if act.verdict == "consented" and act.sign is not None:
            assert "VISIBLE" in in_page, in_page
        if act.why == "outside_hours":
            # the hours behind outside_hours are named
            assert "hours: " in in_page and "no hours stated" not in in_page, in_page
