"""The hub's web page over HTTP: token login, devices, captures filters, per-feed chart."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import httpx
import pytest
from hubdata import CAPTURES, STORY_ALERT, T5, add_story, fill

pytestmark = pytest.mark.integration


@pytest.fixture
def filled(make_hub, tmp_path: Path):
    hub = make_hub(web=True, token="test-token-0123456789abcdef")
    journal, pub = fill(hub, tmp_path)
    yield hub, journal
    pub.stop()
    journal.close()


def _rows(html: str) -> list[str]:
    body = html.split('<table id="captures"', 1)[1]
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
                     "last_seen": devs[0]["last_seen"], "stored_seq": journal.head[0],
                     "seen_seq": journal.head[0], "lag": 0, "duplicates": devs[0]["duplicates"],
                     "enrolled": "enroll", "enrolled_words": devs[0]["enrolled_words"], "notices": [],
                     "fork_seq": None}]  # no open fork (issue 20: the page and API say when there is one)
    assert devs[0]["last_seen"].endswith(" UTC")
    page = httpx.get(hub.web_url + "/", headers=auth).text
    # #22.10: the Enrolled column says how and when, not the bare word "enroll"
    cell = page.split('<td data-label="Enrolled" class="enrolled">', 1)[1].split("</td>", 1)[0]
    assert cell.startswith("by an operator (camaudit hub enroll), ") and cell.endswith(" UTC"), cell
    n_alerts = sum(1 for c in CAPTURES if c[2] == "unconsented")
    assert page.count("unconsented capture c-") == n_alerts
    assert "no notice registered for this camera" in page and "face in a privacy zone" in page


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
        fig = html.split(f'<figure data-feed="{feed}" data-device="dev1">', 1)[1].split("</figure>", 1)[0]
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


AUTH = {"Authorization": "Bearer test-token-0123456789abcdef"}


@pytest.fixture
def venue(make_hub, tmp_path: Path, hub_db: str):
    """A hub in Europe/Berlin holding CAPTURES and the c-100 story (notice goes missing), its
    store on SQLite, then on PostgreSQL."""
    hub = make_hub(web=True, token="test-token-0123456789abcdef", timezone="Europe/Berlin", db=hub_db)
    journal, pub = fill(hub, tmp_path)
    add_story(hub, journal, pub)
    yield hub, journal, pub
    pub.stop()
    journal.close()


def _text(html: str) -> str:
    """Visible text, whitespace collapsed (enough for these templates)."""
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_capture_page_timeline_faces_and_notices(venue) -> None:
    hub, _, _ = venue
    r = httpx.get(hub.web_url + "/capture/dev1/c-100", headers=AUTH)
    assert r.status_code == 200
    text = _text(r.text)
    assert "Times in Europe/Berlin" in text
    timeline = _text(r.text.split('id="timeline"', 1)[1].split("</ol>", 1)[0])
    expected = [
        "2026-11-26 06:00:00 CET capture opened",
        "2026-11-26 06:00:00 CET verdict consented: notice 'entrance' posted and within its hours",
        "2026-11-26 06:01:00 CET notice 'entrance' missing (not seen posted)",
        "2026-11-26 06:01:01 CET verdict unconsented: notice not seen posted",
        "2026-11-26 06:02:00 CET capture closed",
        "2026-11-26 06:02:00 CET alert raised: " + STORY_ALERT,
    ]
    pos = [timeline.find(e) for e in expected]
    assert all(p >= 0 for p in pos), (expected, timeline)
    assert pos[:5] == sorted(pos[:5])
    assert re.search(r'<dd id="identifiable">\s*2\s*</dd>', r.text)
    assert "18 / 41 / 96" in text and "at least min_face_px native pixels tall" in text and "max_yaw" in text
    notices = html_lib.unescape(r.text.split('id="notices"', 1)[1].split("</ul>", 1)[0])
    assert 'data-words="entrance: VISIBLE (seen posted) since 2026-11-26 05:50:00 CET (04:50:00 UTC); hours:' in notices
    assert "<b>unconsented</b>: notice not seen posted" in r.text
    missing = httpx.get(hub.web_url + "/capture/dev1/c-nope", headers=AUTH)
    assert missing.status_code == 404 and "no record of capture c-nope" in missing.text
    assert httpx.get(hub.web_url + "/capture/dev1/c-100").status_code == 303  # login first


def test_every_alert_links_to_its_capture_page(venue) -> None:
    hub, _, _ = venue
    page = httpx.get(hub.web_url + "/", headers=AUTH).text
    items = page.split('<ul id="alerts"', 1)[1].split("</ul>", 1)[0].split("<li ")[1:]
    assert len(items) == sum(1 for c in CAPTURES if c[2] == "unconsented") + 1
    for item in items:
        (href,) = re.findall(r'href="(/capture/[^"]+)"', item)
        r = httpx.get(hub.web_url + href, headers=AUTH)
        assert r.status_code == 200 and "Timeline" in r.text
    assert "2026-11-26 06:02:00 CET" in page  # alert time in the venue's zone
    rows = httpx.get(hub.web_url + "/captures", headers=AUTH).text
    assert 'href="/capture/dev1/c-100"' in rows and "End (Europe/Berlin)" in rows


def test_devices_show_each_notice_state_now(venue) -> None:
    hub, journal, pub = venue
    devs = httpx.get(hub.web_url + "/api/devices", headers=AUTH).json()
    (n,) = devs[0]["notices"]
    assert (n["notice"], n["state"], n["covers"], n["since"]) == (
        "entrance", "MISSING", ["counter"], "2026-11-26 06:01:00 CET")
    page = httpx.get(hub.web_url + "/", headers=AUTH).text
    assert re.search(r'<span class="notice missing" data-notice="entrance" title="missing \(not seen posted\) '
                     r'since 2026-11-26 06:01:00 CET">entrance: MISSING</span>', page)
    journal.append("notice.restored", "door", {"notice": "entrance", "state": "VISIBLE", "covers": ["counter"],
                                              "why": "seen"}, 1795651200000 + 6 * 3_600_000)
    pub.notify()
    from brokers import wait_for

    wait_for(lambda: httpx.get(hub.web_url + "/api/devices", headers=AUTH).json()[0]["notices"][0]["state"]
             == "VISIBLE", what="notice state refreshed")


def test_export_button_downloads_a_pack_that_verifies(venue, tmp_path: Path) -> None:
    from camaudit.store.pack_verify import verify_pack

    hub, journal, _ = venue
    page = httpx.get(hub.web_url + "/captures", headers=AUTH).text
    assert 'action="/export"' in page and "Download pack" in page
    r = httpx.get(hub.web_url + "/export", headers=AUTH,
                  params={"device": "dev1", "since": "2026-11-26 05:50", "until": "2026-11-26 06:03"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert re.search(r'filename="camaudit-dev1-\d{8}-\d{6}\.zip"', r.headers["content-disposition"])
    pack = tmp_path / "web.zip"
    pack.write_bytes(r.content)
    from camaudit.store.keys import load_key

    hub_key = bytes.fromhex(load_key(hub.data_dir / "hub.key").public_hex)
    assert "OK, authentic" in verify_pack(pack, journal.public_key, hub_key).summary()
    import zipfile

    with zipfile.ZipFile(pack) as z:
        lines = z.read("events.jsonl").decode().splitlines()
    import json

    recs = [json.loads(ln) for ln in lines]
    story = [r["type"] for r in recs if r["type"] != "checkpoint"]
    assert story == ["notice.restored", "capture.start", "notice.missing", "capture.end", "alert"], story
    assert [r["seq"] for r in recs] == list(range(recs[0]["seq"], recs[0]["seq"] + len(recs)))
    # the capture page's own button covers that capture's records
    cap = httpx.get(hub.web_url + "/capture/dev1/c-100", headers=AUTH).text
    (href,) = re.findall(r'id="export-capture" href="([^"]+)"', cap)
    r2 = httpx.get(hub.web_url + href.replace("&amp;", "&"), headers=AUTH)
    assert r2.status_code == 200 and r2.content[:2] == b"PK"


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"device": "dev1", "since": "yesterday"}, 400, "not a time"),
        ({"device": "nobody"}, 400, "choose an enrolled device"),
        ({"device": "x" * 5000}, 400, "choose an enrolled device"),
        ({"device": "dev1", "since": "2030-01-01", "until": "2030-01-02"}, 404, "no record"),
        ({"device": "dev1", "since": "2026-11-27", "until": "2026-11-26"}, 409, ""),
    ],
)
def test_export_refuses_bad_requests_with_one_clear_line(venue, params, status, words) -> None:
    hub, _, _ = venue
    r = httpx.get(hub.web_url + "/export", headers=AUTH, params=params)
    assert r.status_code == status, r.text
    (msg,) = re.findall(r'<p class="error" role="alert">(.*?)</p>', r.text, re.S)
    assert msg.startswith("No pack: ") and words in msg and "\n" not in msg.strip()
    assert httpx.get(hub.web_url + "/export", params=params).status_code == 303


def test_device_sent_ids_are_escaped_and_links_encoded(venue) -> None:
    """A device signs whatever capture id and feed it likes: the pages must not run them."""
    hub, journal, pub = venue
    evil = '<img src=x onerror=alert(1)>/../"x'
    ts = 1795651200000 + 7 * 3_600_000
    cap = journal.append("capture.end", "<b>feed</b>", {"capture": evil, "start": ts - 1000, "end": ts,
                                                        "verdict": "unconsented", "reasons": ["<i>"]}, ts)
    journal.append("alert", "<b>feed</b>", {"text": "<script>x()</script>", "capture": evil,
                                            "reasons": ["<i>"], "ref_seq": cap.seq}, ts)
    pub.notify()
    from brokers import wait_for

    head = journal.head[0]
    wait_for(lambda: hub.store.count_events("dev1") == head, what="evil events stored")
    for path in ("/", "/captures"):
        html = httpx.get(hub.web_url + path, headers=AUTH).text
        assert "<img src=x" not in html and "<script>x()" not in html and "<b>feed</b>" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
    href = "/capture/dev1/" + __import__("urllib.parse").parse.quote(evil, safe="")
    assert f'href="{href.replace("&", "&amp;")}"' in httpx.get(hub.web_url + "/", headers=AUTH).text or \
        f'href="{href}"' in httpx.get(hub.web_url + "/", headers=AUTH).text
    r = httpx.get(hub.web_url + href, headers=AUTH)
    assert r.status_code == 200 and "<img src=x" not in r.text and "&lt;img src=x" in r.text


def test_chart_axes_are_labelled_in_the_venue_zone(venue) -> None:
    hub, _, _ = venue
    html = httpx.get(hub.web_url + "/captures?feed=counter", headers=AUTH).text
    svg = html.split('<figure data-feed="counter" data-device="dev1">', 1)[1].split("</svg>", 1)[0]
    assert ">captures</text>" in svg and ">hour starting (Europe/Berlin)</text>" in svg
    assert 'class="axis tick"' in svg and ">2026-11-26</text>" in svg and ">01:00</text>" in svg
    assert re.search(r"<title>2026-11-26 06:00 CET: 1 unconsented</title>", svg)


def test_filters_read_times_in_the_venue_zone(venue) -> None:
    hub, _, _ = venue
    # 06:00-06:05 Berlin = 05:00-05:05 UTC: only the story's capture
    r = httpx.get(hub.web_url + "/captures", headers=AUTH,
                  params={"since": "2026-11-26 06:00", "until": "2026-11-26 06:05"})
    assert "1 capture(s) shown" in r.text and "c-100" in r.text
    bad = httpx.get(hub.web_url + "/captures", headers=AUTH, params={"since": "soon"})
    assert bad.status_code == 400 and "From: &#39;soon&#39; is not a time" in bad.text


def test_capture_page_shows_the_hours_the_device_registered(venue) -> None:
    """The hours that applied come from the notice's newest notice.registered before the
    capture, the record the device journals what the sign says in."""
    from brokers import wait_for

    hub, journal, pub = venue
    r = httpx.get(hub.web_url + "/capture/dev1/c-100", headers=AUTH)
    assert "hours stated: not recorded (no notice.registered record" in _text(r.text)
    body = {"notice": "entrance", "controller": "Example Café Ltd", "purposes": ["security"],
            "rights": "access", "contact": "dpo@example.org", "full_notice": "https://example.org/cctv",
            "hours": {"mon-fri": "07:00-19:00", "sat": "09:00-12:00"}, "languages": ["en"],
            "translations": {}, "covers": ["counter"], "watch_feed": "door", "timezone": "Europe/Berlin",
            "hash": "0" * 64, "marker": "CA1:entrance:" + "0" * 16}
    journal.append("notice.registered", None, body, T5 - 700_000)
    # a later registration (after the capture started) must not be the one shown
    journal.append("notice.registered", None, {**body, "hours": {"daily": "00:00-01:00"}}, T5 + 1_000)
    pub.notify()
    head = journal.head[0]
    wait_for(lambda: hub.store.count_events("dev1") == head, what="registrations stored")
    text = _text(httpx.get(hub.web_url + "/capture/dev1/c-100", headers=AUTH).text)
    assert "mon-fri 07:00-19:00, sat 09:00-12:00 (Europe/Berlin)" in text, text
    assert "daily 00:00-01:00" not in text
