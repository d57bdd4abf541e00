"""verify_journal catches every kind of tampering, naming the first bad record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_helpers import T0, capture_body, clone, raw

from camaudit.core.record import Event, checkpoint_body, digest, seal
from camaudit.errors import JournalError
from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey, load_or_create_key
from camaudit.store.verify import verify_journal


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 capture updates with a checkpoint every 5: seq 1..14 (checkpoints at 6 and 12)."""
    db = tmp_path_factory.mktemp("template") / "j.db"
    with Journal.open(db, "cafe-01", checkpoint_every=5, checkpoint_s=10**6) as j:
        for i in range(12):
            j.append("capture.update", "counter", capture_body(frames=i), T0 + i * 1000)
    return db


@pytest.fixture()
def journal_db(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template journal for each tampering."""
    db = clone(template, tmp_path)
    r = verify_journal(db)
    assert r.ok and r.events == 14 and r.checkpoints == 2 and r.head_seq == 14
    assert r.first_bad is None
    return db


def _record(db: Path, seq: int) -> dict:
    with raw(db) as c:
        return json.loads(c.execute("SELECT json FROM events WHERE seq = ?", (seq,)).fetchone()[0])


def _put(db: Path, seq: int, rec: dict) -> None:
    text = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    with raw(db) as c:
        c.execute("UPDATE events SET json = ?, hash = ? WHERE seq = ?", (text, rec["hash"], seq))


def _insert(db: Path, ev: Event) -> None:
    with raw(db) as c:
        c.execute(
            "INSERT INTO events (seq, ts, type, feed, capture, hash, json) VALUES (?,?,?,?,?,?,?)",
            (ev.seq, ev.ts, ev.type, ev.feed, None, ev.hash, ev.to_json().decode()),
        )


def _bad(db: Path, **kw: object) -> str:
    r = verify_journal(db, **kw)  # type: ignore[arg-type]
    assert not r.ok
    assert r.first_bad is not None and "\n" not in r.first_bad
    return r.first_bad


def test_edited_body_is_caught(journal_db: Path) -> None:
    rec = _record(journal_db, 5)
    rec["body"]["max_faces"] = 0
    _put(journal_db, 5, rec)
    assert _bad(journal_db) == "seq 5: hash does not match its content"
    r = verify_journal(journal_db)
    assert r.head_seq == 4 and r.events == 4  # counts stop at the last good record


def test_edited_body_with_recomputed_hash_fails_the_signature(journal_db: Path) -> None:
    rec = _record(journal_db, 7)
    rec["body"]["verdict"] = "consented"
    rec["hash"] = digest({k: v for k, v in rec.items() if k not in ("hash", "sig")})
    _put(journal_db, 7, rec)
    assert _bad(journal_db) == "seq 7: bad signature"


def test_deleted_row_is_a_gap(journal_db: Path) -> None:
    with raw(journal_db) as c:
        c.execute("DELETE FROM events WHERE seq = 9")
    assert _bad(journal_db) == "seq 10: gap after seq 8"


def test_deleted_first_row_is_a_gap(journal_db: Path) -> None:
    with raw(journal_db) as c:
        c.execute("DELETE FROM events WHERE seq = 1")
    assert _bad(journal_db) == "seq 2: gap after seq 0"


def test_reordered_rows_are_caught(journal_db: Path) -> None:
    with raw(journal_db) as c:
        j3, j4 = (
            c.execute("SELECT json FROM events WHERE seq = ?", (s,)).fetchone()[0] for s in (3, 4)
        )
        c.execute("UPDATE events SET json = ? WHERE seq = 3", (j4,))
        c.execute("UPDATE events SET json = ? WHERE seq = 4", (j3,))
    assert _bad(journal_db) == "seq 3: row holds the record of seq 4 (rows moved or reordered)"


def test_renumbered_rows_are_caught(journal_db: Path) -> None:
    """Swap two records including their seq columns: the chain order itself breaks."""
    with raw(journal_db) as c:
        c.execute("UPDATE events SET seq = -3 WHERE seq = 3")
        c.execute("UPDATE events SET seq = 3 WHERE seq = 4")
        c.execute("UPDATE events SET seq = 4 WHERE seq = -3")
    assert _bad(journal_db).startswith("seq 3: row holds the record of seq 4")


def test_swapped_public_key_is_caught(journal_db: Path, tmp_path: Path) -> None:
    other = load_or_create_key(tmp_path / "other.key")
    assert _bad(journal_db, public_key=other.public_bytes) == "seq 1: bad signature"
    with raw(journal_db) as c:
        c.execute("UPDATE meta SET value = ? WHERE key = 'public_key'", (other.public_hex,))
    assert _bad(journal_db) == "seq 1: bad signature"


def test_journal_resigned_with_another_key_fails_against_the_pinned_key(tmp_path: Path) -> None:
    """A forger who re-signs everything with a key of his own fools only the meta key."""
    real = load_or_create_key(tmp_path / "real.key")
    forged = tmp_path / "forged.db"
    with Journal.open(forged, "cafe-01", key_path=tmp_path / "forger.key") as j:
        j.append("capture.end", "counter", capture_body(end=T0 + 1), T0)
    assert verify_journal(forged).ok
    assert _bad(forged, public_key=real.public_bytes) == "seq 1: bad signature"


def _device_key(db: Path) -> DeviceKey:
    return load_or_create_key(db.parent / "device.key")


def _append_checkpoint(journal_db: Path, body: dict, last: Event, key: DeviceKey) -> None:
    """Write a validly linked and signed checkpoint record (seq 15) with `body` into the file."""
    ev = seal(
        device="cafe-01",
        seq=15,
        ts=T0 + 20_000,
        type="checkpoint",
        feed=None,
        body=body,
        prev=last.hash,
        sign=key.sign,
    )
    _insert(journal_db, ev)


def test_forged_checkpoint_hash_is_caught(journal_db: Path) -> None:
    key = _device_key(journal_db)
    last = Event.from_json(json.dumps(_record(journal_db, 14)))
    body = checkpoint_body(10, "ab" * 32, key.sign)  # vouches for a hash seq 10 never had
    _append_checkpoint(journal_db, body, last, key)
    assert _bad(journal_db) == "seq 15: checkpoint hash does not match the chain at seq 10"


def test_checkpoint_signed_by_another_key_is_caught(journal_db: Path, tmp_path: Path) -> None:
    key = _device_key(journal_db)
    other = load_or_create_key(tmp_path / "other.key")
    last = Event.from_json(json.dumps(_record(journal_db, 14)))
    body = checkpoint_body(14, last.hash, other.sign)
    _append_checkpoint(journal_db, body, last, key)
    assert _bad(journal_db) == "seq 15: checkpoint: bad signature"


def test_checkpoint_vouching_for_the_future_is_caught(journal_db: Path) -> None:
    key = _device_key(journal_db)
    last = Event.from_json(json.dumps(_record(journal_db, 14)))
    body = checkpoint_body(99, last.hash, key.sign)
    ev = seal(
        device="cafe-01",
        seq=15,
        ts=T0,
        type="checkpoint",
        feed=None,
        body=body,
        prev=last.hash,
        sign=key.sign,
    )
    _insert(journal_db, ev)
    assert _bad(journal_db) == "seq 15: checkpoint vouches for seq 99, not an earlier one"


def test_index_columns_must_match_the_record(journal_db: Path) -> None:
    with raw(journal_db) as c:
        c.execute("UPDATE events SET type = 'capture.end' WHERE seq = 8")
    assert (
        _bad(journal_db) == "seq 8: row columns (ts/type/feed/hash) differ from the signed record"
    )


def test_edited_pruned_point_is_caught(journal_db: Path) -> None:
    with Journal.open(journal_db, "cafe-01") as j:
        j.ack(14)
        assert j.prune(T0 + 10**9) == 11  # keeps the newest checkpoint (12) onwards
    assert verify_journal(journal_db).ok
    with raw(journal_db) as c:
        c.execute("UPDATE meta SET value = ? WHERE key = 'pruned_hash'", ("cd" * 32,))
    assert _bad(journal_db) == "seq 12: prev does not match hash of seq 11"


def test_missing_or_foreign_files_are_errors_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(JournalError, match="no such file"):
        verify_journal(missing)
    assert not missing.exists()
    other = tmp_path / "other.db"
    with raw(other) as c:
        c.execute("CREATE TABLE t (x)")
    with pytest.raises(JournalError, match="not a camaudit journal"):
        verify_journal(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(JournalError, match="not a"):
        verify_journal(junk)


def test_altered_signature_alone_is_caught(journal_db: Path) -> None:
    rec = _record(journal_db, 11)
    rec["sig"] = rec["sig"][:-2] + ("00" if rec["sig"][-2:] != "00" else "11")
    _put(journal_db, 11, rec)  # hash and links untouched: only the signature is wrong
    assert _bad(journal_db) == "seq 11: bad signature"
