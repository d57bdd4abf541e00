"""Which records were stamped before the device's clock was synchronised (pure).

A Raspberry Pi has no real-time clock: until NTP (or a GPS, or chrony) sets it, the time
may be the last shutdown's or the image's. The device says so in its journal:
- `device.online` carries `clock: {"synced": bool, "how": str}` as the run starts;
- `clock.synced` records the moment synchronisation was seen (`how`, and how far the wall
  clock stepped against the monotonic clock since the start, `clock_step_ms`).
Every record of a run from a `device.online` whose clock was not synchronised up to the next
`clock.synced` carries a time that may be wrong: reports show it as "clock not yet
synchronised". Journals from before this field have no `clock`: nothing is marked (unknown is
not claimed to be wrong).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

UNSYNCED_WORDS = "clock not yet synchronised"


def unsynced_after(last_type: str | None, last_body: Any) -> bool:
    """Is a record stamped while the clock was not synchronised, given the device's last
    `device.online` or `clock.synced` before it (None: no such record)?"""
    if last_type != "device.online" or not isinstance(last_body, dict):
        return False
    clock = last_body.get("clock")
    return isinstance(clock, dict) and clock.get("synced") is False


def unsynced_seqs(records: Iterable[Any]) -> frozenset[int]:
    """The seqs (of records with .type, .seq, .body, in seq order) stamped before the
    device's clock was synchronised."""
    out: set[int] = set()
    unsynced = False
    for ev in records:
        if ev.type == "device.online":
            clock = ev.body.get("clock") if isinstance(ev.body, dict) else None
            unsynced = isinstance(clock, dict) and clock.get("synced") is False
        elif ev.type == "clock.synced":
            unsynced = False
            continue
        if unsynced:
            out.add(int(ev.seq))
    return frozenset(out)
