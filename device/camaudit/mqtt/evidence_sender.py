"""Device side: send blurred evidence frames to the hub, for feeds that opted in (`send_evidence`).

Runs inside the Publisher's sender thread and on its MQTT connection (the broker binds
the client id to the device's user name, so a second connection would take over the
first). Each round it:
1. scans journal events past the outbox cursor for `capture.*` events of opted-in feeds
   whose body names evidence (`sha256:<hex>`) and queues each frame once, with the seq of
   the first event naming it (camaudit.store.evidence_outbox);
2. publishes due frames whose naming event the hub has ALREADY acked (so the hub holds the
   signed record that vouches for the frame before the frame arrives) on
   `<p>/<device>/evidence/<seq>/<sha>`, QoS 1, the stored JPEG's bytes unchanged, at most
   `max_inflight` unacked at a time;
3. deletes a row when the hub acks its sha on `<p>/<device>/cmd/evidence_ack`; a frame not
   acked within `ack_timeout_s` is sent again, with an exponential backoff (a frame the hub
   keeps refusing costs a message every 10 minutes at most), and at once after a reconnect.
A frame larger than `max_bytes` (the broker's packet limit leaves room for 120,000 bytes)
or whose file is gone or no longer matches its hash is never sent; it stays on the device.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camaudit.mqtt import topics
from camaudit.store.evidence_outbox import MISSING, TOO_LARGE, EvidenceOutbox

if TYPE_CHECKING:
    from camaudit.core.record import Event

log = logging.getLogger(__name__)

MAX_BYTES = 120_000  # < the hub broker's max_packet_size (131072) minus topic and header
MAX_INFLIGHT = 4
MAX_BACKOFF_S = 600.0
SCAN_BATCH = 500
EVERY_S = 0.2
REF = re.compile(r"sha256:([0-9a-f]{64})")


def frame_refs(ev: Event, feeds: Iterable[str]) -> list[str]:
    """Hex sha256 of every evidence frame a capture event names, if its feed opted in."""
    if not ev.type.startswith("capture.") or ev.feed not in set(feeds):
        return []
    refs = ev.body.get("evidence")
    if not isinstance(refs, list):
        return []
    out = []
    for r in refs:
        m = REF.fullmatch(r) if isinstance(r, str) else None
        if m is not None:
            out.append(m.group(1))
    return out


class EvidenceSender:
    def __init__(
        self,
        outbox: EvidenceOutbox,
        journal: Any,
        evidence_dir: Path,
        feeds: Iterable[str],
        *,
        ack_timeout_s: float = 10.0,
        max_bytes: int = MAX_BYTES,
        max_inflight: int = MAX_INFLIGHT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.journal = journal
        self.dir = Path(evidence_dir)
        self.feeds = set(feeds)
        self.ack_timeout_s = ack_timeout_s
        self.max_bytes = max_bytes
        self.max_inflight = max_inflight
        self.clock = clock
        self._inflight: dict[str, float] = {}  # sha -> monotonic deadline for its ack
        self._last = 0.0
        self.stats = {"queued": 0, "sent": 0, "acked": 0, "too_large": 0, "missing": 0}
        dropped = outbox.drop_feeds_except(self.feeds)
        if dropped:
            log.info("evidence sending off for their feed: %d queued frame(s) not sent", dropped)

    # -- called from paho's thread ----------------------------------------------------------
    def on_ack(self, payload: bytes) -> None:
        sha = payload.decode("ascii", "replace").strip()
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            log.warning("ignoring a bad evidence ack")
            return
        self._inflight.pop(sha, None)
        if self.outbox.acked(sha):
            self.stats["acked"] += 1
            log.info("hub stored evidence frame %s", sha[:12])

    def on_connect(self) -> None:
        self._inflight.clear()
        self.outbox.retry_now()

    # -- called from the publisher's sender thread -------------------------------------------
    def scan(self) -> int:
        """Queue the frames named by journal events past the cursor; returns frames queued."""
        added = 0
        while True:
            cursor = self.outbox.cursor
            rows = self.journal.events(after_seq=cursor, limit=SCAN_BATCH)
            if not rows:
                return added
            frames = [(sha, ev.seq, ev.feed or "") for ev in rows for sha in frame_refs(ev, self.feeds)]
            added += self.outbox.enqueue(frames, rows[-1].seq)
            self.stats["queued"] += len(frames)
            if len(rows) < SCAN_BATCH:
                return added

    def round(self, publish: Callable[..., Any], prefix: str, device: str, hub_acked: int,
              *, connected: bool = True, force: bool = False) -> int:
        """Queue new frames and, when connected, send what is due (at most every EVERY_S unless
        `force`); returns frames published."""
        now = time.monotonic()
        if not force and now - self._last < EVERY_S:
            return 0
        self._last = now
        self.scan()
        if not connected:
            return 0
        for sha in [s for s, t in self._inflight.items() if t <= now]:
            del self._inflight[sha]  # its ack timed out: due again by its backoff
        free = self.max_inflight - len(self._inflight)
        if free <= 0:
            return 0
        now_ms = int(self.clock() * 1000)
        sent = 0
        for row in self.outbox.due(now_ms, hub_acked, limit=free + len(self._inflight)):
            if sent >= free:
                break
            if row.sha in self._inflight:
                continue
            data = self._read(row.sha)
            if data is None:
                continue
            publish(topics.evidence(prefix, device, row.seq, row.sha), data, qos=1)
            backoff = min(MAX_BACKOFF_S, self.ack_timeout_s * (2 ** min(row.tries, 10)))
            self.outbox.sent(row.sha, now_ms + int(backoff * 1000))
            self._inflight[row.sha] = now + self.ack_timeout_s
            self.stats["sent"] += 1
            sent += 1
        return sent

    def _read(self, sha: str) -> bytes | None:
        path = self.dir / f"{sha}.jpg"
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                log.warning("evidence frame %s is %d bytes, more than the %d an MQTT message may "
                            "carry: not sent (it stays on the device)", sha[:12], size, self.max_bytes)
                self.outbox.mark(sha, TOO_LARGE)
                self.stats["too_large"] += 1
                return None
            data = path.read_bytes()
        except OSError as exc:
            log.warning("evidence frame %s cannot be read (%s): not sent", sha[:12], exc.strerror)
            self.outbox.mark(sha, MISSING)
            self.stats["missing"] += 1
            return None
        if hashlib.sha256(data).hexdigest() != sha:
            log.error("evidence frame %s no longer matches its hash: not sent", sha[:12])
            self.outbox.mark(sha, MISSING)
            self.stats["missing"] += 1
            return None
        return data
