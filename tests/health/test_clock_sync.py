"""Time you can trust: the device journals whether its clock was synchronised at start, and
a signed `clock.synced` when it becomes so; records stamped before are marked in reports
("clock not yet synchronised"); the hub accepts the new record.

The device runs for real (the bundled clip, the real detector) with an injected sync source
and wall clock: the clock is not synchronised at start, then "NTP" sets it one hour forward.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import camaudit.pipeline.runner as runner
from camaudit.config.overrides import apply_run_overrides
from camaudit.core.clock_sync import UNSYNCED_WORDS, unsynced_seqs
from camaudit.health.clock_sync import ClockWatch, SyncState, adjtimex, first_of, timesyncd_flag
from camaudit.hub.ingest.schema import Rejected, validate_record
from camaudit.report.html import render_html
from camaudit.report.model import build
from camaudit.store.journal import Journal

CLIP = Path(runner.__file__).resolve().parents[1] / "data" / "demo_headpose.gif"
JUMP_MS = 3_600_000


class Ntp:
    """The sync source and the wall clock of a Pi without a real-time clock: off by an hour
    until `sync()`, then right (the wall clock jumps forward)."""

    def __init__(self) -> None:
        self.synced = threading.Event()
        self.reads = 0

    def now_ms(self) -> int:
        real = int(time.time() * 1000)
        return real if self.synced.is_set() else real - JUMP_MS

    def state(self) -> SyncState:
        self.reads += 1
        return SyncState(self.synced.is_set(), "test: NTP " + ("answered" if self.synced.is_set() else "pending"))


@pytest.mark.integration
def test_device_with_a_clock_that_jumps_forward_after_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ntp = Ntp()
    monkeypatch.setattr(runner, "now_ms", ntp.now_ms)  # the device's wall clock
    watch = ClockWatch(ntp.state, wall_ms=ntp.now_ms, every_s=0.1)
    cfg = apply_run_overrides(None, source=str(CLIP), db=tmp_path / "j.db", loop=True, pace=True)
    stop, errors = threading.Event(), []

    def target() -> None:
        try:
            runner.run(cfg, db=tmp_path / "j.db", stop=stop, install_signals=False, clock_watch=watch)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and ntp.reads < 5:  # the device runs, unsynced
            time.sleep(0.1)
        time.sleep(4.0)  # a capture opens on the clip's faces
        ntp.synced.set()
        time.sleep(3.0)
    finally:
        stop.set()
        t.join(60)
    assert not errors and not t.is_alive()

    j = Journal.open(tmp_path / "j.db", cfg.device.id)
    events = j.events()
    j.close()
    online = next(e for e in events if e.type == "device.online")
    assert online.body["clock"] == {"synced": False, "how": "test: NTP pending"}
    synced = [e for e in events if e.type == "clock.synced"]
    assert len(synced) == 1  # once
    body = synced[0].body
    assert body["how"] == "test: NTP answered"
    assert abs(body["clock_step_ms"] - JUMP_MS) < 2_000  # the step is measured against monotonic time
    assert body["unsynced_ms"] >= 4_000
    assert synced[0].ts - online.ts >= JUMP_MS
    late = unsynced_seqs(events)
    assert online.seq in late and synced[0].seq not in late
    assert all(e.seq not in late for e in events if e.seq > synced[0].seq)
    assert any(e.type.startswith("capture.") for e in events if e.seq in late)

    # the report says which captures carry a time from before synchronisation
    report = build(events, {"device": cfg.device.id, "created": ntp.now_ms()})
    marked = [c for c in report.captures if c.clock_unsynced]
    assert marked
    html = render_html(report, {}).decode()
    assert html.count(UNSYNCED_WORDS) == len(marked)

    # the hub takes the new record (schema), and refuses a malformed one
    rec = synced[0].to_dict()
    validate_record(rec, now_ms=ntp.now_ms())
    bad = {**rec, "body": {**rec["body"], "clock_step_ms": "an hour"}}
    with pytest.raises(Rejected):
        validate_record(bad, now_ms=ntp.now_ms())


def test_marks_follow_the_records_not_the_times():
    class R:
        def __init__(self, seq: int, type: str, body: dict | None = None) -> None:
            self.seq, self.type, self.body = seq, type, body or {}

    old = [R(1, "device.online", {}), R(2, "capture.start")]  # a journal from before: not marked
    assert unsynced_seqs(old) == frozenset()
    run = [R(1, "device.online", {"clock": {"synced": False}}), R(2, "capture.start"),
           R(3, "clock.synced"), R(4, "capture.end"),
           R(5, "device.online", {"clock": {"synced": False}}), R(6, "feed.down"),
           R(7, "device.online", {"clock": {"synced": True}}), R(8, "capture.start")]
    assert unsynced_seqs(run) == frozenset({1, 2, 5, 6})


def test_sync_sources(tmp_path: Path):
    flag = tmp_path / "synchronized"
    assert timesyncd_flag(flag)() is None  # cannot tell: the next source answers
    flag.touch()
    assert timesyncd_flag(flag)() == SyncState(True, f"systemd-timesyncd: {flag} exists")
    state = adjtimex()()  # this kernel's answer, whatever it is, through ctypes
    assert state is not None and "STA_UNSYNC" in state.how and "maxerror" in state.how
    assert first_of([lambda: None, lambda: None])().synced is False
    assert first_of([lambda: None, timesyncd_flag(flag)])().synced is True


@pytest.mark.integration
def test_hub_stores_clock_synced_and_shows_unsynced_captures(tmp_path: Path):
    import sys

    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mqtt"))
    from brokers import require_mosquitto, wait_for
    from conftest_hub import hub_config

    from camaudit.hub.run import start_hub
    from camaudit.mqtt.publisher import Publisher

    require_mosquitto()
    hub = start_hub(hub_config(tmp_path, web=True, token="test-token-0123456789abcdef"))
    journal = Journal.open(tmp_path / "dev1.db", "dev1")
    pub = None
    try:
        hub.enroll("dev1", journal.public_key.hex())
        pub = Publisher(hub.device_mqtt("dev1"), journal, feeds=["counter"])
        pub.start()
        t0 = 1795651200000
        journal.append("device.online", None, {"feeds": ["counter"], "clock": {"synced": False, "how": "x"}}, t0)
        body = {"start": t0, "end": t0 + 1000, "verdict": "consented", "reasons": [], "basis": "notice:a"}
        journal.append("capture.end", "counter", {"capture": "c-1", **body}, t0 + 1000)
        journal.append("clock.synced", None, {"how": "adjtimex: STA_UNSYNC clear", "unsynced_ms": 9000,
                                              "clock_step_ms": JUMP_MS}, t0 + JUMP_MS)
        journal.append("capture.end", "counter", {"capture": "c-2", **body}, t0 + JUMP_MS + 1000)
        pub.notify()
        head = journal.head[0]
        wait_for(lambda: hub.store.count_events("dev1") == head, what="all stored, clock.synced too")
        auth = {"Authorization": "Bearer test-token-0123456789abcdef"}
        before = httpx.get(hub.web_url + "/capture/dev1/c-1", headers=auth)
        after = httpx.get(hub.web_url + "/capture/dev1/c-2", headers=auth)
        assert before.status_code == after.status_code == 200
        assert UNSYNCED_WORDS in before.text and UNSYNCED_WORDS not in after.text
    finally:
        if pub is not None:
            pub.stop()
        journal.close()
        hub.stop()
