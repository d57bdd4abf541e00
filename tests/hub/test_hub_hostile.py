"""Hostile input at the hub: every bad message is rejected, counted by reason, never stored;
the hub keeps serving valid events (and its web page) afterwards."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from brokers import Watcher, wait_for

from camaudit.core.record import GENESIS_PREV, Event, checkpoint_body, digest, seal
from camaudit.store.keys import DeviceKey

pytestmark = pytest.mark.integration


class Chain:
    """A device chain sealed with a key, as the journal would."""

    def __init__(self, device: str, key: DeviceKey) -> None:
        self.device, self.key = device, key
        self.events: list[Event] = []

    def make(self, type: str = "capture.end", body: dict | None = None, *, seq: int | None = None,
             prev: str | None = None, key: DeviceKey | None = None) -> Event:
        seq = seq if seq is not None else len(self.events) + 1
        if prev is None:
            prev = self.events[seq - 2].hash if seq > 1 else GENESIS_PREV
        return seal(device=self.device, seq=seq, ts=1795651200000 + seq, type=type, feed="counter",
                    body=body if body is not None else {"capture": f"c-{seq}", "verdict": "unconsented",
                                                         "reasons": ["no_notice"]},
                    prev=prev, sign=(key or self.key).sign)

    def next(self, type: str = "capture.end", body: dict | None = None) -> Event:
        ev = self.make(type, body)
        self.events.append(ev)
        return ev


def _signed(chain: Chain, **changes: object) -> bytes:
    """A record with `changes`, correctly hashed and signed by the chain's own key."""
    ev = chain.make()
    d = ev.unsigned()
    d.update(changes)
    h = digest(d)
    return json.dumps({**d, "hash": h, "sig": chain.key.sign(h.encode()).hex()}).encode()


def _raw(ev: Event, **changes: object) -> bytes:
    d = ev.to_dict()
    d.update(changes)
    return json.dumps(d).encode()


