"""The hub's evidence frames: blurred JPEGs a device sends for feeds that opted in.

Topic `<p>/<device>/evidence/<seq>/<sha256 hex>`, payload the device's stored JPEG, bytes
unchanged. A frame is stored only if:
- it is at most `max_bytes` (checked before anything else; the broker's packet limit is
  above it);
- the payload's SHA-256 is the topic's (`evidence_bad_sha` otherwise);
- the device is enrolled (`evidence_unknown_device`);
- the stored, verified event `seq` of that device is a `capture.*` event whose body's
  `evidence` list names `sha256:<sha>` (`evidence_unreferenced`); if the hub has not
  stored that seq yet the frame waits (at most HOLD_S seconds, HOLD_MAX frames) for it;
- it decodes as a JPEG of sane dimensions (`evidence_not_jpeg`, `evidence_bad_size`): the
  header is read first and a frame larger than MAX_SIDE x MAX_SIDE or MAX_PIXELS is refused
  before its pixels are decoded (a decompression bomb costs nothing);
- its pixels already are the safe view (`evidence_not_safe_view`, hub/evidence/safe.py);
- the shipped face detector (min_score FACE_SCORE) finds no face at least FACE_PX tall in it
  (`evidence_faces_visible`; `evidence_unchecked` if the detector cannot run: fail closed):
  the device's safe view leaves none (bench/evidence_sizes.py --faces: 0 in the safe views of
  52 frames of the six shared clips, while it finds faces in 32 of the raw frames), so a raw
  frame from a misconfigured or compromised device is refused, not shown.
It is then stored once (PRIMARY KEY device, sha: the device's signed sha256) in
`evidence_frames`: NOT the bytes that arrived but the hub's own JPEG of its own pixelation
of them (no metadata, nothing after the image), which is all the hub serves and packs
(hub/evidence/pack.py carries it with a hub-signed map device sha256 -> hub sha256), and acked to the device on
`<p>/<device>/cmd/evidence_ack` (payload: the sha). Rejects are counted by reason in the hub's
`rejects` table, like events. The store speaks camaudit.hub.store.sql (SQLite or PostgreSQL).
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from camaudit.hub.store.schema import migrate
from camaudit.hub.store.sql import Sql
from camaudit.mqtt import topics

log = logging.getLogger(__name__)

MAX_BYTES = 120_000  # the device sends nothing larger (camaudit.mqtt.evidence_sender.MAX_BYTES)
HOLD_S = 30.0
HOLD_MAX = 32  # frames waiting for their event: at most HOLD_MAX * MAX_BYTES of memory
QUEUE_MAX = 64
SHA = re.compile(r"[0-9a-f]{64}")

REASONS = (
    "evidence_wrong_topic", "evidence_oversize", "evidence_bad_sha", "evidence_unknown_device",
    "evidence_unreferenced", "evidence_not_jpeg", "evidence_bad_size", "evidence_faces_visible",
    "evidence_unchecked", "evidence_overload", "evidence_internal", "evidence_not_safe_view",
)
FACE_SCORE = 0.5
FACE_PX = 20


class EvidenceReject(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def parse_topic(prefix: str, topic: str) -> tuple[str, int, str]:
    """`<p>/<device>/evidence/<seq>/<sha>` -> (device, seq, sha)."""
    where = topics.split(prefix, topic)
    parts = where[1].split("/") if where is not None else []
    if where is None or len(parts) != 3 or parts[0] != "evidence":
        raise EvidenceReject("evidence_wrong_topic", topic[:120])
    _, seq_text, sha = parts
    if not seq_text.isdigit() or len(seq_text) > 16 or not SHA.fullmatch(sha):
        raise EvidenceReject("evidence_wrong_topic", topic[:120])
    return where[0], int(seq_text), sha


def check_jpeg(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG that decodes fully and has sane dimensions; EvidenceReject
    otherwise. The size is checked from the header before any pixel is decoded."""
    from camaudit.hub.evidence.safe import NotSafe, decode

    try:
        bgr = decode(data)
    except NotSafe as exc:
        raise EvidenceReject(exc.reason, exc.detail) from None
    return bgr.shape[1], bgr.shape[0]


