"""The hub store's schema, versioned (meta `schema_version`) and migrated at open, under the
write lock (SQLite) or an advisory lock (PostgreSQL), so several processes may open one
store at once."""

from __future__ import annotations

import json
import logging

from camaudit.hub.store.records import AT_SQL, _notice_key, _text
from camaudit.hub.store.sql import Sql, SqlError

log = logging.getLogger(__name__)

# ---- schema ----------------------------------------------------------------------------
# Version 1 is the schema of the SQLite-only hub (its sqlite-utils tables, same names and
# columns): a hub.db made before versioning opens as version 0 and keeps its data.
SCHEMA_VERSION = 5
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


def _schema_v4(i: str, blob: str) -> list[str]:
    """Issue 24: the custody log (hub/custody/log.py), time-stamp tokens over checkpoints
    (hub/custody/stamps.py) and the hub's signed deletion records (hub/custody/prune.py);
    issue 25: the passers-by's "was I filmed?" requests (hub/store/public.py); issue 22: an
    operator's acknowledgement of an alert (hub/store/alert_acks.py): `kind` 'event' for a
    device's alert record (device, seq), 'fork' for an open fork (device, fork seq)."""
    return [
        f"CREATE TABLE IF NOT EXISTS custody (seq {i} PRIMARY KEY, ts {i} NOT NULL, what TEXT NOT NULL, "
        "hash TEXT NOT NULL, json TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS custody_ts ON custody (ts)",
        f"CREATE TABLE IF NOT EXISTS hub_tokens (device TEXT NOT NULL, seq {i} NOT NULL, name TEXT NOT NULL, "
        f"url TEXT NOT NULL, der {blob} NOT NULL, PRIMARY KEY (device, name))",
        f"CREATE TABLE IF NOT EXISTS hub_deletions (device TEXT NOT NULL, kept_seq {i} NOT NULL, "
        "json TEXT NOT NULL, PRIMARY KEY (device, kept_seq))",
        "CREATE TABLE IF NOT EXISTS filmed_requests (ref TEXT PRIMARY KEY, device TEXT NOT NULL, "
        f"notice TEXT NOT NULL, feed TEXT NOT NULL, since_ms {i} NOT NULL, until_ms {i} NOT NULL, "
        f"contact TEXT NOT NULL, received_ms {i} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS filmed_requests_received ON filmed_requests (received_ms)",
        f"CREATE TABLE IF NOT EXISTS alert_acks (kind TEXT NOT NULL, device TEXT NOT NULL, seq {i} NOT NULL, "
        f"who TEXT NOT NULL, note TEXT NOT NULL, acked_ms {i} NOT NULL, PRIMARY KEY (kind, device, seq))",
    ]


def _schema_v5(i: str) -> list[str]:
    """Issue 20: the dashboard orders alerts by receipt and captures by the device's time
    capped at receipt (records.AT_SQL), so a device dating records ahead cannot bury others';
    a record dated more than the clock tolerance before the one it follows is flagged
    (`ts_back_ms`, store/writer.py mark_backwards), not dropped."""
    return [
        f"ALTER TABLE events ADD COLUMN ts_back_ms {i}",
        "CREATE INDEX IF NOT EXISTS idx_events_type_received ON events (type, received_ms)",
        f"CREATE INDEX IF NOT EXISTS idx_events_type_at ON events (type, {AT_SQL})",
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
        if found < 4:
            for stmt in _schema_v4(sql.bigint, sql.blob):
                sql.execute(stmt)
        if found < 5:
            for stmt in _schema_v5(sql.bigint):
                sql.execute(stmt)
        if found < SCHEMA_VERSION:
            sql.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) "
                        "DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
            log.info("hub store %s: schema migrated from version %d to %d", sql.where, found, SCHEMA_VERSION)
    return found
