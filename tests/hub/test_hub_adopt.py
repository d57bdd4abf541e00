"""A device that pruned its journal before this hub had it (a new or rebuilt hub): without a
base the hub stores nothing and keeps asking for seqs the device no longer has; with
`camaudit hub enroll ... --after SEQ:HASH` (printed by `camaudit device-key`), even on a
running hub, it stores every remaining seq exactly once and the device's outbox drains.
Real journal, real embedded broker, real hub store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from brokers import wait_for
from click.testing import CliRunner

from camaudit.cli import cli
from camaudit.errors import CamauditError
from camaudit.hub.store.hub_store import HubStore
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal, pruned_point
from camaudit.store.keys import load_or_create_key

pytestmark = pytest.mark.timeout(120)


def _capture(j: Journal, i: int) -> None:
    j.append("capture.end", "door", {"capture": f"c-{i:06d}", "verdict": "consented", "reasons": []},
             int(time.time() * 1000))


def _pruned_journal(path: Path) -> Journal:
    """100 events the previous hub acked and the device pruned, then 20 not yet sent."""
    j = Journal.open(path, "dev1", checkpoint_every=20)
    for i in range(100):
        _capture(j, i)
    j.ack(j.head[0])
    assert j.prune(int(time.time() * 1000) + 3_600_000) > 0
    for i in range(100, 120):
        _capture(j, i)
    return j


@pytest.mark.parametrize("when", ["while the hub runs", "before the device connects"])
def test_hub_adopts_a_pruned_device_from_its_base(when: str, tmp_path: Path, make_hub) -> None:
    journal = _pruned_journal(tmp_path / "dev" / "journal.db")
    base_seq, base_hash = pruned_point(journal.path)
    assert base_seq > 1
    unsent = journal.outbox_size()
    assert unsent >= 20
    hub = make_hub()
    hub.enroll("dev1", journal.public_key.hex())

    def enroll_after() -> None:  # `camaudit hub enroll dev1 KEY --after SEQ:HASH`, another process
        other = HubStore(hub.store.path)
        other.set_base("dev1", base_seq, base_hash)
        other.close()

    if when == "before the device connects":
        enroll_after()
    pub = Publisher(hub.device_mqtt("dev1").model_copy(update={"ack_timeout_s": 1.0}), journal, feeds=["door"])
    pub.start()
    try:
        if when == "while the hub runs":
            # No base yet: the device re-sends from base_seq + 1, the hub holds it all back,
            # waiting for seq 1 that no longer exists; nothing is acked, nothing is lost.
            wait_for(lambda: hub.collector.stats["messages"] >= 30, what="the device's events to arrive")
            time.sleep(1.0)
            assert hub.store.count_events("dev1") == 0
            assert journal.outbox_size() == unsent
            enroll_after()

        head = journal.head[0]
        wait_for(lambda: hub.store.seqs("dev1") == list(range(base_seq + 1, head + 1)), timeout=30,
                 what=f"seqs {base_seq + 1}..{head} stored")
        wait_for(lambda: journal.outbox_size() == 0, timeout=30, what="outbox drained by hub acks")
        _capture(journal, 120)
        pub.notify()
        wait_for(lambda: hub.store.seqs("dev1")[-1:] == [journal.head[0]], what="a new event stored")
        assert hub.store.rejects() == {}
    finally:
        pub.stop()
        journal.close()

    pack = tmp_path / "pack.zip"
    runner = CliRunner()
    res = runner.invoke(cli, ["hub", "--data-dir", str(tmp_path / "hub"), "export", "dev1", "--out", str(pack)])
    assert res.exit_code == 0, res.output
    hub_key = load_or_create_key(tmp_path / "hub" / "hub.key").public_hex
    res = runner.invoke(cli, ["verify", str(pack), "--hub-key", hub_key])
    assert res.exit_code == 0 and "OK" in res.output, res.output


def test_base_refused_where_it_would_drop_stored_events(tmp_path: Path) -> None:
    store = HubStore(tmp_path / "hub.db")
    store.enroll("dev1", "ab" * 32)
    store.set_base("dev1", 50, "cd" * 32)
    assert store.base("dev1") == (50, "cd" * 32)
    with pytest.raises(CamauditError, match="already holds seq 50"):
        store.set_base("dev1", 50, "ef" * 32)
    with pytest.raises(CamauditError, match="64 hex digits"):
        store.set_base("dev1", 60, "xyz")
    with pytest.raises(CamauditError, match="not enrolled"):
        store.set_base("dev2", 60, "ef" * 32)
    store.close()


def test_device_key_prints_the_enroll_line_with_its_pruned_point(tmp_path: Path) -> None:
    journal = _pruned_journal(tmp_path / "journal.db")
    seq, digest = pruned_point(journal.path)
    key = journal.public_key.hex()
    journal.close()
    res = CliRunner().invoke(cli, ["device-key", "--db", str(tmp_path / "journal.db")])
    assert res.exit_code == 0, res.output
    assert f"journal pruned up to seq {seq}" in res.stdout
    assert res.stderr.strip().endswith(f"hub enroll <device id> {key} --after {seq}:{digest}")


def test_enroll_after_rejects_a_malformed_base_before_enrolling(tmp_path: Path) -> None:
    runner = CliRunner()
    hub = ["hub", "--data-dir", str(tmp_path / "hub")]
    res = runner.invoke(cli, [*hub, "enroll", "dev1", "ab" * 32, "--after", "12"])
    assert res.exit_code != 0 and "SEQ:HASH" in res.output
    res = runner.invoke(cli, [*hub, "enroll", "dev1", "ab" * 32, "--after", "12:beef"])
    assert res.exit_code != 0
    assert HubStore(tmp_path / "hub" / "hub.db").keys() == {}  # nothing half-done
