"""What a hub pack carries from the custody log: its own export entry, recorded before the
pack is written, and the run of entries from the pack's span to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from camaudit.hub.custody.log import CustodyLog


@dataclass(frozen=True)
class ExportBy:
    """Who asks for an export, from where, through which log."""

    log: CustodyLog
    who: str
    where: str
    purpose: str = "export"


def export_run(by: ExportBy | None, device: str, out: Path, *, since_ms: int | None, until_ms: int | None,
               feed: str | None, first_ts: int) -> list[str] | None:
    """Record the export of `device`'s span to `out` and return the entries the pack
    carries: from the first entry at or after the span's start through this export's."""
    if by is None:
        return None
    entry = by.log.record(by.who, "export", by.where, {
        "device": device, "since": since_ms, "until": until_ms, "feed": feed, "file": Path(out).name,
        "purpose": by.purpose,
    })
    start = since_ms if since_ms is not None else first_ts
    return by.log.run_for_pack(start, int(entry["seq"]))
