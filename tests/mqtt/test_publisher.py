"""Publisher against real brokers: delivery, hub-ack-only outbox, retained state, discovery,
alerts/checkpoints topics, replay on command."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from brokers import Mosquitto, Watcher, require_mosquitto, wait_for
from devicesim import append_captures

from camaudit.config.mqtt import MqttConfig
from camaudit.core.record import Event
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal

pytestmark = pytest.mark.integration


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    require_mosquitto()
    m = Mosquitto(tmp_path / "mosquitto").start()
    yield m.url
    m.stop()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.open(tmp_path / "dev" / "journal.db", "dev1", checkpoint_every=50)
    yield j
    j.close()


def test_outbox_clears_only_on_hub_ack(broker_url: str, journal: Journal, make_hub) -> None:
    watcher = Watcher(broker_url, "camaudit/dev1/events")
    pub = Publisher(MqttConfig(url=broker_url, ack_timeout_s=1.0), journal, feeds=["counter"])
    pub.start()
    try:
        append_captures(journal, 300, 0, pub)
        head = journal.head[0]
        # the broker has every event (PUBACKed, even delivered), yet no hub stored them
        wait_for(lambda: len({Event.from_json(p).seq for p in watcher.on("/events")}) >= head,
                 what="broker delivery")
        time.sleep(1.5)  # past the ack timeout: rows are re-sent, never cleared
        assert journal.outbox_size() == head
        hub = make_hub(broker=broker_url)
        hub.enroll("dev1", journal.public_key.hex())
        wait_for(lambda: journal.outbox_size() == 0, what="hub ack")
        assert hub.store.seqs("dev1") == list(range(1, head + 1))
        assert hub.store.count_events("dev1") == head
        assert pub.hub_acked == head
        # the re-sends reached the hub as duplicates and were not stored twice
        assert len(hub.store.witnesses("dev1")) == head // 51
    finally:
        pub.stop()
        watcher.close()


def test_retained_state_status_and_discovery(mosquitto: Mosquitto, journal: Journal) -> None:
    live = Watcher(mosquitto.url, "camaudit/#")
    pub = Publisher(MqttConfig(url=mosquitto.url), journal, feeds=["counter"], notices=["sign-1"])
    pub.start()
    wait_for(lambda: live.on("/status") == [b"online"], what="online status")
    for n in (2, 3, 0):
        for _ in range(3):  # repeats of an unchanged count are not published again
            pub.set_faces("counter", n)
        wait_for(lambda n=n: live.on("/feeds/counter/faces")[-1:] == [str(n).encode()],
                 what=f"face count {n}")
    pub.set_notice("sign-1", "VISIBLE")
    wait_for(lambda: live.on("/notices/sign-1")[-1:] == [b"VISIBLE"], what="notice state")
    pub.set_notice("sign-1", "MISSING")
    wait_for(lambda: live.on("/notices/sign-1")[-1:] == [b"MISSING"], what="notice state")
    pub.set_faces("counter", 0)
    time.sleep(0.5)
    pub.stop()
    live.close()
    assert live.on("/feeds/counter/faces") == [b"2", b"3", b"0"]
    assert live.on("/notices/sign-1") == [b"VISIBLE", b"MISSING"]

    fresh = Watcher(mosquitto.url, "camaudit/#", "homeassistant/#")
    wait_for(lambda: len(fresh.messages) >= 9, what="retained messages")
    retained = {t: p for t, p, r in fresh.messages if r}
    fresh.close()
    assert retained["camaudit/dev1/status"] == b"offline"  # clean stop
    assert retained["camaudit/dev1/feeds/counter/faces"] == b"0"
    assert retained["camaudit/dev1/notices/sign-1"] == b"MISSING"
    assert retained["camaudit/dev1/key"] == journal.public_key.hex().encode()
    assert retained["camaudit/dev1/feeds/counter/unconsented_today"] == b"0"
    online = json.loads(retained["homeassistant/binary_sensor/camaudit_dev1/online/config"])
    assert online["state_topic"] == "camaudit/dev1/status"
    assert online["payload_off"] == "offline"
    faces = json.loads(retained["homeassistant/sensor/camaudit_dev1/counter_faces/config"])
    assert faces["state_topic"] == "camaudit/dev1/feeds/counter/faces"
    today = json.loads(retained["homeassistant/sensor/camaudit_dev1/counter_unconsented_today/config"])
    assert today["state_topic"] == "camaudit/dev1/feeds/counter/unconsented_today"
    assert "homeassistant/sensor/camaudit_dev1/notice_sign-1/config" in retained


def test_alerts_checkpoints_and_unconsented_count(mosquitto: Mosquitto, journal: Journal) -> None:
    live = Watcher(mosquitto.url, "camaudit/#")
    pub = Publisher(MqttConfig(url=mosquitto.url), journal, feeds=["counter"])
    pub.start()
    try:
        now = int(time.time() * 1000)
        cap = journal.append("capture.end", "counter",
                             {"capture": "c-1", "verdict": "unconsented", "reasons": ["no_notice"]}, now)
        journal.append("alert", "counter", {"text": "faces captured with no notice", "capture": "c-1",
                                             "reasons": ["no_notice"], "ref_seq": cap.seq}, now)
        append_captures(journal, 60, 0)
        pub.notify()
        wait_for(lambda: live.on("/alerts"), what="alert message")
        alert = json.loads(live.on("/alerts")[0])
        assert alert["text"] == "faces captured with no notice"
        assert alert["ref_seq"] == cap.seq and alert["seq"] == cap.seq + 1
        assert alert["reasons"] == ["no_notice"] and alert["capture"] == "c-1"
        wait_for(lambda: live.on("/checkpoints"), what="checkpoint")
        cp = Event.from_json(live.on("/checkpoints")[0])
        assert cp.type == "checkpoint" and cp.body["seq"] == cp.seq - 1
        # one unconsented capture from c-1, plus every third synthetic one (today's ts)
        expected = 1 + sum(1 for ev in journal.events() if ev.type == "capture.end"
                           and ev.body.get("verdict") == "unconsented") - 1
        wait_for(lambda: live.on("/unconsented_today")[-1:] == [str(expected).encode()],
                 what="unconsented count")
    finally:
        pub.stop()
        live.close()


def test_replay_command_resends_acked_rows(mosquitto: Mosquitto, journal: Journal) -> None:
    """A hub that lost data asks for replay from a seq it already acked."""
    live = Watcher(mosquitto.url, "camaudit/dev1/events")
    pub = Publisher(MqttConfig(url=mosquitto.url), journal)
    pub.start()
    try:
        append_captures(journal, 20, 0, pub)
        wait_for(lambda: len(live.on("/events")) >= 20, what="first delivery")
        live.publish("camaudit/dev1/ack", b"20")
        wait_for(lambda: journal.outbox_size() == 0, what="ack applied")
        n_before = len(live.on("/events"))
        live.publish("camaudit/dev1/cmd/replay", b"15")
        wait_for(lambda: len(live.on("/events")) >= n_before + 6, what="replay")
        again = [Event.from_json(p).seq for p in live.on("/events")[n_before:]]
        assert again[:6] == [15, 16, 17, 18, 19, 20]
    finally:
        pub.stop()
        live.close()


def test_bad_ack_payloads_are_ignored(mosquitto: Mosquitto, journal: Journal) -> None:
    live = Watcher(mosquitto.url, "camaudit/dev1/events")
    pub = Publisher(MqttConfig(url=mosquitto.url), journal)
    pub.start()
    try:
        append_captures(journal, 5, 0, pub)
        wait_for(lambda: len(live.on("/events")) >= 5, what="delivery")
        # junk, and an ack beyond the journal head (a stale hub): none clears anything
        for bad in (b"", b"abc", b"-3", b"1.5", b'{"seq": true}', b"9" * 100, b"999"):
            live.publish("camaudit/dev1/ack", bad)
        live.publish("camaudit/dev1/ack", b"3")
        wait_for(lambda: journal.outbox_size() == 2, what="ack of 3")
        assert [e.seq for e in journal.unacked()] == [4, 5]
    finally:
        pub.stop()
        live.close()


def test_unconsented_today_resets_at_utc_midnight(mosquitto: Mosquitto, journal: Journal) -> None:
    day1 = 1795651200.0 + 23 * 3600  # 2026-11-26 23:00 UTC
    now = [day1]
    live = Watcher(mosquitto.url, "camaudit/dev1/feeds/#")
    pub = Publisher(MqttConfig(url=mosquitto.url), journal, feeds=["counter"], clock=lambda: now[0])
    pub.start()
    try:
        for i in range(2):
            journal.append("capture.end", "counter", {"capture": f"c-{i}", "verdict": "unconsented",
                                                       "reasons": ["no_notice"]}, int(day1 * 1000))
        pub.notify()
        wait_for(lambda: live.on("/unconsented_today")[-1:] == [b"2"], what="count 2")
        now[0] = day1 + 3600  # 00:00 the next day
        pub.notify()
        wait_for(lambda: live.on("/unconsented_today")[-1:] == [b"0"], what="reset to 0")
    finally:
        pub.stop()
        live.close()
