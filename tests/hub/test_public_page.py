"""The public page of a notice on a real hub (real mosquitto, real SQLite): its content, its
JSON (DTPR-style fields, OSM tags), the "was I filmed?" form (recorded, bounded, never
echoed, seen by the operator), rate limits, no cookies, security headers, no personal data."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from publicdata import SECRET_ALERT, fill_public

from camaudit.hub.public.limit import TokenBuckets
from camaudit.hub.web.routes.public import PublicSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PUBLIC = {"url": "https://hub.example.org", "operator": "Example Cafe Ltd",
          "cameras": {"dev1/counter": {"surveillance": "indoor", "zone": "shop", "direction": 120}}}
CONTACT = "zz-unique-contact-7781@example.net"


def http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


@pytest.fixture
def public_hub(make_hub, tmp_path: Path):
    hub = make_hub(web=True, timezone="Europe/Berlin", public=PUBLIC)
    journal, pub, want = fill_public(hub, tmp_path)
    yield hub, want
    pub.stop()
    journal.close()


def _app(hub: Any) -> Any:
    return hub._web.config.app


def _fresh_limits(hub: Any) -> None:
    s = _app(hub).state.public
    fresh = PublicSettings()
    s.pages, s.forms = fresh.pages, fresh.forms


def _form(**over: str) -> bytes:
    from urllib.parse import urlencode

    fields = {"since": _local_iso(1, 14, 0), "until": _local_iso(1, 14, 30), "camera": "door",
              "contact": CONTACT, **over}
    return urlencode(fields).encode()


def _local_iso(ago: int, hh: int, mm: int) -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    d = datetime.now(ZoneInfo("Europe/Berlin")).date() - timedelta(days=ago)
    return f"{d.isoformat()}T{hh:02d}:{mm:02d}"


def test_page_and_json_show_the_notice_cameras_and_counts_by_local_day(public_hub) -> None:
    hub, want = public_hub
    status, headers, html = http(hub.web_url + "/public/dev1/entrance")
    assert status == 200
    assert "set-cookie" not in headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    for text in ("Example Cafe Ltd, 1 Main St", "security of the premises", "dpo@example.org",
                 "mon-fri 07:00-19:00", "30 days", "covered (dark or uniform picture)",
                 "running, picture fine", "man_made=surveillance", "camera:direction=120", "Was I filmed?"):
        assert text in html, text
    status, headers, body = http(hub.web_url + "/public/dev1/entrance.json")
    assert status == 200 and "set-cookie" not in headers
    f = json.loads(body)
    assert f["notice_registered"]["controller"] == "Example Cafe Ltd, 1 Main St"
    assert f["notice_registered"]["hours"] == {"mon-fri": "07:00-19:00"}
    assert {c["feed"]: (c["state"], c["running"], c["healthy"]) for c in f["cameras"]} == {
        "counter": ("ok", True, True), "door": ("covered", True, False)}
    assert len(f["days"]) == 30 and f["timezone"] == "Europe/Berlin"
    got = {d["day"]: {k: d[k] for k in ("captures", "unconsented", "alerts", "camera_health")}
           for d in f["days"] if d["day"] in want}
    assert got == want  # 00:30 local (23:30 UTC the day before) counts on its local day; 'back' not covered
    assert sum(d["captures"] for d in f["days"]) == 4
    dtpr = f["dtpr"]
    assert dtpr["technology_type"] == "camera"
    assert dtpr["identifiability"] == "face detection, no recognition"
    assert dtpr["accountable_organisation"] == "Example Cafe Ltd, 1 Main St"
    assert dtpr["purpose"] == ["security of the premises"] and "30 days" in dtpr["retention"]
    assert dtpr["access"]["page"] == "https://hub.example.org/public/dev1/entrance"
    assert dtpr["access"]["contact"] == "dpo@example.org"
    osm = {c["feed"]: c["osm"] for c in f["cameras"]}
    assert osm["counter"] == {"man_made": "surveillance", "surveillance:type": "camera", "surveillance": "indoor",
                              "surveillance:zone": "shop", "camera:direction": "120",
                              "operator": "Example Cafe Ltd"}
    assert "camera:direction" not in osm["door"] and osm["door"]["surveillance"] == "public"


def _walk(obj: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in _walk(v, f"{path}.{k}")]
    if isinstance(obj, list):
        return [x for i, v in enumerate(obj) for x in _walk(v, f"{path}[{i}]")]
    return [(path, obj)]


TIME_OF_DAY = re.compile(r"\b\d{1,2}:\d{2}\b")


def test_no_personal_data_no_time_finer_than_a_day(public_hub) -> None:
    hub, _ = public_hub
    _, _, body = http(hub.web_url + "/public/dev1/entrance.json")
    for path, v in _walk(json.loads(body)):
        if isinstance(v, int) and not isinstance(v, bool):
            assert v < 1_000_000, f"{path}: {v} looks like a time"
        if isinstance(v, str) and path.startswith(".notice_registered.hours"):
            continue
        if isinstance(v, str):
            assert not TIME_OF_DAY.search(v), f"{path}: {v!r} has a time of day"
            assert not re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", v), path
    _, _, html = http(hub.web_url + "/public/dev1/entrance")
    text = re.sub(r"<[^>]+>", " ", html)
    assert TIME_OF_DAY.findall(text) == ["07:00", "19:00"]  # only the registered hours
    for both in (html, body):
        assert SECRET_ALERT not in both and "red coat" not in both  # device-signed free text
        assert "c-secret" not in both and "sha256" not in both and "/evidence/" not in both
        assert "<img" not in both and "notice_missing" not in both


def test_unknown_notice_or_device_is_404_without_echo(public_hub) -> None:
    hub, _ = public_hub
    for path in ("/public/dev1/nope-zz9", "/public/nodev-zz9/entrance", "/public/dev1/" + "x" * 300,
                 "/public/dev1/nope-zz9.json"):
        status, headers, body = http(hub.web_url + path)
        assert status == 404 and "zz9" not in body and "xxxx" not in body and "set-cookie" not in headers


def test_form_is_recorded_never_echoed_and_seen_by_the_operator(public_hub) -> None:
    hub, _ = public_hub
    url = hub.web_url + "/public/dev1/entrance/request"
    status, headers, body = http(url, _form())
    assert status == 200 and "set-cookie" not in headers and headers["cache-control"] == "no-store"
    assert "Received" in body
    ref = re.search(r'id="ref">(R-[0-9A-F]{10})<', body).group(1)
    assert CONTACT not in body and "14:00" not in body and "door" not in body
    # the operator sees it, with what the device recorded on that camera in that window
    status, _, login = http(hub.web_url + "/requests")
    assert status == 200 and CONTACT not in login and 'id="token"' in login  # redirected to the login page
    status, _, page = http(hub.web_url + "/requests", headers={"Authorization": f"Bearer {hub.token}"})
    assert status == 200 and ref in page and CONTACT in page
    row = re.search(rf'<tr data-ref="{ref}">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert re.sub(r"<[^>]+>", "", cells[5]) == "1" and cells[6] == "1" and cells[7] == "1"
    with sqlite3.connect(hub.store.where) as c:
        assert c.execute("SELECT feed, contact FROM filmed_requests WHERE ref = ?", (ref,)).fetchone() == (
            "door", CONTACT)


@pytest.mark.parametrize("name,body,code", [
    ("unknown field", _form() + b"&x=1", 400),
    ("contact too long", _form(contact="a" * 201), 400),
    ("window too long", _form(until=_local_iso(0, 15, 0)), 400),
    ("not a covered camera", _form(camera="back"), 400),
    ("not a time", _form(since="yesterday-" + CONTACT), 400),
    ("repeated field", _form() + b"&contact=other", 400),
    ("body too big", _form(contact="b" * 5000), 413),
    ("not utf-8", b"contact=\xff\xfe", 400),
])
def test_form_bounds_refuse_without_echo(public_hub, name: str, body: bytes, code: int) -> None:
    hub, _ = public_hub
    status, headers, html = http(hub.web_url + "/public/dev1/entrance/request", body)
    assert status == code, name
    assert CONTACT not in html and "aaaa" not in html and "bbbb" not in html and "set-cookie" not in headers
    with sqlite3.connect(hub.store.where) as c:
        assert c.execute("SELECT COUNT(*) FROM filmed_requests").fetchone()[0] == 0


def test_form_and_page_rate_limits(public_hub) -> None:
    hub, _ = public_hub
    _fresh_limits(hub)
    url = hub.web_url + "/public/dev1/entrance/request"
    codes = [http(url, _form())[0] for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    status, headers, _ = http(url, _form())
    assert status == 429 and int(headers["retry-after"]) >= 1
    codes = [http(hub.web_url + "/public/dev1/entrance.json")[0] for _ in range(40)]
    assert codes.count(200) >= 30 and codes[-1] == 429
    # the operator's pages are not limited by the public buckets
    assert http(hub.web_url + "/requests", headers={"Authorization": f"Bearer {hub.token}"})[0] == 200


def test_token_buckets_bounded_refill_and_global() -> None:
    now = [0.0]
    b = TokenBuckets(1.0, 2, global_rate=100.0, global_burst=1000, max_keys=50, clock=lambda: now[0])
    assert b.take("a") == 0 and b.take("a") == 0 and b.take("a") > 0
    now[0] += 1.0
    assert b.take("a") == 0
    for i in range(10_000):  # a spray of addresses
        b.take(f"10.0.{i // 256}.{i % 256}")
    assert len(b) <= 50
    g = TokenBuckets(10.0, 10, global_rate=1.0, global_burst=3, clock=lambda: now[0])
    assert [g.take(f"k{i}") for i in range(4)][:3] == [0, 0, 0] and g.take("k9") > 0
