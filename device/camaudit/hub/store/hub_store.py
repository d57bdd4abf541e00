"""The hub's store: enrolled devices, verified events, rejects, witnesses, forks.

One schema, written once (camaudit.hub.store.sql), on SQLite (default: a file, `hub.db`) or
PostgreSQL (`postgresql://` URL, several hub processes at once). Events are stored with
PRIMARY KEY (device, seq): a re-sent event can never be stored twice, whichever worker
receives it. Only events that passed every check are written here; rejected messages are
only counted (by reason) in `rejects`. The schema is versioned (meta `schema_version`) and
migrated at open, under the write lock (SQLite) or an advisory lock (PostgreSQL), so several
processes may open one store at once. Writers from several processes stay correct: heads
only move forward (`WHERE seq < ?`), counters add, and rows are locked in one order
(devices sorted) so two workers' batches cannot deadlock. No query parses JSON: what the
queries need of an event body (capture, verdict, reasons, notice) is a column filled at
write time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camaudit.core.record import GENESIS_PREV, Event
from camaudit.errors import CamauditError
from camaudit.hub.store.sql import Sql, SqlError, open_sql

log = logging.getLogger(__name__)


class HubError(CamauditError):
    """The hub cannot run (store unusable, bad enrollment, broker failure)."""


@dataclass(frozen=True)
class DeviceRow:
    device: str
    public_key: str
    how: str
    enrolled_ms: int
    head_seq: int
    max_seen: int
    last_seen_ms: int | None
    online: bool
    duplicates: int

    @property
    def lag(self) -> int:
        return max(0, self.max_seen - self.head_seq)


def check_base(device: str, after_seq: int, after_hash: str) -> None:
    """A chain base (see HubStore.set_base) that can be right: seq >= 1, a 64-hex hash."""
    if after_seq < 1:
        raise HubError(f"enroll {device}: --after seq must be >= 1, got {after_seq}")
    if len(after_hash) != 64 or any(ch not in "0123456789abcdef" for ch in after_hash):
        raise HubError(f"enroll {device}: --after hash must be 64 hex digits")


def _now_ms() -> int:
    return int(time.time() * 1000)


def is_url(target: Path | str) -> bool:
    """A PostgreSQL URL (anything else names a SQLite file)."""
    return str(target).startswith(("postgresql://", "postgres://"))


def _text(value: Any) -> str:
    """A stored JSON column as text (old stores may hold bytes)."""
    return bytes(value).decode() if isinstance(value, bytes | bytearray | memoryview) else str(value)


def _col(value: Any) -> str | None:
    """A device-sent string for an index column: PostgreSQL TEXT cannot hold NUL, so both
    backends store U+FFFD for it (the event's JSON keeps what the device signed)."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else None


def _notice_key(body: Mapping[str, Any]) -> str | None:
    v = body.get("notice")
    if v is None:
        return None
    return _col(v if isinstance(v, str) else json.dumps(v, sort_keys=True))


# ---- schema ----------------------------------------------------------------------------
# Version 1 is the schema of the SQLite-only hub (its sqlite-utils tables, same names and
# columns): a hub.db made before versioning opens as version 0 and keeps its data.
SCHEMA_VERSION = 3
WRITE_ATTEMPTS = 3  # a batch rolled back by a conflict with another writer is written again
_ADVISORY_KEY = 0x63616D61  # "cama": PostgreSQL advisory lock held while migrating


def _schema_v1(i: str) -> list[str]:
    """`i`: the integer type of ms timestamps, seqs and counters (BIGINT on PostgreSQL)."""
    return [
        f"CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, public_key TEXT, how TEXT, "
        f"enrolled_ms {i})",
        f"CREATE TABLE IF NOT EXISTS heads (device TEXT PRIMARY KEY, seq {i} DEFAULT 0, hash TEXT, "
        f"max_seen {i} DEFAULT 0, last_seen_ms {i}, online INTEGER DEFAULT 0, duplicates {i} DEFAULT 0)",
        f"CREATE TABLE IF NOT EXISTS events (device TEXT, seq {i}, ts {i}, type TEXT, feed TEXT, "
        f"capture TEXT, verdict TEXT, reasons TEXT, hash TEXT, received_ms {i}, json TEXT, "
        "PRIMARY KEY (device, seq))",
        "CREATE INDEX IF NOT EXISTS idx_events_type_ts ON events (type, ts)",
        "CREATE INDEX IF NOT EXISTS idx_events_device_ts ON events (device, ts)",
        f"CREATE TABLE IF NOT EXISTS rejects (reason TEXT PRIMARY KEY, count {i}, last_ms {i}, "
        "last_detail TEXT)",
        f"CREATE TABLE IF NOT EXISTS witness (device TEXT, seq {i}, cp_seq {i}, cp_hash TEXT, ts {i}, "
        "hub_key TEXT, hub_sig TEXT, PRIMARY KEY (device, seq))",
        # Where the hub's copy of a device's chain starts when the device had pruned its
        # journal before this hub got it (`hub enroll --after SEQ:HASH`): seqs 1..after_seq
        # are not on the hub and never will be.
        f"CREATE TABLE IF NOT EXISTS bases (device TEXT PRIMARY KEY, after_seq {i}, after_hash TEXT, "
        f"set_ms {i})",
        # Forks: validly signed records of a device that disagree with the chain the hub
        # holds (same seq, other hash; or a prev that is not the stored hash). Every version
        # is kept here as received (the stored one stays in `events`); `fork_state` holds one
        # open fork per device: the hub sends that device no acks until it is resolved.
        f"CREATE TABLE IF NOT EXISTS quarantine (device TEXT, seq {i}, hash TEXT, prev TEXT, ts {i}, "
        f"type TEXT, received_ms {i}, json TEXT, why TEXT, PRIMARY KEY (device, seq, hash))",
        f"CREATE TABLE IF NOT EXISTS fork_state (device TEXT PRIMARY KEY, fork_seq {i}, detected_ms {i}, "
        f"copies {i}, resolved_ms {i}, resolution TEXT)",
    ]


def _schema_v2(sql: Sql) -> None:
    """The notice id of notice.* events as a column (the queries no longer parse JSON)."""
    sql.execute("ALTER TABLE events ADD COLUMN notice TEXT")
    rows = sql.execute("SELECT device, seq, json FROM events WHERE type LIKE 'notice.%'").fetchall()
    fill = []
    for dev, seq, text in rows:
        try:
            body = json.loads(_text(text)).get("body")
        except (ValueError, AttributeError):
            continue
        if isinstance(body, dict):
            fill.append((_notice_key(body), dev, seq))
    if fill:
        sql.executemany("UPDATE events SET notice = ? WHERE device = ? AND seq = ?", fill)
    sql.execute("CREATE INDEX IF NOT EXISTS idx_events_device_notice ON events (device, notice)")


def _schema_v3(i: str, blob: str) -> list[str]:
    """Several collectors on one store (hub/ingest/linkstore.py: events waiting for a predecessor,
    replay claims, the collectors' registry with their lag) and the evidence frames devices
    send (hub/evidence/inbox.py)."""
    return [
        f"CREATE TABLE IF NOT EXISTS pending (device TEXT NOT NULL, seq {i} NOT NULL, "
        f"hash TEXT NOT NULL, prev TEXT NOT NULL, json TEXT NOT NULL, received_ms {i} NOT NULL, "
        f"pending_ms {i} NOT NULL, PRIMARY KEY (device, seq))",
        f"CREATE TABLE IF NOT EXISTS link_claims (device TEXT PRIMARY KEY, replay_ms {i} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS collectors (id TEXT PRIMARY KEY, mode TEXT NOT NULL, "
        f"pid {i}, host TEXT, started_ms {i} NOT NULL, beat_ms {i} NOT NULL, lag_ms {i} NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS evidence_frames (device TEXT NOT NULL, sha TEXT NOT NULL, "
        f"capture TEXT NOT NULL, seq {i} NOT NULL, feed TEXT, width {i} NOT NULL, "
        f"height {i} NOT NULL, bytes {i} NOT NULL, received_ms {i} NOT NULL, "
        f"data {blob} NOT NULL, PRIMARY KEY (device, sha))",
        "CREATE INDEX IF NOT EXISTS evidence_frames_capture ON evidence_frames (device, capture)",
    ]


def migrate(sql: Sql) -> int:
    """Bring the store to SCHEMA_VERSION (idempotent; one process at a time). Returns the
    version found."""
    with sql.transaction():
        if sql.dialect == "postgresql":
            sql.execute("SELECT pg_advisory_xact_lock(?)", (_ADVISORY_KEY,))
        sql.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = sql.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise SqlError(f"hub store {sql.where}: schema version {found} is newer than this camaudit "
                           f"({SCHEMA_VERSION}): upgrade camaudit")
        if found < 1:
            for stmt in _schema_v1(sql.bigint):
                sql.execute(stmt)
        if found < 2:
            _schema_v2(sql)
        if found < 3:
            for stmt in _schema_v3(sql.bigint, sql.blob):
                sql.execute(stmt)
        if found < SCHEMA_VERSION:
            sql.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) "
                        "DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
            log.info("hub store %s: schema migrated from version %d to %d", sql.where, found, SCHEMA_VERSION)
    return found


