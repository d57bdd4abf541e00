"""What a person at a terminal sees while the device runs: progress and one line per capture."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import IO
from zoneinfo import ZoneInfo

import click

from camaudit.core import venue_time
from camaudit.core.record import Event
from camaudit.pipeline.feed_loop import FeedStats
from camaudit.pipeline.runner import RunSummary


def describe(ev: Event, tz: ZoneInfo = venue_time.UTC_ZONE) -> str | None:
    """One readable line for the events a person cares about (None for the rest); its time
    in the venue's zone `tz`, named."""

    def _clock(ts_ms: int) -> str:
        return venue_time.fmt_clock(ts_ms, tz)

    b = ev.body
    feed = ev.feed or "-"
    if ev.type == "capture.start":
        return f"{_clock(ev.ts)} {feed:<10} capture {b['capture']} started: {b['max_faces']} face(s) in view"
    if ev.type == "capture.end":
        dur = ((b.get("end") or ev.ts) - b["start"]) / 1000
        reasons = ", ".join(b.get("reasons") or []) or (b.get("basis") or "")
        extra = " (interrupted)" if b.get("interrupted") else ""
        if presence_only(ev):  # no identifiable face: no alert, so not shouted like one
            outcome = f"no identifiable face, no alert ({b['verdict']} [{reasons}])"
        else:
            outcome = f"{b['verdict'].upper()} [{reasons}]"
        return (
            f"{_clock(ev.ts)} {feed:<10} capture {b['capture']} ended{extra}: {dur:.1f} s, "
            f"max {b['max_faces']} face(s), {b['distinct_tracks']} track(s), "
            f"{b['identifiable_tracks']} identifiable -> {outcome}"
        )
    if ev.type == "alert":
        return f"{_clock(ev.ts)} {feed:<10} ALERT: {b.get('text', '')}"
    if ev.type in ("feed.down", "feed.up", "notice.missing", "notice.restored", "notice.unknown"):
        return f"{_clock(ev.ts)} {feed:<10} {ev.type}: {b.get('detail') or b.get('notice') or ''}"
    if ev.type in ("camera.covered", "camera.moved", "camera.blurred", "camera.restored"):
        return f"{_clock(ev.ts)} {feed:<10} {ev.type}: {b.get('condition', '')} {b.get('values', '')}"
    return None


def presence_only(ev: Event) -> bool:
    """An unconsented capture with no identifiable face: presence, never an alert."""
    return ev.body.get("verdict") == "unconsented" and not ev.body.get("identifiable_tracks")


class ConsoleReporter:
    def __init__(
        self, out: IO[str] | None = None, *, progress: bool | None = None, timezone: str | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.tz = venue_time.zone_or_utc(timezone)
        under_systemd = "INVOCATION_ID" in os.environ
        self.show_progress = (
            progress if progress is not None else (sys.stderr.isatty() and not under_systemd)
        )
        self._last = 0.0
        self._line = False

    def _clear(self) -> None:
        if self._line:
            sys.stderr.write("\r\033[K")
            self._line = False

    def event(self, ev: Event) -> None:
        text = describe(ev, self.tz)
        if text is None:
            return
        self._clear()
        color = "red" if ev.type == "alert" else None
        if ev.type == "capture.end":
            color = "red" if ev.body.get("verdict") == "unconsented" else "green"
            if presence_only(ev):
                color = None
        click.secho(text, file=self.out, fg=color)

    def progress(self, feeds: Mapping[str, FeedStats]) -> None:
        if not self.show_progress or time.monotonic() - self._last < 0.5:
            return
        self._last = time.monotonic()
        parts = [
            f"{name}: {s.frames} frames {s.fps:.1f} fps, {s.faces_now} face(s) now, {s.captures} capture(s)"
            for name, s in feeds.items()
        ]
        sys.stderr.write("\r\033[K" + " | ".join(parts))
        sys.stderr.flush()
        self._line = True

    def warning(self, text: str) -> None:
        self._clear()
        click.secho(f"warning: {text}", file=sys.stderr, fg="yellow")


def summary_lines(s: RunSummary) -> list[str]:
    lines = []
    for name, st in s.feeds.items():
        gate = f"{100 * (1 - st.detected / st.frames):.0f}% skipped by motion gate" if st.frames else ""
        infer = f"{1000 * st.detect_s / st.detected:.1f} ms/detect" if st.detected else ""
        detail = "; ".join(p for p in (gate, infer) if p)
        lines.append(
            f"feed {name}: {st.frames} frames at {st.fps:.1f} fps{f' ({detail})' if detail else ''}, "
            f"{st.captures} capture(s), {st.unconsented} alert(s), "
            f"{s.undecodable.get(name, 0)} undecodable, {s.dropped.get(name, 0)} dropped"
        )
    lost = f", {s.dropped_events} DROPPED (journal not writable)" if s.dropped_events else ""
    lines.append(
        f"journal {s.db}: {s.events} event(s) written{lost}" + (" (stopped)" if s.interrupted else "")
    )
    return lines
