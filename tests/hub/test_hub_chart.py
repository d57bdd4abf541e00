"""The captures page's chart is a time series: buckets along the span shown, in the venue's
zone, empty buckets included, hours while the span is short and local days after; the counts
of every bucket are asserted from a known store."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.web.charts import HOUR_MS, MAX_DAYS, MAX_HOURS, feed_charts, series, span_of
from camaudit.store.journal import Journal

T0 = 1795651200000  # 2026-11-26 00:00 UTC
DAY = 24 * HOUR_MS
BERLIN, NEW_YORK, KOLKATA = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")


def bars(svg: str) -> dict[int, dict[str, int]]:
    """{bucket start ms: {verdict: count}} read back from the SVG's bars."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for verdict, start, n in re.findall(r'<rect class="bar (\w+)" data-start="(\d+)".*?<title>[^<]*: (\d+) \w+</title>', svg):
        out[int(start)][verdict] = int(n)
    return dict(out)


def store_with(tmp_path: Path, captures: list[tuple[str, int, str]]) -> HubStore:
    """A hub store holding signed capture.end events (feed, ts, verdict) of device dev1."""
    journal = Journal.open(tmp_path / "dev" / "journal.db", "dev1")
    store = HubStore(tmp_path / "hub.db")
    store.enroll("dev1", journal.public_key.hex())
    evs = []
    for i, (feed, ts, verdict) in enumerate(sorted(captures, key=lambda c: c[1])):
        body = {"capture": f"c-{i}", "start": ts - 1000, "end": ts, "verdict": verdict,
                "reasons": [] if verdict == "consented" else ["no_notice"], "basis": None}
        evs.append(journal.append("capture.end", feed, body, ts))
    store.write_batch([(ev, ev.to_json(), ev.ts) for ev in evs], {}, {}, {}, [])
    journal.close()
    return store


def test_hour_buckets_along_the_span_with_empty_hours(tmp_path: Path) -> None:
    store = store_with(tmp_path, [("counter", T0 + 60_000, "unconsented"), ("counter", T0 + 120_000, "unconsented"),
                                  ("counter", T0 + 3 * HOUR_MS + 5, "consented"), ("door", T0 + HOUR_MS, "consented")])
    charts = feed_charts(store.hourly(), BERLIN)
    assert set(charts) == {"counter", "door"}
    svg = charts["counter"]
    assert 'data-unit="hour"' in svg and ">hour starting (Europe/Berlin)</text>" in svg
    assert bars(svg) == {T0: {"unconsented": 2}, T0 + 3 * HOUR_MS: {"consented": 1}}
    assert bars(charts["door"]) == {T0 + HOUR_MS: {"consented": 1}}
    # one axis for every feed: T0 .. T0+3h, four hour buckets, the empty ones included
    for s in charts.values():
        assert [int(x) for x in re.findall(r'class="axis" x="[\d.]+" y="\d+">(\d\d):00', s)] == [1, 2, 3, 4]
    assert ">2026-11-26</text>" in svg
    # a filter's span widens the axis: 2 empty hours before, 3 after
    hours = {T0: {"unconsented": 2}, T0 + 3 * HOUR_MS: {"consented": 1}}
    s = series(hours, BERLIN, T0 - 2 * HOUR_MS, T0 + 7 * HOUR_MS)
    assert s.unit == "hour" and len(s.starts) == 9 and s.starts[0] == T0 - 2 * HOUR_MS
    assert s.counts["unconsented"] == (0, 0, 2, 0, 0, 0, 0, 0, 0)
    assert s.counts["consented"] == (0, 0, 0, 0, 0, 1, 0, 0, 0)


def test_local_days_once_the_span_is_longer_than_the_hour_limit(tmp_path: Path) -> None:
    # New York: 2026-11-26 00:00 UTC is 11-25 19:00 EST; 05:00 UTC is 11-26 00:00 EST
    store = store_with(tmp_path, [("counter", T0 + 10, "unconsented"), ("counter", T0 + 5 * HOUR_MS, "consented"),
                                  ("counter", T0 + 5 * HOUR_MS + 9, "unconsented"),
                                  ("counter", T0 + 4 * DAY, "unconsented")])
    svg = feed_charts(store.hourly(), NEW_YORK)["counter"]
    assert 'data-unit="day"' in svg and ">day (America/New_York)</text>" in svg
    midnight = [int(datetime(2026, 11, d, tzinfo=NEW_YORK).timestamp() * 1000) for d in (25, 26, 27, 28, 29)]
    assert bars(svg) == {midnight[0]: {"unconsented": 1}, midnight[1]: {"consented": 1, "unconsented": 1},
                         midnight[4]: {"unconsented": 1}}
    assert re.findall(r'class="axis" x="[\d.]+" y="\d+">(\d\d)<', svg) == ["25", "26", "27", "28", "29"]
    assert "<title>2026-11-26: 1 consented</title>" in svg and ">2026-11<" in svg


def test_a_daylight_saving_day_is_one_bucket_of_25_hours() -> None:
    fall = int(datetime(2026, 10, 25, tzinfo=BERLIN).timestamp() * 1000)  # 25 hours long
    hours = {fall + i * HOUR_MS: {"consented": 1} for i in range(25)}
    hours[fall + 5 * DAY] = {"unconsented": 3}
    s = series(hours, BERLIN, *span_of([("f", h, "x", 1) for h in hours], None, None))
    assert s.unit == "day" and s.starts[1] - s.starts[0] == 25 * HOUR_MS
    assert s.counts["consented"][0] == 25 and s.counts["consented"][1] == 0
    assert sum(s.counts["unconsented"]) == 3


def test_a_half_hour_zone_labels_hours_by_their_local_start() -> None:
    (svg,) = feed_charts([("f", T0, "unconsented", 2)], KOLKATA).values()
    assert ">05:30</text>" in svg and "<title>2026-11-26 05:30 IST: 2 unconsented</title>" in svg


def test_a_span_past_the_day_limit_shows_its_last_days_and_says_so() -> None:
    rows = [("f", T0 + d * DAY, "unconsented", 1) for d in range(200)]
    (svg,) = feed_charts(rows, ZoneInfo("UTC")).values()
    shown = bars(svg)
    assert len(re.findall(r'class="axis" x=', svg)) <= 12
    assert min(shown) == T0 + (200 - MAX_DAYS) * DAY and len(shown) == MAX_DAYS
    assert f"{200 - MAX_DAYS} earlier day(s) not shown" in svg
    # nonsense bounds from the filter (a year 33658 typed as ms) are clamped, not a crash
    (svg,) = feed_charts(rows, BERLIN, since_ms=0, until_ms=999_999_999_999_999).values()
    assert 'data-unit="day"' in svg
    assert MAX_HOURS == 72
