"""The device's evidence sender and outbox (real journal, real SQLite file, real JPEGs; the
MQTT publish is a recorder: the wire is covered by tests/hub/test_hub_evidence_e2e.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from camaudit.config.loader import ConfigError, load_config
from camaudit.core.types import Detection
from camaudit.mqtt.evidence_sender import MAX_BYTES, EvidenceSender
from camaudit.pipeline.evidence import save_evidence
from camaudit.store.evidence_outbox import EvidenceOutbox
from camaudit.store.journal import Journal

T0 = 1795651200000


class Clock:
    def __init__(self) -> None:
        self.t = T0 / 1000

    def __call__(self) -> float:
        return self.t


def frame(directory: Path, i: int) -> str:
    img = np.full((120, 160, 3), 30 + i, np.uint8)
    cv2.rectangle(img, (40, 30), (90, 90), (200, 190, 180), -1)
    return save_evidence(img, [Detection(40, 30, 50, 60, 0.9)], directory)[7:]


def capture(journal: Journal, feed: str, cid: str, shas: list[str], kind: str = "capture.start"):
    body = {"capture": cid, "start": T0, "end": None, "verdict": "consented", "reasons": [],
            "basis": "notice:x", "evidence": [f"sha256:{s}" for s in shas]}
    return journal.append(kind, feed, body, T0 + journal.head[0])


class Dev:
    def __init__(self, tmp_path: Path, feeds=("counter",), ack_timeout_s: float = 10.0, **kw) -> None:
        self.dir = tmp_path / "dev"
        self.ev = self.dir / "evidence"
        self.journal = Journal.open(self.dir / "journal.db", "dev1")
        self.clock = Clock()
        self.sent: list[tuple[str, bytes]] = []
        self.feeds = feeds
        self.kw = dict(ack_timeout_s=ack_timeout_s, **kw)
        self.open()

    def open(self) -> None:
        self.outbox = EvidenceOutbox(self.dir / "journal.db", start_cursor=self.journal.head[0])
        self.sender = EvidenceSender(self.outbox, self.journal, self.ev, self.feeds, clock=self.clock, **self.kw)

    def round(self, acked: int | None = None, connected: bool = True) -> list[str]:
        n = len(self.sent)
        self.sender.round(lambda t, p, qos: self.sent.append((t, p)), "camaudit", "dev1",
                          self.journal.head[0] if acked is None else acked, connected=connected, force=True)
        return [t for t, _ in self.sent[n:]]


def test_frames_go_only_after_their_event_is_acked_once_each_until_acked(tmp_path: Path) -> None:
    d = Dev(tmp_path)
    a, b = frame(d.ev, 1), frame(d.ev, 2)
    e1 = capture(d.journal, "counter", "c-1", [a])
    capture(d.journal, "counter", "c-1", [a], kind="capture.end")  # names it again: one frame
    e3 = capture(d.journal, "counter", "c-2", [b])
    assert d.round(acked=e1.seq - 1) == []  # the hub has not stored the naming event yet
    assert d.round(acked=e1.seq, connected=False) == []  # offline: queued, not sent
    assert d.outbox.counts() == {"queued": 2}
    assert d.round(acked=e1.seq) == [f"camaudit/dev1/evidence/{e1.seq}/{a}"]
    assert d.sent[0][1] == (d.ev / f"{a}.jpg").read_bytes()  # the stored file, bytes unchanged
    assert d.round(acked=e3.seq) == [f"camaudit/dev1/evidence/{e3.seq}/{b}"]
    assert d.round() == []  # both in flight, not yet due again
    d.sender.on_ack(a.encode())
    d.sender.on_ack(b"not-a-sha")
    assert d.outbox.counts() == {"queued": 1}
    d.clock.t += 11  # b's ack timed out: sent again, with backoff
    d.sender._inflight.clear()
    assert d.round() == [f"camaudit/dev1/evidence/{e3.seq}/{b}"]
    d.clock.t += 11
    d.sender._inflight.clear()
    assert d.round() == []  # second try waits 20 s
    d.clock.t += 10
    assert d.round() == [f"camaudit/dev1/evidence/{e3.seq}/{b}"]
    d.sender.on_connect()  # a reconnect: due at once
    assert d.round() == [f"camaudit/dev1/evidence/{e3.seq}/{b}"]
    d.sender.on_ack(b.encode())
    assert d.outbox.counts() == {}


def test_a_feed_that_did_not_opt_in_sends_nothing(tmp_path: Path) -> None:
    d = Dev(tmp_path, feeds=("counter",))
    capture(d.journal, "door", "c-1", [frame(d.ev, 1)])
    assert d.round() == [] and d.outbox.counts() == {}


def test_in_flight_frames_are_bounded(tmp_path: Path) -> None:
    d = Dev(tmp_path, max_inflight=3)
    for i in range(8):
        capture(d.journal, "counter", f"c-{i}", [frame(d.ev, i)])
    assert len(d.round()) == 3
    assert d.round() == []
    d.sender.on_ack(d.sent[0][0].rsplit("/", 1)[1].encode())
    assert len(d.round()) == 1


def test_too_large_missing_or_changed_frames_are_never_sent_and_stay_on_disk(tmp_path: Path) -> None:
    d = Dev(tmp_path, max_bytes=2000)
    big = frame(d.ev, 1)
    assert (d.ev / f"{big}.jpg").stat().st_size > 2000
    gone, changed = "ab" * 32, frame(d.ev, 2)
    (d.ev / f"{changed}.jpg").write_bytes(b"not the frame")
    capture(d.journal, "counter", "c-1", [big, gone, changed])
    assert d.round() == []
    assert d.outbox.counts() == {"too_large": 1, "missing": 2}
    assert (d.ev / f"{big}.jpg").exists()
    from camaudit.hub.broker.mosquitto import BrokerLimits

    # the hub's mosquitto takes the largest frame sent with its topic and MQTT header
    topic = "camaudit/" + "d" * 64 + "/evidence/" + "9" * 16 + "/" + "f" * 64
    assert MAX_BYTES + len(topic) + 2 + 2 + 5 <= BrokerLimits().max_packet_size


def test_a_restart_neither_repeats_nor_skips_and_turning_off_drops_the_queue(tmp_path: Path) -> None:
    d = Dev(tmp_path)
    capture(d.journal, "counter", "c-0", [frame(d.ev, 0)])
    assert len(d.round()) == 1
    d.outbox.close()
    d.open()  # restarted: the unacked frame is queued once, the cursor kept
    capture(d.journal, "counter", "c-1", [frame(d.ev, 1)])
    d.round()
    assert d.outbox.counts() == {"queued": 2}
    d.outbox.close()
    d.feeds = ()
    d.open()  # send_evidence turned off for the feed
    assert d.outbox.counts() == {}
    assert len(list(d.ev.glob("*.jpg"))) == 2


def test_a_journal_with_the_outbox_table_still_verifies(tmp_path: Path) -> None:
    d = Dev(tmp_path)
    capture(d.journal, "counter", "c-0", [frame(d.ev, 0)])
    d.round()
    d.journal.close()
    proc = subprocess.run([sys.executable, "-m", "camaudit.cli", "verify", str(d.dir / "journal.db")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_check_config_refuses_send_evidence_without_blurred_frames(tmp_path: Path) -> None:
    cfg = tmp_path / "venue.yaml"
    cfg.write_text("device: {id: cafe-01}\nfeeds:\n  counter:\n    source: a.mp4\n    send_evidence: true\n"
                   "  door: {source: b.mp4, evidence: blurred, send_evidence: true}\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert str(err.value) == (f"{cfg}:5: feeds.counter.send_evidence: needs evidence: blurred on this "
                              "feed (there is no frame to send)")
    cfg.write_text("device: {id: cafe-01}\nfeeds:\n  door: {source: b.mp4, evidence: blurred}\n")
    assert load_config(cfg).feeds["door"].send_evidence is False  # off by default


def test_the_runner_makes_a_sender_only_for_opted_in_feeds(tmp_path: Path) -> None:
    import sqlite3

    from camaudit.config.model import Config
    from camaudit.pipeline.runner import _evidence_sender

    def cfg(send: bool) -> Config:
        return Config.model_validate({
            "device": {"id": "dev1", "data_dir": str(tmp_path / "dev")},
            "feeds": {"counter": {"source": "a.mp4", "evidence": "blurred", "send_evidence": send},
                      "door": {"source": "b.mp4", "evidence": "blurred"}},
            "mqtt": {"url": "mqtt://127.0.0.1:1"},
        })

    journal = Journal.open(tmp_path / "dev" / "journal.db", "dev1")
    assert _evidence_sender(cfg(False), journal) is None
    assert not EvidenceOutbox.exists(journal.path)  # the default leaves the journal file alone
    sender = _evidence_sender(cfg(True), journal)
    assert sender is not None and sender.feeds == {"counter"}
    capture(journal, "counter", "c-1", [frame(tmp_path / "dev" / "evidence", 1)])
    sender.scan()
    assert sender.outbox.counts() == {"queued": 1}
    sender.outbox.close()
    assert _evidence_sender(cfg(False), journal) is None  # turned off: the queue is dropped
    with sqlite3.connect(journal.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM evidence_outbox").fetchone()[0] == 0
    journal.close()
