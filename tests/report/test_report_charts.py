"""The report's charts are time series: identifiable captures per local hour and per local day
along the report's span, empty buckets included, by verdict (counts asserted per bucket from
a real signed journal)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from camaudit.report.charts import bar_chart
from camaudit.report.model import MAX_CHART_DAYS, build
from camaudit.store.journal import Journal

HOUR = 3_600_000
DAY = 24 * HOUR
NY = ZoneInfo("America/New_York")
T0 = int(datetime(2026, 11, 25, 22, 10, tzinfo=NY).timestamp() * 1000)  # 11-26 03:10 UTC


def report_of(tmp_path: Path, zone: str, caps: list[tuple[int, str, int]]):
    """caps: (start ms, verdict, identifiable tracks) -> the report of that journal."""
    with Journal.open(tmp_path / "journal.db", "cafe-01") as j:
        j.append("device.online", None, {"timezone": zone, "venue": "Cafe"}, min(c[0] for c in caps) - 1000)
        for i, (start, verdict, ident) in enumerate(sorted(caps)):
            body = {"capture": f"c-{i:06d}", "start": start, "end": start + 5000, "frames": 5, "max_faces": 1,
                    "distinct_tracks": 1, "identifiable_tracks": ident, "verdict": verdict,
                    "reasons": [] if verdict == "consented" else ["no_notice"], "basis": None, "evidence": []}
            j.append("capture.end", "counter", body, start + 5000)
        records = j.events()
    return build(records, {"device": "cafe-01", "public_key": "", "created": T0, "signed_by": "device"})


def test_per_hour_and_per_day_are_series_along_the_span_in_the_venue_zone(tmp_path: Path) -> None:
    caps = [
        (T0, "unconsented", 2),  # 11-25 22:10 New York
        (T0 + 5 * 60_000, "consented", 1),  # same hour
        (T0 + 30 * 60_000, "unconsented", 0),  # not identifiable: not charted
        (T0 + 2 * HOUR, "unconsented", 1),  # 11-26 00:10: the next local day
        (T0 + 2 * DAY, "consented", 3),  # 11-27 22:10
    ]
    r = report_of(tmp_path, "America/New_York", caps)
    h, d = r.per_hour, r.per_day
    assert h.title == "Identifiable captures per hour (x: hour starting, America/New_York)"
    # every local hour from the first record's to the last's, empty ones included
    assert h.labels[0] == "2026-11-25 22:00 EST" and h.labels[-1] == "2026-11-27 22:00 EST"
    assert len(h.labels) == 2 * 24 + 1
    nonzero = {h.labels[i]: (h.counts["consented"][i], h.counts["unconsented"][i])
               for i in range(len(h.labels)) if h.counts["consented"][i] or h.counts["unconsented"][i]}
    assert nonzero == {"2026-11-25 22:00 EST": (1, 1), "2026-11-26 00:00 EST": (0, 1),
                       "2026-11-27 22:00 EST": (1, 0)}
    assert d.labels == ("2026-11-25", "2026-11-26", "2026-11-27")
    assert d.counts["consented"] == (1, 0, 1) and d.counts["unconsented"] == (1, 1, 0)
    # the axis prints hours and, under the first of each day, the date
    shapes = bar_chart(h)
    texts = [lab.text for lab in shapes.labels]
    assert "22:00" in texts and "2026-11-25" in texts and "2026-11-26" in texts
    assert "captures" in texts  # y axis


def test_a_daylight_saving_day_and_a_long_span(tmp_path: Path) -> None:
    fall = int(datetime(2026, 11, 1, 0, 30, tzinfo=NY).timestamp() * 1000)  # the 25-hour day
    caps = [(fall + i * HOUR, "consented", 1) for i in range(25)]  # every hour of it, 01:30 twice
    caps.append((fall + 120 * DAY, "unconsented", 1))
    r = report_of(tmp_path, "America/New_York", caps)
    d = r.per_day
    assert d.labels[0] == "2026-11-01" and d.counts["consented"][0] == 25
    assert d.labels[-1] == "2027-02-28" and len(d.labels) == 120 and sum(d.counts["unconsented"]) == 1 and d.counts["unconsented"][-1] == 1
    h = r.per_hour  # longer than MAX_CHART_DAYS: its last days, said in the title
    assert h.title == (f"Identifiable captures per hour, last {MAX_CHART_DAYS} days of the span "
                       "(x: hour starting, America/New_York)")
    assert len(h.labels) == MAX_CHART_DAYS * 24 and sum(h.counts["unconsented"]) == 1
    assert sum(h.counts["consented"]) == 0
