"""What the hub's pages say (pure: values in, words and view dicts out; no I/O, no clock).

Times are shown in the venue's zone with the zone named; reasons and bases in words; a
capture's stored events are turned into its timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from camaudit.core import venue_time
from camaudit.core.policy import NO_NOTICE, NOTICE_MISSING, OUTSIDE_HOURS, PRIVACY_ZONE

# Short labels for tables and the chart's filter; the alert sentences use
# camaudit.core.alerts.reason_words (the same facts, as a clause).
REASON_LABELS = {
    NO_NOTICE: "no notice registered for this camera",
    NOTICE_MISSING: "notice not seen posted",
    OUTSIDE_HOURS: "outside the notice's hours",
    PRIVACY_ZONE: "face in a privacy zone",
}

NOTICE_STATE_WORDS = {
    "VISIBLE": "posted (seen by its camera)",
    "MISSING": "missing (not seen posted)",
    "UNKNOWN": "unknown (its camera is down or not checked yet)",
}

IDENTIFIABLE_WORDS = (
    "A face counts as identifiable when its box is at least min_face_px native pixels tall "
    "(the device's detector.min_face_px, 28 unless configured), both eyes are seen with the "
    "head turned at most max_yaw (from the detector's five landmarks) and the face is sharp "
    "enough (min_sharpness); backs of heads, profiles, small and blurred faces count as "
    "presence only. Each signed track record carries the thresholds it was judged by. A track "
    "follows one face from frame to frame by position, size and motion, ends at a scene cut "
    "and is re-linked over gaps of a few seconds: there is no identity, no recognition and no "
    "face template."
)


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def basis_words(basis: str | None) -> str:
    """`notice:entrance` -> `notice 'entrance' posted and within its hours`."""
    if not basis:
        return "no basis recorded"
    kind, _, ref = basis.partition(":")
    if kind == "notice":
        return f"notice '{ref}' posted and within its hours"
    if kind == "release":
        return f"release session '{ref}' (written releases)"
    return basis


def verdict_words(verdict: str | None, reasons: Iterable[str], basis: str | None) -> str:
    if verdict == "consented":
        return f"consented: {basis_words(basis)}"
    if verdict == "unconsented":
        why = "; ".join(reason_label(r) for r in reasons) or "no basis recorded"
        return f"unconsented: {why}"
    return "verdict not recorded"


@dataclass(frozen=True)
class Clock:
    """Formats UTC ms in the venue's zone, naming the zone."""

    zone: ZoneInfo

    @property
    def name(self) -> str:
        return self.zone.key

    def local(self, ms: int | None) -> datetime | None:
        if not isinstance(ms, int) or isinstance(ms, bool):
            return None
        try:
            return datetime.fromtimestamp(ms / 1000, UTC).astimezone(self.zone)
        except (OverflowError, OSError, ValueError):
            return None

    def ts(self, ms: int | None) -> str:
        """`2026-11-26 11:00:00 CET`, or `never` / `-`."""
        t = self.local(ms)
        if t is None:
            return "never" if ms is None else "-"
        return t.strftime("%Y-%m-%d %H:%M:%S %Z")

    def utc(self, ms: int | None) -> str:
        if not isinstance(ms, int) or isinstance(ms, bool):
            return "-"
        try:
            return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        except (OverflowError, OSError, ValueError):
            return "-"

    def parse(self, text: str | None, *, end: bool = False) -> int | None:
        """A time typed in a form -> UTC ms, by the one time rule (camaudit.core.venue_time):
        `2026-11-26 10:00` / `2026-11-26T10:00[:SS]` / `2026-11-26` in the venue's zone unless
        an offset is given (a bare date `end` is the day's last ms), or epoch ms; None for
        empty. ValueError (one line, zone named) for anything else, or a time the clocks skip."""
        if not text or not text.strip():
            return None
        v = text.strip()
        if v.isdigit() and len(v) <= 15:
            return int(v)
        try:
            return venue_time.parse(v, self.zone, end=end)
        except ValueError as exc:
            why = str(exc)[:160] if "does not exist" in str(exc) else f"{v[:40]!r} is not a time"
            raise ValueError(f"{why}; use YYYY-MM-DD HH:MM ({self.name})") from None


def _body(e: Mapping[str, Any]) -> Mapping[str, Any]:
    b = e.get("body")
    return b if isinstance(b, Mapping) else {}


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _strs(x: Any) -> list[str]:
    return [str(r) for r in x] if isinstance(x, list) else []


