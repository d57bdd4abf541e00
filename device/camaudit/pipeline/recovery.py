"""After a crash or kill -9: close the captures the journal shows as still open."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from camaudit.core.capture import capture_number

log = logging.getLogger(__name__)


def close_interrupted_captures(
    journal: Any, path: Path, sink: Callable[[str, str | None, Mapping[str, Any], int], Any], ts_ms: int
) -> int:
    """Append capture.end (interrupted) for every open capture; return the next capture number.

    The end time is the last moment the journal knew of (the capture's last event): frames
    in flight when the process died are lost, nothing that was recorded is.
    """
    from camaudit.store.captures import list_captures

    if journal.head[0] == 0:
        return 1
    rows = list_captures(path)
    numbers = [n for r in rows if (n := capture_number(r.capture)) is not None]
    for row in rows:
        if row.state != "open":
            continue
        body = {
            k: v
            for k, v in row.to_dict().items()
            if k not in ("state", "feed", "device", "seq", "ts")
        }
        body["end"] = row.ts
        body["interrupted"] = True
        log.warning("capture %s on %s was left open by a crash: closing it", row.capture, row.feed)
        sink("capture.end", row.feed, body, ts_ms)
    return max(numbers, default=0) + 1