class HubStore:
    """A store shared by the threads of one process (its connection takes one lock per
    call); other processes open their own."""

    def __init__(self, target: Path | str, *, must_exist: bool = False) -> None:
        """`target`: a SQLite file or a `postgresql://` URL. `must_exist`: a SQLite file
        that is not there is an error (readers: export, subject check) instead of a new store."""
        self.path: Path | None = None if is_url(target) else Path(target)
        if must_exist and self.path is not None and not self.path.is_file():
            raise HubError(f"no hub store at {self.path}")
        try:
            self.sql = open_sql(target)
        except SqlError as exc:
            raise HubError(str(exc)) from None
        self.where = self.sql.where
        try:
            migrate(self.sql)
        except SqlError as exc:
            self.sql.close()
            raise HubError(str(exc)) from None

    @contextlib.contextmanager
    def _db(self) -> Iterator[Sql]:
        """The connection, under its lock; a database failure becomes one HubError line."""
        with self.sql.lock:
            try:
                yield self.sql
            except SqlError as exc:
                raise HubError(str(exc)) from None

    def close(self) -> None:
        self.sql.close()

    # ---- enrollment -------------------------------------------------------------------
    def enroll(self, device: str, public_key_hex: str, how: str = "enroll") -> None:
        try:
            raw = bytes.fromhex(public_key_hex)
        except ValueError:
            raise HubError(f"enroll {device}: public key is not hex") from None
        if len(raw) != 32:
            raise HubError(f"enroll {device}: an Ed25519 public key is 32 bytes (64 hex digits)")
        if not device or len(device) > 64 or "/" in device or "+" in device or "#" in device \
                or "\x00" in device:
            raise HubError(f"enroll: bad device id {device!r}")
        with self._db() as c, c.transaction():
            c.execute("INSERT INTO devices (device, public_key, how, enrolled_ms) VALUES (?,?,?,?) "
                      "ON CONFLICT(device) DO NOTHING", (device, raw.hex(), how, _now_ms()))
            (stored,) = c.execute("SELECT public_key FROM devices WHERE device = ?", (device,)).fetchone()
            if stored != raw.hex():
                raise HubError(f"enroll {device}: already enrolled with another key; remove it first")
            c.execute("INSERT INTO heads (device, seq, hash, max_seen, online, duplicates) "
                      "VALUES (?, 0, ?, 0, 0, 0) ON CONFLICT(device) DO NOTHING", (device, GENESIS_PREV))
        log.info("device %s enrolled (%s)", device, how)

    def set_base(self, device: str, after_seq: int, after_hash: str) -> None:
        """Start the hub's copy of `device`'s chain after seq `after_seq`, whose hash is
        `after_hash` (the device's pruned point, shown by `camaudit device-key`). Refused if
        the hub already holds that seq or a later one: a base only ever moves forward, over
        seqs the device no longer has."""
        check_base(device, after_seq, after_hash)
        with self._db() as c, c.transaction():
            row = c.execute(
                "SELECT seq FROM heads WHERE device = ?" + (" FOR UPDATE" if c.dialect == "postgresql" else ""),
                (device,)).fetchone()
            if row is None:
                raise HubError(f"enroll {device}: not enrolled")
            if row[0] >= after_seq:
                raise HubError(f"enroll {device}: the hub already holds seq {row[0]} >= {after_seq}")
            c.execute(
                "INSERT INTO bases (device, after_seq, after_hash, set_ms) VALUES (?,?,?,?) "
                "ON CONFLICT(device) DO UPDATE SET after_seq = excluded.after_seq, "
                "after_hash = excluded.after_hash, set_ms = excluded.set_ms",
                (device, after_seq, after_hash, _now_ms()),
            )
            c.execute("UPDATE heads SET seq = ?, hash = ? WHERE device = ?", (after_seq, after_hash, device))
        log.warning("device %s: the hub's chain starts after seq %d (pruned on the device)",
                    device, after_seq)

    def base(self, device: str) -> tuple[int, str] | None:
        """(after_seq, after_hash) if the hub's chain of `device` starts past genesis."""
        with self._db() as c:
            row = c.execute("SELECT after_seq, after_hash FROM bases WHERE device = ?", (device,)).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def public_key(self, device: str) -> bytes | None:
        with self._db() as c:
            row = c.execute("SELECT public_key FROM devices WHERE device = ?", (device,)).fetchone()
        return bytes.fromhex(row[0]) if row else None

    def keys(self) -> dict[str, bytes]:
        with self._db() as c:
            rows = c.execute("SELECT device, public_key FROM devices").fetchall()
        return {d: bytes.fromhex(k) for d, k in rows}

    # ---- chain heads ------------------------------------------------------------------
    def head_event(self, device: str) -> Event | None:
        with self._db() as c:
            row = c.execute(
                "SELECT e.json FROM heads h JOIN events e ON e.device = h.device AND e.seq = h.seq "
                "WHERE h.device = ?",
                (device,),
            ).fetchone()
        return Event.from_json(_text(row[0])) if row else None

    def hash_at(self, device: str, seq: int) -> str | None:
        with self._db() as c:
            row = c.execute("SELECT hash FROM events WHERE device = ? AND seq = ?", (device, seq)).fetchone()
        return row[0] if row else None

    # ---- writing (collector thread) ------------------------------------------------------
    def write_batch(
        self,
        events: Iterable[tuple[Event, str, int]],
        seen: dict[str, tuple[int, int]],
        duplicates: dict[str, int],
        rejects: dict[str, tuple[int, str]],
        witnesses: Iterable[dict[str, Any]],
        quarantine: Iterable[tuple[Event, str, int, str]] = (),
    ) -> None:
        """One transaction: new verified events (event, json, received_ms), device activity
        (device -> (max seq seen, last seen ms)), duplicate counts, reject counts, witnesses,
        and forked records to quarantine (event, json, received_ms, why).

        Safe when several processes write the same events at once: an event already stored
        is skipped, a head only moves forward, seen/duplicates/rejects add up. Every table is
        written in key order so that two such transactions never wait on each other in a
        circle (PostgreSQL would abort one as a deadlock)."""
        heads: dict[str, tuple[int, str]] = {}
        rows = []
        for ev, text, received in events:
            body = ev.body
            reasons = body.get("reasons")
            rows.append((
                ev.device, ev.seq, ev.ts, _col(ev.type), _col(ev.feed), _col(body.get("capture")),
                _col(body.get("verdict")),
                _col("," + ",".join(str(r) for r in reasons) + ",") if isinstance(reasons, list) else None,
                ev.hash, received, text, _notice_key(body) if ev.type.startswith("notice.") else None,
            ))
            if ev.seq > heads.get(ev.device, (0, ""))[0]:
                heads[ev.device] = (ev.seq, ev.hash)
        rows.sort(key=lambda r: (r[0], r[1]))
        quarantined = sorted(quarantine, key=lambda q: (q[0].device, q[0].seq, q[0].hash))
        witnessed = sorted(witnesses, key=lambda w: (w["device"], w["seq"]))
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self.sql.lock, self.sql.transaction() as c:
                    self._write(c, rows, heads, seen, duplicates, rejects, witnessed, quarantined)
                return
            except SqlError as exc:
                if not exc.transient or attempt == WRITE_ATTEMPTS:
                    raise HubError(str(exc)) from None
                log.warning("%s (attempt %d of %d: rolled back, writing again)", exc, attempt, WRITE_ATTEMPTS)
                time.sleep(0.05 * attempt)

    @staticmethod
    def _write(
        c: Sql,
        rows: list[tuple[Any, ...]],
        heads: dict[str, tuple[int, str]],
        seen: dict[str, tuple[int, int]],
        duplicates: dict[str, int],
        rejects: dict[str, tuple[int, str]],
        witnessed: list[dict[str, Any]],
        quarantined: list[tuple[Event, str, int, str]],
    ) -> None:
        """write_batch's one transaction (see there)."""
        if rows:
            c.executemany(
                "INSERT INTO events (device, seq, ts, type, feed, capture, verdict, reasons, hash, "
                "received_ms, json, notice) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(device, seq) DO NOTHING",
                rows,
            )
        for dev in sorted({*heads, *seen, *duplicates}):
            seq, h = heads.get(dev, (-1, ""))
            max_seen, last = seen.get(dev, (0, -1))
            c.execute(
                "UPDATE heads SET seq = CASE WHEN seq < ? THEN ? ELSE seq END, "
                "hash = CASE WHEN seq < ? THEN ? ELSE hash END, "
                f"max_seen = {c.greatest('max_seen', '?')}, "
                f"last_seen_ms = CASE WHEN ? < 0 THEN last_seen_ms "
                f"ELSE {c.greatest('COALESCE(last_seen_ms, 0)', '?')} END, "
                "duplicates = duplicates + ? WHERE device = ?",
                (seq, seq, seq, h, max_seen, last, last, duplicates.get(dev, 0), dev),
            )
        now = _now_ms()
        for reason, (n, detail) in sorted(rejects.items()):
            c.execute(
                "INSERT INTO rejects (reason, count, last_ms, last_detail) VALUES (?,?,?,?) "
                "ON CONFLICT(reason) DO UPDATE SET count = rejects.count + excluded.count, "
                "last_ms = excluded.last_ms, last_detail = excluded.last_detail",
                (_col(reason), n, now, _col(detail[:300])),
            )
        for w in witnessed:
            c.execute(
                "INSERT INTO witness (device, seq, cp_seq, cp_hash, ts, hub_key, hub_sig) "
                "VALUES (:device, :seq, :cp_seq, :cp_hash, :ts, :hub_key, :hub_sig) "
                "ON CONFLICT(device, seq) DO NOTHING",
                w,
            )
        for ev, text, received, why in quarantined:
            c.execute(
                "INSERT INTO quarantine (device, seq, hash, prev, ts, type, received_ms, json, why) "
                "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(device, seq, hash) DO NOTHING",
                (ev.device, ev.seq, ev.hash, ev.prev, ev.ts, _col(ev.type), received, text,
                 _col(why[:300])),
            )
        for dev in sorted({q[0].device for q in quarantined}):
            fork_seq = min(q[0].seq for q in quarantined if q[0].device == dev)
            n = sum(1 for q in quarantined if q[0].device == dev)
            c.execute(
                "INSERT INTO fork_state (device, fork_seq, detected_ms, copies) VALUES (?,?,?,?) "
                "ON CONFLICT(device) DO UPDATE SET "
                "fork_seq = CASE WHEN fork_state.resolved_ms IS NULL THEN "
                f"{c.least('fork_state.fork_seq', 'excluded.fork_seq')} ELSE excluded.fork_seq END, "
                "detected_ms = CASE WHEN fork_state.resolved_ms IS NULL THEN fork_state.detected_ms "
                "ELSE excluded.detected_ms END, "
                "copies = CASE WHEN fork_state.resolved_ms IS NULL THEN fork_state.copies + excluded.copies "
                "ELSE excluded.copies END, "
                "resolution = CASE WHEN fork_state.resolved_ms IS NULL THEN fork_state.resolution "
                "ELSE NULL END, "
                "resolved_ms = NULL",
                (dev, fork_seq, now, n),
            )

    # ---- forks ----------------------------------------------------------------------------
    def fork_seq(self, device: str) -> int | None:
        """The lowest forked seq of `device`'s open fork, or None (no fork, or resolved)."""
        with self._db() as c:
            row = c.execute(
                "SELECT fork_seq FROM fork_state WHERE device = ? AND resolved_ms IS NULL", (device,)
            ).fetchone()
        return int(row[0]) if row else None

    def forks(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        """Forks: {device, fork_seq, detected_ms, copies, resolved_ms, resolution, quarantined}."""
        where = "WHERE f.resolved_ms IS NULL" if open_only else ""
        with self._db() as c:
            return _dicts(c.execute(
                "SELECT f.device, f.fork_seq, f.detected_ms, f.copies, f.resolved_ms, f.resolution, "
                "(SELECT COUNT(*) FROM quarantine q WHERE q.device = f.device) AS quarantined "
                f"FROM fork_state f {where} ORDER BY f.detected_ms DESC, f.device"))

    def quarantined(self, device: str) -> list[dict[str, Any]]:
        with self._db() as c:
            return _dicts(c.execute(
                "SELECT device, seq, hash, prev, ts, type, received_ms, why, json FROM quarantine "
                "WHERE device = ? ORDER BY seq, received_ms, hash", (device,)))

    def resolve_fork(self, device: str, keep: str) -> int:
        """Close `device`'s open fork. keep="stored": the chain the hub holds is the device's
        (the other copy gets a new id and key); keep="quarantined": the hub's records from the
        fork point on came from the other copy: they move to quarantine (nothing is deleted)
        and the hub's chain steps back so the real device re-sends. Returns rows moved."""
        if keep not in ("stored", "quarantined"):
            raise HubError(f"resolve {device}: --keep must be 'stored' or 'quarantined'")
        lock = " FOR UPDATE" if self.sql.dialect == "postgresql" else ""
        with self._db() as c, c.transaction():
            row = c.execute(
                f"SELECT fork_seq FROM fork_state WHERE device = ? AND resolved_ms IS NULL{lock}", (device,)
            ).fetchone()
            if row is None:
                raise HubError(f"resolve {device}: no open fork")
            fork_seq = int(row[0])
            moved = 0
            if keep == "quarantined":
                why = "superseded: operator kept the other copy"
                rows = [
                    (device, seq, h, Event.from_json(_text(text)).prev, ts, type_, received, _text(text), why)
                    for seq, h, ts, type_, received, text in c.execute(
                        "SELECT seq, hash, ts, type, received_ms, json FROM events "
                        "WHERE device = ? AND seq >= ? ORDER BY seq", (device, fork_seq)).fetchall()
                ]
                for r in rows:
                    moved += c.execute(
                        "INSERT INTO quarantine (device, seq, hash, prev, ts, type, received_ms, json, why) "
                        "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(device, seq, hash) DO NOTHING", r).rowcount
                c.execute("DELETE FROM witness WHERE device = ? AND seq >= ?", (device, fork_seq))
                c.execute("DELETE FROM events WHERE device = ? AND seq >= ?", (device, fork_seq))
                prev = c.execute("SELECT hash FROM events WHERE device = ? AND seq = ?",
                                 (device, fork_seq - 1)).fetchone()
                base = c.execute("SELECT after_seq, after_hash FROM bases WHERE device = ?",
                                 (device,)).fetchone()
                head = (fork_seq - 1, prev[0]) if prev else (tuple(base) if base else (0, GENESIS_PREV))
                c.execute("UPDATE heads SET seq = ?, hash = ? WHERE device = ?", (*head, device))
            c.execute("UPDATE fork_state SET resolved_ms = ?, resolution = ? WHERE device = ?",
                      (_now_ms(), keep, device))
        log.warning("fork of %s at seq %d resolved: kept the %s copy (%d row(s) moved)",
                    device, fork_seq, keep, moved)
        return moved

    def set_online(self, device: str, online: bool, when_ms: int) -> None:
        with self._db() as c:
            c.execute("UPDATE heads SET online = ?, last_seen_ms = ? WHERE device = ?",
                      (int(online), when_ms, device))

    def meta(self, key: str) -> str | None:
        with self._db() as c:
            row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._db() as c:
            c.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                      "value = excluded.value", (key, value))

    # ---- reading (web, exports, tests, bench) ----------------------------------------------
    def devices(self) -> list[DeviceRow]:
        with self._db() as c:
            rows = c.execute(
                "SELECT d.device, d.public_key, d.how, d.enrolled_ms, h.seq, h.max_seen, "
                "h.last_seen_ms, h.online, h.duplicates FROM devices d "
                "LEFT JOIN heads h ON h.device = d.device ORDER BY d.device"
            ).fetchall()
        return [
            DeviceRow(r[0], r[1], r[2], r[3], r[4] or 0, max(r[5] or 0, r[4] or 0), r[6],
                      bool(r[7]), r[8] or 0)
            for r in rows
        ]

    def seqs(self, device: str) -> list[int]:
        with self._db() as c:
            return [int(r[0]) for r in c.execute(
                "SELECT seq FROM events WHERE device = ? ORDER BY seq", (device,)).fetchall()]

    def count_events(self, device: str | None = None) -> int:
        with self._db() as c:
            if device is None:
                return int(c.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            return int(c.execute("SELECT COUNT(*) FROM events WHERE device = ?", (device,)).fetchone()[0])

    def rejects(self) -> dict[str, int]:
        with self._db() as c:
            return {r: int(n) for r, n in c.execute("SELECT reason, count FROM rejects ORDER BY reason").fetchall()}

    def witnesses(self, device: str) -> list[dict[str, Any]]:
        with self._db() as c:
            return _dicts(c.execute(
                "SELECT device, seq, cp_seq, cp_hash, ts, hub_key, hub_sig FROM witness "
                "WHERE device = ? ORDER BY seq", (device,)))

    def alerts(self, limit: int = 50) -> list[dict[str, Any]]:
        """Open fork alerts (operator action needed) first, then the devices' alert events."""
        with self._db() as c:
            rows = c.execute(
                "SELECT json FROM events WHERE type = 'alert' ORDER BY ts DESC, device, seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [fork_alert(f) for f in self.forks()] + [alert_view(Event.from_json(_text(r[0]))) for r in rows]

    def captures(
        self,
        *,
        device: str | None = None,
        feed: str | None = None,
        verdict: str | None = None,
        reason: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        where, params = _capture_filter(device, feed, verdict, reason, since_ms, until_ms)
        with self._db() as c:
            rows = c.execute(
                f"SELECT json FROM events WHERE {where} ORDER BY ts DESC, device, seq DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        out = []
        for (text,) in rows:
            d = json.loads(_text(text))
            body = d.get("body", {})
            out.append({"device": d["device"], "seq": d["seq"], "ts": d["ts"], "feed": d["feed"],
                        "capture": body.get("capture"), "verdict": body.get("verdict"),
                        "reasons": body.get("reasons") or [], "basis": body.get("basis"),
                        "start": body.get("start"),
                        "end": body.get("end"), "max_faces": body.get("max_faces"),
                        "identifiable": body.get("identifiable_tracks")})
        return out

    def hourly(
        self, *, device: str | None = None, feed: str | None = None, verdict: str | None = None,
        reason: str | None = None, since_ms: int | None = None, until_ms: int | None = None,
    ) -> list[tuple[str, int, str, int]]:
        """(feed, hour start ms, verdict, count) of capture.end events."""
        where, params = _capture_filter(device, feed, verdict, reason, since_ms, until_ms)
        with self._db() as c:
            rows = c.execute(
                f"SELECT COALESCE(feed, ''), (ts / 3600000) * 3600000 AS hour, "
                f"COALESCE(verdict, 'unknown'), COUNT(*) FROM events WHERE {where} "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                params,
            ).fetchall()
        return [(r[0], int(r[1]), r[2], int(r[3])) for r in rows]

    def capture_events(self, device: str, capture: str) -> list[dict[str, Any]]:
        """Every stored event of one capture (start, updates, end, its alert), by seq, as the
        device signed them (parsed JSON)."""
        with self._db() as c:
            rows = c.execute(
                "SELECT json FROM events WHERE device = ? AND capture = ? ORDER BY seq",
                (device, capture),
            ).fetchall()
        return [json.loads(_text(r[0])) for r in rows]

    def notice_states(self, device: str | None = None, at_ms: int | None = None) -> list[dict[str, Any]]:
        """The latest notice.* event of every (device, notice), or the latest at or before
        `at_ms`: [{device, notice, state, ts, seq, covers, why, hours}], by device, notice.
        Hours and coverage come from the notice's newest `notice.registered` when its state
        event does not carry them (the device journals its printed texts, hours and coverage
        there)."""
        out = self._latest_per_notice(f"type IN {NOTICE_TYPES}", device, at_ms)
        registered = {
            (r["device"], r["notice"]): r
            for r in self._latest_per_notice("type = 'notice.registered'", device, at_ms)
        }
        for n in out:
            reg = registered.get((n["device"], n["notice"]))
            if reg is not None:
                n["hours"] = n["hours"] if n["hours"] is not None else reg["hours"]
                n["covers"] = n["covers"] if n["covers"] is not None else reg["covers"]
        return sorted(out, key=lambda n: (n["device"], n["notice"]))

    def _latest_per_notice(self, type_sql: str, device: str | None, at_ms: int | None) -> list[dict[str, Any]]:
        """notice_view of the newest event matching `type_sql` (SQL, ours) of every (device,
        notice), at or before `at_ms`."""
        where = type_sql
        params: list[Any] = []
        if device is not None:
            where += " AND device = ?"
            params.append(device)
        if at_ms is not None:
            where += " AND ts <= ?"
            params.append(at_ms)
        with self._db() as c:
            rows = c.execute(
                "SELECT e.json FROM events e JOIN ("
                f" SELECT device, MAX(seq) AS seq FROM events WHERE {where}"
                "  GROUP BY device, notice"
                ") m ON e.device = m.device AND e.seq = m.seq",
                params,
            ).fetchall()
        return [notice_view(json.loads(_text(r[0]))) for r in rows]

    def notice_changes(self, device: str, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
        """notice.* events of `device` with since_ms < ts <= until_ms, by seq."""
        with self._db() as c:
            rows = c.execute(
                f"SELECT json FROM events WHERE type IN {NOTICE_TYPES} AND device = ? AND ts > ? "
                "AND ts <= ? ORDER BY seq LIMIT 1000",
                (device, since_ms, until_ms),
            ).fetchall()
        return [notice_view(json.loads(_text(r[0]))) for r in rows]

    def feeds(self) -> list[str]:
        with self._db() as c:
            return [r[0] for r in c.execute(
                "SELECT DISTINCT feed FROM events WHERE type = 'capture.end' AND feed IS NOT NULL "
                "ORDER BY feed").fetchall()]

    def device_feeds(self, device: str) -> set[str]:
        """Every feed `device`'s stored records name (event feeds, device.online's list)."""
        from camaudit.report.feeds import feeds_of

        with self._db() as c:
            rows = c.execute(
                "SELECT DISTINCT feed, type, CASE WHEN type = 'device.online' THEN json ELSE '' END "
                "FROM events WHERE device = ? AND (feed IS NOT NULL OR type = 'device.online')",
                (device,),
            ).fetchall()
        return feeds_of((f, t, _text(j)) for f, t, j in rows)

    def timezone(self, device: str) -> str | None:
        """The venue's time zone as `device` last journalled it (device.online, notice.registered)."""
        from camaudit.report.feeds import zone_of

        with self._db() as c:
            row = c.execute(
                "SELECT json FROM events WHERE type IN ('device.online', 'notice.registered') "
                "AND device = ? ORDER BY seq DESC LIMIT 1", (device,)).fetchone()
        return zone_of(None if row is None else (_text(row[0]),))

    def export_span(
        self, device: str, since_ms: int | None, until_ms: int | None
    ) -> tuple[str, int, list[tuple[int, str]]] | None:
        """What an export of `device` over since_ms <= ts <= until_ms needs: (public key
        hex, highest stored seq, [(seq, json)] from the span's first seq (reaching back to
        the notice texts in force then, see _registrations_start) to its last). None if the
        hub holds no record in the span; HubError if the device is not enrolled. Plain
        reads: an export never holds the write lock ingest needs (the caller checks that
        the rows it got have no gap)."""
        with self._db() as c:
            row = c.execute("SELECT public_key FROM devices WHERE device = ?", (device,)).fetchone()
            if row is None:
                raise HubError(f"hub store {self.where}: no enrolled device {device!r}")
            lo, hi = c.execute(
                "SELECT MIN(seq), MAX(seq) FROM events WHERE device = ? AND ts >= ? AND ts <= ?",
                (device, -(2**62) if since_ms is None else since_ms, 2**62 if until_ms is None else until_ms),
            ).fetchone()
            if lo is None:
                return None
            (head,) = c.execute("SELECT MAX(seq) FROM events WHERE device = ?", (device,)).fetchone()
            lo = self._registrations_start(c, device, int(lo))
            rows = c.execute(
                "SELECT seq, json FROM events WHERE device = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                (device, lo, hi),
            ).fetchall()
        return str(row[0]), int(head), [(int(s), _text(t)) for s, t in rows]

    @staticmethod
    def _registrations_start(c: Sql, device: str, lo: int) -> int:
        """The lowest seq an export of `device` starting at `lo` must begin at to carry, for
        every notice, its newest `notice.registered` before `lo` (as
        camaudit.notices.registration.registrations_start does for a device journal)."""
        rows = c.execute(
            "SELECT e.seq, e.json FROM events e JOIN ("
            " SELECT notice, MAX(seq) AS seq FROM events WHERE device = ? AND type = 'notice.registered'"
            " AND seq < ? GROUP BY notice) m ON e.seq = m.seq WHERE e.device = ?",
            (device, lo, device),
        ).fetchall()
        starts = [lo]
        for seq, text in rows:
            try:
                withdrawn = json.loads(_text(text)).get("body", {}).get("withdrawn")
            except (ValueError, AttributeError):
                withdrawn = None
            if not withdrawn:  # a notice withdrawn before the span was not in force then
                starts.append(int(seq))
        return min(starts)


def _dicts(cur: Any) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _capture_filter(
    device: str | None, feed: str | None, verdict: str | None, reason: str | None,
    since_ms: int | None, until_ms: int | None,
) -> tuple[str, tuple[Any, ...]]:
    where = ["type = 'capture.end'"]
    params: list[Any] = []
    for col, val in (("device", device), ("feed", feed), ("verdict", verdict)):
        if val:
            where.append(f"{col} = ?")
            params.append(val)
    if reason:
        where.append("reasons LIKE ?")
        params.append(f"%,{reason},%")
    if since_ms is not None:
        where.append("ts >= ?")
        params.append(since_ms)
    if until_ms is not None:
        where.append("ts < ?")
        params.append(until_ms)
    return " AND ".join(where), tuple(params)


NOTICE_TYPES = "('notice.missing', 'notice.restored', 'notice.unknown')"  # SQL; uses (type, ts)
_STATE_OF_TYPE = {"notice.restored": "VISIBLE", "notice.missing": "MISSING", "notice.unknown": "UNKNOWN"}


def notice_view(d: dict[str, Any]) -> dict[str, Any]:
    """What the web page shows of a stored notice.* event (device-sent values, checked)."""
    raw = d.get("body")
    body: dict[str, Any] = raw if isinstance(raw, dict) else {}
    covers = body.get("covers")
    hours = body.get("hours")
    return {
        "device": d.get("device"), "seq": d.get("seq"), "ts": d.get("ts"), "type": d.get("type"),
        "notice": str(body.get("notice", "?")),
        "state": str(body.get("state") or _STATE_OF_TYPE.get(str(d.get("type")), "UNKNOWN")),
        "covers": [str(c) for c in covers] if isinstance(covers, list) else None,
        "why": str(body["why"]) if isinstance(body.get("why"), str) else None,
        "hours": {str(k): str(v) for k, v in hours.items()} if isinstance(hours, dict) else None,
    }


def fork_alert(fork: dict[str, Any]) -> dict[str, Any]:
    """An operator alert for an open fork (web page, MQTT `<p>/hub/alerts`, `camaudit alerts`)."""
    dev, seq = fork["device"], fork["fork_seq"]
    return {
        "device": dev, "seq": seq, "ts": fork["detected_ms"], "feed": None,
        "text": (f"FORK: two validly signed versions of {dev} from seq {seq} (a cloned SD card?); "
                 f"acks to {dev} stopped; both kept; resolve with `camaudit hub resolve-fork {dev}`"),
        "capture": None, "reasons": ["fork"], "ref_seq": None,
    }


def alert_view(ev: Event) -> dict[str, Any]:
    """What the web page shows of a verified alert event."""
    b = ev.body
    return {
        "device": ev.device, "seq": ev.seq, "ts": ev.ts, "feed": ev.feed,
        "text": str(b.get("text", "")), "capture": b.get("capture"),
        "reasons": list(b.get("reasons") or []), "ref_seq": b.get("ref_seq"),
    }
