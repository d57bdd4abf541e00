"""Camera health periods in a report (pure): when the camera was covered, moved or blurred,
so its silence is read as "unknown", never as "nobody was filmed"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from camaudit.core.camera_health import EVENT_FOR, RESTORED
from camaudit.core.record import Event

_CONDITION_OF = {t: c for c, t in EVENT_FOR.items()}


@dataclass(frozen=True)
class BlindPeriod:
    feed: str
    condition: str  # covered / moved / blurred
    start: int  # UTC ms (the feed's own time: first frame showing it)
    end: int | None  # camera.restored's end; else when the feed stopped; None: still on
    ended_by: str  # "restored", "feed stopped", "device restarted", "" (still on)
    seq: int  # the camera.<condition> record
    alerted: bool  # an alert was raised for it


def _int(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def blind_periods(records: Sequence[Event], feed: str | None = None) -> tuple[BlindPeriod, ...]:
    """Every camera health period in `records` (seq order), for `feed` or all feeds."""
    open_: dict[str, dict[str, object]] = {}
    out: list[BlindPeriod] = []

    def close(f: str, end: int | None, why: str) -> None:
        p = open_.pop(f, None)
        if p is not None:
            out.append(BlindPeriod(f, str(p["condition"]), int(str(p["start"])), end, why,
                                   int(str(p["seq"])), bool(p["alerted"])))

    for ev in records:
        f = ev.feed
        if ev.type == "device.online":
            for name in list(open_):
                close(name, ev.ts, "device restarted")
            continue
        if f is None or (feed is not None and f != feed):
            continue
        if ev.type in _CONDITION_OF:
            start = _int(ev.body.get("start"))
            close(f, start, "restored")
            open_[f] = {"condition": _CONDITION_OF[ev.type], "start": start if start is not None else ev.ts,
                        "seq": ev.seq, "alerted": False}
        elif ev.type == RESTORED and f in open_:
            close(f, _int(ev.body.get("end")) or ev.ts, "restored")
        elif ev.type == "feed.down" and f in open_:
            close(f, _int(ev.body.get("clip_ts")) or ev.ts, "feed stopped")
        elif ev.type == "alert" and f in open_ and any(
                str(r).startswith("camera_") for r in ev.body.get("reasons") or ()):
            open_[f]["alerted"] = True
    for name in list(open_):
        p = open_.pop(name)
        out.append(BlindPeriod(name, str(p["condition"]), int(str(p["start"])), None, "",
                               int(str(p["seq"])), bool(p["alerted"])))
    out.sort(key=lambda p: (p.start, p.seq))
    return tuple(out)


def period_text(p: BlindPeriod, when: Callable[[int | None], str]) -> str:
    """'The camera 'door' was covered from <t> to <t>: captures in that time are unknown,
    not absent.' `when(ms)` formats a time with its zone named (Clock.both)."""
    if p.end is None:
        span = f"from {when(p.start)} to the end of these records"
    else:
        span = f"from {when(p.start)} to {when(p.end)}"
        if p.ended_by in ("feed stopped", "device restarted"):
            span += f" ({p.ended_by})"
    return (f"The camera '{p.feed}' was {p.condition} {span}: captures in that time are "
            f"unknown, not absent (record seq {p.seq}).")