def hub_frame(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, the hub's own JPEG) of a device frame that already is the safe view
    (hub/evidence/safe.py); EvidenceReject otherwise."""
    from camaudit.hub.evidence.safe import NotSafe, hub_view

    try:
        return hub_view(data)
    except NotSafe as exc:
        raise EvidenceReject(exc.reason, exc.detail) from None


class FaceCheck:
    """Faces at least `min_px` tall the shipped detector finds in a JPEG (built on first use,
    in the inbox's thread only: one interpreter, never shared)."""

    def __init__(self, min_score: float = FACE_SCORE, min_px: int = FACE_PX) -> None:
        self.min_score = min_score
        self.min_px = min_px
        self._det: Any = None

    def __call__(self, data: bytes) -> int:
        import cv2
        import numpy as np

        if self._det is None:
            from camaudit.detect import load_detector

            self._det = load_detector(min_score=self.min_score)
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise EvidenceReject("evidence_not_jpeg", "does not decode")
        return sum(1 for d in self._det.detect(img) if d.h >= self.min_px)


@dataclass(frozen=True)
class Frame:
    device: str
    sha: str
    capture: str
    seq: int
    feed: str | None
    width: int
    height: int
    size: int
    received_ms: int


class EvidenceStore:
    """The `evidence_frames` table (SQLite or PostgreSQL through camaudit.hub.store.sql)."""

    COLS = "device, sha, capture, seq, feed, width, height, bytes, received_ms"

    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        migrate(sql)  # evidence_frames is part of the hub store's schema (version 3)

    def add(self, f: Frame, data: bytes) -> bool:
        """Store a checked frame; False if (device, sha) was already stored."""
        cur = self.sql.execute(
            f"INSERT INTO evidence_frames ({self.COLS}, data) VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (device, sha) DO NOTHING",
            (f.device, f.sha, f.capture, f.seq, f.feed, f.width, f.height, f.size, f.received_ms, data),
        )
        return cur.rowcount == 1

    def frames(self, device: str, capture: str) -> dict[str, Frame]:
        """sha -> Frame of every stored frame of one capture."""
        rows = self.sql.execute(
            f"SELECT {self.COLS} FROM evidence_frames WHERE device = ? AND capture = ? ORDER BY seq, sha",
            (device, capture),
        ).fetchall()
        return {r[1]: Frame(r[0], r[1], r[2], int(r[3]), r[4], int(r[5]), int(r[6]), int(r[7]), int(r[8]))
                for r in rows}

    def data(self, device: str, capture: str, sha: str) -> bytes | None:
        """The stored bytes of a frame of that device AND capture, else None."""
        row = self.sql.execute(
            "SELECT data FROM evidence_frames WHERE device = ? AND capture = ? AND sha = ?",
            (device, capture, sha),
        ).fetchone()
        return bytes(row[0]) if row else None

    def data_of(self, device: str, sha: str) -> bytes | None:
        """The stored bytes of a frame of that device (any capture), else None."""
        row = self.sql.execute("SELECT data FROM evidence_frames WHERE device = ? AND sha = ?",
                               (device, sha)).fetchone()
        return bytes(row[0]) if row else None

    def has(self, device: str, sha: str) -> bool:
        return self.sql.execute("SELECT 1 FROM evidence_frames WHERE device = ? AND sha = ?",
                                (device, sha)).fetchone() is not None

    def count(self, device: str | None = None) -> int:
        if device is None:
            return int(self.sql.execute("SELECT COUNT(*) FROM evidence_frames").fetchone()[0])
        return int(self.sql.execute(
            "SELECT COUNT(*) FROM evidence_frames WHERE device = ?", (device,)).fetchone()[0])


class EventLookup:
    """What the inbox asks of the hub's event store (tables `devices`, `heads`, `events`)."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def enrolled(self, device: str) -> bool:
        return self.sql.execute("SELECT 1 FROM devices WHERE device = ?", (device,)).fetchone() is not None

    def head_seq(self, device: str) -> int:
        row = self.sql.execute("SELECT seq FROM heads WHERE device = ?", (device,)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def event(self, device: str, seq: int) -> dict[str, Any] | None:
        row = self.sql.execute("SELECT json FROM events WHERE device = ? AND seq = ?", (device, seq)).fetchone()
        if row is None:
            return None
        raw = row[0]
        if isinstance(raw, dict):  # a PostgreSQL store may keep it as JSONB
            return raw
        parsed = json.loads(bytes(raw).decode() if isinstance(raw, bytes | memoryview) else raw)
        return parsed if isinstance(parsed, dict) else None


@dataclass
class _Held:
    seq: int
    data: bytes
    received_ms: int
    deadline: float


class EvidenceInbox:
    """Checks and stores evidence frames in a thread of its own (JPEG decoding never slows the
    collector's event path). `submit` is called from the collector for every message on
    `<p>/+/evidence/+/+`; `count_rejects({reason: (n, detail)})` adds to the hub's reject
    counts; `publish(topic, payload, qos)` sends the device's ack."""

    def __init__(
        self,
        store: EvidenceStore,
        lookup: EventLookup,
        prefix: str,
        publish: Callable[..., Any],
        count_rejects: Callable[[dict[str, tuple[int, str]]], None],
        *,
        max_bytes: int = MAX_BYTES,
        hold_s: float = HOLD_S,
        face_check: Callable[[bytes], int] | None = None,
    ) -> None:
        self.face_check = face_check
        self.store = store
        self.lookup = lookup
        self.p = prefix
        self.publish = publish
        self.count_rejects = count_rejects
        self.max_bytes = max_bytes
        self.hold_s = hold_s
        self._q: queue.Queue[tuple[str, bytes | None, int, int]] = queue.Queue(maxsize=QUEUE_MAX)
        self._held: dict[tuple[str, str], _Held] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {"stored": 0, "duplicates": 0, "rejected": 0, "held": 0}

    def start(self) -> EvidenceInbox:
        self._thread = threading.Thread(target=self._run, name="hub-evidence", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def submit(self, topic: str, payload: bytes, received_ms: int) -> None:
        """Queue one message (never blocks; an oversize payload is not even kept)."""
        size = len(payload)
        try:
            self._q.put_nowait((topic, payload if size <= self.max_bytes else None, size, received_ms))
        except queue.Full:  # the device sends it again: nothing is acked that was not stored
            self._reject({"evidence_overload": (1, f"{topic[:80]}: evidence queue full")})

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._q.get(timeout=0.25)
            except queue.Empty:
                item = None
            if item is not None:
                topic, payload, size, received = item
                try:
                    self.handle(topic, payload, size, received)
                except Exception as exc:
                    log.exception("evidence message on %s failed", topic[:120])
                    self._reject({"evidence_internal": (1, f"{topic[:80]}: {exc!r}"[:200])})
            try:
                self.recheck_held()
            except Exception:
                log.exception("evidence: re-checking held frames failed")

    def handle(self, topic: str, payload: bytes | None, size: int, received_ms: int) -> str:
        """Check and store one frame; returns 'stored', 'duplicate', 'held' or a reject reason."""
        try:
            if payload is None or size > self.max_bytes:
                raise EvidenceReject("evidence_oversize", f"{size} bytes on {topic[:80]}")
            device, seq, sha = parse_topic(self.p, topic)
            if hashlib.sha256(payload).hexdigest() != sha:
                raise EvidenceReject("evidence_bad_sha", f"{device}: payload is not {sha[:16]}...")
            if not self.lookup.enrolled(device):
                raise EvidenceReject("evidence_unknown_device", device)
            return self._store(device, seq, sha, payload, received_ms, may_hold=True)
        except EvidenceReject as r:
            self._reject({r.reason: (1, r.detail)})
            return r.reason

    def _store(self, device: str, seq: int, sha: str, payload: bytes, received_ms: int,
               *, may_hold: bool) -> str:
        ev = self.lookup.event(device, seq)
        if ev is None:
            if may_hold and seq > self.lookup.head_seq(device) and len(self._held) < HOLD_MAX:
                self._held.setdefault((device, sha), _Held(seq, payload, received_ms,
                                                           time.monotonic() + self.hold_s))
                self.stats["held"] += 1
                log.info("evidence frame %s of %s waits for seq %d", sha[:12], device, seq)
                return "held"
            raise EvidenceReject("evidence_unreferenced", f"{device}: no stored seq {seq}")
        body = ev.get("body") if isinstance(ev.get("body"), dict) else {}
        refs = body.get("evidence") if isinstance(body, dict) else None
        capture = body.get("capture") if isinstance(body, dict) else None
        if (not str(ev.get("type", "")).startswith("capture.") or not isinstance(refs, list)
                or f"sha256:{sha}" not in refs or not isinstance(capture, str)):
            raise EvidenceReject("evidence_unreferenced", f"{device} seq {seq} does not name {sha[:16]}...")
        if self.store.has(device, sha):  # a re-send (the device missed our ack): no re-check
            self.stats["duplicates"] += 1
            self.publish(topics.evidence_ack(self.p, device), sha.encode("ascii"), qos=1)
            return "duplicate"
        w, h, mine = hub_frame(payload)
        if self.face_check is not None:
            try:
                faces = self.face_check(payload)
            except EvidenceReject:
                raise
            except Exception as exc:  # fail closed: an unchecked frame is not shown
                log.error("evidence: the face check cannot run: %s", exc)
                raise EvidenceReject("evidence_unchecked", f"{type(exc).__name__}: {exc}"[:120]) from None
            if faces:
                log.warning("evidence frame %s of %s shows %d face(s): refused (not the safe view)",
                            sha[:12], device, faces)
                raise EvidenceReject("evidence_faces_visible",
                                     f"{device} {sha[:16]}...: {faces} face(s) >= {FACE_PX} px")
        feed = ev.get("feed") if isinstance(ev.get("feed"), str) else None
        frame = Frame(device, sha, capture, seq, feed, w, h, len(mine), received_ms)
        new = self.store.add(frame, mine)  # the hub's re-encoding, never the device's bytes
        self.stats["stored" if new else "duplicates"] += 1
        if new:
            log.info("evidence frame %s of %s capture %s stored (%dx%d, %d bytes)",
                     sha[:12], device, capture, w, h, len(mine))
        self.publish(topics.evidence_ack(self.p, device), sha.encode("ascii"), qos=1)
        return "stored" if new else "duplicate"

    def recheck_held(self) -> None:
        """Frames whose event has arrived are stored; those held past their time are rejected."""
        now = time.monotonic()
        for key, held in list(self._held.items()):
            device, sha = key
            try:
                if self.lookup.event(device, held.seq) is not None:
                    del self._held[key]
                    self._store(device, held.seq, sha, held.data, held.received_ms, may_hold=False)
                elif now >= held.deadline:
                    del self._held[key]
                    raise EvidenceReject("evidence_unreferenced",
                                         f"{device}: seq {held.seq} not stored within {self.hold_s:.0f} s")
            except EvidenceReject as r:
                self._reject({r.reason: (1, r.detail)})

    @property
    def held(self) -> int:
        return len(self._held)

    def _reject(self, rejects: dict[str, tuple[int, str]]) -> None:
        for reason, (n, detail) in rejects.items():
            self.stats["rejected"] += n
            log.info("rejected %d evidence frame(s): %s (%s)", n, reason, detail[:120])
        try:
            self.count_rejects(rejects)
        except Exception:
            log.exception("cannot count evidence rejects")
