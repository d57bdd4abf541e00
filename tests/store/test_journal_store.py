"""Journal: append, chain, checkpoints, reopen, ownership, outbox, retention, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from store_helpers import T0, capture_body, raw

from camaudit.core.record import GENESIS_PREV, check_hash, check_link, check_signature
from camaudit.errors import JournalError
from camaudit.store.journal import Journal
from camaudit.store.keys import load_or_create_key
from camaudit.store.verify import verify_journal


def _fill(j: Journal, n: int, start_ts: int = T0, step_ms: int = 1000) -> None:
    for i in range(n):
        j.append("capture.update", "counter", capture_body(frames=i), start_ts + i * step_ms)


def test_append_seals_signs_and_links(tmp_path: Path) -> None:
    db = tmp_path / "data" / "journal.db"
    with Journal.open(db, "cafe-01") as j:
        assert j.head == (0, GENESIS_PREV)
        assert (tmp_path / "data" / "device.key").is_file()  # default key location
        a = j.append("device.online", None, {"version": "0.1.0"}, T0)
        b = j.append("capture.start", "counter", capture_body(), T0 + 5)
        assert (a.seq, b.seq) == (1, 2)
        assert a.prev == GENESIS_PREV and b.prev == a.hash
        assert j.head == (2, b.hash)
        for ev in (a, b):
            check_hash(ev)
            check_signature(ev, j.public_key)
        check_link(a, b)
        assert j.events() == [a, b]
        assert j.events(after_seq=1) == [b]
        assert j.events(limit=1) == [a]
    # the stored text is exactly the canonical signed record
    with raw(db) as c:
        text = c.execute("SELECT json FROM events WHERE seq = 2").fetchone()[0]
        mode = c.execute("PRAGMA journal_mode").fetchone()[0]
    assert text.encode() == b.to_json()
    assert mode == "wal"


def test_reopen_continues_the_chain(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01", checkpoint_every=1000) as j:
        _fill(j, 3)
        head = j.head
    with Journal.open(db, "cafe-01", checkpoint_every=1000) as j:
        assert j.head == head
        ev = j.append("feed.down", "counter", {"reason": "eof"}, T0 + 10_000)
        assert ev.seq == head[0] + 1 and ev.prev == head[1]
    r = verify_journal(db)
    assert r.ok and r.events == 4 and r.head_seq == 4


def test_other_device_or_key_refused(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01") as j:
        _fill(j, 1)
    with pytest.raises(JournalError, match="belongs to device 'cafe-01', not 'door-02'"):
        Journal.open(db, "door-02")
    with pytest.raises(JournalError, match="signed by key .* restore the original device key"):
        Journal.open(db, "cafe-01", key_path=tmp_path / "other.key")
    with Journal.open(db, "cafe-01") as j:  # the refusals changed nothing
        assert j.head[0] == 1


def test_foreign_sqlite_file_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with raw(db) as c:
        c.execute("CREATE TABLE notes (x)")
    with pytest.raises(JournalError, match="not a camaudit journal"):
        Journal.open(db, "cafe-01")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(JournalError, match="not a"):
        Journal.open(junk, "cafe-01")


def test_unknown_event_type_writes_nothing(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.db", "cafe-01") as j:
        _fill(j, 1)
        with pytest.raises(JournalError, match="unknown event type"):
            j.append("capture.bogus", "counter", {}, T0)
        with pytest.raises(JournalError, match="cannot record"):
            j.append("alert", None, {"x": float("nan")}, T0)
        with pytest.raises(JournalError, match="feed must be a string"):
            j.append("alert", 3, {}, T0)  # type: ignore[arg-type]
        assert j.head[0] == 1 and j.outbox_size() == 1
        assert j.append("alert", None, {"text": "ok"}, T0).seq == 2


def test_checkpoint_every_n_events(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01", checkpoint_every=5, checkpoint_s=10_000) as j:
        returned = [
            j.append("capture.update", "f", capture_body(frames=i), T0 + i) for i in range(12)
        ]
        assert all(ev.type == "capture.update" for ev in returned)  # caller gets its own event
        cps = [ev for ev in j.events() if ev.type == "checkpoint"]
    assert [cp.seq for cp in cps] == [6, 12]
    for cp in cps:
        assert cp.body["seq"] == cp.seq - 1
        assert cp.body["hash"] == cp.prev
    r = verify_journal(db)
    assert r.ok and r.checkpoints == 2 and r.events == 14


def test_checkpoint_every_t_seconds_and_forced(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01", checkpoint_every=1000, checkpoint_s=60) as j:
        j.append("feed.up", "f", {}, T0)
        j.append("feed.up", "f", {}, T0 + 59_999)
        assert j.head[0] == 2  # not yet due
        j.append("feed.up", "f", {}, T0 + 60_000)
        assert [e.type for e in j.events()][-1] == "checkpoint"
        cp = j.checkpoint(T0 + 61_000)
        assert cp.type == "checkpoint" and cp.body["seq"] == 4 and j.head == (5, cp.hash)
    # reopening keeps the checkpoint clock: nothing due right after the forced one
    with Journal.open(db, "cafe-01", checkpoint_every=1000, checkpoint_s=60) as j:
        j.append("feed.up", "f", {}, T0 + 62_000)
        assert j.head[0] == 6
    assert verify_journal(db).ok


def test_checkpoint_of_empty_journal_verifies(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01") as j:
        cp = j.checkpoint(T0)
        assert cp.body["seq"] == 0 and cp.body["hash"] == GENESIS_PREV
    assert verify_journal(db).ok


def test_outbox_unacked_and_ack(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.db", "cafe-01", checkpoint_every=1000) as j:
        _fill(j, 10)
        assert j.outbox_size() == 10
        assert [e.seq for e in j.unacked(limit=3)] == [1, 2, 3]
        assert [e.seq for e in j.unacked(after_seq=8)] == [9, 10]
        assert j.ack(4) == 4
        assert j.ack(4) == 0  # re-acks are harmless
        assert j.outbox_size() == 6
        assert [e.seq for e in j.unacked()] == [5, 6, 7, 8, 9, 10]
        assert j.unacked()[0] == j.events(after_seq=4, limit=1)[0]
        assert j.ack(100) == 6 and j.unacked() == []
        assert len(j.events()) == 10  # acking never deletes events


def test_prune_only_acked_and_old_and_keeps_verification(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01", checkpoint_every=10, checkpoint_s=10**6) as j:
        _fill(j, 30)  # seq 1..33 with checkpoints at 11, 22, 33
        assert j.prune(T0 + 10**9) == 0  # nothing acked yet
        j.ack(15)
        assert j.prune(T0 + 10**9) == 15  # stops at the outbox
        assert j.events()[0].seq == 16
        j.ack(33)
        cutoff = T0 + 20_500
        young = min(e.seq for e in j.events() if e.ts >= cutoff)
        assert young == 24  # capture updates i=0..20 (+ checkpoints 11, 22) are older
        assert j.prune(cutoff) == young - 16
        assert all(e.ts >= cutoff for e in j.events())
        assert j.prune(T0 + 10**9) == 32 - young + 1  # never the newest checkpoint (seq 33)
        # each prune journalled its signed deletion record (34, 35, 36), not yet acked
        assert [e.seq for e in j.events()] == [33, 34, 35, 36]
        assert [e.type for e in j.events()][1:] == ["retention.pruned"] * 3
        last = j.events()[-1].body
        assert last["kept"]["seq"] == 32 and last["events"] == 9 and last["first_seq"] == young
        head = j.head
    r = verify_journal(db)
    assert r.ok and r.start_seq == 32 and r.events == 4 and r.head_seq == 36
    with Journal.open(db, "cafe-01") as j:  # continues after pruning
        assert j.head == head
        ev = j.append("feed.up", "f", {}, T0 + 10**9)
        assert ev.seq == 37
    assert verify_journal(db).ok


def test_concurrent_appends_make_one_gapless_chain(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    n_threads, per = 4, 40
    with Journal.open(db, "cafe-01", checkpoint_every=20) as j:
        errors: list[BaseException] = []
        start = threading.Barrier(n_threads + 1)

        def writer(t: int) -> None:
            try:
                start.wait()
                for i in range(per):
                    j.append(
                        "capture.update", f"feed{t}", {"capture": f"c-{t}", "frames": i}, T0 + i
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        def publisher() -> None:  # the MQTT thread reads and acks meanwhile
            try:
                start.wait()
                for _ in range(30):
                    batch = j.unacked(limit=20)
                    if batch:
                        j.ack(batch[-1].seq)
            except BaseException as exc:  # pragma: no cover
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
        threads.append(threading.Thread(target=publisher))
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert not errors
        evs = j.events()
    seqs = [e.seq for e in evs]
    assert seqs == list(range(1, len(evs) + 1))
    for t in range(n_threads):
        frames = [e.body["frames"] for e in evs if e.feed == f"feed{t}"]
        assert frames == list(range(per))  # each thread's events, all there, in its order
    r = verify_journal(db)
    assert r.ok and r.events == len(evs) and r.checkpoints >= (n_threads * per) // 20


def test_closed_journal_refuses_use(tmp_path: Path) -> None:
    j = Journal.open(tmp_path / "j.db", "cafe-01")
    j.close()
    j.close()  # idempotent
    with pytest.raises(JournalError, match="closed"):
        j.append("feed.up", "f", {}, T0)


def test_second_writer_process_cannot_fork_the_chain(tmp_path: Path) -> None:
    """Two Journal objects on one file (e.g. a stray second `camaudit run`) interleave."""
    db = tmp_path / "j.db"
    key = tmp_path / "device.key"
    load_or_create_key(key)
    a = Journal.open(db, "cafe-01", key_path=key)
    b = Journal.open(db, "cafe-01", key_path=key)
    try:
        a.append("feed.up", "f", {}, T0)
        b.append("feed.up", "g", {}, T0)
        a.append("feed.up", "f", {}, T0)
    finally:
        a.close()
        b.close()
    r = verify_journal(db)
    assert r.ok and r.head_seq == 3
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 3


def test_schema_version_and_newer_schema_refused(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with Journal.open(db, "cafe-01") as j:
        j.append("feed.up", "f", {}, T0)
    with raw(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 1
        names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"events_ts", "events_type", "events_capture"} <= names
        c.execute("PRAGMA user_version = 99")
    with pytest.raises(JournalError, match="schema version 99 is newer"):
        Journal.open(db, "cafe-01")


def test_returned_event_is_independent_of_the_callers_dict(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.db", "cafe-01") as j:
        body = {"capture": "c-000001", "reasons": ("no_notice",), "frames": 1}
        ev = j.append("capture.start", "counter", body, T0)
        body["frames"] = 2  # the pipeline reuses its dict
        check_hash(ev)
        assert ev.body["frames"] == 1 and ev.body["reasons"] == ["no_notice"]
        assert j.events() == [ev]
