"""Several hub workers on one stream: chain linking computed from the shared store
(hub/ingest/linkstore.py), two shared-mode collectors fed in an adversarial order, and the rule
that in-memory linking never runs next to another collector."""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest

from camaudit.config.mqtt import MqttConfig
from camaudit.core.record import Event
from camaudit.hub.ingest import acks as acks_mod
from camaudit.hub.ingest import linkstore
from camaudit.hub.ingest import replay as replay_mod
from camaudit.hub.ingest.collector import Collector
from camaudit.hub.ingest.linkstore import CollectorConflict, LinkStore
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.store.sql import open_sql
from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey

NOW = int(time.time() * 1000)
TOPIC = "camaudit/{}/events"


def _append(j: Journal, n: int, tag: str = "c") -> list[Event]:
    out = []
    for _ in range(n):
        seq = j.head[0] + 1
        out.append(j.append("capture.end", "counter", {"capture": f"{tag}-{seq}", "verdict": "consented"},
                            NOW + seq))
    return out


class Worker:
    """A shared-mode collector on its own connections to the store, publishing into a list."""

    def __init__(self, db: Path | str, name: str) -> None:
        self.store = HubStore(db)
        self.col = Collector(self.store, MqttConfig(url="mqtt://127.0.0.1:1"), DeviceKey.generate(),
                             linking="shared", collector_id=name)
        self.sent: list[tuple[str, bytes, bool]] = []
        self.col._publish = self._pub  # type: ignore[method-assign]

    def _pub(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload, retain))

    def feed(self, *evs: Event) -> None:
        self.col._process([(TOPIC.format(e.device), e.to_json(), NOW, False) for e in evs])

    def acks(self, dev: str = "dev1") -> list[int]:
        return [int(p) for t, p, _ in self.sent if t == f"camaudit/{dev}/ack"]

    def replays(self, dev: str = "dev1") -> list[int]:
        return [int(p) for t, p, _ in self.sent if t == f"camaudit/{dev}/cmd/replay"]

    def fork_alerts(self) -> list[bytes]:
        return [p for t, p, r in self.sent if t == "camaudit/hub/alerts" and r and p]

    def enroll(self, dev: str, key_hex: str, *others: Worker) -> None:
        self.store.enroll(dev, key_hex)
        for w in (self, *others):
            w.col.reload_keys()

    def close(self) -> None:
        self.store.close()


def _dev1_events(tmp_path: Path, a: Worker, b: Worker, n: int) -> list[Event]:
    """`n` events of device dev1 (a real journal), enrolled with both workers."""
    j = Journal.open(tmp_path / "j" / "journal.db", "dev1", checkpoint_every=1000)
    a.enroll("dev1", j.public_key.hex(), b)
    evs = _append(j, n)
    j.close()
    return evs


