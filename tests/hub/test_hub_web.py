"""The hub's web page over HTTP: token login, devices, captures filters, per-feed chart."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from hubdata import CAPTURES, fill

pytestmark = pytest.mark.integration


@pytest.fixture
def filled(make_hub, tmp_path: Path):
    hub = make_hub(web=True, token="test-token-0123456789abcdef")
    journal, pub = fill(hub, tmp_path)
    yield hub, journal
    pub.stop()
    journal.close()


def _rows(html: str) -> list[str]:
    body = html.split('<table id="captures">', 1)[1]
    return re.findall(r'<tr class="(consented|unconsented)">', body)


def test_login_required_and_wrong_token(filled) -> None:
    hub, _ = filled
    with httpx.Client(base_url=hub.web_url) as c:
        for path in ("/", "/captures"):
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/login"
        assert c.get("/api/devices").status_code == 401
        assert c.get("/alerts/stream").status_code == 401
        r = c.post("/login", data={"token": "nope-nope"})
        assert r.status_code == 401 and "Wrong token" in r.text
        assert c.get("/").status_code == 303
        r = c.post("/login", data={"token": "test-token-0123456789abcdef"})
        assert r.status_code == 303
        page = c.get("/")
        assert page.status_code == 200
        assert 'data-device="dev1"' in page.text


def test_devices_alerts_and_lag(filled) -> None:
    hub, journal = filled
    auth = {"Authorization": "Bearer test-token-0123456789abcdef"}
    devs = httpx.get(hub.web_url + "/api/devices", headers=auth).json()
    assert devs == [{"device": "dev1", "online": True, "last_seen_ms": devs[0]["last_seen_ms"],
                     "stored_seq": journal.head[0], "seen_seq": journal.head[0], "lag": 0,
                     "duplicates": devs[0]["duplicates"], "enrolled": "enroll"}]
    page = httpx.get(hub.web_url + "/", headers=auth).text
    n_alerts = sum(1 for c in CAPTURES if c[2] == "unconsented")
    assert page.count("unconsented capture c-") == n_alerts
    assert "no_notice" in page and "privacy_zone" in page


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("", lambda c: True),
        ("verdict=unconsented", lambda c: c[2] == "unconsented"),
        ("verdict=consented&feed=door", lambda c: c[2] == "consented" and c[0] == "door"),
        ("reason=privacy_zone", lambda c: "privacy_zone" in c[3]),
        ("reason=notice_missing", lambda c: "notice_missing" in c[3]),
        ("device=dev1&feed=counter", lambda c: c[0] == "counter"),
        ("device=nobody", lambda c: False),
        ("since=2026-11-26 01:00&until=2026-11-26 03:00", lambda c: 1 <= c[1] < 3),
        ("since=2026-11-26T02:00", lambda c: c[1] >= 2),
    ],
)
def test_capture_filters(filled, query: str, expect) -> None:
    hub, _ = filled
    r = httpx.get(f"{hub.web_url}/captures?{query}", headers={"Authorization": "Bearer test-token-0123456789abcdef"})
    assert r.status_code == 200
    wanted = [c for c in CAPTURES if expect(c)]
    rows = _rows(r.text)
    assert sorted(rows) == sorted(c[2] for c in wanted)
    assert f"{len(wanted)} capture(s) shown" in r.text


def test_chart_bars_per_feed_hour_and_verdict(filled) -> None:
    hub, _ = filled
    html = httpx.get(hub.web_url + "/captures", headers={"Authorization": "Bearer test-token-0123456789abcdef"}).text
    for feed in ("counter", "door"):
        fig = html.split(f'<figure data-feed="{feed}">', 1)[1].split("</figure>", 1)[0]
        bars = re.findall(r'<rect class="bar (\w+)".*?<title>(.*?)</title>', fig)
        groups: dict[tuple[int, str], int] = {}
        for f, hour, verdict, _ in CAPTURES:
            if f == feed:
                groups[(hour, verdict)] = groups.get((hour, verdict), 0) + 1
        assert len(bars) == len(groups)
        shown = sorted((title.split(": ")[1]) for _, title in bars)
        assert shown == sorted(f"{n} {v}" for (_, v), n in groups.items())
    assert "<script src=\"http" not in html and "cdn" not in html.lower()


def test_alert_listener_gets_verified_alerts(make_hub, tmp_path: Path) -> None:
    hub = make_hub()
    got: list[dict] = []
    hub.on_alerts(got.extend)
    journal, pub = fill(hub, tmp_path)
    try:
        texts = sorted(a["text"] for a in got)
        assert texts == sorted(a["text"] for a in hub.store.alerts(100))
        assert len(got) == sum(1 for c in CAPTURES if c[2] == "unconsented")
        assert all(a["device"] == "dev1" and 0 < a["ref_seq"] < a["seq"] for a in got)
    finally:
        pub.stop()
        journal.close()
