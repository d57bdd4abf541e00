"""#22.7 and #22.5: the operator's workflow on the hub. Every alert and unconsented capture says
what to do next for its reasons and whom to tell; an alert can be acknowledged (who, when, a
note), kept in the store and shown; the venue's name is on every page; the charts are one per
device AND feed, below the captures table."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import httpx
import pytest
from hubdata import CAPTURES, T0, fill

from camaudit.hub.custody.log import custody_log
from camaudit.hub.store.hub_store import HubError, HubStore
from camaudit.hub.web.charts import device_feed_charts
from camaudit.hub.web.next_steps import STEPS

pytestmark = pytest.mark.integration
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def hub(make_hub, tmp_path: Path):
    hub = make_hub(web=True, token=TOKEN, timezone="Europe/Berlin", venue="Café du Coin, Lyon")
    journal, pub = fill(hub, tmp_path)
    yield hub
    pub.stop()
    journal.close()


def _alert_items(page: str) -> list[str]:
    return page.split('<ul id="alerts"', 1)[1].split("</ul>", 1)[0].split("<li ")[1:]


def test_every_alert_and_unconsented_capture_says_what_to_do_and_whom_to_tell(hub) -> None:
    page = httpx.get(hub.web_url + "/", headers=AUTH).text
    items = _alert_items(page)
    unconsented = [c for c in CAPTURES if c[2] == "unconsented"]
    assert len(items) == len(unconsented)
    for item in items:
        text = html_lib.unescape(item)
        assert "What to do next:" in text and "Tell: " in text, text
        (cap,) = re.findall(r"unconsented capture (c-\d+)", text)[:1]
        for reason in next(c[3] for i, c in enumerate(CAPTURES) if f"c-{i}" == cap):
            assert STEPS[reason].do in text, (reason, text)
    # the capture page of an unconsented capture says the same; a consented one says nothing
    for i, (_, _, verdict, reasons) in enumerate(CAPTURES):
        r = httpx.get(f"{hub.web_url}/capture/dev1/c-{i}", headers=AUTH).text
        if verdict == "unconsented":
            steps = html_lib.unescape(r.split('id="next-steps"', 1)[1].split("</section>", 1)[0])
            assert all(STEPS[x].do in steps for x in reasons) and "Tell: the venue's manager" in steps
        else:
            assert 'id="next-steps"' not in r


def test_an_alert_is_acknowledged_kept_and_shown(hub) -> None:
    page = httpx.get(hub.web_url + "/", headers=AUTH).text
    first = _alert_items(page)[0]
    seq = int(re.search(r'data-seq="(\d+)"', first).group(1))
    assert 'class="open"' in first and "Acknowledge" in first
    r = httpx.post(hub.web_url + "/alerts/ack", headers=AUTH, follow_redirects=False,
                   data={"kind": "event", "device": "dev1", "seq": str(seq), "who": "Ana (manager)",
                         "note": "sign put back at the door\x1b[2J"})
    assert r.status_code == 303
    page = httpx.get(hub.web_url + "/", headers=AUTH).text
    item = next(i for i in _alert_items(page) if f'data-seq="{seq}"' in i)
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", item))
    assert re.search(r"Acknowledged by\s+Ana \(manager\)\s+at\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CET\s*:\s+"
                     r"sign put back at the door \[2J", text), text
    # kept in the hub's store (a new process reads it), and out of the open alerts
    store = HubStore(hub.data_dir / "hub.db")
    try:
        acks = store.alert_acks()
        assert acks[("event", "dev1", seq)]["who"] == "Ana (manager)"
        assert seq not in [a["seq"] for a in store.open_alerts()]
        with pytest.raises(HubError, match="already acknowledged"):
            store.acknowledge("event", "dev1", seq, "Bob", "", T0)
        with pytest.raises(HubError, match="no alert"):
            store.acknowledge("event", "dev1", 99_999, "Bob", "", T0)
    finally:
        store.close()
    # a second acknowledgement is refused in words on the page
    r = httpx.post(hub.web_url + "/alerts/ack", headers=AUTH, follow_redirects=True,
                   data={"kind": "event", "device": "dev1", "seq": str(seq), "who": "Bob"})
    assert "is already acknowledged" in r.text
    # a logged-in browser session must send its CSRF token
    with httpx.Client(base_url=hub.web_url) as c:
        assert c.post("/login", data={"token": TOKEN}).status_code == 303
        other = re.search(r'data-seq="(\d+)"[^>]*class="open"', c.get("/").text).group(1)
        r = c.post("/alerts/ack", data={"kind": "event", "device": "dev1", "seq": other, "who": "Eve"})
        assert r.status_code == 403
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text).group(1)
        r = c.post("/alerts/ack", data={"csrf": csrf, "kind": "event", "device": "dev1", "seq": other,
                                         "who": "Ana"}, follow_redirects=False)
        assert r.status_code == 303
    # each acknowledgement that was kept is one entry in the hub's custody log (issue 24)
    store = HubStore(hub.data_dir / "hub.db")
    try:
        acked = [e for e in custody_log(store, hub.data_dir / "hub.key").entries() if e["what"] == "alert.ack"]
    finally:
        store.close()
    assert [(e["detail"]["seq"], e["detail"]["acked_as"]) for e in acked] == [(seq, "Ana (manager)"), (int(other), "Ana")]


def test_the_venue_name_is_on_every_page(hub) -> None:
    for path in ("/", "/captures", "/capture/dev1/c-0", "/capture/dev1/nope"):
        r = httpx.get(hub.web_url + path, headers=AUTH)
        assert '<span class="venue" id="venue">Café du Coin, Lyon</span>' in r.text, path


def test_charts_are_per_device_and_feed_below_the_table(make_hub, tmp_path: Path) -> None:
    """Two devices each with an 'counter' camera: two charts, never one sum."""
    hub = make_hub(web=True, token=TOKEN)
    j1, p1 = fill(hub, tmp_path, "dev1")
    j2, p2 = fill(hub, tmp_path, "dev2")
    try:
        page = httpx.get(hub.web_url + "/captures", headers=AUTH).text
        figs = re.findall(r'<figure data-feed="([^"]+)" data-device="([^"]+)">', page)
        assert sorted(figs) == [("counter", "dev1"), ("counter", "dev2"), ("door", "dev1"), ("door", "dev2")]
        assert page.index('<table id="captures"') < page.index('<details class="charts"')
        per = {(c["device"], c["feed"]): c["svg"] for c in device_feed_charts(hub.store.hourly_per_device())}
        n_counter = sum(1 for c in CAPTURES if c[0] == "counter")
        for dev in ("dev1", "dev2"):
            bars = [int(n) for n in re.findall(r"<title>[^<]*: (\d+) \w+</title>", per[(dev, "counter")])]
            assert sum(bars) == n_counter, (dev, bars)
    finally:
        for p, j in ((p1, j1), (p2, j2)):
            p.stop()
            j.close()




def test_the_hub_command_takes_the_venue_name() -> None:
    import click

    from camaudit.hub.commands.cli import _config, hub_cmd

    ctx = click.Context(hub_cmd, obj={"config": None, "tofu": False, "users": (), "venue": "Café du Coin, Lyon"})
    assert _config(ctx).venue == "Café du Coin, Lyon"
