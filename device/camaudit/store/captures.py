"""The capture log (`camaudit log`): one row per capture, from its latest journal event."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from camaudit.core.identify import tracks_in_words
from camaudit.core.record import Event, RecordError
from camaudit.errors import JournalError
from camaudit.store.db import journal_error, open_readonly

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureRow:
    """A capture as the journal last described it (open until its capture.end)."""

    device: str
    feed: str | None
    capture: str
    state: str  # "open" | "closed"
    start: int | None  # UTC ms
    end: int | None  # UTC ms, None while open
    frames: int
    max_faces: int
    distinct_tracks: int
    identifiable_tracks: int
    face_px: Mapping[str, int] | None  # {min, median, max}
    verdict: str | None
    reasons: tuple[str, ...]
    basis: str | None
    evidence: tuple[Any, ...]
    seq: int  # seq of the event this row comes from
    ts: int  # ts of that event

    def to_dict(self) -> dict[str, Any]:
        """Stable keys for `camaudit log --json`."""
        return {
            "device": self.device,
            "feed": self.feed,
            "capture": self.capture,
            "state": self.state,
            "start": self.start,
            "end": self.end,
            "frames": self.frames,
            "max_faces": self.max_faces,
            "distinct_tracks": self.distinct_tracks,
            "identifiable_tracks": self.identifiable_tracks,
            "face_px": dict(self.face_px) if self.face_px is not None else None,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "basis": self.basis,
            "evidence": list(self.evidence),
            "seq": self.seq,
            "ts": self.ts,
        }

    @classmethod
    def from_event(cls, ev: Event) -> CaptureRow:
        b = ev.body
        face_px = b.get("face_px")
        return cls(
            device=ev.device,
            feed=ev.feed,
            capture=str(b.get("capture", "")),
            state="closed" if ev.type == "capture.end" else "open",
            start=_opt_int(b.get("start")),
            end=_opt_int(b.get("end")),
            frames=_int(b.get("frames")),
            max_faces=_int(b.get("max_faces")),
            distinct_tracks=_int(b.get("distinct_tracks")),
            identifiable_tracks=_int(b.get("identifiable_tracks")),
            face_px=dict(face_px) if isinstance(face_px, Mapping) else None,
            verdict=b.get("verdict") if isinstance(b.get("verdict"), str) else None,
            reasons=tuple(str(r) for r in b.get("reasons") or ()),
            basis=b.get("basis") if isinstance(b.get("basis"), str) else None,
            evidence=tuple(b.get("evidence") or ()),
            seq=ev.seq,
            ts=ev.ts,
        )


def _int(x: Any) -> int:
    return int(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else 0


def _opt_int(x: Any) -> int | None:
    return int(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def list_captures(path: Path) -> list[CaptureRow]:
    """All captures in the journal at `path` (read-only), oldest first."""
    path = Path(path)
    events = _read_records(
        path,
        "SELECT json FROM events WHERE seq IN ("
        " SELECT MAX(seq) FROM events WHERE capture IS NOT NULL GROUP BY feed, capture"
        ") ORDER BY seq",
        "listing captures", "capture",
    )
    out: list[CaptureRow] = []
    for ev in events:
        try:
            out.append(CaptureRow.from_event(ev))
        except RecordError as exc:
            raise JournalError(f"journal {path}: unreadable capture record: {exc}") from None
    out.sort(key=lambda r: (r.start if r.start is not None else r.ts, r.seq))
    return out


def list_notice_records(path: Path) -> list[Event]:
    """The journal's notice.registered / restored / missing / unknown records, by seq (what
    camaudit.report.notice_facts derives each capture's notices from)."""
    return _read_records(
        Path(path),
        "SELECT json FROM events WHERE type IN ('notice.registered', 'notice.restored', "
        "'notice.missing', 'notice.unknown') ORDER BY seq",
        "listing notices", "notice",
    )


def _read_records(path: Path, sql: str, doing: str, kind: str) -> list[Event]:
    """The records `sql` selects (one json column) from the journal at `path`, read-only; a
    database error or an unreadable record is a JournalError naming the file."""
    conn = open_readonly(path)
    try:
        rows = conn.execute(sql).fetchall()
    except sqlite3.Error as exc:
        raise journal_error(path, exc, doing) from None
    finally:
        conn.close()
    out = []
    for (text,) in rows:
        try:
            out.append(Event.from_json(text))
        except RecordError as exc:
            raise JournalError(f"journal {path}: unreadable {kind} record: {exc}") from None
    return out