def capture_view(
    events: Sequence[Mapping[str, Any]],
    notices_before: Sequence[Mapping[str, Any]],
    notice_changes: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """One capture from its stored events (by seq) and the notice states around it:
    {device, feed, capture, open, verdict, reasons, basis, faces..., timeline, notices,
    evidence, records}. `timeline` items: {ts, what, kind}."""
    caps = [e for e in events if str(e.get("type", "")).startswith("capture.")]
    last = caps[-1] if caps else events[-1]
    body = _body(last)
    feed = last.get("feed")
    start = _int(body.get("start"))
    end = _int(body.get("end")) if last.get("type") == "capture.end" else None
    timeline: list[dict[str, Any]] = []
    if start is not None:
        timeline.append({"ts": start, "kind": "start", "what": "capture opened: first face tracked"})
    first_verdict = None
    for e in caps[:1]:
        b = _body(e)
        first_verdict = (b.get("verdict"), _strs(b.get("reasons")), b.get("basis"))
    changes = body.get("verdict_changes")
    if isinstance(changes, list) and changes:
        for c in changes:
            if isinstance(c, Mapping):
                timeline.append({
                    "ts": _int(c.get("ts")), "kind": str(c.get("verdict")),
                    "what": "verdict " + verdict_words(
                        str(c.get("verdict")), _strs(c.get("reasons")),
                        c.get("basis") if isinstance(c.get("basis"), str) else None),
                })
    elif first_verdict is not None and start is not None:
        v, r, basis0 = first_verdict
        timeline.append({"ts": start, "kind": str(v), "what": "verdict " + verdict_words(
            v, r, basis0 if isinstance(basis0, str) else None)})
    for n in notice_changes:
        covers = n.get("covers")
        if covers is None or feed in covers:
            timeline.append({"ts": _int(n.get("ts")), "kind": "notice",
                             "what": f"notice '{n.get('notice')}' "
                                     f"{NOTICE_STATE_WORDS.get(str(n.get('state')), n.get('state'))}"})
    for e in events:
        if e.get("type") == "alert":
            b = _body(e)
            timeline.append({"ts": _int(e.get("ts")), "kind": "alert",
                             "what": f"alert raised: {b.get('text', '')}"})
    if end is not None:
        timeline.append({"ts": end, "kind": "end", "what": "capture closed: no face in view"
                         + (" (closed at restart: the device was interrupted)"
                            if body.get("interrupted") else "")})
    timeline.sort(key=lambda t: (t["ts"] if t["ts"] is not None else 0))
    notices = []
    for n in notices_before:
        covers = n.get("covers")
        if covers is not None and feed not in covers:
            continue
        notices.append({**n, "words": NOTICE_STATE_WORDS.get(str(n.get("state")), str(n.get("state")))})
    fp = body.get("face_px")
    face_px: Mapping[str, Any] | None = fp if isinstance(fp, Mapping) else None
    verdict = body.get("verdict") if isinstance(body.get("verdict"), str) else None
    reasons = _strs(body.get("reasons"))
    basis = body.get("basis") if isinstance(body.get("basis"), str) else None
    return {
        "device": last.get("device"), "feed": feed, "capture": body.get("capture"),
        "open": last.get("type") != "capture.end", "start": start, "end": end,
        "verdict": verdict, "reasons": reasons, "basis": basis,
        "verdict_words": verdict_words(verdict, reasons, basis),
        "reason_labels": [reason_label(r) for r in reasons],
        "frames": _int(body.get("frames")), "max_faces": _int(body.get("max_faces")),
        "distinct_tracks": _int(body.get("distinct_tracks")),
        "identifiable_tracks": _int(body.get("identifiable_tracks")),
        "face_px": {k: _int(face_px.get(k)) for k in ("min", "median", "max")} if face_px else None,
        "timeline": timeline, "notices": notices,
        "evidence": _strs(body.get("evidence")),
        "records": [{"seq": e.get("seq"), "type": e.get("type"), "ts": e.get("ts"),
                     "hash": str(e.get("hash", ""))} for e in events],
    }


def _map(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _num(x: Any) -> str:
    """A criterion value as signed: a number, else `-` (criteria ride along unchecked)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return "-"
    return repr(x)  # as signed: 0.4137, 1.0 (no rounding)


def track_rows(events: Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """A capture's `track.end` records: (its people in words, as the report and `camaudit
    log --tracks` say them, camaudit.core.identify.tracks_in_words; one row per track with
    every criterion's value and threshold as the device signed them)."""
    from camaudit.core.identify import REASON_WORDS, tracks_in_words

    bodies = [_body(e) for e in events if e.get("type") == "track.end"]
    rows = []
    for b in bodies:
        c = _map(b.get("criteria"))
        px, pose, sharp = _map(c.get("face_px")), _map(c.get("pose")), _map(c.get("sharpness"))
        pv = _map(pose.get("value"))
        why = _strs(b.get("why_not"))
        rows.append({
            "track": _int(b.get("track")), "frames": f"{_num(b.get('first_frame'))}-{_num(b.get('last_frame'))}",
            "identifiable": b.get("identifiable") is True,
            "why_not": ", ".join(REASON_WORDS.get(w, w) for w in why),
            "face_px": _num(px.get("value")), "face_px_min": _num(px.get("min")),
            "eyes": _num(pv.get("eyes")), "min_eyes": _num(pose.get("min_eyes")),
            "yaw": _num(pv.get("yaw")), "max_yaw": _num(pose.get("max_yaw")),
            "sharpness": _num(sharp.get("value")), "sharpness_min": _num(sharp.get("min")),
            "definition": str(b.get("definition") or "-")[:64],
        })
    return (tracks_in_words(bodies) if bodies else ""), rows
