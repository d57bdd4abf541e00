"""Enrollment: unknown devices are rejected, unless trust-on-first-use is switched on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from brokers import wait_for
from devicesim import append_captures

from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("tofu", [False, True])
def test_unknown_device_only_with_tofu(tofu: bool, make_hub, tmp_path: Path) -> None:
    hub = make_hub(trust_on_first_use=tofu)
    journal = Journal.open(tmp_path / "dev" / "journal.db", "cafe-01")
    pub = Publisher(hub.device_mqtt("cafe-01").model_copy(update={"ack_timeout_s": 1.0}), journal)
    pub.start()
    try:
        append_captures(journal, 20, 0, pub)
        if tofu:
            wait_for(lambda: journal.outbox_size() == 0, what="events acked")
            (dev,) = hub.store.devices()
            assert (dev.device, dev.how, dev.public_key) == ("cafe-01", "tofu", journal.public_key.hex())
            assert hub.store.seqs("cafe-01") == list(range(1, 21))
        else:
            wait_for(lambda: hub.store.rejects().get("unknown_device", 0) >= 20, what="rejects")
            time.sleep(0.5)
            assert hub.store.devices() == [] and hub.store.count_events() == 0
            assert journal.outbox_size() == 20  # nothing acked: kept for when it is enrolled
            hub.enroll("cafe-01", journal.public_key.hex())
            wait_for(lambda: journal.outbox_size() == 0, what="acked after enrollment")
            assert hub.store.seqs("cafe-01") == list(range(1, 21))
    finally:
        pub.stop()
        journal.close()
