"""The hub store on SQLite and on a real PostgreSQL: migrations (old hub.db kept), several
writers at once, a lost server connection, hostile device strings, clear one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest
from pgserver import PgServer

from camaudit.core.record import GENESIS_PREV, Event, seal
from camaudit.hub.evidence.pack import export_hub_pack
from camaudit.hub.store.hub_store import SCHEMA_VERSION, HubError, HubStore
from camaudit.hub.store.sql import open_sql
from camaudit.store.keys import DeviceKey, load_or_create_key
from camaudit.store.pack_verify import verify_pack

T0 = 1795651200000

# The DDL main's SQLite-only hub (sqlite-utils) wrote, as read back from its sqlite_master.
OLD_DDL = [
    'CREATE TABLE "devices" (\n   "device" TEXT PRIMARY KEY,\n   "public_key" TEXT,\n   "how" TEXT,\n'
    '   "enrolled_ms" INTEGER\n)',
    'CREATE TABLE "heads" (\n   "device" TEXT PRIMARY KEY,\n   "seq" INTEGER DEFAULT 0,\n   "hash" TEXT,\n'
    '   "max_seen" INTEGER DEFAULT 0,\n   "last_seen_ms" INTEGER,\n   "online" INTEGER DEFAULT 0,\n'
    '   "duplicates" INTEGER DEFAULT 0\n)',
    'CREATE TABLE "events" (\n   "device" TEXT,\n   "seq" INTEGER,\n   "ts" INTEGER,\n   "type" TEXT,\n'
    '   "feed" TEXT,\n   "capture" TEXT,\n   "verdict" TEXT,\n   "reasons" TEXT,\n   "hash" TEXT,\n'
    '   "received_ms" INTEGER,\n   "json" TEXT,\n   PRIMARY KEY ("device", "seq")\n)',
    'CREATE INDEX "idx_events_type_ts"\n    ON "events" ("type", "ts")',
    'CREATE INDEX "idx_events_device_ts"\n    ON "events" ("device", "ts")',
    'CREATE TABLE "rejects" (\n   "reason" TEXT PRIMARY KEY,\n   "count" INTEGER,\n   "last_ms" INTEGER,\n'
    '   "last_detail" TEXT\n)',
    'CREATE TABLE "witness" (\n   "device" TEXT,\n   "seq" INTEGER,\n   "cp_seq" INTEGER,\n   "cp_hash" TEXT,\n'
    '   "ts" INTEGER,\n   "hub_key" TEXT,\n   "hub_sig" TEXT,\n   PRIMARY KEY ("device", "seq")\n)',
    'CREATE TABLE "meta" (\n   "key" TEXT PRIMARY KEY,\n   "value" TEXT\n)',
    'CREATE TABLE "bases" (\n   "device" TEXT PRIMARY KEY,\n   "after_seq" INTEGER,\n   "after_hash" TEXT,\n'
    '   "set_ms" INTEGER\n)',
    'CREATE TABLE "quarantine" (\n   "device" TEXT,\n   "seq" INTEGER,\n   "hash" TEXT,\n   "prev" TEXT,\n'
    '   "ts" INTEGER,\n   "type" TEXT,\n   "received_ms" INTEGER,\n   "json" TEXT,\n   "why" TEXT,\n'
    '   PRIMARY KEY ("device", "seq", "hash")\n)',
    'CREATE TABLE "fork_state" (\n   "device" TEXT PRIMARY KEY,\n   "fork_seq" INTEGER,\n   "detected_ms" INTEGER,\n'
    '   "copies" INTEGER,\n   "resolved_ms" INTEGER,\n   "resolution" TEXT\n)',
]


def _chain(device: str, key: DeviceKey, bodies: list[tuple[str, str | None, dict]], ts0: int = T0) -> list[Event]:
    out, prev = [], GENESIS_PREV
    for i, (typ, feed, body) in enumerate(bodies, 1):
        ev = seal(device=device, seq=i, ts=ts0 + i * 1000, type=typ, feed=feed, body=body, prev=prev,
                  sign=key.sign)
        out.append(ev)
        prev = ev.hash
    return out


def _venue_events(device: str, key: DeviceKey) -> list[Event]:
    reg = {"notice": "entrance", "covers": ["counter"], "hours": {"mon": "08:00-18:00"}, "timezone": "Europe/Berlin"}
    return _chain(device, key, [
        ("device.online", None, {"feeds": ["counter", "door"], "timezone": "Europe/Berlin"}),
        ("notice.registered", None, reg),
        ("notice.restored", "door", {"notice": "entrance", "state": "VISIBLE", "covers": ["counter"], "why": "seen"}),
        ("capture.end", "counter", {"capture": "c-1", "verdict": "consented", "reasons": [], "basis": "notice:entrance"}),
        ("notice.missing", "door", {"notice": "entrance", "state": "MISSING", "covers": ["counter"], "why": "gone"}),
        ("capture.end", "counter", {"capture": "c-2", "verdict": "unconsented", "reasons": ["notice_missing"]}),
        ("alert", "counter", {"text": "unconsented capture c-2", "capture": "c-2", "reasons": ["notice_missing"],
                              "ref_seq": 6}),
    ])


def _store_everything(store: HubStore, device: str, key: DeviceKey, events: list[Event]) -> None:
    store.enroll(device, key.public_hex)
    store.write_batch([(ev, ev.to_json().decode(), ev.ts) for ev in events],
                      {device: (events[-1].seq, events[-1].ts)}, {}, {}, [])


def _old_hub_db(path: Path, device: str, key: DeviceKey, events: list[Event]) -> None:
    """A hub.db as main's code left it: its DDL, its rows (no schema_version, no notice column)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    for ddl in OLD_DDL:
        conn.execute(ddl)
    conn.execute("INSERT INTO devices VALUES (?, ?, 'enroll', ?)", (device, key.public_hex, T0))
    last = events[-1]
    conn.execute("INSERT INTO heads VALUES (?, ?, ?, ?, ?, 1, 3)", (device, last.seq, last.hash, last.seq, T0))
    for ev in events:
        b = ev.body
        reasons = b.get("reasons")
        conn.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
            ev.device, ev.seq, ev.ts, ev.type, ev.feed, b.get("capture"), b.get("verdict"),
            ("," + ",".join(reasons) + ",") if isinstance(reasons, list) else None, ev.hash, ev.ts,
            ev.to_json().decode()))
    conn.execute("INSERT INTO rejects VALUES ('bad_signature', 4, ?, 'x')", (T0,))
    conn.execute("INSERT INTO meta VALUES ('hub_public_key', 'ab')")
    conn.commit()
    conn.close()


