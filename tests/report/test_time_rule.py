"""Issue 22.1: one rule for time. A time typed without an offset is the venue's local time
(the zone the device journals), whatever the machine's zone; every printed time names its
zone. The commands run here under TZ=UTC with venues in Paris and New York, on the days
their clocks change."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from camaudit.console import describe
from camaudit.core import venue_time
from camaudit.core.record import Event
from camaudit.store.journal import Journal

VENUES = [("Europe/Paris", "2026-03-29"), ("America/New_York", "2026-11-01")]


def _ms(zone: str, day: str, hhmm: str) -> int:
    return int(datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)


def _body(cid: str, start: int, end: int) -> dict:
    return {"capture": cid, "start": start, "end": end, "frames": 9, "max_faces": 1,
            "distinct_tracks": 1, "identifiable_tracks": 1,
            "face_px": {"min": 40, "median": 50, "max": 60},
            "verdict": "unconsented", "reasons": ["no_notice"], "basis": None, "evidence": []}


def _journal(tmp: Path, zone: str, day: str) -> tuple[Path, dict[str, int]]:
    """Two captures on feed `door`: one at 14:05 venue time, and one at the hour a
    machine in UTC would read "14:00" as (14:05 UTC)."""
    db = tmp / "dev" / "journal.db"
    at = {"local": _ms(zone, day, "14:05"), "utc": _ms("UTC", day, "14:05")}
    with Journal.open(db, "cafe-01") as j:
        j.append("device.online", None, {"timezone": zone, "feeds": ["door"]}, _ms(zone, day, "00:30"))
        for name, start in sorted(at.items(), key=lambda kv: kv[1]):
            cid = f"c-{name}"
            j.append("capture.start", "door", _body(cid, start, start + 30_000) | {"end": None}, start)
            j.append("capture.end", "door", _body(cid, start, start + 30_000), start + 30_000)
        j.append("device.online", None, {"timezone": zone, "feeds": ["door"]}, _ms(zone, day, "23:00"))
    return db, at


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1")  # the machine's zone is not the venue's
    return subprocess.run([sys.executable, "-m", "camaudit.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL)


def _pack_captures(pack: Path) -> set[str]:
    with zipfile.ZipFile(pack) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("captures.csv").decode("utf-8"))))
    return {r["capture"] for r in rows}


@pytest.mark.parametrize(("zone", "day"), VENUES)
def test_complaint_at_14_exports_the_venues_hour_and_subject_check_agrees(tmp_path: Path, zone: str, day: str):
    db, _ = _journal(tmp_path, zone, day)
    pack = tmp_path / "pack.zip"
    proc = _run("export", "--db", str(db), "--out", str(pack), "--feed", "door",
                "--since", f"{day}T14:00", "--until", f"{day}T14:30")
    assert proc.returncode == 0, proc.stderr
    assert _pack_captures(pack) == {"c-local"}
    abbrev = venue_time.zone_abbrev(datetime.fromisoformat(f"{day}T14:00").replace(tzinfo=ZoneInfo(zone)))
    assert f"{day} 14:00:00 {abbrev}" in proc.stderr  # the window it used, zone named
    sc = _run("subject-check", "--db", str(db), "--feed", "door", "--from", f"{day}T14:00",
              "--to", f"{day}T14:30", "--out", str(tmp_path / "sc"))
    assert sc.returncode == 0, sc.stderr
    assert _pack_captures(tmp_path / "sc" / "pack.zip") == {"c-local"}
    assert "c-local" in sc.stdout and "c-utc" not in sc.stdout


@pytest.mark.parametrize(("zone", "day"), VENUES)
def test_log_prints_venue_time_with_zone_under_a_utc_machine(tmp_path: Path, zone: str, day: str):
    db, at = _journal(tmp_path, zone, day)
    out = _run("log", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert venue_time.fmt(at["local"], ZoneInfo(zone)) in out.stdout  # "... 14:05:00 CEST"
    assert f"{day} 14:05:00" in out.stdout and zone in out.stdout.splitlines()[-1]


def test_a_time_the_clocks_skip_is_refused_in_one_line(tmp_path: Path):
    db, _ = _journal(tmp_path, "Europe/Paris", "2026-03-29")
    proc = _run("export", "--db", str(db), "--out", str(tmp_path / "p.zip"), "--since", "2026-03-29T02:30")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "does not exist in Europe/Paris" in proc.stderr
    assert not (tmp_path / "p.zip").exists()


def test_parse_across_dst_changes():
    paris, ny = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
    # 14:00 on the spring-forward day in Paris is CEST (UTC+2): 12:00 UTC
    assert venue_time.parse("2026-03-29T14:00", paris) == _ms("UTC", "2026-03-29", "12:00")
    # the day before it was CET (UTC+1)
    assert venue_time.parse("2026-03-28T14:00", paris) == _ms("UTC", "2026-03-28", "13:00")
    # 01:30 happens twice in New York on 2026-11-01: a window covers both
    assert venue_time.parse("2026-11-01T01:30", ny) == _ms("UTC", "2026-11-01", "05:30")
    assert venue_time.parse("2026-11-01T01:30", ny, end=True) == _ms("UTC", "2026-11-01", "06:30")
    # a bare date is the venue's whole day: 25 hours long when the clocks go back
    start, end = venue_time.parse("2026-11-01", ny), venue_time.parse("2026-11-01", ny, end=True)
    assert end - start + 1 == 25 * 3_600_000
    # an explicit offset wins over the zone
    assert venue_time.parse("2026-03-29T14:00+00:00", paris) == _ms("UTC", "2026-03-29", "14:00")
    with pytest.raises(ValueError, match="does not exist in Europe/Paris"):
        venue_time.parse("2026-03-29T02:30", paris)
    with pytest.raises(ValueError, match="not an ISO 8601"):
        venue_time.parse("14h", paris)


def test_every_format_names_its_zone():
    paris = ZoneInfo("Europe/Paris")
    ms = _ms("Europe/Paris", "2026-03-29", "14:00")
    assert venue_time.fmt(ms, paris) == "2026-03-29 14:00:00 CEST"
    assert venue_time.fmt(ms - 86_400_000, paris) == "2026-03-28 13:00:00 CET"  # 24 h earlier, before the change
    assert venue_time.fmt_clock(ms, ZoneInfo("America/New_York")) == "08:00:00 EDT"
    assert venue_time.fmt(ms, ZoneInfo("Asia/Kolkata")).endswith(" IST")
    assert venue_time.fmt(ms, ZoneInfo("America/Sao_Paulo")).endswith(" UTC-03:00")


def test_run_live_lines_carry_the_venue_zone():
    ms = _ms("Europe/Paris", "2026-03-29", "14:00")
    ev = Event(v=1, device="d", seq=3, ts=ms, type="capture.start", feed="door",
               body={"capture": "c-1", "max_faces": 1}, prev="0" * 64)
    line = describe(ev, ZoneInfo("Europe/Paris"))
    assert line is not None and line.startswith("14:00:00 CEST door")
