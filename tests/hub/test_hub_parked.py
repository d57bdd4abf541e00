"""Issue 20, item 8 (parked events): validly signed events that wait behind a gap are held
per device up to PENDING_BYTES of text (and PENDING_LIMIT events), against the real hub
and its mosquitto; the rest is counted as `pending_full` and left for the device to re-send."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from brokers import wait_for
from test_hub_hostile import Chain

from camaudit.hub.ingest import link_memory
from camaudit.store.keys import load_or_create_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
PAD = 48 * 1024  # each event ~48 KiB of signed text (under the hub's 64 KiB message bound)
SENT = 300  # ~14 MiB behind one gap: more than PENDING_BYTES


def test_events_parked_behind_a_gap_are_bounded_in_bytes(make_hub, tmp_path) -> None:
    hub = make_hub(broker_users=["dev1"])
    key = load_or_create_key(tmp_path / "dev1.key")
    hub.enroll("dev1", key.public_hex)
    assert hub.wait_connected(10)
    chain = Chain("dev1", key)
    body = {"capture": "c", "verdict": "unconsented", "reasons": ["no_notice"], "note": "x" * PAD}
    events = [chain.next(body=body) for _ in range(SENT + 1)]
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="dev1")
    c.username_pw_set("dev1", hub.password_file("dev1").read_text().strip())
    host, port = hub.broker_url.rsplit("/", 1)[1].split(":")
    c.connect(host, int(port))
    c.loop_start()
    try:
        for ev in events[1:]:  # seq 1 never comes: everything waits behind the gap
            c.publish("camaudit/dev1/events", ev.to_json(), qos=1).wait_for_publish(10)
        wait_for(lambda: hub.store.rejects().get("pending_full", 0) > 0, timeout=60, what="pending_full")
        ch = hub.collector.linker.chains["dev1"]
        kept = len(ch.pending)
        wait_for(lambda: kept + hub.store.rejects().get("pending_full", 0) >= SENT, timeout=60,
                 what="every event parked or refused")
        assert ch.pending_bytes <= link_memory.PENDING_BYTES
        assert ch.pending_bytes == sum(len(t) for _, t in ch.pending.values())
        assert SENT * PAD > 1.5 * link_memory.PENDING_BYTES and kept < SENT
        # the gap closes: what was kept links, nothing is lost for good (the rest is re-sent)
        c.publish("camaudit/dev1/events", events[0].to_json(), qos=1).wait_for_publish(10)
        wait_for(lambda: hub.store.count_events() == kept + 1, timeout=60, what="kept events linked")
        assert ch.pending_bytes == 0
        for ev in events[kept + 1:]:  # the device's re-send after the hub's replay request
            c.publish("camaudit/dev1/events", ev.to_json(), qos=1).wait_for_publish(10)
        wait_for(lambda: hub.store.count_events() == SENT + 1, timeout=60, what="all stored")
    finally:
        c.loop_stop()
        c.disconnect()
