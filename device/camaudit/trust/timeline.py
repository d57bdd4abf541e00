"""Pure rules on the times a chain of records claims, against time-stamp tokens.

A record's `ts` is the writer's own clock. Two rules bound it:
- inside one chain, times may not run backwards by more than CLOCK_TOLERANCE_MS (a
  record dated before its predecessor was either backdated or written by a clock that
  jumped back: either way its time cannot be relied on);
- a token over record N at time T proves records 1..N existed by T: a record up to N
  dated after T + CLOCK_TOLERANCE_MS is dated after it provably existed, so fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from camaudit.trust.tsa import CLOCK_TOLERANCE_MS


@dataclass(frozen=True)
class Proof:
    """A checked token: records up to `seq` existed by `time_ms` (UTC ms), says `authority`."""

    seq: int
    time_ms: int
    authority: str

    def statement(self) -> str:
        return f"records up to seq {self.seq} existed by {utc(self.time_ms)} ({self.authority})"


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_order(times: Iterable[tuple[int, int]], tolerance_ms: int = CLOCK_TOLERANCE_MS) -> str | None:
    """The first record (seq, ts) dated more than `tolerance_ms` before a record it follows
    (named in words), or None when times never run backwards by more than that."""
    latest: tuple[int, int] | None = None
    for seq, ts in times:
        if latest is not None and ts < latest[1] - tolerance_ms:
            return (
                f"seq {seq} is dated {utc(ts)}, {_span(latest[1] - ts)} before seq {latest[0]} "
                f"({utc(latest[1])}) which it follows: times run backwards beyond the "
                f"{_span(tolerance_ms)} tolerance (a backdated record)"
            )
        if latest is None or ts > latest[1]:
            latest = (seq, ts)
    return None


def check_against(
    times: Iterable[tuple[int, int]], proofs: Sequence[Proof], tolerance_ms: int = CLOCK_TOLERANCE_MS
) -> str | None:
    """The first record (seq, ts) dated after a token over it or a later record proves
    it existed (beyond `tolerance_ms`), or None."""
    if not proofs:
        return None
    ordered = sorted(proofs, key=lambda p: p.seq)
    # bound[i]: the earliest proof among ordered[i:] (a token over N covers every seq <= N)
    bound: list[Proof] = list(ordered)
    for i in range(len(ordered) - 2, -1, -1):
        if bound[i + 1].time_ms < bound[i].time_ms:
            bound[i] = bound[i + 1]
    i = 0
    for seq, ts in times:
        while i < len(ordered) and ordered[i].seq < seq:
            i += 1
        if i == len(ordered):
            break
        p = bound[i]
        if ts > p.time_ms + tolerance_ms:
            return (
                f"seq {seq} is dated {utc(ts)}, after the time-stamp token that proves "
                f"{p.statement()}: the record's time is false"
            )
    return None


def _span(ms: int) -> str:
    s = ms // 1000
    if s >= 86_400:
        return f"{s / 86_400:.1f} days"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s // 60} min"
    return f"{s} s"
