"""captures.csv: one row per capture, times in the venue's zone and in UTC."""

from __future__ import annotations

import csv
import io

from camaudit.report.model import Report

COLUMNS = (
    "capture", "feed", "start_local", "end_local", "timezone", "start_utc", "end_utc",
    "state", "max_faces", "distinct_tracks", "identifiable_tracks", "verdict", "reasons",
    "reasons_in_words", "basis", "notice_states", "evidence", "seq",
)


def _cell(value: object) -> str:
    """A spreadsheet must not run a cell as a formula (CSV injection): quote such text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(r: Report) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    c = r.clock
    for item in r.captures:
        row = item.row
        end = row.end if row.state == "closed" else None
        w.writerow(
            _cell(v)
            for v in (
                row.capture, row.feed, c.iso_local(row.start), c.iso_local(end), c.zone,
                c.utc(row.start), c.utc(end), row.state, row.max_faces, row.distinct_tracks,
                row.identifiable_tracks, item.verdict, " ".join(row.reasons),
                "; ".join(item.reasons_words), row.basis or "",
                "; ".join(f"{n}={s}" for n, s in item.notice_states.items()),
                " ".join(f"sha256:{d}" for d in item.evidence_digests()), row.seq,
            )
        )
    return buf.getvalue().encode("utf-8")
