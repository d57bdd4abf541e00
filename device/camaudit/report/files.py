"""The report files of an evidence pack, as a pure function of its records (and frames).

`report_files(records, meta, frames)` -> {"report.html": ..., "report.pdf": ...,
"captures.csv": ...}: the same records and meta always give the same bytes, so a checker
can regenerate them from events.jsonl and compare (store.pack_report's derived files).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from camaudit.core.record import Event
from camaudit.report.csv_out import render_csv
from camaudit.report.html import render_html
from camaudit.report.model import build
from camaudit.report.pdf import render_pdf

HTML = "report.html"
PDF = "report.pdf"
CSV = "captures.csv"


def report_files(
    records: Sequence[Event],
    meta: Mapping[str, Any],
    frames: Mapping[str, bytes] | None = None,
    *,
    inline: bool = True,
    linked: Collection[str] = (),
) -> dict[str, bytes]:
    """meta: device, public_key, created (ms), signed_by, and optionally feed, since,
    until (ms), missing_evidence (digests), evidence_on_device. frames: sha256 hex -> the
    blurred evidence frame (JPEG) the pack carries, shown inline. `inline=False`: no frame
    is shown; each digest in `linked` (frames the pack carries) is named by its path in
    the pack instead (store.pack_limits.frames_inline decides which)."""
    report = build(records, meta)
    frames = (frames or {}) if inline else {}
    return {
        HTML: render_html(report, frames, linked),
        PDF: render_pdf(report, frames, linked),
        CSV: render_csv(report),
    }