def test_hostile_messages_rejected_counted_and_hub_keeps_serving(make_hub, mosquitto, tmp_path: Path) -> None:
    # A broker that lets anyone write anywhere: what the collector itself must withstand
    # (the hub's own mosquitto would not even deliver most of this: see test_hub_isolation).
    hub = make_hub(web=True, broker=mosquitto.url)
    k1, k2, other = DeviceKey.generate(), DeviceKey.generate(), DeviceKey.generate()
    hub.enroll("dev1", k1.public_hex)
    hub.enroll("dev2", k2.public_hex)
    m = Watcher(hub.broker_url, "camaudit/+/cmd/replay", "camaudit/+/ack")
    assert hub.wait_connected()
    d1, d2, ghost = Chain("dev1", k1), Chain("dev2", k2), Chain("ghost", other)

    def send(topic: str, payload: bytes) -> None:
        m.publish(topic, payload)

    for _ in range(3):
        send("camaudit/dev1/events", d1.next().to_json())
    wait_for(lambda: hub.store.seqs("dev1") == [1, 2, 3], what="valid events stored")

    ev4 = d1.make()
    unsigned4 = ev4.unsigned()
    nan_text = ev4.to_json().replace(b'"body":{', b'"body":{"x":NaN,')
    cp_bad_sig = d1.make("checkpoint", {"seq": 3, "hash": d1.events[2].hash,
                                        "sig": other.sign(d1.events[2].hash.encode()).hex()})
    nested: object = 1
    for _ in range(20):
        nested = [nested]
    cp_future = d1.make("checkpoint", checkpoint_body(7, "ab" * 32, k1.sign))
    bad: list[tuple[str, str, bytes]] = [
        ("bad_json", "camaudit/dev1/events", b"{not json"),
        ("bad_json", "camaudit/dev1/events", b"\xff\xfe\x00 garbage"),
        ("bad_json", "camaudit/dev1/events", b"[" * 30000 + b"]" * 30000),
        ("bad_schema", "camaudit/dev1/events", b"[1, 2, 3]"),
        ("bad_schema", "camaudit/dev1/events", json.dumps(unsigned4).encode()),  # no hash/sig
        ("bad_schema", "camaudit/dev1/events", _raw(ev4, seq="4")),
        ("bad_schema", "camaudit/dev1/events", _raw(ev4, type="capture.bogus")),
        ("bad_schema", "camaudit/dev1/events", _raw(ev4, v=2)),
        ("out_of_range", "camaudit/dev1/events", _raw(ev4, seq=0)),
        ("bad_schema", "camaudit/dev1/events", _raw(ev4, ts=1.5)),
        ("bad_schema", "camaudit/dev1/events", _raw(ev4, ts=True)),
        ("out_of_range", "camaudit/" + "x" * 65 + "/events", _raw(ev4, device="x" * 65)),
        # validly signed, yet out of the schema: never stored, never derived from
        ("bad_schema", "camaudit/dev1/events", d1.make("alert", {"text": "t", "reasons": 5}).to_json()),
        ("bad_schema", "camaudit/dev1/events", d1.make("alert", {"text": ["t"]}).to_json()),
        ("out_of_range", "camaudit/dev1/events", d1.make("alert", {"text": "x" * 5000}).to_json()),
        ("out_of_range", "camaudit/dev1/events", _signed(d1, ts=2**53 - 1)),
        ("out_of_range", "camaudit/dev1/events", _signed(d1, ts=1_500_000_000_000)),  # 2017
        ("out_of_range", "camaudit/dev1/events", _signed(d1, ts=int(time.time() * 1000) + 3 * 86_400_000)),
        ("out_of_range", "camaudit/dev1/events",
         d1.make(body={"capture": "c-4", "max_faces": -1, "verdict": "unconsented"}).to_json()),
        ("out_of_range", "camaudit/dev1/events", d1.make(body={"capture": "c" * 500}).to_json()),
        ("out_of_range", "camaudit/dev1/events", d1.make(body={"capture": "c", "x": nested}).to_json()),
        ("duplicate_key", "camaudit/dev1/events",
         ev4.to_json().replace(b'"body":{', b'"body":{"verdict":"consented",', 1)),
        ("duplicate_key", "camaudit/dev1/events", ev4.to_json()[:-1] + b',"seq":99}'),
        ("device_mismatch", "camaudit/dev2/events", ev4.to_json()),
        ("not_checkpoint", "camaudit/dev1/checkpoints", ev4.to_json()),
        ("unknown_device", "camaudit/ghost/events", ghost.make().to_json()),
        ("bad_signature", "camaudit/dev1/events", d1.make(key=other).to_json()),  # forged
        ("missing_signature", "camaudit/dev1/events", _raw(ev4, sig="")),
        ("bad_signature", "camaudit/dev1/events", _raw(ev4, sig="zz")),
        ("bad_hash", "camaudit/dev1/events", _raw(ev4, body={"capture": "c-4", "verdict": "consented"})),
        ("bad_hash", "camaudit/dev1/events", nan_text),
        ("oversize", "camaudit/dev1/events", b"x" * (10 * 1024 * 1024)),
        ("oversize", "camaudit/dev1/events", d1.make(body={"pad": "y" * 70000}).to_json()),
        ("bad_checkpoint", "camaudit/dev1/events", cp_bad_sig.to_json()),
        ("bad_checkpoint", "camaudit/dev1/checkpoints", cp_future.to_json()),
        ("key_mismatch", "camaudit/dev1/key", other.public_hex.encode()),
    ]
    assert len({payload for _, _, payload in bad}) >= 20
    for i, (_, topic, payload) in enumerate(bad):
        send(topic, payload)
        if i % 10 == 5:  # another device's valid events in the same burst (same batches)
            send("camaudit/dev2/events", d2.next().to_json())
    send("camaudit/dev1/events", d1.events[1].to_json())  # replayed valid seq: a harmless duplicate
    expected = Counter(reason for reason, _, _ in bad)
    wait_for(lambda: sum(hub.store.rejects().values()) >= sum(expected.values()), timeout=60,
             what="every bad message counted")
    assert hub.store.rejects() == dict(expected)
    assert hub.store.seqs("dev1") == [1, 2, 3]
    wait_for(lambda: len(hub.store.seqs("dev2")) == len(d2.events), what="dev2 events stored")
    assert hub.store.seqs("dev2") == list(range(1, len(d2.events) + 1))
    assert hub.store.count_events() == 3 + len(d2.events)
    # the broker may deliver the duplicate after the last bad message: wait for it
    wait_for(lambda: {d.device: d.duplicates for d in hub.store.devices()}["dev1"] >= 1,
             what="duplicate counted")
    assert {d.device: d.duplicates for d in hub.store.devices()}["dev1"] == 1
    assert hub.store.seqs("dev1") == [1, 2, 3]

    # reordered: seq 6 arrives before 4 and 5 -> held back, replay of 4 requested
    ev4, ev5, ev6 = d1.next(), d1.next(), d1.next()
    send("camaudit/dev1/events", ev6.to_json())
    wait_for(lambda: b"4" in m.on("dev1/cmd/replay"), what="replay request")
    assert hub.store.seqs("dev1") == [1, 2, 3]
    send("camaudit/dev1/events", ev4.to_json())
    send("camaudit/dev1/events", ev5.to_json())
    # the hub keeps serving: valid events still land, acks flow, the web page answers
    wait_for(lambda: hub.store.seqs("dev1") == [1, 2, 3, 4, 5, 6], what="valid events after attack")
    wait_for(lambda: b"6" in m.on("dev1/ack"), what="ack of 6")  # acks may come in any order
    r = httpx.get(hub.web_url + "/api/rejects", headers={"Authorization": f"Bearer {hub.token}"})
    assert r.status_code == 200 and r.json() == dict(expected)
    for page in ("/", "/captures"):  # nothing stored above breaks a page
        r = httpx.get(hub.web_url + page, headers={"Authorization": f"Bearer {hub.token}"})
        assert r.status_code == 200, page
    assert hub.store.forks() == []
    m.close()


def test_broker_refuses_clients_without_password(make_hub) -> None:
    hub = make_hub(broker_users=["dev1"])
    host, port = hub.broker_url.rsplit("/", 1)[1].split(":")
    results: list[bool] = []
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, props):
        results.append(rc.is_failure)
        done.set()

    for creds in (None, ("dev1", "wrong-password")):
        done.clear()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"anon-{len(results)}")
        if creds:
            c.username_pw_set(*creds)
        c.on_connect = on_connect
        c.connect(host, int(port))
        c.loop_start()
        done.wait(10)
        c.loop_stop()
        c.disconnect()
    assert results == [True, True]