def test_a_hub_db_made_by_the_previous_code_opens_and_keeps_its_data(tmp_path: Path) -> None:
    key = DeviceKey.generate()
    events = _venue_events("cafe-01", key)
    db = tmp_path / "hub" / "hub.db"
    _old_hub_db(db, "cafe-01", key, events)
    store = HubStore(db)
    assert store.meta("schema_version") == str(SCHEMA_VERSION) and store.meta("hub_public_key") == "ab"
    assert store.seqs("cafe-01") == [1, 2, 3, 4, 5, 6, 7]
    assert store.rejects() == {"bad_signature": 4}
    [dev] = store.devices()
    assert (dev.head_seq, dev.duplicates, dev.online) == (7, 3, True)
    # the notice column was filled from the stored records: notice states and exports work
    [state] = store.notice_states("cafe-01")
    assert (state["notice"], state["state"], state["hours"]) == ("entrance", "MISSING", {"mon": "08:00-18:00"})
    assert [a["capture"] for a in store.alerts()] == ["c-2"]
    assert store.device_feeds("cafe-01") == {"counter", "door"} and store.timezone("cafe-01") == "Europe/Berlin"
    # new writes after the migration: the old rows and the new ones side by side
    more = _chain("cafe-01", key, [("capture.end", "door", {"capture": "c-3", "verdict": "consented"})])
    store.write_batch([(more[0], more[0].to_json().decode(), T0)], {}, {"cafe-01": 2}, {}, [])
    assert store.count_events("cafe-01") == 7  # seq 1 again: stored once
    assert store.devices()[0].duplicates == 5
    store.close()
    again = HubStore(db)  # idempotent: opening again changes nothing
    assert again.meta("schema_version") == str(SCHEMA_VERSION) and again.count_events() == 7
    again.close()
    hub_key = tmp_path / "hub" / "hub.key"
    load_or_create_key(hub_key)
    pack = tmp_path / "old.zip"
    export_hub_pack(db, hub_key, "cafe-01", pack, since_ms=events[3].ts, now_ms=T0)
    assert verify_pack(pack, public_key=key.public_bytes).last_seq == 7


