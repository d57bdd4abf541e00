"""Signatures checked by worker processes give exactly the report of the one-process walk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_helpers import T0, capture_body, raw

from camaudit.store import sigcheck
from camaudit.store.journal import Journal
from camaudit.store.verify import verify_journal


def _break_sig(db: Path, seq: int) -> None:
    with raw(db) as c:
        rec = json.loads(c.execute("SELECT json FROM events WHERE seq = ?", (seq,)).fetchone()[0])
        rec["sig"] = "00" * 64  # only the signature: hash and links still hold
        text = json.dumps(rec, sort_keys=True, separators=(",", ":"))
        c.execute("UPDATE events SET json = ? WHERE seq = ?", (text, seq))


def _delete(db: Path, seq: int) -> None:
    with raw(db) as c:
        c.execute("DELETE FROM events WHERE seq = ?", (seq,))


@pytest.mark.parametrize(
    ("bad_sig", "deleted", "expected"),
    [
        (None, None, None),
        (30, 45, "seq 30: bad signature"),
        (30, 20, "seq 21: gap after seq 19"),
    ],
)
def test_parallel_signature_check_matches_inline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bad_sig: int | None,
    deleted: int | None,
    expected: str | None,
) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01", checkpoint_every=9) as j:
        for i in range(54):  # 60 records with the checkpoints
            j.append("capture.update", "counter", capture_body(frames=i), T0 + i)
    if bad_sig is not None:
        _break_sig(db, bad_sig)
    if deleted is not None:
        _delete(db, deleted)
    monkeypatch.setattr(sigcheck, "BATCH", 8)  # several batches in flight
    inline = verify_journal(db, workers=0)
    parallel = verify_journal(db, workers=1)
    assert inline.first_bad == expected
    assert parallel == inline
    if expected is None:
        assert inline.ok and inline.events == 60 and inline.checkpoints == 6
