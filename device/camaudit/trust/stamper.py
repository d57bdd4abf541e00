"""Device side of trusted time: stamp the journal's latest checkpoint at each authority.

`stamp_latest` reads the journal read-only (the device keeps writing), picks the newest
checkpoint record not yet stamped, asks every configured authority for a token over its
hash, and stores each token next to the journal (token_store). A token over the newest
checkpoint covers every record before it, so one request per authority and period
suffices; an unreachable authority costs a log line, never a record."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from camaudit.errors import JournalError
from camaudit.store.db import journal_error, open_readonly
from camaudit.trust.token_store import DIR, last_stamped, save_token
from camaudit.trust.tsa import TokenError
from camaudit.trust.tsa_client import request_token

log = logging.getLogger(__name__)


def latest_checkpoint(db: Path, after_seq: int) -> tuple[int, str] | None:
    """(seq, hash) of the newest checkpoint record after `after_seq`, None if none."""
    conn = open_readonly(db)
    try:
        row = conn.execute(
            "SELECT seq, hash FROM events WHERE type = 'checkpoint' AND seq > ? "
            "ORDER BY seq DESC LIMIT 1",
            (after_seq,),
        ).fetchone()
    except sqlite3.Error as exc:
        raise journal_error(db, exc, "reading its checkpoints") from None
    finally:
        conn.close()
    return None if row is None else (int(row[0]), str(row[1]))


def stamp_latest(db: Path, urls: Sequence[str], *, timeout_s: float = 10.0) -> list[str]:
    """Stamp the newest unstamped checkpoint at every authority; the errors, one per
    authority that failed (empty: all stamped, or nothing new to stamp)."""
    folder = Path(db).parent / DIR
    cp = latest_checkpoint(Path(db), last_stamped(folder))
    if cp is None or not urls:
        return []
    seq, h = cp
    errors: list[str] = []
    for url in urls:
        try:
            der, facts = request_token(url, h, timeout_s=timeout_s)
            save_token(folder, seq, der)
            log.info("checkpoint seq %d stamped by %s", seq, facts.authority)
        except (TokenError, JournalError) as exc:
            errors.append(str(exc))
    return errors
