"""Shared-store linking (hub/ingest/linkstore.py) under real concurrency, on SQLite and on a real
PostgreSQL: several connections link the same devices at the same time; every seq is
stored once, each head advance belongs to exactly one transaction (so one ack each), a
fork across connections is opened (alerted) exactly once."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from camaudit.core.record import Event
from camaudit.hub.ingest.link_txn import Incoming, LinkResult
from camaudit.hub.ingest.linkstore import LinkStore
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.store.sql import Sql, open_sql
from camaudit.store.journal import Journal

NOW = int(time.time() * 1000)

@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        db = tmp_path / "hub.db"
        HubStore(db).close()
        return db
    url = request.getfixturevalue("pg_url")
    HubStore(url).close()
    return url


def _stream(tmp_path: Path, dev: str, n: int, tag: str = "c") -> list[Event]:
    with Journal.open(tmp_path / dev / "journal.db", dev, checkpoint_every=20) as j:
        for _ in range(n):
            seq = j.head[0] + 1
            j.append("capture.end", "counter", {"capture": f"{tag}-{seq}", "verdict": "consented"}, NOW + seq)
        return j.events()


def _witness(ev: Event, base_seq: int, base_hash: str, hash_at) -> dict[str, Any]:
    cp_seq, cp_hash = ev.body["seq"], ev.body["hash"]
    assert hash_at(cp_seq) == cp_hash  # the vouched seq is in the store (or this transaction)
    return {"device": ev.device, "seq": ev.seq, "cp_seq": cp_seq, "cp_hash": cp_hash, "ts": NOW,
            "hub_key": "k", "hub_sig": "s"}


def _enroll(sql: Sql, *devs: str) -> None:
    for d in devs:
        sql.execute("INSERT INTO heads (device, seq, hash, max_seen, online, duplicates) VALUES (?, 0, ?, 0, 0, 0)",
                    (d, "0" * 64))


def _run_parallel(target: Any, jobs: list[list[tuple[str, list[Event]]]]) -> list[LinkResult]:
    """One thread and one connection per job list; each links its batches in order."""
    results: list[LinkResult] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(batches: list[tuple[str, list[Event]]]) -> None:
        links = LinkStore(open_sql(target))
        try:
            start.wait(10)
            for dev, evs in batches:
                r = links.link(dev, [Incoming(e, e.to_json().decode(), NOW) for e in evs], _witness)
                with lock:
                    results.append(r)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            links.sql.close()

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


@pytest.mark.timeout(180)
def test_concurrent_connections_link_every_seq_once_each_advance_once(target: Any, tmp_path: Path) -> None:
    rng = random.Random(7)
    streams = {d: _stream(tmp_path, d, 150) for d in ("d1", "d2")}
    sql = open_sql(target)
    LinkStore(sql)
    _enroll(sql, *streams)
    # three connections get interleaved, shuffled batches of both devices, with duplicates
    jobs: list[list[tuple[str, list[Event]]]] = [[], [], []]
    for dev, evs in streams.items():
        order = list(evs) + rng.sample(evs, 30)
        for i in range(0, len(order), 25):
            chunk = order[i:i + 25]
            rng.shuffle(chunk)
            order[i:i + 25] = chunk
        pos = 0
        while pos < len(order):
            n = rng.randint(1, 6)
            rng.choice(jobs).append((dev, order[pos:pos + n]))
            pos += n
    results = _run_parallel(target, jobs)
    for dev, evs in streams.items():
        top = evs[-1].seq
        rows = sql.execute("SELECT seq, hash FROM events WHERE device = ? ORDER BY seq", (dev,)).fetchall()
        assert [(int(s), h) for s, h in rows] == [(e.seq, e.hash) for e in evs]
        assert int(sql.execute("SELECT seq FROM heads WHERE device = ?", (dev,)).fetchone()[0]) == top
        assert sql.execute("SELECT COUNT(*) FROM pending WHERE device = ?", (dev,)).fetchone()[0] == 0
        cps = [e.seq for e in evs if e.type == "checkpoint"]
        assert [int(r[0]) for r in sql.execute("SELECT seq FROM witness WHERE device = ? ORDER BY seq",
                                               (dev,)).fetchall()] == cps
        # the head advances of all transactions tile 0..top: each advance made (and acked) once
        spans = sorted((r.head_before, r.head) for r in results if r.device == dev and r.advanced)
        assert spans[0][0] == 0 and spans[-1][1] == top
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
        assert sum(len(r.linked) for r in results if r.device == dev) == top
    assert sql.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0
    sql.close()


@pytest.mark.timeout(120)
def test_fork_across_connections_opened_once(target: Any, tmp_path: Path) -> None:
    real = _stream(tmp_path / "real", "d1", 10)
    clone = _stream(tmp_path / "clone", "d1", 10, tag="clone")  # another history, same seqs
    sql = open_sql(target)
    LinkStore(sql)
    _enroll(sql, "d1")
    # both histories' seqs 2..10 at once on two connections, then seq 1 of the real one
    results = _run_parallel(target, [[("d1", real[1:])], [("d1", clone[1:])]])
    results += _run_parallel(target, [[("d1", real[:1])], [("d1", clone[1:3])]])
    opened = [r.fork_opened for r in results if r.fork_opened is not None]
    assert len(opened) == 1 and opened[0]["device"] == "d1"
    (fork,) = sql.execute("SELECT fork_seq, resolved_ms FROM fork_state").fetchall()
    assert fork[1] is None
    stored = [(int(s), h) for s, h in sql.execute("SELECT seq, hash FROM events ORDER BY seq").fetchall()]
    # seq 1 is the real one: the chain is the real prefix (all of it if the real 2..10 came
    # first; only seq 1 if the clone's waited and failed to link to it)
    assert stored == [(e.seq, e.hash) for e in real[:len(stored)]] and len(stored) in (1, 10)
    quarantined = {r[0] for r in sql.execute("SELECT hash FROM quarantine").fetchall()}
    assert quarantined and not quarantined & {h for _, h in stored}
    assert quarantined <= {e.hash for e in real + clone}
    assert all(r.fork_open for r in results[-2:])
    sql.close()


def test_a_transaction_rolled_back_by_a_conflict_is_linked_again(target: Any, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A deadlock / serialization failure (PostgreSQL) or a store still locked (SQLite) rolls the
    whole transaction back: linking runs again and stores everything once; any other error is raised."""
    from camaudit.hub.store.sql import SqlError

    evs = _stream(tmp_path, "d1", 5)
    sql = open_sql(target)
    links = LinkStore(sql)
    _enroll(sql, "d1")
    real = LinkStore._link
    calls: list[int] = []

    def flaky(self: LinkStore, *a: Any, **kw: Any) -> LinkResult:
        calls.append(1)
        if len(calls) == 1:  # the first transaction is rolled back by a conflict
            raise SqlError("deadlock detected", transient=True)
        return real(self, *a, **kw)

    monkeypatch.setattr(LinkStore, "_link", flaky)
    r = links.link("d1", [Incoming(e, e.to_json().decode(), NOW) for e in evs[:3]], _witness)
    assert len(calls) == 2 and r.head == 3 and r.head_before == 0
    monkeypatch.setattr(LinkStore, "_link", lambda *a, **kw: (_ for _ in ()).throw(SqlError("disk full")))
    with pytest.raises(SqlError, match="disk full"):
        links.link("d1", [], _witness)
    assert [int(r[0]) for r in sql.execute("SELECT seq FROM events ORDER BY seq").fetchall()] == [1, 2, 3]
    sql.close()
