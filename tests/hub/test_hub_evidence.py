"""The hub's evidence inbox and store (hub/evidence/inbox.py) against hostile frames: every frame is
checked against the signed, stored event that names it, bounded in size, decoded as a JPEG
of sane dimensions, stored once, byte for byte; each refusal is counted by reason."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from camaudit.config.mqtt import MqttConfig
from camaudit.core.types import Detection
from camaudit.hub.evidence.inbox import (
    MAX_BYTES,
    EventLookup,
    EvidenceInbox,
    EvidenceStore,
    Frame,
    check_jpeg,
)
from camaudit.hub.ingest.collector import Collector
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.store.sql import open_sql
from camaudit.pipeline.evidence import save_evidence
from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey

CLIP = (Path(__file__).resolve().parents[3] / "shared" / "data" / "videos"
        / "intel_head-pose-face-detection-female-and-male.gif")  # ../shared beside the repo
T0 = 1795651200000


def real_frame(index: int = 5) -> np.ndarray:
    if not CLIP.exists():
        pytest.skip(f"shared clip {CLIP} not here")
    cap = cv2.VideoCapture(str(CLIP))
    frame = None
    for _ in range(index + 1):
        ok, frame = cap.read()
        assert ok
    cap.release()
    assert frame is not None
    return frame


def store_events(store: HubStore, journal: Journal, evs: list) -> None:
    store.write_batch([(ev, ev.to_json(), T0) for ev in evs], {}, {}, {}, [])


class Setup:
    def __init__(self, tmp_path: Path, hold_s: float = 30.0) -> None:
        self.dir = tmp_path / "dev1"
        self.ev_dir = self.dir / "evidence"
        self.journal = Journal.open(self.dir / "journal.db", "dev1")
        self.store = HubStore(tmp_path / "hub.db")
        self.store.enroll("dev1", self.journal.public_key.hex())
        self.sql = open_sql(tmp_path / "hub.db")
        self.frames = EvidenceStore(self.sql)
        self.acks: list[tuple[str, bytes]] = []
        self.inbox = EvidenceInbox(
            self.frames, EventLookup(self.sql), "camaudit",
            publish=lambda t, p, qos=1: self.acks.append((t, p)),
            count_rejects=lambda r: self.store.write_batch([], {}, {}, r, []),
            hold_s=hold_s,
        )
        img = real_frame()
        self.sha = save_evidence(img, [Detection(200, 60, 60, 70, 0.9)], self.ev_dir)[7:]
        self.data = (self.ev_dir / f"{self.sha}.jpg").read_bytes()

    def capture(self, capture: str, refs: list[str], store: bool = True):
        body = {"capture": capture, "start": T0, "end": None, "verdict": "unconsented",
                "reasons": ["no_notice"], "basis": None, "evidence": [f"sha256:{r}" for r in refs]}
        ev = self.journal.append("capture.start", "counter", body, T0 + self.journal.head[0])
        if store:
            store_events(self.store, self.journal, [ev])
        return ev

    def send(self, seq: int, sha: str, payload: bytes, device: str = "dev1") -> str:
        topic = f"camaudit/{device}/evidence/{seq}/{sha}"
        return self.inbox.handle(topic, payload, len(payload), T0)


def test_a_referenced_frame_is_stored_once_as_the_hubs_reencoding_and_acked(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    checked: list[int] = []
    s.inbox.face_check = lambda data: checked.append(len(data)) or 0
    ev = s.capture("c-000001", [s.sha])
    assert s.send(ev.seq, s.sha, s.data) == "stored"
    assert s.send(ev.seq, s.sha, s.data) == "duplicate"  # re-sent: stored once, acked again
    assert checked == [len(s.data)]  # ... and not decoded and checked again
    assert s.acks == [("camaudit/dev1/cmd/evidence_ack", s.sha.encode())] * 2
    got = s.frames.data("dev1", "c-000001", s.sha)
    assert got is not None and got != s.data  # the hub's own JPEG, never the device's bytes
    frames = s.frames.frames("dev1", "c-000001")
    assert list(frames) == [s.sha]
    h, w = real_frame().shape[:2]
    assert (frames[s.sha].width, frames[s.sha].height, frames[s.sha].size) == (w, h, len(got))
    # only under its own device and capture
    assert s.frames.data("dev1", "c-000002", s.sha) is None
    assert s.frames.data("dev2", "c-000001", s.sha) is None
    assert s.store.rejects() == {}


def bomb_jpeg(width: int, height: int) -> bytes:
    """A small valid JPEG whose SOF header is patched to claim width x height."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 90, 90)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 7] = height.to_bytes(2, "big")
    data[i + 7:i + 9] = width.to_bytes(2, "big")
    return bytes(data)


