"""Writing a batch of verified events (the collector thread): events, heads, counters,
rejects, witnesses and quarantined fork versions in one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from camaudit.core.record import Event
from camaudit.hub.store.base import SqlStore
from camaudit.hub.store.records import HubError, _col, _notice_key, _now_ms
from camaudit.hub.store.schema import WRITE_ATTEMPTS
from camaudit.hub.store.sql import Sql, SqlError
from camaudit.trust.tsa import CLOCK_TOLERANCE_MS

log = logging.getLogger(__name__)


_PREV_TS = "(SELECT p.ts FROM events p WHERE p.device = events.device AND p.seq = events.seq - 1)"


def mark_backwards(c: Sql, device: str, lo: int, hi: int) -> None:
    """Flag (never drop) the stored records seq lo..hi of `device` dated more than
    CLOCK_TOLERANCE_MS before the record they follow: `ts_back_ms` holds by how much
    (`verify` refuses such a pack: trust/timeline.py; the hub keeps the record and says so)."""
    c.execute(
        f"UPDATE events SET ts_back_ms = {_PREV_TS} - ts "
        f"WHERE device = ? AND seq >= ? AND seq <= ? AND ts < {_PREV_TS} - ?",
        (device, lo, hi, CLOCK_TOLERANCE_MS),
    )


class BatchWriter(SqlStore):
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
            for dev in sorted({r[0] for r in rows}):
                seqs = [r[1] for r in rows if r[0] == dev]
                mark_backwards(c, dev, min(seqs), max(seqs))
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
