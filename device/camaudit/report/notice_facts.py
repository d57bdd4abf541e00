"""The notices behind one capture, derived from signed records alone (pure: no I/O, no clock).

One derivation for every place that says it: the pack's report (report/model.py), the
hub's capture page (hub/web/routes/pages.py) and `camaudit log` (store/captures.py) all call
`NoticeHistory.from_records(records).at(feed, start, end)` and word it with `words()`.

For a capture of `feed` from `start` to `end` it gives, for every notice covering `feed`
(`notice.registered` / notice.* `covers`): the state at `start` (the newest
notice.restored / missing / unknown at or before it, VISIBLE / MISSING / UNKNOWN, or
NOT_REPORTED), the first state reported during the capture when none was before, and the
hours the notice stated then (its newest `notice.registered` at or before `start`, else its
first). Times are `event_time`: a file feed's clip time (`clip_ts`) when present, else `ts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from camaudit.core.record import Event

NOTICE_STATE_EVENTS = {
    "notice.restored": "VISIBLE",
    "notice.missing": "MISSING",
    "notice.unknown": "UNKNOWN",
}
NOTICE_TYPES = ("notice.registered", *NOTICE_STATE_EVENTS)
NOT_REPORTED = "not yet reported"  # no state of the notice in these records before the capture

STATE_WORDS = {
    "VISIBLE": "VISIBLE (seen posted)",
    "MISSING": "MISSING (not seen posted)",
    "UNKNOWN": "UNKNOWN (watching camera down)",
}


def event_time(ev: Event) -> int:
    """When it happened: a file feed's clip time (`clip_ts`) if present, else `ts`."""
    clip = ev.body.get("clip_ts")
    return int(clip) if isinstance(clip, int) and not isinstance(clip, bool) else ev.ts


@dataclass(frozen=True)
class NoticeAt:
    """One notice covering a capture's camera, as the records show it at the capture."""

    notice: str
    state: str  # VISIBLE / MISSING / UNKNOWN / NOT_REPORTED at the capture's start
    first_report: tuple[str, int] | None = None  # (state, time) first reported during it
    hours: Mapping[str, str] | None = None  # the hours the notice stated then (None: none)
    since: int | None = None  # when the state at the start was reported
    registered: bool = True  # a notice.registered record (its texts, hours) is in the records


@dataclass(frozen=True)
class NoticeHistory:
    covers: Mapping[str, frozenset[str]]  # notice -> the feeds it covers (every version)
    changes: tuple[tuple[int, str, str], ...]  # (time, notice, state) by time
    registered: tuple[tuple[int, str, Mapping[str, Any]], ...] = field(default=())  # (time, notice, body)

    @classmethod
    def from_records(cls, records: Iterable[Event]) -> NoticeHistory:
        covers: dict[str, set[str]] = {}
        changes: list[tuple[int, str, str]] = []
        registered: list[tuple[int, str, Mapping[str, Any]]] = []
        for ev in records:
            nid = ev.body.get("notice")
            if not isinstance(nid, str):
                continue
            if ev.type == "notice.registered":
                registered.append((event_time(ev), nid, ev.body))
            elif ev.type in NOTICE_STATE_EVENTS:
                changes.append((event_time(ev), nid, NOTICE_STATE_EVENTS[ev.type]))
            else:
                continue
            cov = ev.body.get("covers")
            mine = covers.setdefault(nid, set())
            if isinstance(cov, list):
                mine.update(str(f) for f in cov)
        changes.sort(key=lambda c: c[0])
        return cls({k: frozenset(v) for k, v in covers.items()}, tuple(changes), tuple(registered))

    def state_at(self, notice: str, t: int) -> str:
        return self.state_since(notice, t)[0]

    def state_since(self, notice: str, t: int) -> tuple[str, int | None]:
        """(state at `t`, when it was reported) or (NOT_REPORTED, None)."""
        state, since = NOT_REPORTED, None
        for ts, nid, st in self.changes:
            if ts > t:
                break
            if nid == notice and st != state:
                state, since = st, ts
        return state, since

    def hours_at(self, notice: str, t: int) -> Mapping[str, str] | None:
        mine = [(ts, b) for ts, n, b in self.registered if n == notice]
        before = [b for ts, b in mine if ts <= t]
        body = before[-1] if before else (mine[0][1] if mine else None)
        hours = body.get("hours") if body is not None else None
        if not isinstance(hours, Mapping) or not hours:
            return None
        return {str(k): str(v) for k, v in hours.items()}

    def at(self, feed: str | None, start: int, end: int) -> tuple[NoticeAt, ...]:
        """Every notice covering `feed`, by id, for a capture from `start` to `end`."""
        out = []
        for nid in sorted(self.covers):
            if feed not in self.covers[nid]:
                continue
            state, since = self.state_since(nid, start)
            first = None
            if state == NOT_REPORTED:
                first = next(((st, ts) for ts, n, st in self.changes if n == nid and start < ts <= end), None)
            known = any(n == nid for _, n, _ in self.registered)
            out.append(NoticeAt(nid, state, first, self.hours_at(nid, start), since, known))
        return tuple(out)


def hours_words(hours: Mapping[str, str] | None, zone: str, registered: bool = True) -> str:
    """`mon-fri 07:00-19:00, sat 09:00-17:00 (Europe/Paris)`, `no hours stated`, or not
    recorded (no notice.registered record of the notice in the records read)."""
    if not registered:
        return "not recorded (no notice.registered record of this notice in these records)"
    if not hours:
        return "no hours stated (it applies at all times)"
    return ", ".join(f"{k} {v}" for k, v in hours.items()) + f" ({zone})"


def state_words(n: NoticeAt, when: Callable[[int], str]) -> str:
    """The state at the capture's start in words; `when` formats a time (zone named)."""
    if n.state != NOT_REPORTED:
        text = STATE_WORDS.get(n.state, n.state)
        return text if n.since is None else f"{text} since {when(n.since)}"
    text = ("no state reported yet when this capture started (the device reports a sign's "
            "state once it has looked at it; the verdict is what it decided then)")
    if n.first_report is not None:
        st, ts = n.first_report
        text += f"; first reported {STATE_WORDS.get(st, st)} at {when(ts)}"
    return text


def words(notices: Sequence[NoticeAt], when: Callable[[int], str], zone: str,
          with_hours: bool = True) -> str:
    """`entrance-sign: VISIBLE (seen posted); hours: daily 07:00-19:00 (Europe/Paris)`, one
    notice after the other, or `no notice covers this camera`."""
    if not notices:
        return "no notice covers this camera"
    parts = []
    for n in notices:
        text = f"{n.notice}: {state_words(n, when)}"
        if with_hours:
            text += f"; hours: {hours_words(n.hours, zone, n.registered)}"
        parts.append(text)
    return " | ".join(parts)
