"""The hub countersigns device checkpoints with its own key (witness rows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from brokers import wait_for

from camaudit.core.record import RecordError
from camaudit.hub.ingest.witness import check_witness
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal

pytestmark = pytest.mark.integration


def test_checkpoints_are_witnessed(make_hub, tmp_path: Path, hub_db: str) -> None:
    hub = make_hub(db=hub_db)
    journal = Journal.open(tmp_path / "dev" / "journal.db", "dev1", checkpoint_every=10)
    hub.enroll("dev1", journal.public_key.hex())
    pub = Publisher(hub.device_mqtt("dev1"), journal)
    pub.start()
    try:
        for i in range(35):
            journal.append("capture.start", "counter", {"capture": f"c-{i}"}, 1795651200000 + i)
        pub.notify()
        wait_for(lambda: journal.outbox_size() == 0, what="acked")
    finally:
        pub.stop()
    checkpoints = [e for e in journal.events() if e.type == "checkpoint"]
    journal.close()
    rows = hub.store.witnesses("dev1")
    assert [r["seq"] for r in rows] == [e.seq for e in checkpoints] and len(rows) == 3
    key = bytes.fromhex(hub.hub_public_key)
    assert hub.store.meta("hub_public_key") == hub.hub_public_key
    for row, cp in zip(rows, checkpoints, strict=True):
        assert (row["cp_seq"], row["cp_hash"]) == (cp.body["seq"], cp.body["hash"])
        check_witness(row, key)
    tampered = dict(rows[0], cp_hash="0" * 64)
    with pytest.raises(RecordError):
        check_witness(tampered, key)
