"""The hub's SQLite store (sqlite-utils): enrolled devices, verified events, rejects, witnesses.

Events are stored with PRIMARY KEY (device, seq): a re-sent event can never be stored
twice. Only events that passed every check are written here; rejected messages are only
counted (by reason) in `rejects`. One HubStore per thread (WAL lets readers run while the
collector writes); every method takes the store's own lock.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from camaudit.core.record import GENESIS_PREV, Event
from camaudit.errors import CamauditError

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


class HubStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 10000")
            self.db = Database(conn, execute_plugins=False)
            self.db.enable_wal()
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.Error as exc:
            raise HubError(f"hub store {self.path}: {exc}") from None
        self.conn = conn
        self._lock = threading.RLock()

    def _migrate(self) -> None:
        db = self.db
        db.table("devices").create(
            {"device": str, "public_key": str, "how": str, "enrolled_ms": int},
            pk="device", if_not_exists=True,
        )
        db.table("heads").create(
            {"device": str, "seq": int, "hash": str, "max_seen": int, "last_seen_ms": int,
             "online": int, "duplicates": int},
            pk="device", if_not_exists=True, defaults={"seq": 0, "max_seen": 0, "online": 0, "duplicates": 0},
        )
        db.table("events").create(
            {"device": str, "seq": int, "ts": int, "type": str, "feed": str, "capture": str,
             "verdict": str, "reasons": str, "hash": str, "received_ms": int, "json": str},
            pk=("device", "seq"), if_not_exists=True,
        )
        db.table("events").create_index(["type", "ts"], if_not_exists=True)
        db.table("events").create_index(["device", "ts"], if_not_exists=True)
        db.table("rejects").create(
            {"reason": str, "count": int, "last_ms": int, "last_detail": str},
            pk="reason", if_not_exists=True,
        )
        db.table("witness").create(
            {"device": str, "seq": int, "cp_seq": int, "cp_hash": str, "ts": int,
             "hub_key": str, "hub_sig": str},
            pk=("device", "seq"), if_not_exists=True,
        )
        db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
        # Where the hub's copy of a device's chain starts when the device had pruned its
        # journal before this hub got it (`hub enroll --after SEQ:HASH`): seqs 1..after_seq
        # are not on the hub and never will be.
        db.table("bases").create(
            {"device": str, "after_seq": int, "after_hash": str, "set_ms": int},
            pk="device", if_not_exists=True,
        )
        # Forks: validly signed records of a device that disagree with the chain the hub
        # holds (same seq, other hash; or a prev that is not the stored hash). Every version
        # is kept here as received (the stored one stays in `events`); `fork_state` holds one
        # open fork per device: the hub sends that device no acks until it is resolved.
        db.table("quarantine").create(
            {"device": str, "seq": int, "hash": str, "prev": str, "ts": int, "type": str,
             "received_ms": int, "json": str, "why": str},
            pk=("device", "seq", "hash"), if_not_exists=True,
        )
        db.table("fork_state").create(
            {"device": str, "fork_seq": int, "detected_ms": int, "copies": int, "resolved_ms": int,
             "resolution": str},
            pk="device", if_not_exists=True,
        )

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    # ---- enrollment -------------------------------------------------------------------
    def enroll(self, device: str, public_key_hex: str, how: str = "enroll") -> None:
        try:
            raw = bytes.fromhex(public_key_hex)
        except ValueError:
            raise HubError(f"enroll {device}: public key is not hex") from None
        if len(raw) != 32:
            raise HubError(f"enroll {device}: an Ed25519 public key is 32 bytes (64 hex digits)")
        if not device or len(device) > 64 or "/" in device or "+" in device or "#" in device:
            raise HubError(f"enroll: bad device id {device!r}")
        with self._lock:
            old = self.public_key(device)
            if old is not None and old != raw:
                raise HubError(
                    f"enroll {device}: already enrolled with another key; remove it first"
                )
            self.conn.execute(
                "INSERT OR IGNORE INTO devices (device, public_key, how, enrolled_ms) VALUES (?,?,?,?)",
                (device, raw.hex(), how, _now_ms()),
            )
            self.conn.execute(
                "INSERT OR IGNORE INTO heads (device, seq, hash, max_seen, online, duplicates) "
                "VALUES (?, 0, ?, 0, 0, 0)",
                (device, GENESIS_PREV),
            )
        log.info("device %s enrolled (%s)", device, how)

    def set_base(self, device: str, after_seq: int, after_hash: str) -> None:
        """Start the hub's copy of `device`'s chain after seq `after_seq`, whose hash is
        `after_hash` (the device's pruned point, shown by `camaudit device-key`). Refused if
        the hub already holds that seq or a later one: a base only ever moves forward, over
        seqs the device no longer has."""
        check_base(device, after_seq, after_hash)
        with self._lock:
            row = self.conn.execute("SELECT seq FROM heads WHERE device = ?", (device,)).fetchone()
            if row is None:
                raise HubError(f"enroll {device}: not enrolled")
            if row[0] >= after_seq:
                raise HubError(f"enroll {device}: the hub already holds seq {row[0]} >= {after_seq}")
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute(
                    "INSERT OR REPLACE INTO bases (device, after_seq, after_hash, set_ms) VALUES (?,?,?,?)",
                    (device, after_seq, after_hash, _now_ms()),
                )
                self.conn.execute("UPDATE heads SET seq = ?, hash = ? WHERE device = ?",
                                  (after_seq, after_hash, device))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        log.warning("device %s: the hub's chain starts after seq %d (pruned on the device)",
                    device, after_seq)

    def base(self, device: str) -> tuple[int, str] | None:
        """(after_seq, after_hash) if the hub's chain of `device` starts past genesis."""
        with self._lock:
            row = self.conn.execute(
                "SELECT after_seq, after_hash FROM bases WHERE device = ?", (device,)
            ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def public_key(self, device: str) -> bytes | None:
        with self._lock:
            row = self.conn.execute(
                "SELECT public_key FROM devices WHERE device = ?", (device,)
            ).fetchone()
        return bytes.fromhex(row[0]) if row else None

    def keys(self) -> dict[str, bytes]:
        with self._lock:
            rows = self.conn.execute("SELECT device, public_key FROM devices").fetchall()
        return {d: bytes.fromhex(k) for d, k in rows}

    # ---- chain heads ------------------------------------------------------------------
    def head_event(self, device: str) -> Event | None:
        with self._lock:
            row = self.conn.execute(
                "SELECT e.json FROM heads h JOIN events e ON e.device = h.device AND e.seq = h.seq "
                "WHERE h.device = ?",
                (device,),
            ).fetchone()
        return Event.from_json(row[0]) if row else None

    def hash_at(self, device: str, seq: int) -> str | None:
        with self._lock:
            row = self.conn.execute(
                "SELECT hash FROM events WHERE device = ? AND seq = ?", (device, seq)
            ).fetchone()
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
        and forked records to quarantine (event, json, received_ms, why)."""
        with self._lock:
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                heads: dict[str, tuple[int, str]] = {}
                rows = []
                for ev, text, received in events:
                    body = ev.body
                    reasons = body.get("reasons")
                    rows.append((
                        ev.device, ev.seq, ev.ts, ev.type, ev.feed,
                        body.get("capture") if isinstance(body.get("capture"), str) else None,
                        body.get("verdict") if isinstance(body.get("verdict"), str) else None,
                        ("," + ",".join(str(r) for r in reasons) + ",") if isinstance(reasons, list) else None,
                        ev.hash, received, text,
                    ))
                    if ev.seq > heads.get(ev.device, (0, ""))[0]:
                        heads[ev.device] = (ev.seq, ev.hash)
                c.executemany(
                    "INSERT OR IGNORE INTO events (device, seq, ts, type, feed, capture, verdict, "
                    "reasons, hash, received_ms, json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
                for dev, (seq, h) in heads.items():
                    c.execute("UPDATE heads SET seq = ?, hash = ? WHERE device = ? AND seq < ?",
                              (seq, h, dev, seq))
                for dev, (max_seen, last) in seen.items():
                    c.execute(
                        "UPDATE heads SET max_seen = MAX(max_seen, ?), last_seen_ms = ? WHERE device = ?",
                        (max_seen, last, dev),
                    )
                for dev, n in duplicates.items():
                    c.execute("UPDATE heads SET duplicates = duplicates + ? WHERE device = ?", (n, dev))
                now = _now_ms()
                for reason, (n, detail) in rejects.items():
                    c.execute(
                        "INSERT INTO rejects (reason, count, last_ms, last_detail) VALUES (?,?,?,?) "
                        "ON CONFLICT(reason) DO UPDATE SET count = count + excluded.count, "
                        "last_ms = excluded.last_ms, last_detail = excluded.last_detail",
                        (reason, n, now, detail[:300]),
                    )
                for w in witnesses:
                    c.execute(
                        "INSERT OR IGNORE INTO witness (device, seq, cp_seq, cp_hash, ts, hub_key, hub_sig) "
                        "VALUES (:device, :seq, :cp_seq, :cp_hash, :ts, :hub_key, :hub_sig)",
                        w,
                    )
                for ev, text, received, why in quarantine:
                    c.execute(
                        "INSERT OR IGNORE INTO quarantine (device, seq, hash, prev, ts, type, received_ms, "
                        "json, why) VALUES (?,?,?,?,?,?,?,?,?)",
                        (ev.device, ev.seq, ev.hash, ev.prev, ev.ts, ev.type, received, text, why[:300]),
                    )
                    c.execute(
                        "INSERT INTO fork_state (device, fork_seq, detected_ms, copies) VALUES (?,?,?,1) "
                        "ON CONFLICT(device) DO UPDATE SET "
                        "fork_seq = CASE WHEN resolved_ms IS NULL THEN MIN(fork_seq, excluded.fork_seq) "
                        "ELSE excluded.fork_seq END, "
                        "detected_ms = CASE WHEN resolved_ms IS NULL THEN detected_ms "
                        "ELSE excluded.detected_ms END, "
                        "copies = CASE WHEN resolved_ms IS NULL THEN copies + 1 ELSE 1 END, "
                        "resolution = CASE WHEN resolved_ms IS NULL THEN resolution ELSE NULL END, "
                        "resolved_ms = NULL",
                        (ev.device, ev.seq, now),
                    )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    # ---- forks ----------------------------------------------------------------------------
    def fork_seq(self, device: str) -> int | None:
        """The lowest forked seq of `device`'s open fork, or None (no fork, or resolved)."""
        with self._lock:
            row = self.conn.execute(
                "SELECT fork_seq FROM fork_state WHERE device = ? AND resolved_ms IS NULL", (device,)
            ).fetchone()
        return int(row[0]) if row else None

    def forks(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        """Forks: {device, fork_seq, detected_ms, copies, resolved_ms, resolution, quarantined}."""
        where = "WHERE f.resolved_ms IS NULL" if open_only else ""
        with self._lock:
            cur = self.conn.execute(
                "SELECT f.device, f.fork_seq, f.detected_ms, f.copies, f.resolved_ms, f.resolution, "
                "(SELECT COUNT(*) FROM quarantine q WHERE q.device = f.device) AS quarantined "
                f"FROM fork_state f {where} ORDER BY f.detected_ms DESC")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def quarantined(self, device: str) -> list[dict[str, Any]]:
        with self._lock:
            cur = self.conn.execute(
                "SELECT device, seq, hash, prev, ts, type, received_ms, why, json FROM quarantine "
                "WHERE device = ? ORDER BY seq, received_ms", (device,))
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def resolve_fork(self, device: str, keep: str) -> int:
        """Close `device`'s open fork. keep="stored": the chain the hub holds is the device's
        (the other copy gets a new id and key); keep="quarantined": the hub's records from the
        fork point on came from the other copy: they move to quarantine (nothing is deleted)
        and the hub's chain steps back so the real device re-sends. Returns rows moved."""
        if keep not in ("stored", "quarantined"):
            raise HubError(f"resolve {device}: --keep must be 'stored' or 'quarantined'")
        with self._lock:
            row = self.conn.execute(
                "SELECT fork_seq FROM fork_state WHERE device = ? AND resolved_ms IS NULL", (device,)
            ).fetchone()
            if row is None:
                raise HubError(f"resolve {device}: no open fork")
            fork_seq = int(row[0])
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                moved = 0
                if keep == "quarantined":
                    moved = c.execute(
                        "INSERT OR IGNORE INTO quarantine (device, seq, hash, prev, ts, type, received_ms, "
                        "json, why) SELECT device, seq, hash, json_extract(json, '$.prev'), ts, type, "
                        "received_ms, json, 'superseded: operator kept the other copy' FROM events "
                        "WHERE device = ? AND seq >= ?", (device, fork_seq)).rowcount
                    c.execute("DELETE FROM witness WHERE device = ? AND seq >= ?", (device, fork_seq))
                    c.execute("DELETE FROM events WHERE device = ? AND seq >= ?", (device, fork_seq))
                    prev = c.execute("SELECT hash FROM events WHERE device = ? AND seq = ?",
                                     (device, fork_seq - 1)).fetchone()
                    base = c.execute("SELECT after_seq, after_hash FROM bases WHERE device = ?",
                                     (device,)).fetchone()
                    head = (fork_seq - 1, prev[0]) if prev else (base if base else (0, GENESIS_PREV))
                    c.execute("UPDATE heads SET seq = ?, hash = ? WHERE device = ?", (*head, device))
                c.execute("UPDATE fork_state SET resolved_ms = ?, resolution = ? WHERE device = ?",
                          (_now_ms(), keep, device))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        log.warning("fork of %s at seq %d resolved: kept the %s copy (%d row(s) moved)",
                    device, fork_seq, keep, moved)
        return moved

    def set_online(self, device: str, online: bool, when_ms: int) -> None:
        with self._lock:
            self.conn.execute(
                "UPDATE heads SET online = ?, last_seen_ms = ? WHERE device = ?",
                (int(online), when_ms, device),
            )

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ---- reading (web, tests, bench) -----------------------------------------------------
    def devices(self) -> list[DeviceRow]:
        with self._lock:
            rows = self.conn.execute(
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
        with self._lock:
            return [r[0] for r in self.conn.execute(
                "SELECT seq FROM events WHERE device = ? ORDER BY seq", (device,))]

    def count_events(self, device: str | None = None) -> int:
        with self._lock:
            if device is None:
                return int(self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            return int(self.conn.execute(
                "SELECT COUNT(*) FROM events WHERE device = ?", (device,)).fetchone()[0])

    def rejects(self) -> dict[str, int]:
        with self._lock:
            return dict(self.conn.execute("SELECT reason, count FROM rejects ORDER BY reason").fetchall())

    def witnesses(self, device: str) -> list[dict[str, Any]]:
        with self._lock:
            cur = self.conn.execute(
                "SELECT device, seq, cp_seq, cp_hash, ts, hub_key, hub_sig FROM witness "
                "WHERE device = ? ORDER BY seq", (device,))
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def alerts(self, limit: int = 50) -> list[dict[str, Any]]:
        """Open fork alerts (operator action needed) first, then the devices' alert events."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT json FROM events WHERE type = 'alert' ORDER BY ts DESC, device, seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [fork_alert(f) for f in self.forks()] + [alert_view(Event.from_json(r[0])) for r in rows]

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
        with self._lock:
            rows = self.conn.execute(
                f"SELECT json FROM events WHERE {where} ORDER BY ts DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        out = []
        for (text,) in rows:
            d = json.loads(text)
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
        with self._lock:
            rows = self.conn.execute(
                f"SELECT COALESCE(feed, ''), (ts / 3600000) * 3600000 AS hour, "
                f"COALESCE(verdict, 'unknown'), COUNT(*) FROM events WHERE {where} "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2",
                params,
            ).fetchall()
        return [(r[0], int(r[1]), r[2], int(r[3])) for r in rows]

    def capture_events(self, device: str, capture: str) -> list[dict[str, Any]]:
        """Every stored event of one capture (start, updates, end, its alert), by seq, as the
        device signed them (parsed JSON)."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT json FROM events WHERE device = ? AND capture = ? ORDER BY seq",
                (device, capture),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

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
        with self._lock:
            rows = self.conn.execute(
                "SELECT e.json FROM events e JOIN ("
                f" SELECT device, MAX(seq) AS seq FROM events WHERE {where}"
                "  GROUP BY device, json_extract(json, '$.body.notice')"
                ") m ON e.device = m.device AND e.seq = m.seq",
                params,
            ).fetchall()
        return [notice_view(json.loads(r[0])) for r in rows]

    def notice_changes(self, device: str, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
        """notice.* events of `device` with since_ms < ts <= until_ms, by seq."""
        with self._lock:
            rows = self.conn.execute(
                f"SELECT json FROM events WHERE type IN {NOTICE_TYPES} AND device = ? AND ts > ? "
                "AND ts <= ? ORDER BY seq LIMIT 1000",
                (device, since_ms, until_ms),
            ).fetchall()
        return [notice_view(json.loads(r[0])) for r in rows]

    def feeds(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self.conn.execute(
                "SELECT DISTINCT feed FROM events WHERE type = 'capture.end' AND feed IS NOT NULL "
                "ORDER BY feed")]


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
