"""Reading the store (web page, exports, tests, bench): devices, captures, hourly counts,
notices, alerts, and the span of an export."""

from __future__ import annotations

import json
from typing import Any

from camaudit.core.record import Event
from camaudit.hub.store.alert_acks import AlertAcks
from camaudit.hub.store.records import (
    AT_SQL,
    NOTICE_TYPES,
    DeviceRow,
    HubError,
    _capture_filter,
    _dicts,
    _text,
    alert_view,
    clock_ahead,
    fork_alert,
    notice_view,
)
from camaudit.hub.store.sql import Sql


class StoreQueries(AlertAcks):
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

    def clock_backwards(self, device: str | None = None) -> list[dict[str, Any]]:
        """Stored records dated more than the clock tolerance before the record they follow
        (device, seq, ts, back_ms: by how much), kept and flagged at ingest."""
        where, params = ("ts_back_ms IS NOT NULL", ()) if device is None else (
            "ts_back_ms IS NOT NULL AND device = ?", (device,))
        with self._db() as c:
            return _dicts(c.execute(
                f"SELECT device, seq, ts, ts_back_ms AS back_ms FROM events WHERE {where} ORDER BY device, seq",
                params))

    def alerts(self, limit: int = 50) -> list[dict[str, Any]]:
        """Open fork alerts (operator action needed) first, then the devices' alert events,
        newest received first (a device's own dating cannot put its alerts above others')."""
        with self._db() as c:
            rows = c.execute(
                "SELECT json, received_ms FROM events WHERE type = 'alert' "
                "ORDER BY received_ms DESC, device, seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [fork_alert(f) for f in self.forks()] + [
            alert_view(Event.from_json(_text(r[0])), None if r[1] is None else int(r[1])) for r in rows]

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
                f"SELECT json, received_ms FROM events WHERE {where} ORDER BY {AT_SQL} DESC, device, seq DESC "
                "LIMIT ?",
                (*params, limit),
            ).fetchall()
        out = []
        for text, received in rows:
            d = json.loads(_text(text))
            body = d.get("body", {})
            received = None if received is None else int(received)
            out.append({"device": d["device"], "seq": d["seq"], "ts": d["ts"], "feed": d["feed"],
                        "received": received, "clock_ahead": clock_ahead(int(d["ts"]), received),
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
                f"SELECT COALESCE(feed, ''), ({AT_SQL} / 3600000) * 3600000 AS hour, "
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

    def notice_records(self, device: str) -> list[Event]:
        """`device`'s notice.registered / restored / missing / unknown records, by seq, as
        signed (camaudit.report.notice_facts derives a capture's notices from them by their
        times, as the pack's report does). Unreadable rows are skipped."""
        with self._db() as c:
            rows = c.execute(
                "SELECT json FROM events WHERE device = ? AND type IN ("
                "'notice.registered', 'notice.restored', 'notice.missing', 'notice.unknown') "
                "ORDER BY seq", (device,)).fetchall()
        out = []
        for (text,) in rows:
            try:
                out.append(Event.from_json(_text(text)))
            except ValueError:
                continue
        return out

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

    def clock_unsynced_at(self, device: str, seq: int) -> bool:
        """Was `device`'s record `seq` stamped before its clock was synchronised?"""
        from camaudit.core.clock_sync import unsynced_after

        with self._db() as c:
            row = c.execute(
                "SELECT type, json FROM events WHERE type IN ('device.online', 'clock.synced') "
                "AND device = ? AND seq <= ? ORDER BY seq DESC LIMIT 1", (device, seq)).fetchone()
        if row is None:
            return False
        try:
            body = json.loads(_text(row[1])).get("body")
        except (ValueError, AttributeError):
            return False
        return unsynced_after(row[0], body)

    def health_records(self, device: str, limit: int = 20_000) -> list[Event]:
        """`device`'s newest camera.covered / moved / blurred / restored, feed.down,
        device.online and alert records, by seq (camaudit.report.camera_health reads the
        blind periods from them, as the pack's report does)."""
        with self._db() as c:
            rows = c.execute(
                "SELECT json FROM events WHERE device = ? AND type IN ('camera.covered', 'camera.moved', "
                "'camera.blurred', 'camera.restored', 'feed.down', 'device.online', 'alert') "
                "ORDER BY seq DESC LIMIT ?", (device, limit)).fetchall()
        out = []
        for (text,) in reversed(rows):
            try:
                out.append(Event.from_json(_text(text)))
            except ValueError:
                continue
        return out

    def venues(self) -> dict[str, str]:
        """device -> the venue its newest `device.online` names (devices naming none left out)."""
        with self._db() as c:
            rows = c.execute(
                "SELECT e.device, e.json FROM events e JOIN ("
                " SELECT device, MAX(seq) AS seq FROM events WHERE type = 'device.online' GROUP BY device"
                ") m ON e.device = m.device AND e.seq = m.seq").fetchall()
        out = {}
        for dev, text in rows:
            try:
                venue = json.loads(_text(text)).get("body", {}).get("venue")
            except (ValueError, AttributeError):
                continue
            if isinstance(venue, str) and venue.strip():
                out[str(dev)] = venue.strip()[:200]
        return out

    def hourly_per_device(
        self, *, device: str | None = None, feed: str | None = None, verdict: str | None = None,
        reason: str | None = None, since_ms: int | None = None, until_ms: int | None = None,
    ) -> list[tuple[str, str, int, str, int]]:
        """(device, feed, hour start ms, verdict, count) of capture.end events: one series per
        device AND feed (two devices' "entrance" cameras are two charts, never one sum)."""
        where, params = _capture_filter(device, feed, verdict, reason, since_ms, until_ms)
        with self._db() as c:
            rows = c.execute(
                f"SELECT device, COALESCE(feed, ''), (ts / 3600000) * 3600000 AS hour, "
                f"COALESCE(verdict, 'unknown'), COUNT(*) FROM events WHERE {where} "
                "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
                params,
            ).fetchall()
        return [(str(r[0]), r[1], int(r[2]), r[3], int(r[4])) for r in rows]

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
