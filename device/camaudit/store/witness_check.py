"""`camaudit verify JOURNAL --witness HUB_PACK --hub-key KEY`: catch a journal whose last
records were deleted.

A journal checked alone proves each record and link, but not that nothing was cut off its
end: deleting the newest records leaves a shorter, valid chain. The hub has already
received those records and its export (`camaudit hub export DEVICE`) is signed by the hub
key; verified against the pinned hub key, it witnesses that the device's chain reached
(seq, hash). The journal must then hold that very record: a head before it, or another
record at that seq, fails.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from camaudit.core.record import Event, RecordError
from camaudit.errors import VerifyError
from camaudit.store.db import journal_error, open_readonly
from camaudit.store.pack_verify import verify_pack
from camaudit.store.verify import VerifyReport

log = logging.getLogger(__name__)


def check_witness(journal: Path, report: VerifyReport, witness: Path, hub_key: bytes) -> str:
    """One line on what the witness adds; VerifyError when the journal falls short of it."""
    w = verify_pack(witness, report.public_key, hub_key)
    if w.signed_by != "hub" or not w.proven:
        raise VerifyError(f"{witness}: FAILED: a witness must be a hub export signed by the pinned --hub-key")
    if w.device != report.device:
        raise VerifyError(f"{witness}: FAILED: witnesses device {w.device}, the journal is {report.device}")
    if report.head_seq < w.last_seq:
        log.warning("journal %s ends at seq %d, hub witnessed seq %d", journal, report.head_seq, w.last_seq)
        raise VerifyError(
            f"{journal}: FAILED: the journal ends at seq {report.head_seq}, but the hub witnessed "
            f"seq {w.last_seq} ({witness}): records were deleted from its end"
        )
    if w.last_seq <= report.start_seq:
        return f"hub witness up to seq {w.last_seq} is older than the journal's pruned point"
    conn = open_readonly(journal)
    try:
        row = conn.execute("SELECT json FROM events WHERE seq = ?", (w.last_seq,)).fetchone()
    except sqlite3.Error as exc:
        raise journal_error(journal, exc, "verifying") from None
    finally:
        conn.close()
    try:
        got = Event.from_json(row[0]).hash if row else ""
    except RecordError:
        got = ""
    if got != w.last_hash:
        raise VerifyError(
            f"{journal}: FAILED: seq {w.last_seq} is not the record the hub witnessed ({witness})"
        )
    return f"hub-witnessed up to seq {w.last_seq}"
