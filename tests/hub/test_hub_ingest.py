"""Ingest that no signed message can break: per-message isolation within a batch, and forks
(an SD card cloned into a second Pi) quarantined, alerted and never acked."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from brokers import wait_for
from click.testing import CliRunner

from camaudit.config.mqtt import MqttConfig
from camaudit.core.record import GENESIS_PREV, Event, seal
from camaudit.hub.commands.cli import hub_cmd
from camaudit.hub.ingest.collector import Collector
from camaudit.hub.store.hub_store import HubStore
from camaudit.mqtt.command import alerts_cmd
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey

NOW = int(time.time() * 1000)


def _chain(device: str, key: DeviceKey, bodies: list[tuple[str, dict]]) -> list[Event]:
    out, prev = [], GENESIS_PREV
    for i, (typ, body) in enumerate(bodies, 1):
        ev = seal(device=device, seq=i, ts=NOW - 10_000 + i, type=typ, feed="counter", body=body,
                  prev=prev, sign=key.sign)
        out.append(ev)
        prev = ev.hash
    return out


def test_one_bad_signed_message_costs_no_other_message_its_place(hub_db: str) -> None:
    store = HubStore(hub_db)
    k1, k2 = DeviceKey.generate(), DeviceKey.generate()
    store.enroll("dev1", k1.public_hex)
    store.enroll("dev2", k2.public_hex)
    cap = ("capture.end", {"capture": "c", "verdict": "unconsented", "reasons": ["no_notice"]})
    good1 = _chain("dev1", k1, [cap, cap, cap])
    # dev2's seq 2 is a validly signed alert whose reasons is not a list
    bad = _chain("dev2", k2, [cap, ("alert", {"text": "x", "reasons": 7}), cap])
    batch = []
    for e1, e2 in zip(good1, bad, strict=True):
        batch += [("camaudit/dev1/events", e1.to_json()), ("camaudit/dev2/events", e2.to_json())]
    batch.insert(3, ("camaudit/dev2/events", bad[1].to_json()))  # re-sent within the batch
    col = Collector(store, MqttConfig(url="mqtt://127.0.0.1:1"), DeviceKey.generate())
    col._process([(t, p, NOW, False) for t, p in batch])
    col._process([("camaudit/dev2/events", bad[1].to_json(), NOW, False)])  # and re-sent again
    assert store.seqs("dev1") == [1, 2, 3]
    assert store.seqs("dev2") == [1]  # 3 waits for 2, which can never be stored
    assert store.rejects() == {"bad_schema": 3}
    assert store.alerts() == []
    store.close()


def _mqtt_publish(url: str, user: str, password: str, msgs: list[tuple[str, bytes]]) -> None:
    """What the cloned Pi does: connect with the (same) credentials it found on the card."""
    host, port = url.rsplit("/", 1)[1].split(":")
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="clone")
    c.username_pw_set(user, password)
    c.connect(host, int(port))
    c.loop_start()
    try:
        for topic, payload in msgs:
            c.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        c.disconnect()
        c.loop_stop()


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_cloned_card_fork_is_quarantined_alerted_not_acked_then_resolved(make_hub, tmp_path: Path,
                                                                        hub_db: str) -> None:
    hub = make_hub(web=True, db=hub_db)
    real_dir, clone_dir = tmp_path / "real", tmp_path / "clone"
    j = Journal.open(real_dir / "journal.db", "dev1", checkpoint_every=1000)
    hub.enroll("dev1", j.public_key.hex())
    for i in range(1, 6):
        j.append("capture.end", "counter", {"capture": f"c-{i}", "verdict": "consented"}, NOW + i)
    j.close()
    shutil.copytree(real_dir, clone_dir)  # the SD card, cloned into a second Pi

    real = Journal.open(real_dir / "journal.db", "dev1", checkpoint_every=1000)
    cfg = hub.device_mqtt("dev1").model_copy(update={"ack_timeout_s": 1.0})
    pub = Publisher(cfg, real, feeds=["counter"])
    pub.start()
    try:
        for i in range(6, 9):
            real.append("capture.end", "counter", {"capture": f"real-{i}", "verdict": "consented"}, NOW + i)
        pub.notify()
        wait_for(lambda: real.outbox_size() == 0, what="real device acked up to 8")
        # the clone records its own seqs 6..8 (other bodies), signed with the same key
        clone = Journal.open(clone_dir / "journal.db", "dev1", checkpoint_every=1000)
        clone_evs = [clone.append("capture.end", "counter", {"capture": f"clone-{i}", "verdict": "unconsented",
                                                              "reasons": ["no_notice"]}, NOW + 100 + i)
                     for i in range(6, 9)]
        clone.close()
        _mqtt_publish(hub.broker_url, "dev1", hub.password_file("dev1").read_text().strip(),
                      [("camaudit/dev1/events", e.to_json()) for e in clone_evs])
        wait_for(lambda: hub.store.forks(), what="fork detected")
        wait_for(lambda: len(hub.store.quarantined("dev1")) == 3, what="clone's records quarantined")
        (fork,) = hub.store.forks()
        assert fork["device"] == "dev1" and fork["fork_seq"] == 6
        assert {q["hash"] for q in hub.store.quarantined("dev1")} == {e.hash for e in clone_evs}
        assert hub.store.seqs("dev1") == list(range(1, 9))  # the stored chain is untouched
        assert hub.store.rejects().get("fork") == 3
        # no acks while forked: the real device keeps its new records (prunes nothing)
        for i in range(9, 11):
            real.append("capture.end", "counter", {"capture": f"real-{i}", "verdict": "consented"}, NOW + i)
        pub.notify()
        wait_for(lambda: hub.store.seqs("dev1") == list(range(1, 11)), what="9, 10 stored")
        time.sleep(2.5)  # > 2 ack timeouts: re-sends come in, still no ack goes out
        assert real.outbox_size() == 2
        # the operator sees it: web page, `camaudit alerts` (retained), `camaudit hub forks`
        html = httpx.get(hub.web_url + "/", headers={"Authorization": f"Bearer {hub.token}"}).text
        assert "FORK: two validly signed versions of dev1 from seq 6" in html
        r = CliRunner().invoke(alerts_cmd, ["--broker", hub.broker_url, "--username", "alerts",
                                            "--password-file", str(hub.password_file("alerts")),
                                            "--wait", "2"])
        assert r.exit_code == 0, r.output
        assert "dev1  FORK: two validly signed versions of dev1 from seq 6" in r.output
        data = ["--data-dir", str(hub.data_dir), "--db", hub_db]
        r = CliRunner().invoke(hub_cmd, [*data, "forks"])
        assert "dev1: fork from seq 6, 3 record(s) quarantined" in r.output
        # resolved (the clone got a new id and key): acks resume, the outbox drains
        r = CliRunner().invoke(hub_cmd, [*data, "resolve-fork", "dev1", "--keep", "stored"])
        assert r.exit_code == 0, r.output
        wait_for(lambda: real.outbox_size() == 0, timeout=20, what="acks resume after resolve")
        assert hub.store.forks() == [] and len(hub.store.quarantined("dev1")) == 3
        r = CliRunner().invoke(alerts_cmd, ["--broker", hub.broker_url, "--username", "alerts",
                                            "--password-file", str(hub.password_file("alerts")),
                                            "--wait", "1.5"])
        assert r.exit_code == 0 and "FORK" not in r.output  # the retained alert is cleared
    finally:
        pub.stop()
        real.close()


def test_resolve_keeping_the_quarantined_copy_moves_the_stored_records(hub_db: str) -> None:
    store = HubStore(hub_db)
    key = DeviceKey.generate()
    store.enroll("dev1", key.public_hex)
    cap = ("capture.end", {"capture": "c", "verdict": "consented"})
    a = _chain("dev1", key, [cap, cap, cap])
    b = _chain("dev1", key, [cap, cap, ("capture.end", {"capture": "other"})])
    col = Collector(store, MqttConfig(url="mqtt://127.0.0.1:1"), DeviceKey.generate())
    col._process([("camaudit/dev1/events", e.to_json(), NOW, False) for e in a + [b[2]]])
    assert store.seqs("dev1") == [1, 2, 3] and store.forks()[0]["fork_seq"] == 3
    assert store.resolve_fork("dev1", "quarantined") == 1
    assert store.seqs("dev1") == [1, 2]
    assert sorted(q["hash"] for q in store.quarantined("dev1")) == sorted([a[2].hash, b[2].hash])
    assert store.forks() == []
    col = Collector(store, MqttConfig(url="mqtt://127.0.0.1:1"), DeviceKey.generate())
    col._process([("camaudit/dev1/events", b[2].to_json(), NOW, False)])  # the real device re-sends
    assert store.seqs("dev1") == [1, 2, 3] and store.hash_at("dev1", 3) == b[2].hash
    assert json.loads(store.quarantined("dev1")[0]["json"])["seq"] == 3
    store.close()


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_device_sending_signed_junk_through_the_hub_broker_costs_others_nothing(make_hub) -> None:
    hub = make_hub(web=True)
    k1, k2 = DeviceKey.generate(), DeviceKey.generate()
    hub.enroll("dev1", k1.public_hex)
    hub.enroll("dev2", k2.public_hex)
    assert hub.wait_connected()
    cap = ("capture.end", {"capture": "c", "verdict": "consented"})
    good = _chain("dev2", k2, [cap] * 6)
    junk_alert = _chain("dev1", k1, [("alert", {"text": "x", "reasons": 7})])[0]
    far = seal(device="dev1", seq=1, ts=2**53 - 1, type="capture.end", feed="counter",
               body={"capture": "c"}, prev=GENESIS_PREV, sign=k1.sign)
    dup = _chain("dev1", k1, [cap])[0].to_json().replace(b'"body":{', b'"body":{"verdict":"x",', 1)
    junk = [junk_alert.to_json(), far.to_json(), dup]
    pw = {d: hub.device_mqtt(d).password() or "" for d in ("dev1", "dev2")}
    for i, ev in enumerate(good):  # interleaved: the same bursts, the same batches
        _mqtt_publish(hub.broker_url, "dev2", pw["dev2"], [("camaudit/dev2/events", ev.to_json())])
        if i < len(junk):
            _mqtt_publish(hub.broker_url, "dev1", pw["dev1"], [("camaudit/dev1/events", junk[i])] * 2)
    wait_for(lambda: hub.store.seqs("dev2") == list(range(1, 7)), what="dev2 stored")
    wait_for(lambda: sum(hub.store.rejects().values()) == 6, what="junk counted")
    assert hub.store.rejects() == {"bad_schema": 2, "out_of_range": 2, "duplicate_key": 2}
    assert hub.store.seqs("dev1") == []
    for page in ("/", "/captures"):
        r = httpx.get(hub.web_url + page, headers={"Authorization": f"Bearer {hub.token}"})
        assert r.status_code == 200
