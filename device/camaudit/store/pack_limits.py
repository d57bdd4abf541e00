"""What a pack may hold, beyond the zip-level limits of store.pack_zip (issue 20).

- `frames_inline(total)`: whether report.html / report.pdf show the evidence frames inline
  (all frames together under INLINE_FRAMES_BYTES) or link each one by its path in the pack
  (`evidence/<sha256>.jpg`). export and verify both decide by this one rule, so verify
  always regenerates every report and compares it, and never holds more than
  INLINE_FRAMES_BYTES of frames. Before issue 20 verify held up to 64 MiB and, past that,
  compared neither report (a lying report.pdf verified with exit 0); and since an inline
  report.html is 4/3 of its frames, no pack with 12 MiB of frames or more could verify
  (report.html over the 16 MiB a derived file could be). So 12 MiB changes the reports of
  no pack that verified before, and bounds verify's memory (bench/pack_memory.py --frames:
  1,030 MiB peak RSS at 60 MiB of frames inline, 127 MiB at 70 MiB linked).
- `unexpected_files(names, derived)`: the manifest may list only the records, device.json,
  the files derived from the records and evidence frames named `evidence/<sha256>.jpg`;
  anything else (a `notes.txt` saying "all consented", a `Report.pdf` beside report.pdf)
  would be signed but checked by nobody, so verify refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

INLINE_FRAMES_BYTES = 12 << 20  # frames shown inline in report.html / report.pdf: under this, in all
FRAME_NAME = re.compile(r"evidence/[0-9a-f]{64}\.jpg")
# names under these prefixes are checked by their own code: time-stamp tokens (issue 24,
# trust.pack_time: each name, and each token against the records and the pinned authority)
CHECKED_ELSEWHERE: tuple[str, ...] = ("timestamps/", "custody/")


def frames_inline(total_bytes: int) -> bool:
    """Reports show the frames inline when all of them together are under INLINE_FRAMES_BYTES."""
    return total_bytes < INLINE_FRAMES_BYTES


def frame_path(digest: str) -> str:
    return f"evidence/{digest}.jpg"


def unexpected_files(names: Iterable[str], allowed: Collection[str]) -> list[str]:
    """Names the manifest lists that no check covers: not in `allowed` (records, device.json,
    the derived files), not a frame, not under a prefix some other check owns."""
    return sorted(
        n
        for n in names
        if n not in allowed and not FRAME_NAME.fullmatch(n) and not n.startswith(CHECKED_ELSEWHERE)
    )


# the fields export writes; a field outside them would be signed but read by nobody
MANIFEST_KEYS = frozenset({"format", "version", "reports", "created", "device", "public_key", "signed_by", "signer_key", "files"})
DEVICE_KEYS = frozenset(
    {"device", "public_key", "first_seq", "last_seq", "start_hash", "since", "until", "feed", "head_seq",
     "deletion", "hub_deletion"}  # deletion: the signed retention.pruned record, checked by pack_verify._deletion
)


def docs_problem(manifest: dict[str, Any], device_doc: dict[str, Any]) -> str | None:
    """What in manifest.json / device.json is signed but checked by nobody, or None: a field
    export never writes ("summary": "all consented"), a device name the manifest gives that
    device.json (which the records are checked against) does not, a span that is not ms."""
    for name, doc, known in (("manifest.json", manifest, MANIFEST_KEYS), ("device.json", device_doc, DEVICE_KEYS)):
        extra = sorted(set(doc) - known)
        if extra:
            return f"{name}: field {extra[0][:40]!r} is no field of a pack (nothing checks it)"
    if manifest.get("device") != device_doc.get("device"):
        return "manifest.json and device.json name different devices"
    for field in ("since", "until"):
        v = device_doc.get(field)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            return f"device.json: {field} is {str(v)[:40]!r}, not a time in ms or null"
    return None
