"""The device journal: signed, hash-chained events in SQLite, with an outbox for the hub.

One connection, guarded by a lock, so the pipeline threads and the MQTT publisher share a
Journal. WAL + synchronous=FULL: `append` returns only once the event is durable, and the
event row and its outbox row are written in one transaction (nothing half-written, even on
a full disk or kill -9).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from camaudit.core.record import (
    GENESIS_PREV,
    Event,
    RecordError,
    canonical_json,
    checkpoint_body,
    seal,
)
from camaudit.errors import JournalError
from camaudit.store.db import APP_ID, SCHEMA_VERSION, journal_error, migrate, transaction
from camaudit.store.keys import DeviceKey, load_or_create_key

log = logging.getLogger(__name__)

_CAPTURE_TYPES = ("capture.start", "capture.update", "capture.end")


def readable(value: Any) -> Any:
    """`value` with every string made valid UTF-8: a lone surrogate (from a camera name, a
    decoded sign, ...) becomes U+FFFD, a surrogate pair the character it stands for. The
    record is then always written and always reads back, instead of being refused."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, Mapping):
        return {readable(k): readable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [readable(v) for v in value]
    return value


class Journal:
    """Append-only signed event journal of one device. Use `Journal.open(...)`."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        key: DeviceKey,
        device: str,
        checkpoint_every: int,
        checkpoint_s: int,
    ) -> None:
        self.path = path
        self.device = device
        self.public_key: bytes = key.public_bytes
        self._conn = conn
        self._key = key
        self._lock = threading.Lock()
        self._closed = False
        self._checkpoint_every = checkpoint_every
        self._checkpoint_ms = checkpoint_s * 1000
        self._head = self._read_head()
        self._cp_seq: int
        self._cp_ts: int | None
        row = self._conn.execute(
            "SELECT seq, ts FROM events WHERE type = 'checkpoint' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            self._cp_seq, self._cp_ts = int(row[0]), int(row[1])
        else:
            first = self._conn.execute("SELECT ts FROM events ORDER BY seq LIMIT 1").fetchone()
            self._cp_seq = self._pruned()[0]
            self._cp_ts = int(first[0]) if first else None

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        device_id: str,
        *,
        key_path: Path | None = None,
        checkpoint_every: int = 100,
        checkpoint_s: int = 300,
    ) -> Journal:
        """Open (creating if needed) the journal of `device_id` at `path`.

        The device key defaults to `path.parent / "device.key"` and is created on first
        start. Refuses a journal that belongs to another device id or was signed by
        another key.
        """
        path = Path(path)
        if not device_id or len(device_id) > 64:
            raise JournalError(f"journal {path}: device id must be 1-64 characters")
        if checkpoint_every < 1 or checkpoint_s < 1:
            raise JournalError(f"journal {path}: checkpoint_every and checkpoint_s must be >= 1")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"journal {path}: cannot create its folder: {exc.strerror}"
            ) from None
        key = load_or_create_key(Path(key_path) if key_path else path.parent / "device.key")
        try:
            conn = sqlite3.connect(str(path), check_same_thread=False)
        except sqlite3.Error as exc:
            raise journal_error(path, exc, "opening") from None
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = wal")
            conn.execute("PRAGMA synchronous = FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            if version == 0 and tables:
                raise JournalError(f"journal {path}: not a camaudit journal (other tables)")
            migrate(conn, path)
            _claim(conn, path, device_id, key)
        except sqlite3.Error as exc:
            conn.close()
            raise journal_error(path, exc, "opening") from None
        except BaseException:
            conn.close()
            raise
        j = cls(path, conn, key, device_id, checkpoint_every, checkpoint_s)
        log.info("journal %s open for device %s at seq %d", path, device_id, j._head[0])
        return j

    # -- reading state ------------------------------------------------------------------

    @property
    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest event; (0, GENESIS_PREV) when empty."""
        with self._lock:
            return self._head

    def _read_head(self) -> tuple[int, str]:
        row = self._conn.execute(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            return int(row[0]), str(row[1])
        return self._pruned()

    def _pruned(self) -> tuple[int, str]:
        return _pruned_of(self._conn)

    # -- writing ------------------------------------------------------------------------

    def append(self, type: str, feed: str | None, body: Mapping[str, Any], ts_ms: int) -> Event:
        """Seal, sign and durably store one event (and its outbox row); returns it.

        Afterwards writes a checkpoint if one is due (every `checkpoint_every` events or
        `checkpoint_s` seconds). Raises JournalError (nothing written) on failure.
        """
        with self._lock:
            ev = self._write(type, feed, body, ts_ms)
            if self._checkpoint_due(ts_ms):
                try:
                    self._write_checkpoint(ts_ms)
                except JournalError as exc:
                    # the caller's event is stored; the checkpoint is retried next append
                    log.warning("checkpoint deferred: %s", exc)
            return ev

    def checkpoint(self, ts_ms: int) -> Event:
        """Write a signed checkpoint of the current head now (e.g. at clean shutdown)."""
        with self._lock:
            return self._write_checkpoint(ts_ms)

    def _checkpoint_due(self, ts_ms: int) -> bool:
        if self._head[0] - self._cp_seq >= self._checkpoint_every:
            return True
        return self._cp_ts is not None and ts_ms - self._cp_ts >= self._checkpoint_ms

    def _write_checkpoint(self, ts_ms: int) -> Event:
        self._check_open()
        seq, h = self._head
        ev = self._write("checkpoint", None, checkpoint_body(seq, h, self._key.sign), ts_ms)
        log.debug("checkpoint at seq %d vouching for seq %d", ev.seq, seq)
        return ev

    def _write(self, type: str, feed: str | None, body: Mapping[str, Any], ts_ms: int) -> Event:
        self._check_open()
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            ev = self._insert(type, feed, body, ts_ms)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise journal_error(self.path, exc, f"appending {type}") from None
        except BaseException:
            self._rollback()
            raise
        self._written(ev)
        return ev

    def _insert(self, type: str, feed: str | None, body: Mapping[str, Any], ts_ms: int) -> Event:
        """Seal, sign and insert one event (and its outbox row) inside the caller's
        write transaction; the caller commits, then calls _written."""
        conn = self._conn
        # read the head inside the write lock of SQLite: a second writer process
        # can never fork the chain (seq is also the PRIMARY KEY)
        seq, prev = self._read_head()
        try:
            # a private JSON copy: the caller may reuse its dict, tuples become lists
            # exactly as they will read back from the journal
            if feed is not None and not isinstance(feed, str):
                raise TypeError(f"feed must be a string or None, not {feed!r}")
            feed = readable(feed) if feed is not None else None
            body = json.loads(canonical_json(readable(dict(body))))
            ev = seal(
                device=self.device,
                seq=seq + 1,
                ts=int(ts_ms),
                type=type,
                feed=feed,
                body=body,
                prev=prev,
                sign=self._key.sign,
            )
            text = ev.to_json().decode("utf-8")
        except (RecordError, TypeError, ValueError) as exc:
            raise JournalError(f"journal {self.path}: cannot record {type!r}: {exc}") from None
        capture = body.get("capture") if type in _CAPTURE_TYPES else None
        conn.execute(
            "INSERT INTO events (seq, ts, type, feed, capture, hash, json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                ev.seq,
                ev.ts,
                ev.type,
                ev.feed,
                capture if isinstance(capture, str) else None,
                ev.hash,
                text,
            ),
        )
        conn.execute("INSERT INTO outbox (seq) VALUES (?)", (ev.seq,))
        return ev

    def _written(self, ev: Event) -> None:
        self._head = (ev.seq, ev.hash)
        if self._cp_ts is None:
            self._cp_ts = ev.ts
        if ev.type == "checkpoint":
            self._cp_seq, self._cp_ts = ev.seq, ev.ts

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error as exc:  # pragma: no cover - rollback of a dead transaction
            log.warning("journal %s: rollback failed: %s", self.path, exc)

    # -- outbox and reading -------------------------------------------------------------

    def events(self, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        """Stored events with seq > after_seq, in seq order."""
        sql = "SELECT json FROM events WHERE seq > ? ORDER BY seq"
        params: tuple[int, ...] = (after_seq,)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        return self._read_events(sql, params)

    def unacked(self, after_seq: int = 0, limit: int = 500) -> list[Event]:
        """Events not yet acknowledged by the hub (outbox rows), in seq order."""
        return self._read_events(
            "SELECT e.json FROM outbox o JOIN events e ON e.seq = o.seq "
            "WHERE o.seq > ? ORDER BY o.seq LIMIT ?",
            (after_seq, limit),
        )

    def _read_events(self, sql: str, params: tuple[int, ...]) -> list[Event]:
        with self._lock:
            self._check_open()
            try:
                rows = self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise journal_error(self.path, exc, "reading events") from None
        out = []
        for (text,) in rows:
            try:
                out.append(Event.from_json(text))
            except RecordError as exc:
                raise JournalError(f"journal {self.path}: unreadable record: {exc}") from None
        return out

    def ack(self, upto_seq: int) -> int:
        """The hub stored everything up to `upto_seq`: clear those outbox rows."""
        n = self._exec_write("acknowledging", "DELETE FROM outbox WHERE seq <= ?", (upto_seq,))
        if n:
            log.debug("acked %d event(s) up to seq %d", n, upto_seq)
        return n

    def outbox_size(self) -> int:
        with self._lock:
            self._check_open()
            return int(self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def _exec_write(self, doing: str, sql: str, params: tuple[Any, ...]) -> int:
        with self._lock:
            self._check_open()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                n = self._conn.execute(sql, params).rowcount
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise journal_error(self.path, exc, doing) from None
            return int(n)

    # -- retention ----------------------------------------------------------------------

    def prune(
        self,
        before_ts_ms: int,
        *,
        policy: str = "unnamed",
        period_ms: int | None = None,
        now_ms: int | None = None,
        evidence_dir: Path | None = None,
    ) -> int:
        """Delete the oldest events that the hub acked and that are older than before_ts_ms,
        and journal the signed `retention.pruned` record of it (trust.retention) in the same
        transaction: a pruned chain always carries the record of its deletion.

        Only a prefix of the chain goes, never the newest event nor the newest checkpoint;
        the last pruned (seq, hash) is kept in meta so verification continues from there.
        Evidence frames (in `evidence_dir`, default <journal folder>/evidence) named only by
        the deleted events, and not waiting to be sent to the hub, are deleted after the
        commit and counted in the record. Returns the number of events deleted.
        """
        from camaudit.trust.retention import PRUNED, deletion_body

        now = int(time.time() * 1000) if now_ms is None else int(now_ms)
        frames_dir = Path(evidence_dir) if evidence_dir is not None else self.path.parent / "evidence"
        with self._lock:
            self._check_open()
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                pruned_seq, _ = self._pruned()
                limits = [
                    self._scalar("SELECT MIN(seq) FROM events WHERE ts >= ?", before_ts_ms),
                    self._scalar("SELECT MIN(seq) FROM outbox"),
                    self._scalar("SELECT MAX(seq) FROM events WHERE type = 'checkpoint'"),
                    self._scalar("SELECT MAX(seq) FROM events"),
                ]
                upto = min((x - 1 for x in limits if x is not None), default=pruned_seq)
                if upto <= pruned_seq:
                    conn.execute("ROLLBACK")
                    return 0
                last_hash = conn.execute(
                    "SELECT hash FROM events WHERE seq = ?", (upto,)
                ).fetchone()[0]
                frames = self._orphaned_frames(upto, frames_dir)
                n = conn.execute("DELETE FROM events WHERE seq <= ?", (upto,)).rowcount
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [("pruned_seq", str(upto)), ("pruned_hash", last_hash)],
                )
                body = deletion_body(
                    policy=policy, period_ms=period_ms, before_ms=int(before_ts_ms), on_ms=now,
                    events=int(n), frames=len(frames), first_seq=pruned_seq + 1,
                    kept_seq=upto, kept_hash=last_hash,
                )
                ev = self._insert(PRUNED, None, body, now)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise journal_error(self.path, exc, "pruning") from None
            except BaseException:
                self._rollback()
                raise
            self._written(ev)
        for f in frames:
            try:
                f.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("retention: evidence frame %s not deleted: %s", f, exc.strerror)
        log.info("pruned %d event(s) and %d frame(s) up to seq %d under %s", n, len(frames), upto, policy)
        return int(n)

    def record_legacy_deletion(self, now_ms: int) -> Event | None:
        """A journal pruned by a camaudit that did not record deletions: journal the record
        of that deletion now (its count from the seq numbers, its dates unknown), so the
        chain verifies. None when there is nothing to record."""
        from camaudit.trust.retention import PRUNED, deletion_body, names_point

        with self._lock:
            self._check_open()
            seq, h = self._pruned()
            if seq == 0:
                return None
            for (text,) in self._conn.execute("SELECT json FROM events WHERE type = ?", (PRUNED,)):
                try:
                    if names_point(Event.from_json(text).body, seq, h):
                        return None
                except RecordError:
                    continue
            body = deletion_body(
                policy="unrecorded (pruned by a camaudit that did not record deletions)",
                period_ms=None, before_ms=None, on_ms=None,
                events=seq, frames=None, first_seq=1, kept_seq=seq, kept_hash=h,
            )
            ev = self._write(PRUNED, None, body, now_ms)
            log.info("journal %s: recorded the earlier deletion of seq 1..%d", self.path, seq)
            return ev

    def _orphaned_frames(self, upto: int, folder: Path) -> list[Path]:
        """Frames on disk named by events up to `upto` and by no later event, and not
        queued for the hub (evidence outbox)."""
        from camaudit.store.pack_report import evidence_refs

        def refs(where: str, *params: Any) -> set[str]:
            out: set[str] = set()
            for (text,) in self._conn.execute(
                f"SELECT json FROM events WHERE {where} AND json LIKE '%sha256:%'", params
            ):
                try:
                    out.update(evidence_refs(Event.from_json(text)))
                except RecordError:
                    continue
            return out

        gone = refs("seq <= ?", upto)
        if not gone:
            return []
        gone -= refs("seq > ?", upto)
        try:
            queued = {r[0] for r in self._conn.execute("SELECT sha FROM evidence_outbox")}
        except sqlite3.OperationalError:  # no evidence outbox in this journal
            queued = set()
        return [p for d in sorted(gone - queued) if (p := folder / f"{d}.jpg").is_file()]

    def _scalar(self, sql: str, *params: Any) -> int | None:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # -- closing ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError(f"journal {self.path}: already closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._conn.close()
            except sqlite3.Error as exc:  # pragma: no cover
                log.warning("journal %s: close failed: %s", self.path, exc)
            log.info("journal %s closed at seq %d", self.path, self._head[0])

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, device={self.device!r}, head={self._head[0]})"


def pruned_point(path: Path) -> tuple[int, str]:
    """(seq, hash) of the last event pruned from the journal at `path`, (0, genesis) if none;
    read-only, so it works beside a running device."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return _pruned_of(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise journal_error(path, exc, "reading its pruned point") from None


def _pruned_of(conn: sqlite3.Connection) -> tuple[int, str]:
    """(seq, hash) of the last pruned event, from a journal's meta; (0, genesis) if none."""
    rows = dict(conn.execute(
        "SELECT key, value FROM meta WHERE key IN ('pruned_seq', 'pruned_hash')"
    ).fetchall())
    if "pruned_seq" in rows:
        return int(rows["pruned_seq"]), str(rows["pruned_hash"])
    return 0, GENESIS_PREV


def _claim(conn: sqlite3.Connection, path: Path, device_id: str, key: DeviceKey) -> None:
    """Record device id and key on a new journal; refuse a journal that is someone else's."""
    with transaction(conn):
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("app", APP_ID),
                    ("schema", str(SCHEMA_VERSION)),
                    ("device", device_id),
                    ("public_key", key.public_hex),
                ],
            )
            log.info("journal %s created for device %s", path, device_id)
            return
    if meta.get("app") != APP_ID:
        raise JournalError(f"journal {path}: not a camaudit journal")
    if meta.get("device") != device_id:
        raise JournalError(
            f"journal {path} belongs to device {meta.get('device')!r}, not {device_id!r}"
        )
    if meta.get("public_key") != key.public_hex:
        raise JournalError(
            f"journal {path} was signed by key {str(meta.get('public_key'))[:16]}..., but "
            f"{key.path} holds key {key.public_hex[:16]}...; restore the original device key"
        )
