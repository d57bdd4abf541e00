"""`camaudit hub export DEVICE`: an evidence pack of one device, built from what the hub
stored (the records exactly as the device signed them), the manifest signed by the hub's
own key. Evidence frames the device sent (feeds with `send_evidence: true`, stored by
hub/evidence.py byte for byte) are carried; the others are listed as kept on the device.
`camaudit verify PACK --hub-key HUB_KEY` proves such a pack (the hub key vouches
that it holds every record of the span; each record is still checked against the device
key); without the hub key pinned, verify says its origin is unproven (exit 3)."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from camaudit.core.record import Event
from camaudit.errors import JournalError
from camaudit.hub.store import HubError
from camaudit.notices.registration import registrations_start
from camaudit.store.keys import load_key
from camaudit.store.pack import PackSummary, build_pack, check_pack_args, evidence_refs


def export_hub_pack(
    db: Path,
    hub_key: Path,
    device: str,
    out: Path,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    feed: str | None = None,
    now_ms: int,
) -> PackSummary:
    """Write `device`'s records with since_ms <= ts <= until_ms from the hub store `db`."""
    out = Path(out)
    check_pack_args(out, since_ms, until_ms)
    key = load_key(hub_key)
    try:
        conn = sqlite3.connect(f"file:{Path(db)}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise HubError(f"hub store {db}: {exc}") from None
    try:
        row = conn.execute("SELECT public_key FROM devices WHERE device = ?", (device,)).fetchone()
        if row is None:
            raise HubError(f"hub store {db}: no enrolled device {device!r}")
        lo, hi = conn.execute(
            "SELECT MIN(seq), MAX(seq) FROM events WHERE device = ? AND ts >= ? AND ts <= ?",
            (device, -(2**62) if since_ms is None else since_ms, 2**62 if until_ms is None else until_ms),
        ).fetchone()
        if lo is None:
            raise JournalError(f"export: the hub holds no record of {device} in that time span")
        (head,) = conn.execute("SELECT MAX(seq) FROM events WHERE device = ?", (device,)).fetchone()
        lo = registrations_start(conn, lo, device)  # issue 13: the notice texts in force at the start
        rows = conn.execute(
            "SELECT seq, json FROM events WHERE device = ? AND seq BETWEEN ? AND ? ORDER BY seq",
            (device, lo, hi),
        ).fetchall()
        lines = [text if isinstance(text, str) else bytes(text).decode() for _, text in rows]
        frames = _frames(conn, device, lines)
    except sqlite3.Error as exc:
        raise HubError(f"hub store {db}: {exc}") from None
    finally:
        conn.close()
    for expected, (seq, _) in enumerate(rows, lo):
        if seq != expected:
            raise JournalError(
                f"export: the hub is missing seq {expected}..{seq - 1} of {device} "
                "(not replayed yet); export a span before or after it"
            )
    with tempfile.TemporaryDirectory(prefix="camaudit-hub-frames-") as tmp:
        for digest, data in frames.items():
            (Path(tmp) / f"{digest}.jpg").write_bytes(data)
        return build_pack(
            out,
            device=device,
            public_key=str(row[0]),
            lines=lines,
            signer=key,
            signed_by="hub",
            evidence_dir=Path(tmp),
            feed=feed,
            since_ms=since_ms,
            until_ms=until_ms,
            now_ms=now_ms,
            head_seq=int(head),
        )


def _frames(conn: sqlite3.Connection, device: str, lines: list[str]) -> dict[str, bytes]:
    """The evidence frames of `device` the hub stored that these records name (a hub store
    from before evidence frames has no such table: none)."""
    wanted: set[str] = set()
    for line in lines:
        wanted.update(evidence_refs(Event.from_json(line)))
    out: dict[str, bytes] = {}
    for digest in sorted(wanted):
        try:
            got = conn.execute("SELECT data FROM evidence_frames WHERE device = ? AND sha = ?",
                               (device, digest)).fetchone()
        except sqlite3.OperationalError:
            return {}
        if got is not None:
            out[digest] = bytes(got[0])
    return out