@pytest.fixture(params=["sqlite", "postgresql"])
def two(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(acks_mod, "ACK_EVERY_S", 0.0)  # every head advance acked at once
    monkeypatch.setattr(linkstore, "GAP_GRACE_S", 0.0)  # every gap asked for at once
    db = tmp_path / "hub.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    HubStore(db).close()
    a, b = Worker(db, "A"), Worker(db, "B")
    yield db, a, b
    a.close()
    b.close()


def test_two_workers_adversarial_order_store_once_ack_once_fork_once(two, tmp_path: Path) -> None:
    db, a, b = two
    j = Journal.open(tmp_path / "real" / "journal.db", "dev1", checkpoint_every=5)
    a.enroll("dev1", j.public_key.hex(), b)
    evs = _append(j, 5)  # seqs 1-5, then the journal writes checkpoint 6 (vouches for 5)
    evs = j.events()
    assert [e.type for e in evs][-1] == "checkpoint" and evs[-1].seq == 6
    evs += _append(j, 1)  # 7
    j.close()
    shutil.copytree(tmp_path / "real", tmp_path / "clone")
    j = Journal.open(tmp_path / "real" / "journal.db", "dev1", checkpoint_every=5)
    (e8,) = _append(j, 1, "real")
    j.close()
    clone = Journal.open(tmp_path / "clone" / "journal.db", "dev1", checkpoint_every=5)
    (f8,) = _append(clone, 1, "clone")
    clone.close()
    e = {ev.seq: ev for ev in evs}

    a.feed(e[2])  # the successor reaches A, which never saw seq 1
    assert a.store.seqs("dev1") == [] and a.acks() == []
    assert a.replays() == [1]  # A claimed the replay request
    b.feed(e[1])  # B stores 1 and links 2 from pending
    assert b.store.seqs("dev1") == [1, 2]
    assert b.acks() == [2] and a.acks() == []
    b.feed(e[4])  # a gap again (3 missing) within REPLAY_EVERY_S: nobody asks twice
    assert a.replays() == [1] and b.replays() == []
    a.feed(e[1], e[2])  # duplicates to both: re-acked with the stored head, nothing stored twice
    b.feed(e[1])
    assert a.acks() == [2] and b.acks() == [2, 2]
    a.feed(e[5])  # pending
    b.feed(e[3])  # closes the gap: links 3, 4 and 5 (4 and 5 from pending, one from each worker)
    assert b.acks()[-1] == 5
    a.feed(e[6])  # a checkpoint whose vouched seq 5 was stored by the other worker
    assert a.acks()[-1] == 6
    (w,) = a.store.witnesses("dev1")
    assert w["seq"] == 6 and w["cp_seq"] == 5 and w["cp_hash"] == e[5].hash
    a.feed(e8)  # waits for 7
    b.feed(f8)  # the clone's seq 8, same key, other hash: a fork, across workers
    a.feed(f8)  # the same forked record to the other worker: no second alert
    assert len(a.fork_alerts()) + len(b.fork_alerts()) == 1
    assert len(b.fork_alerts()) == 1
    acks_before = len(a.acks()) + len(b.acks())
    b.feed(e[7])  # links 7 and the real 8, but no ack while the fork is open
    assert a.store.seqs("dev1") == list(range(1, 9))
    assert len(a.acks()) + len(b.acks()) == acks_before
    (fork,) = a.store.forks()
    assert fork["device"] == "dev1" and fork["fork_seq"] == 8
    assert [q["hash"] for q in a.store.quarantined("dev1")] == [f8.hash]
    assert a.store.rejects().get("fork") == 2
    (dev,) = a.store.devices()
    assert dev.head_seq == 8
    # every advance was acked exactly once, by the worker that made it
    advances = sorted(a.acks() + b.acks())
    assert advances == [2, 2, 2, 5, 6]  # 2 thrice: the ack and the re-acks of the duplicates
    assert a.col.stats["reacks"] + b.col.stats["reacks"] == 2
    # resolved by an operator: acks resume, the retained alert is cleared
    a.store.resolve_fork("dev1", "stored")
    a.feed(e[7])
    assert a.acks()[-1] == 8
    assert ("camaudit/hub/alerts", b"", True) in a.sent  # the retained fork alert cleared


def test_an_ack_owed_when_another_worker_finds_a_fork_is_not_sent(two, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db, a, b = two
    j = Journal.open(tmp_path / "real" / "journal.db", "dev1", checkpoint_every=1000)
    a.enroll("dev1", j.public_key.hex(), b)
    _append(j, 1)
    j.close()
    shutil.copytree(tmp_path / "real", tmp_path / "clone")
    j = Journal.open(tmp_path / "real" / "journal.db", "dev1", checkpoint_every=1000)
    real = j.events() + _append(j, 2, "real")
    j.close()
    clone = Journal.open(tmp_path / "clone" / "journal.db", "dev1", checkpoint_every=1000)
    (c2,) = _append(clone, 1, "clone")
    clone.close()
    monkeypatch.setattr(acks_mod, "ACK_EVERY_S", 3600.0)
    a.col.linker.acks.last_ack["dev1"] = time.monotonic()  # A acked a moment ago: its next ack waits
    a.feed(*real)  # A stores 1-3 and owes dev1 the ack of 3
    assert a.store.seqs("dev1") == [1, 2, 3] and a.acks() == []
    b.feed(c2)  # the clone's seq 2 reaches B: a fork
    assert len(b.fork_alerts()) == 1
    monkeypatch.setattr(acks_mod, "ACK_EVERY_S", 0.0)
    a.col.linker.send_owed_acks(time.monotonic())
    assert a.acks() == [] and b.acks() == []  # the owed ack is dropped, not sent


def test_random_split_of_two_streams_every_seq_once_acks_unique(two, tmp_path: Path) -> None:
    db, a, b = two
    rng = random.Random(15)
    streams = {}
    for dev in ("dev1", "dev2"):
        j = Journal.open(tmp_path / dev / "journal.db", dev, checkpoint_every=25)
        a.enroll(dev, j.public_key.hex(), b)
        _append(j, 190)
        streams[dev] = j.events()
        j.close()
    msgs = [ev for evs in streams.values() for ev in evs]
    # delivered out of order (shuffled within windows of 30), each to one worker at random
    order = []
    for i in range(0, len(msgs), 30):
        chunk = msgs[i:i + 30]
        rng.shuffle(chunk)
        order += chunk
    pos = 0
    while pos < len(order):
        n = rng.randint(1, 12)
        rng.choice((a, b)).feed(*order[pos:pos + n])
        pos += n
    for dev, evs in streams.items():
        top = evs[-1].seq
        assert a.store.seqs(dev) == list(range(1, top + 1))
        acks = sorted(a.acks(dev) + b.acks(dev))
        assert acks[-1] == top
        assert len(acks) == len(set(acks)), "an ack value was sent twice"
        assert len(a.store.witnesses(dev)) == sum(1 for e in evs if e.type == "checkpoint")
    n = a.store.sql.execute("SELECT COUNT(*) FROM pending").fetchone()[0]
    assert n == 0
    assert a.store.rejects() == {}


def test_pending_is_bounded_per_device(two, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linkstore, "PENDING_LIMIT", 20)
    db, a, b = two
    evs = _dev1_events(tmp_path, a, b, 60)
    a.feed(*evs[1:])  # seq 1 lost: 59 early events, 20 kept
    assert a.store.sql.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 20
    assert a.store.rejects() == {"pending_full": 1}
    a.feed(evs[0])  # 1..21 link; the rest is re-sent by the device (never acked)
    assert a.store.seqs("dev1") == list(range(1, 22))
    assert a.acks() == [21]


def test_sweep_asks_for_a_gap_left_by_a_dead_worker(two, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_mod, "REPLAY_EVERY_S", 0.2)
    monkeypatch.setattr(linkstore, "GAP_GRACE_S", 0.3)
    db, a, b = two
    evs = _dev1_events(tmp_path, a, b, 6)
    b.feed(evs[0], evs[2], evs[3])  # seq 2 is in the other worker's batch, or died with it
    a.col.sweep()
    assert b.acks() == [1] and b.replays() == [] and a.replays() == []  # not yet: a gap of a moment
    time.sleep(0.35)
    b.feed(evs[5])  # the gap has lasted: asked at once
    assert b.replays() == [2]
    time.sleep(0.25)
    a.col.sweep()
    b.col.sweep()  # one of the two asks
    assert a.replays() + b.replays() == [2, 2]
    a.feed(evs[1])
    assert a.store.seqs("dev1") == [1, 2, 3, 4]
    assert a.acks() == [4]
    a.feed(evs[4])
    assert a.store.seqs("dev1") == [1, 2, 3, 4, 5, 6] and a.acks() == [4, 6]


def test_no_replay_asked_while_another_worker_has_a_backlog(two, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The missing predecessor is most likely queued at a worker that lags: asking the device
    to replay it then only adds load. A gap counts once it outlasts the grace plus the
    largest lag a live collector reported; when that worker catches up, it counts again."""
    monkeypatch.setattr(replay_mod, "REPLAY_EVERY_S", 0.0)
    monkeypatch.setattr(linkstore, "GAP_GRACE_S", 0.2)
    monkeypatch.setattr(linkstore, "LAG_CACHE_S", 0.0)
    db, a, b = two
    evs = _dev1_events(tmp_path, a, b, 4)
    links = a.col.links
    links.register("A", "shared")
    links.register("B", "shared")
    links.heartbeat("A", lag_ms=60_000)  # worker A's oldest queued message waited a minute
    b.feed(evs[0], evs[2])
    time.sleep(0.3)
    b.col.sweep()
    b.feed(evs[3])
    assert b.acks() == [1] and b.replays() == []  # past the grace, not past A's lag
    links.heartbeat("A", lag_ms=0)  # A caught up and seq 2 never came: a real gap
    b.col.sweep()
    assert b.replays() == [2]
    a.feed(evs[1])
    assert a.store.seqs("dev1") == [1, 2, 3, 4] and a.acks() == [4]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_in_memory_linking_never_runs_next_to_another_collector(backend: str, request, tmp_path: Path) -> None:
    db = tmp_path / "hub.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    HubStore(db).close()
    s1, s2 = LinkStore(open_sql(db)), LinkStore(open_sql(db))
    s1.register("hub@a", "memory")
    with pytest.raises(CollectorConflict, match="restart that hub with `camaudit hub --shared`"):
        s2.register("w1", "shared")
    assert s2.linking_mode() == "memory"
    s1.unregister("hub@a")
    s2.register("w1", "shared")
    assert s1.linking_mode() == "shared"
    with pytest.raises(CollectorConflict, match="in-memory linking cannot run next to another collector"):
        s1.register("hub@a", "memory")
    s1.register("w2", "shared")  # workers run side by side
    assert s1.live_collectors() == [("w1", "shared"), ("w2", "shared")]
    # a collector that died without unregistering is forgotten once its pid is gone
    s2.sql.execute("UPDATE collectors SET pid = ? WHERE id = 'w1'", (_dead_pid(),))
    s2.unregister("w2")
    s1.register("hub@a", "memory")
    s1.sql.close()
    s2.sql.close()


def _dead_pid() -> int:
    import subprocess

    p = subprocess.Popen(["true"])
    p.wait()
    assert not os.path.exists(f"/proc/{p.pid}")
    return p.pid


def test_a_worker_name_is_never_a_device_and_back(tmp_path: Path) -> None:
    """A device enrolled under a worker's name would get the worker's ACL rights (read every
    device's stream, write acks), and a worker named like a device would get its rights."""
    from click.testing import CliRunner

    from camaudit.hub.commands.cli import hub_cmd

    d = str(tmp_path / "hub")
    key = DeviceKey.generate().public_hex
    r = CliRunner().invoke(hub_cmd, ["--data-dir", d, "add-worker", "w1"])
    assert r.exit_code == 0, r.output
    acl = (tmp_path / "hub" / "broker" / "acl").read_text()
    assert "user w1\ntopic read camaudit/+/events\n" in acl and "topic write camaudit/+/ack" in acl
    r = CliRunner().invoke(hub_cmd, ["--data-dir", d, "enroll", "w1", key])
    assert r.exit_code != 0 and "is a hub worker's MQTT user" in str(r.exception)
    r = CliRunner().invoke(hub_cmd, ["--data-dir", d, "enroll", "cam-1", key])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(hub_cmd, ["--data-dir", d, "add-worker", "cam-1"])
    assert r.exit_code != 0 and "is an enrolled device" in str(r.exception)
    r = CliRunner().invoke(hub_cmd, ["--data-dir", d, "add-worker", "hub"])
    assert r.exit_code != 0 and "hub's own MQTT users" in str(r.exception)
    assert "cam-1" not in (tmp_path / "hub" / "broker" / "workers").read_text()


def test_workers_flag_a_record_dated_back_beyond_the_tolerance(two, tmp_path: Path) -> None:
    """Issue 20 low c, on the shared-store path: a record dated an hour before the one it
    follows, linked from the pending table by another worker, is stored and flagged."""
    db, a, b = two
    j = Journal.open(tmp_path / "j" / "journal.db", "dev1", checkpoint_every=1000)
    a.enroll("dev1", j.public_key.hex(), b)
    e1 = j.append("capture.end", "counter", {"capture": "c-1", "verdict": "consented"}, NOW)
    e2 = j.append("capture.end", "counter", {"capture": "c-2", "verdict": "consented"}, NOW - 3_600_000)
    j.close()
    b.feed(e2)  # parked: its predecessor is not stored yet
    a.feed(e1)
    a.feed(e2)
    assert a.store.seqs("dev1") == [1, 2]
    assert [(r["seq"], r["back_ms"]) for r in a.store.clock_backwards("dev1")] == [(2, 3_600_000)]