def test_hostile_frames_are_refused_and_counted_by_reason(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    ev = s.capture("c-000001", [s.sha])
    other = s.capture("c-000002", [])
    forged = bytearray(s.data)
    forged[len(forged) // 2] ^= 0xFF  # a changed pixel block: the hash no longer matches
    not_jpeg = b"GIF89a" + b"\0" * 500
    bomb = bomb_jpeg(60000, 60000)
    truncated = s.data[: len(s.data) // 2]
    cases = [
        (ev.seq, s.sha, bytes(forged), "dev1", "evidence_bad_sha"),
        (other.seq, s.sha, s.data, "dev1", "evidence_unreferenced"),  # that event names no frame
        (ev.seq - 1, s.sha, s.data, "dev1", "evidence_unreferenced"),  # not a capture event
        (ev.seq, s.sha, s.data, "dev9", "evidence_unknown_device"),
        (other.seq, hashlib.sha256(not_jpeg).hexdigest(), not_jpeg, "dev1", "evidence_unreferenced"),
    ]
    for seq, sha, payload, dev, reason in cases:
        assert s.send(seq, sha, payload, dev) == reason
    # referenced by a signed event, yet not a sane JPEG
    for payload, reason in ((not_jpeg, "evidence_not_jpeg"), (bomb, "evidence_bad_size"),
                            (truncated, "evidence_not_jpeg")):
        sha = hashlib.sha256(payload).hexdigest()
        e = s.capture(f"c-{sha[:6]}", [sha])
        assert s.send(e.seq, sha, payload) == reason
    # oversize: refused on its length, before hashing or parsing
    big = b"\xff" * (MAX_BYTES + 1)
    assert s.inbox.handle(f"camaudit/dev1/evidence/{ev.seq}/{s.sha}", None, len(big), T0) == "evidence_oversize"
    for topic in ("camaudit/dev1/evidence/x/" + s.sha, "camaudit/dev1/evidence/1/ABC",
                  "camaudit/dev1/evidence/1/" + s.sha + "/more"):
        assert s.inbox.handle(topic, s.data, len(s.data), T0) == "evidence_wrong_topic"
    assert s.frames.count() == 0 and s.acks == []
    assert s.store.rejects() == {
        "evidence_bad_sha": 1, "evidence_unreferenced": 3, "evidence_unknown_device": 1,
        "evidence_not_jpeg": 2, "evidence_bad_size": 1, "evidence_oversize": 1,
        "evidence_wrong_topic": 3,
    }


def test_a_bomb_header_is_refused_before_decoding() -> None:
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(Exception, match="bad_size"):
        check_jpeg(bomb_jpeg(4096, 4096))  # 16.7 MP > MAX_PIXELS
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * 2**20  # nothing like the 50 MB of its pixels


def test_a_frame_ahead_of_its_event_waits_for_it_boundedly(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    ev = s.capture("c-000001", [s.sha], store=False)
    assert s.send(ev.seq, s.sha, s.data) == "held"
    s.inbox.recheck_held()
    assert s.inbox.held == 1 and s.frames.count() == 0
    store_events(s.store, s.journal, [ev])
    s.inbox.recheck_held()
    assert s.inbox.held == 0 and s.frames.data("dev1", "c-000001", s.sha) not in (None, s.data)
    # one whose event never comes is rejected when its hold ends
    s2 = Setup(tmp_path / "b", hold_s=0.0)
    ev2 = s2.capture("c-000001", [s2.sha], store=False)
    assert s2.send(ev2.seq, s2.sha, s2.data) == "held"
    s2.inbox.recheck_held()
    assert s2.inbox.held == 0 and s2.store.rejects() == {"evidence_unreferenced": 1}


def test_the_hold_is_bounded(tmp_path: Path) -> None:
    from camaudit.hub.evidence.inbox import HOLD_MAX

    s = Setup(tmp_path)
    for i in range(HOLD_MAX + 5):  # the same frame sent again and again is held once
        assert s.send(1000 + i, s.sha, s.data) == "held"
    assert s.inbox.held == 1
    for i in range(HOLD_MAX + 5):
        img = np.full((32, 32, 3), i, np.uint8)
        ok, buf = cv2.imencode(".jpg", img)
        data = buf.tobytes()
        s.send(2000 + i, hashlib.sha256(data).hexdigest(), data)
    assert s.inbox.held == HOLD_MAX
    assert s.store.rejects()["evidence_unreferenced"] >= 5


def test_the_queue_from_the_collector_is_bounded(tmp_path: Path) -> None:
    from camaudit.hub.evidence.inbox import QUEUE_MAX

    s = Setup(tmp_path)  # not started: nothing drains the queue
    for _ in range(QUEUE_MAX + 10):
        s.inbox.submit(f"camaudit/dev1/evidence/1/{s.sha}", s.data, T0)
    assert s.store.rejects() == {"evidence_overload": 10}
    # an oversize payload is not even kept in the queue
    assert s.inbox._q.qsize() == QUEUE_MAX


@pytest.mark.integration
def test_the_store_works_on_postgresql(pg_url: str) -> None:
    sql = open_sql(pg_url)
    try:
        st = EvidenceStore(sql)
        EvidenceStore(sql)  # idempotent
        data = bytes(range(256)) * 4
        f = Frame("dev1", "ab" * 32, "c-1", 2**40, "counter", 640, 360, len(data), 1795651200123)
        assert st.add(f, data) is True
        assert st.add(f, data) is False
        assert st.data("dev1", "c-1", "ab" * 32) == data
        assert st.data("dev1", "c-2", "ab" * 32) is None
        assert st.frames("dev1", "c-1")["ab" * 32] == f
        assert st.count() == 1 and st.count("dev2") == 0
    finally:
        sql.close()


def test_a_raw_frame_with_a_visible_face_is_refused_the_safe_view_is_stored(tmp_path: Path) -> None:
    """A misconfigured or compromised device signs a raw frame: the hub's face check (the
    shipped int8 model) refuses it; the device's safe view of the same frame passes."""
    from camaudit.hub.evidence.inbox import FaceCheck

    s = Setup(tmp_path)
    s.inbox.face_check = FaceCheck()
    ok, buf = cv2.imencode(".jpg", real_frame(), [cv2.IMWRITE_JPEG_QUALITY, 85])
    raw = buf.tobytes()
    raw_sha = hashlib.sha256(raw).hexdigest()
    ev = s.capture("c-000001", [raw_sha, s.sha])
    assert s.send(ev.seq, raw_sha, raw) == "evidence_faces_visible"
    assert s.send(ev.seq, s.sha, s.data) == "stored"
    assert s.frames.data("dev1", "c-000001", raw_sha) is None
    assert s.store.rejects() == {"evidence_faces_visible": 1}


def test_a_face_check_that_cannot_run_refuses_the_frame(tmp_path: Path) -> None:
    s = Setup(tmp_path)

    def broken(_data: bytes) -> int:
        raise RuntimeError("no tflite runtime")

    s.inbox.face_check = broken
    ev = s.capture("c-000001", [s.sha])
    assert s.send(ev.seq, s.sha, s.data) == "evidence_unchecked"
    assert s.frames.count() == 0 and s.acks == []


@pytest.mark.parametrize("linking", ["memory", "shared"])
def test_a_collector_hands_frames_to_the_inbox_in_both_linkings(tmp_path: Path, linking: str) -> None:
    """Workers (shared linking) take frames off the same subscription as the single hub: the
    collector passes them to the inbox, never to the event checks (which would reject them)."""
    s = Setup(tmp_path)
    s.inbox.face_check = lambda data: 0
    ev = s.capture("c-000001", [s.sha])
    col = Collector(s.store, MqttConfig(url="mqtt://127.0.0.1:1"), DeviceKey.generate(), linking=linking,
                    collector_id="w1")
    col._publish = lambda *a, **k: None  # type: ignore[method-assign]
    col.evidence = s.inbox.start()
    try:
        col._process([(f"camaudit/dev1/evidence/{ev.seq}/{s.sha}", s.data, T0, False)])
        deadline = time.monotonic() + 10
        while s.frames.data_of("dev1", s.sha) is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        s.inbox.stop()
    assert s.frames.data_of("dev1", s.sha) not in (None, s.data)
    assert s.store.rejects() == {}
    assert s.acks == [("camaudit/dev1/cmd/evidence_ack", s.sha.encode())]
