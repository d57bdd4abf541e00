"""Issue 20, item 8 (retained): one device cannot fill the hub's mosquitto with retained
messages. The ACL lets it write only its known topics; the hub's retained guard clears
retained messages over RETAINED_MAX_BYTES and past RETAINED_PER_DEVICE topics (against the
real hub and its mosquitto; what stays retained is read by a fresh subscriber)."""

from __future__ import annotations

import time

import pytest
from brokers import wait_for
from test_hub_isolation import Client, _auditor, rss_kb

from camaudit.hub.broker.retained import RETAINED_MAX_BYTES, RETAINED_PER_DEVICE

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _password(hub, user: str) -> str:
    return hub.password_file(user).read_text().strip()


def _retained(hub) -> dict[str, bytes]:
    """What the broker keeps retained now: a fresh reader gets it on subscribing."""
    reader = _auditor(hub)
    time.sleep(1.0)
    reader.close()
    return {t: m for t, m in reader.messages if m}


def test_one_device_cannot_fill_the_broker_with_retained_messages(make_hub) -> None:
    hub = make_hub(broker_users=["dev1", "dev2"])
    assert hub.wait_connected() and hub.retained_guard.ready.wait(10)
    b = hub.embedded_broker
    dev2 = Client(hub.broker_url, "dev2", _password(hub, "dev2"))
    dev2.publish("camaudit/dev2/status", b"online", retain=True)  # a neighbour's state survives
    before = rss_kb(b.pid)
    dev1 = Client(hub.broker_url, "dev1", _password(hub, "dev1"))
    big = b"9" * (100 * 1024)
    for n in range(300):  # 30 MB of 100 KiB retained counts under invented feed names
        dev1.publish(f"camaudit/dev1/feeds/f{n}/faces", big, retain=True)
    for n in range(RETAINED_PER_DEVICE + 100):  # small ones past the per-device count
        dev1.publish(f"camaudit/dev1/notices/n{n}", b"VISIBLE", retain=True)
    for topic in ("camaudit/dev1/anything/else", "camaudit/dev1/feeds/a/b/c", "camaudit/dev1/x"):
        dev1.publish(topic, b"1", retain=True)  # not a known retained topic: the ACL drops it
    wait_for(lambda: hub.retained_guard.cleared >= 400, timeout=60, what="guard cleared")
    time.sleep(1.0)
    kept = _retained(hub)
    mine = {t: m for t, m in kept.items() if t.startswith("camaudit/dev1/")}
    assert len(mine) <= RETAINED_PER_DEVICE
    assert all(len(m) <= RETAINED_MAX_BYTES for m in mine.values())
    assert not {"camaudit/dev1/anything/else", "camaudit/dev1/feeds/a/b/c", "camaudit/dev1/x"} & set(kept)
    assert kept.get("camaudit/dev2/status") == b"online"
    grown = rss_kb(b.pid) - before
    assert grown < 16 * 1024, f"broker grew {grown} kB"  # not the 30 MB sent
    dev1.close()
    dev2.close()