def _local(ms: int | None, with_date: bool, tz: tzinfo | None = None) -> str:
    """Local time with its zone (`2026-11-26 10:00:00 CET`); the end of a capture that
    ends the same day is shown as time only (`10:00:30`)."""
    if ms is None:
        return "-"
    t = datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)
    return t.strftime("%Y-%m-%d %H:%M:%S %Z" if with_date else "%H:%M:%S")


def _duration(ms: int) -> str:
    s = max(0, ms) // 1000
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m:02d}m{sec:02d}s"
    if m:
        return f"{m}m{sec:02d}s"
    return f"{sec}s"


def format_table(rows: Sequence[CaptureRow], tz: tzinfo | None = None) -> str:
    """A fixed-width table for a terminal: times in `tz` (default this machine's zone),
    each start with its zone's name, and a last line naming the zone."""
    if not rows:
        return "no captures"
    header = (
        "CAPTURE",
        "FEED",
        "START",
        "END",
        "DURATION",
        "FACES",
        "TRACKS",
        "IDENT",
        "VERDICT",
        "REASONS",
    )
    table: list[tuple[str, ...]] = [header]
    for r in rows:
        start = r.start if r.start is not None else r.ts
        end_ms = r.end if r.end is not None else r.ts
        start_day = _local(start, True, tz)[:10]
        end_txt = (
            "open"
            if r.state == "open"
            else _local(r.end, _local(end_ms, True, tz)[:10] != start_day, tz)
        )
        dur = _duration(end_ms - start) + ("+" if r.state == "open" else "")
        reasons = ",".join(r.reasons) or (r.basis or "-")
        table.append(
            (
                r.capture,
                r.feed or "-",
                _local(start, True, tz),
                end_txt,
                dur,
                str(r.max_faces),
                str(r.distinct_tracks),
                str(r.identifiable_tracks),
                r.verdict or "-",
                reasons,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    right = {4, 5, 6, 7}
    lines = []
    for row in table:
        cells = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.append(f"times in {_zone_name(tz)}")
    return "\n".join(lines)


def _zone_name(tz: tzinfo | None) -> str:
    """`Europe/Berlin (UTC+01:00)` for a named zone, `this machine's zone (CET, UTC+01:00)` otherwise."""
    now = datetime.now(UTC).astimezone(tz)
    off = now.strftime("%z")
    offset = f"UTC{off[:3]}:{off[3:]}" if off else "UTC"
    key = getattr(tz, "key", None)
    if key:
        return f"{key} (now {offset})"
    return f"this machine's zone ({now.tzname()}, now {offset})"


def list_tracks(path: Path) -> list[dict[str, Any]]:
    """Every `track.end` record in the journal at `path` (read-only), as the objects of
    `camaudit log --tracks --json` (docs/tracks.md): the signed body plus `feed`, `seq`
    and `ts` of its event. A journal from before track records gives an empty list."""
    path = Path(path)
    conn = open_readonly(path)
    try:
        rows = conn.execute("SELECT json FROM events WHERE type = 'track.end' ORDER BY seq").fetchall()
    except sqlite3.Error as exc:
        raise journal_error(path, exc, "listing tracks") from None
    finally:
        conn.close()
    out: list[dict[str, Any]] = []
    for (text,) in rows:
        try:
            ev = Event.from_json(text)
        except RecordError as exc:
            raise JournalError(f"journal {path}: unreadable track record: {exc}") from None
        out.append({"feed": ev.feed, **ev.body, "device": ev.device, "seq": ev.seq, "ts": ev.ts})
    out.sort(key=lambda t: (str(t.get("feed")), _int(t.get("first_ts")), _int(t.get("track"))))
    return out


def format_tracks(tracks: Sequence[Mapping[str, Any]]) -> str:
    """A terminal listing: one line per capture in words, then one line per track."""
    if not tracks:
        return "no track records (journals before track records have none)"
    by_cap: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for t in tracks:
        by_cap.setdefault((str(t.get("feed")), str(t.get("capture"))), []).append(t)
    lines: list[str] = []
    for (feed, cap), ts in by_cap.items():
        lines.append(f"{cap} on {feed}: {tracks_in_words(ts)}")
        for t in ts:
            c = t.get("criteria") or {}
            pose = (c.get("pose") or {}).get("value") or {}
            verdict = "identifiable" if t.get("identifiable") else "not identifiable (" + ", ".join(t.get("why_not") or []) + ")"
            lines.append(
                f"  track {t.get('track')}: frames {t.get('first_frame')}-{t.get('last_frame')}, "
                f"{(c.get('face_px') or {}).get('value')} px, eyes {pose.get('eyes')}, yaw {pose.get('yaw')}, "
                f"sharpness {(c.get('sharpness') or {}).get('value')}: {verdict}"
            )
    return "\n".join(lines)