def test_a_store_from_a_newer_camaudit_is_refused_with_one_line(hub_db: str) -> None:
    HubStore(hub_db).close()
    sql = open_sql(hub_db)
    sql.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    sql.close()
    with pytest.raises(HubError) as err:
        HubStore(hub_db)
    assert "schema version 99 is newer" in str(err.value) and len(str(err.value).splitlines()) == 1


def _open_many(target: str, n: int) -> list[BaseException]:
    errors: list[BaseException] = []
    go = threading.Barrier(n)

    def one() -> None:
        try:
            go.wait(10)
            HubStore(target).close()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_several_processes_opening_a_new_store_at_once_migrate_it_once(hub_db: str) -> None:
    """Hub workers started together: the schema is created once, no open fails."""
    code = ("import sys; from camaudit.hub.store.hub_store import HubStore; "
            "s = HubStore(sys.argv[1]); s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, hub_db], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert _open_many(hub_db, 4) == []
    store = HubStore(hub_db)
    assert store.meta("schema_version") == str(SCHEMA_VERSION) and store.count_events() == 0
    store.close()


def test_two_writers_storing_the_same_events_store_each_once(hub_db: str) -> None:
    """Two hub workers (each its own store connection) write overlapping batches of the same
    devices at once: every (device, seq) once, heads at the top, counters the sum."""
    keys = {f"dev{i}": DeviceKey.generate() for i in range(3)}
    chains = {d: _chain(d, k, [("capture.end", "counter", {"capture": f"c-{s}", "verdict": "consented"})
                               for s in range(120)]) for d, k in keys.items()}
    setup = HubStore(hub_db)
    for d, k in keys.items():
        setup.enroll(d, k.public_hex)
    setup.close()
    errors: list[BaseException] = []
    go = threading.Barrier(2)

    def worker(order: int) -> None:
        store = HubStore(hub_db)
        try:
            go.wait(10)
            for start in range(0, 120, 20):
                batch = []
                for d in (sorted(chains) if order == 0 else sorted(chains, reverse=True)):
                    # overlapping windows: worker 1 re-sends half of what worker 0 sends
                    lo = start if order == 0 else max(0, start - 10)
                    batch += [(ev, ev.to_json().decode(), T0) for ev in chains[d][lo:start + 20]]
                seen = {d: (start + 20, T0 + start) for d in chains}
                store.write_batch(batch, seen, {d: 1 for d in chains}, {"bad_signature": (1, "x")}, [])
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    check = HubStore(hub_db)
    for d, chain in chains.items():
        assert check.seqs(d) == list(range(1, 121))
        assert check.hash_at(d, 120) == chain[-1].hash
    rows = {r.device: r for r in check.devices()}
    assert all((r.head_seq, r.max_seen, r.duplicates) == (120, 120, 12) for r in rows.values())
    assert check.head_event("dev0") == chains["dev0"][-1]
    assert check.rejects() == {"bad_signature": 12}
    check.close()


def test_a_head_never_moves_back(hub_db: str) -> None:
    key = DeviceKey.generate()
    chain = _chain("d", key, [("capture.end", "counter", {"capture": str(i)}) for i in range(5)])
    store = HubStore(hub_db)
    store.enroll("d", key.public_hex)
    store.write_batch([(ev, ev.to_json().decode(), T0) for ev in chain], {"d": (5, T0 + 5)}, {}, {}, [])
    store.write_batch([(chain[1], chain[1].to_json().decode(), T0)], {"d": (2, T0 + 1)}, {}, {}, [])
    [row] = store.devices()
    assert (row.head_seq, row.max_seen, row.last_seen_ms) == (5, 5, T0 + 5)
    store.close()


def test_device_strings_postgresql_text_cannot_hold_are_stored_and_shown(hub_db: str) -> None:
    """A device signs a NUL into a capture id, a feed and a notice id (PostgreSQL TEXT cannot
    hold NUL; jsonb refuses \\u0000): stored, its JSON verbatim, pages still work."""
    key = DeviceKey.generate()
    events = _chain("d", key, [
        ("capture.end", "cou\x00nter", {"capture": "c\x00", "verdict": "unconsented", "reasons": ["a\x00"]}),
        ("notice.missing", "door", {"notice": "en\x00trance", "state": "MISSING", "why": "\x00"}),
        ("notice.registered", None, {"notice": "x", "covers": ["\x00"], "hours": {"mon": "\x00"}}),
        ("alert", "counter", {"text": "\x00", "capture": "c\x00", "reasons": []}),
    ])
    store = HubStore(hub_db)
    _store_everything(store, "d", key, events)
    assert store.seqs("d") == [1, 2, 3, 4]
    assert store.head_event("d") == events[-1]
    assert [c["capture"] for c in store.captures()] == ["c\x00"]  # from the signed JSON
    assert store.captures(feed="cou\ufffdnter")[0]["reasons"] == ["a\x00"]
    assert {n["notice"] for n in store.notice_states()} == {"en\x00trance"}
    assert store.alerts()[0]["text"] == "\x00"
    assert store.hourly() == [("cou\ufffdnter", (events[0].ts // 3_600_000) * 3_600_000, "unconsented", 1)]
    store.close()


def test_postgresql_restart_does_not_wedge_the_store() -> None:
    """The server restarts under a store in use (fast shutdown cuts every connection): the
    next calls reconnect and nothing stored is lost."""
    server = PgServer(Path(tempfile.mkdtemp(prefix="camaudit-pg-restart-")))
    try:
        url = server.new_database()
        key = DeviceKey.generate()
        chain = _chain("d", key, [("capture.end", "counter", {"capture": str(i)}) for i in range(6)])
        store = HubStore(url)
        store.enroll("d", key.public_hex)
        store.write_batch([(ev, ev.to_json().decode(), T0) for ev in chain[:3]], {}, {}, {}, [])
        server.restart()
        assert store.seqs("d") == [1, 2, 3]  # a read reconnects at once
        server.restart()
        store.write_batch([(ev, ev.to_json().decode(), T0) for ev in chain[3:]], {}, {}, {}, [])  # so does a write
        assert store.seqs("d") == [1, 2, 3, 4, 5, 6] and store.devices()[0].head_seq == 6
        server.stop()
        with pytest.raises(HubError) as err:  # the server is gone: one clear line, no wedge
            store.count_events()
        assert str(err.value).startswith("hub store postgresql://") and len(str(err.value).splitlines()) == 1
        server.restart()  # starts it again (same options, same port)
        assert store.count_events() == 6
        store.close()
    finally:
        server.stop()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "camaudit.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def test_bad_or_unreachable_store_url_is_one_line_without_the_password(tmp_path: Path) -> None:
    for args, env in (
        (["hub", "--db", "postgresql://u:hunter2@127.0.0.1:1/x", "forks"], None),
        (["hub", "forks", "--db", "postgresql://u:hunter2@127.0.0.1:1/x"], None),
        (["hub", "forks"], {"CAMAUDIT_HUB_DB": "postgresql://u:hunter2@127.0.0.1:1/x"}),
        (["hub", "--data-dir", str(tmp_path / "h"), "--broker", "mqtt://127.0.0.1:1",
          "--db", "postgresql://u:hunter2@127.0.0.1:1/x"], None),  # the hub itself
    ):
        r = _cli(*args, env=env)
        assert r.returncode != 0 and "hunter2" not in r.stderr + r.stdout, r.stderr
        [line] = r.stderr.strip().splitlines()
        assert line.startswith("camaudit: error: hub store postgresql://u:***@127.0.0.1:1/x"), line
    r = _cli("hub", "--db", "mysql://u:hunter2@h/x", "forks")
    assert r.returncode == 2 and "hunter2" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "mysql:// is not a hub store" in r.stderr
    r = _cli("hub", "--db", "postgresql://u:hunter2@h:99999999/x", "forks")
    assert r.returncode == 2 and "hunter2" not in r.stderr and "bad PostgreSQL URL" in r.stderr


def test_hub_subcommands_take_the_store_url(pg_url: str, tmp_path: Path) -> None:
    """enroll / forks / resolve-fork / export by --db or CAMAUDIT_HUB_DB against PostgreSQL."""
    key = DeviceKey.generate()
    data = tmp_path / "hub"
    hub_key = load_or_create_key(data / "hub.key")
    r = _cli("hub", "--data-dir", str(data), "--broker", "mqtt://127.0.0.1:1", "enroll", "cafe-01",
             key.public_hex, "--db", pg_url)
    assert r.returncode == 0 and f"enrolled cafe-01 in {pg_url}" in r.stdout, r.stderr
    assert not (data / "hub.db").exists()
    store = HubStore(pg_url)
    events = _venue_events("cafe-01", key)
    store.write_batch([(ev, ev.to_json().decode(), T0) for ev in events], {}, {}, {}, [])
    other = _chain("cafe-01", key, [*[(e.type, e.feed, dict(e.body)) for e in events[:6]],
                                    ("capture.end", "door", {"capture": "clone"})])
    store.write_batch([], {}, {}, {}, [], [(other[6], other[6].to_json().decode(), T0, "differs")])
    store.close()
    env = {"CAMAUDIT_HUB_DB": pg_url}
    r = _cli("hub", "--data-dir", str(data), "forks", env=env)
    assert r.returncode == 0 and "cafe-01: fork from seq 7" in r.stdout, r.stderr
    r = _cli("hub", "--data-dir", str(data), "resolve-fork", "cafe-01", "--keep", "stored", env=env)
    assert r.returncode == 0 and "fork resolved" in r.stdout, r.stderr
    assert "no open forks" in _cli("hub", "--data-dir", str(data), "forks", env=env).stdout
    pack = tmp_path / "pg.zip"
    r = _cli("hub", "--data-dir", str(data), "export", "cafe-01", "--out", str(pack), "--db", pg_url)
    assert r.returncode == 0, r.stderr
    res = verify_pack(pack, public_key=key.public_bytes, hub_key=bytes.fromhex(hub_key.public_hex))
    assert res.signed_by == "hub" and res.proven and res.last_seq == 7
    r = _cli("hub", "--data-dir", str(data), "export", "cafe-01", "--out", str(tmp_path / "k.zip"),
             "--feed", "kitchen", env=env)
    assert r.returncode == 2 and r.stderr.strip().endswith("known feeds: counter, door")


def test_export_reads_a_postgresql_store_through_the_same_code(pg_url: str, tmp_path: Path) -> None:
    key = DeviceKey.generate()
    events = _venue_events("cafe-01", key)
    store = HubStore(pg_url)
    _store_everything(store, "cafe-01", key, events)
    hub_key = tmp_path / "hub.key"
    load_or_create_key(hub_key)
    pack = tmp_path / "p.zip"
    # a span starting after the notice's registration reaches back to it (seq 2)
    summary = export_hub_pack(store, hub_key, "cafe-01", pack, since_ms=events[3].ts, now_ms=T0)
    assert verify_pack(pack, public_key=key.public_bytes).signed_by == "hub"
    with zipfile.ZipFile(pack) as z:
        seqs = [json.loads(line)["seq"] for line in z.read("events.jsonl").decode().splitlines()]
    assert seqs == [2, 3, 4, 5, 6, 7], summary
    store.close()


def test_pg_tables_use_bigint_for_times_and_seqs(pg_url: str) -> None:
    HubStore(pg_url).close()
    sql = open_sql(pg_url)
    small = sql.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND data_type = 'integer' AND column_name <> 'online'").fetchall()
    assert small == []
    sql.close()


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_a_running_hub_rides_out_a_postgresql_restart(make_hub, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Real device -> mosquitto -> hub -> PostgreSQL; the server restarts mid-stream: the
    hub keeps storing, every event once, and the device's outbox drains (acks resume)."""
    from brokers import wait_for

    from camaudit.mqtt.publisher import Publisher
    from camaudit.store.journal import Journal

    server = PgServer(Path(tempfile.mkdtemp(prefix="camaudit-pg-hub-")))
    try:
        hub = make_hub(db=server.new_database())
        journal = Journal.open(tmp_path / "dev" / "journal.db", "dev1", checkpoint_every=1000)
        hub.enroll("dev1", journal.public_key.hex())
        cfg = hub.device_mqtt("dev1").model_copy(update={"ack_timeout_s": 1.0})
        pub = Publisher(cfg, journal, feeds=["counter"])
        pub.start()
        try:
            def send(n: int) -> None:
                for _ in range(n):
                    journal.append("capture.end", "counter", {"capture": "c", "verdict": "consented"}, T0)
                pub.notify()

            send(20)
            wait_for(lambda: hub.store.count_events("dev1") == 20, what="first 20 stored")
            server.restart()
            send(20)
            time.sleep(0.5)
            server.restart()
            send(20)
            wait_for(lambda: journal.outbox_size() == 0, timeout=60, what="every event acked after the restarts")
            assert hub.store.seqs("dev1") == list(range(1, 61))
            assert hub.store.devices()[0].head_seq == 60
            assert "connection lost; reconnecting" in caplog.text  # it did meet the restarts
        finally:
            pub.stop()
            journal.close()
            hub.stop()
    finally:
        server.stop()


def test_hub_config_file_names_the_store(tmp_path: Path) -> None:
    from camaudit.config.hub import load_hub_config
    from camaudit.errors import ConfigError

    f = tmp_path / "hub.yaml"
    f.write_text("hub:\n  data_dir: /srv/hub\n  db: postgresql://hub@db.example/camaudit\n")
    c = load_hub_config(f)
    assert c.db_target == "postgresql://hub@db.example/camaudit" and c.db_is_url
    with pytest.raises(ConfigError):
        _ = c.db_path  # not a file: callers that need one say so
    f.write_text("hub:\n  db: /srv/other.db\n")
    assert load_hub_config(f).db_target == Path("/srv/other.db")
    f.write_text("hub:\n  db: 'mysql://hub:hunter2@db/x'\n")
    with pytest.raises(ConfigError) as err:
        load_hub_config(f)
    assert "hunter2" not in str(err.value) and "hub.yaml" in str(err.value)


@pytest.mark.parametrize("url", [
    "postgresql://hub:s3cr@t/pw@db.example:5432/camaudit",
    "postgresql://hub:s3cr@t@db.example/camaudit?sslmode=require",
    "postgresql://hub@db.example/camaudit?sslmode=require&password=s3cr@t",
    "postgres://hub:s3cr@t@[::1]:5432/x",
])
def test_redact_hides_any_password(url: str) -> None:
    from camaudit.hub.store.sql import redact

    shown = redact(url)
    assert "s3cr" not in shown and "***" in shown and shown.startswith(url.split("://")[0] + "://hub")


def test_a_batch_rolled_back_by_a_deadlock_is_written_again_once(pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Another writer locks two heads in the opposite order to a batch: PostgreSQL aborts
    one of the two; the batch is written again, and its counters count once."""
    import psycopg

    keys = {d: DeviceKey.generate() for d in ("d0", "d1")}
    chains = {d: _chain(d, k, [("capture.end", "counter", {"capture": "c"})] * 3) for d, k in keys.items()}
    store = HubStore(pg_url)
    for d, k in keys.items():
        store.enroll(d, k.public_hex)
    other = psycopg.connect(pg_url, autocommit=False)
    other.execute("UPDATE heads SET online = 1 WHERE device = 'd1'")  # holds d1
    errors: list[BaseException] = []

    def batch() -> None:
        try:  # locks d0, then waits for d1
            store.write_batch([(ev, ev.to_json().decode(), T0) for d in ("d0", "d1") for ev in chains[d]],
                              {}, {"d0": 1, "d1": 1}, {"fork": (1, "x")}, [])
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    t = threading.Thread(target=batch)
    t.start()
    with psycopg.connect(pg_url, autocommit=True) as watch:  # until the batch holds d0 and waits for d1
        deadline = time.monotonic() + 20
        while not watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                "AND datname = current_database()").fetchone()[0]:
            assert time.monotonic() < deadline, "the batch never waited for d1"
            time.sleep(0.02)
    # this side waits for d0: a cycle. The batch waited first, so its deadlock check (after
    # deadlock_timeout, 1 s) runs first and PostgreSQL rolls the batch back.
    other.execute("UPDATE heads SET online = 1 WHERE device = 'd0'")
    other.commit()
    t.join(30)
    other.close()
    assert errors == []
    assert "deadlock detected (attempt 1 of 3: rolled back, writing again)" in caplog.text
    rows = {r.device: r for r in store.devices()}
    assert {d: (r.head_seq, r.duplicates) for d, r in rows.items()} == {"d0": (3, 1), "d1": (3, 1)}
    assert store.rejects() == {"fork": 1} and store.count_events() == 6
    store.close()
