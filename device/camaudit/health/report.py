"""Gathers `camaudit status`: the daemon's status file, the journal (read-only), the machine."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from camaudit.core import venue_time
from camaudit.errors import JournalError
from camaudit.health.status_file import read_status
from camaudit.health.system import cpu_temperature_c, disk_free, throttling

STALE_AFTER_S = 20.0  # the daemon rewrites the file every 5 s


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by the service user
    return True


def _journal(path: Path) -> dict[str, Any]:
    from camaudit.store.db import open_readonly

    if not path.is_file():
        return {"path": str(path), "exists": False}
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    info: dict[str, Any] = {"path": str(path), "exists": True, "bytes": size}
    try:
        conn = open_readonly(path)
    except JournalError as exc:
        info["error"] = str(exc)
        return info
    try:
        info["outbox"] = int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        row = conn.execute("SELECT MAX(seq) FROM events").fetchone()
        info["head_seq"] = row[0] or 0
        last = conn.execute(
            "SELECT ts, feed, capture, type FROM events WHERE type IN "
            "('capture.start', 'capture.update', 'capture.end') ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if last:
            info["last_capture"] = {"ts_ms": last[0], "feed": last[1], "capture": last[2], "event": last[3]}
    except sqlite3.Error as exc:
        info["error"] = f"journal {path}: {exc}"
    finally:
        conn.close()
    return info


def gather(data_dir: Path, *, now_ms: int | None = None, sys_root: Path = Path("/sys"),
           vcgencmd: str | None = None) -> dict[str, Any]:
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    doc = read_status(data_dir)
    running = False
    age_s = None
    if doc is not None:
        updated = doc.get("updated_ms")
        if isinstance(updated, int):
            age_s = max(0.0, (now - updated) / 1000)
        running = bool(doc.get("running")) and age_s is not None and age_s <= STALE_AFTER_S \
            and _alive(doc.get("pid"))
    journal_path = data_dir / "journal.db"
    if doc is not None and isinstance(doc.get("journal"), str):
        with contextlib.suppress(ValueError):
            candidate = Path(doc["journal"])
            if candidate.parent == data_dir:  # never follow the file elsewhere
                journal_path = candidate
    raw_feeds = doc.get("feeds") if doc is not None else None
    feeds: dict[str, Any] = raw_feeds if isinstance(raw_feeds, dict) else {}
    th = throttling(vcgencmd)
    free = disk_free(data_dir)
    return {
        "running": running,
        # the daemon wrote `running: false` itself as it stopped: its last run ended normally
        "ended_normally": bool(doc is not None and doc.get("running") is False),
        "status_age_s": age_s,
        "ready": bool(doc.get("ready")) if doc else False,
        "device": doc.get("device") if doc else None,
        "pid": doc.get("pid") if doc else None,
        "feeds": {
            str(name): {
                "state": (f.get("state") if running else "down") if isinstance(f, dict) else "unknown",
                "fps": f.get("fps") if running and isinstance(f, dict) else 0.0,
                "last_frame_ms": f.get("last_frame_ms") if isinstance(f, dict) else None,
            }
            for name, f in feeds.items()
        },
        "mqtt": doc.get("mqtt") if doc else None,
        "broker_connected": doc.get("broker_connected") if doc and running else None,
        "journal": _journal(journal_path),
        "disk": {"free_bytes": free[0], "total_bytes": free[1]} if free else None,
        "cpu_temp_c": cpu_temperature_c(sys_root),
        "throttled": {"raw": hex(th.raw), "flags": list(th.flags)} if th else None,
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.1f} GB"


def _ago(ts_ms: Any, now_ms: int, tz: ZoneInfo) -> str:
    if not isinstance(ts_ms, int) or isinstance(ts_ms, bool):
        return "never"
    s = max(0, (now_ms - ts_ms) // 1000)
    return f"{venue_time.fmt(ts_ms, tz)} ({s} s ago)"


def format_text(r: dict[str, Any], now_ms: int | None = None, timezone: str | None = None) -> list[str]:
    """The lines of `camaudit status`; times in the venue's zone `timezone`, named."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    tz = venue_time.zone_or_utc(timezone)
    ended = not r["running"] and r.get("ended_normally")
    lines = []
    if r["running"]:
        lines.append(f"camaudit: running (pid {r['pid']}, device {r['device']}"
                     f"{'' if r['ready'] else ', starting'})")
    elif r["status_age_s"] is None:
        lines.append("camaudit: not running (it has never run with this data folder)")
    elif ended:
        lines.append(f"camaudit: not running (its last run ended normally {r['status_age_s']:.0f} s ago)")
    else:
        lines.append(f"camaudit: NOT running (last seen {r['status_age_s']:.0f} s ago, "
                     "without stopping normally: killed or crashed?)")
    for name, f in r["feeds"].items():
        state = "stopped with the run" if ended else f["state"]
        rate = f" {f['fps']:.1f} frames/s" if state == "up" else ""
        lines.append(f"feed {name}: {state}{rate}, last frame {_ago(f['last_frame_ms'], now, tz)}")
    if r["mqtt"] and ended:
        lines.append("broker: not connected (camaudit is not running)")
    elif r["mqtt"]:
        lines.append(f"broker: {'connected' if r['broker_connected'] else 'NOT connected'}")
    else:
        lines.append("broker: none configured")
    j = r["journal"]
    if not j.get("exists"):
        lines.append(f"journal: {j['path']} (none yet)")
    elif "error" in j:
        lines.append(f"journal: {j['error']}")
    else:
        lines.append(f"journal: {j['path']} {_mb(j['bytes'])}, head seq {j['head_seq']}, "
                     f"outbox {j['outbox']} event(s) not yet acknowledged by the hub")
        last = j.get("last_capture")
        lines.append(f"last capture: {last['capture']} on {last['feed']}, {_ago(last['ts_ms'], now, tz)}"
                     if last else "last capture: none")
    if r["disk"]:
        d = r["disk"]
        lines.append(f"disk: {_mb(d['free_bytes'])} free of {_mb(d['total_bytes'])}")
    if r["cpu_temp_c"] is not None:
        lines.append(f"CPU temperature: {r['cpu_temp_c']:.1f} °C")
    if r["throttled"] is not None:
        t = r["throttled"]
        lines.append(f"throttling: {t['raw']} ({', '.join(t['flags']) or 'none'})")
    return lines
