"""`make demo` runs `camaudit demo`: a four-act story on the bundled clips, device + broker + hub
on 127.0.0.1, an exported pack checked against the device key."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pipeline_helpers import camaudit, captures

from camaudit import demo_story
from camaudit.core.policy import parse_hours

pytestmark = pytest.mark.integration


def test_closed_hours_exclude_the_moment_they_are_made_at():
    tz = ZoneInfo(demo_story.TIMEZONE)
    for hour in range(24):
        now = datetime(2026, 12, 3, hour, 59, tzinfo=tz)
        hours = parse_hours({"daily": demo_story.closed_hours(now)})
        assert not hours.is_open_local(now), (hour, demo_story.closed_hours(now))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("demo")
    proc = camaudit("demo", "--data-dir", str(tmp), "--no-serve")
    return tmp, proc.stdout


def test_each_act_ends_with_its_verdict(demo_run):
    tmp, out = demo_run
    by_feed = {c["feed"]: c for c in captures(tmp / "device" / "journal.db")}
    assert set(by_feed) == {a.feed for a in demo_story.ACTS}, out
    for act in demo_story.ACTS:
        cap = by_feed[act.feed]
        assert cap["verdict"] == act.verdict, (act.feed, cap)
        assert act.why in ([cap["basis"]] if act.verdict == "consented" else cap["reasons"]), cap
        assert cap["identifiable_tracks"] >= 1
    assert len(re.findall(r"^ok  ", out, re.M)) == len(demo_story.ACTS), out
    assert "BAD" not in out


def test_alerts_for_the_unconsented_acts_reach_the_hub(demo_run):
    tmp, out = demo_run
    assert "ALERT: 2 identifiable faces filmed on 'counter' while the privacy notice was not seen" in out
    assert "ALERT: 2 identifiable faces filmed on 'terrace' outside the recording hours" in out
    m = re.search(r"hub: (\d+) of (\d+) events from demo-01 verified and stored, 0 rejected", out)
    assert m and m.group(1) == m.group(2), out
    assert len(re.findall(r"^hub alert: ", out, re.M)) == 2, out
    con = sqlite3.connect(tmp / "hub" / "hub.db")
    try:
        (n,) = con.execute("select count(*) from events where device = 'demo-01'").fetchone()
    finally:
        con.close()
    assert n == int(m.group(1))
    # the hub listened on loopback only
    assert re.search(r"broker mqtt://127\.0\.0\.1:\d+, web page http://127\.0\.0\.1:\d+", out)


def test_pack_is_exported_and_verified_against_the_device_key(demo_run):
    tmp, out = demo_run
    pack = tmp / "evidence-pack.zip"
    assert pack.is_file()
    assert re.search(r"verify .*evidence-pack\.zip --pubkey [0-9a-f]{16}\.\.\.: OK", out), out
    assert re.search(r"journal\.db: OK, (\d+) events", out)
