"""Issue 20, item 10: with trust on first use on, only device users are enrolled. The
read-only `alerts` user and a hub worker user announce a key on their own `key` topic (the
ACL lets every user write `<p>/<its name>/key`) against the real hub and its mosquitto:
neither becomes a device, the refusal is counted, and a device user still is enrolled."""

from __future__ import annotations

import time

import pytest
from brokers import wait_for
from test_hub_isolation import Client

from camaudit.hub.broker.files import add_worker
from camaudit.hub.store.hub_store import HubError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

KEY = "11" * 32


def _password(hub, user: str) -> str:
    return hub.password_file(user).read_text().strip()


def test_only_device_users_are_enrolled_on_first_use(make_hub) -> None:
    hub = make_hub(trust_on_first_use=True, broker_users=["cam-1"])
    assert hub.wait_connected(10)
    add_worker(hub.data_dir, "w1", "camaudit")  # a worker user, as `camaudit hub add-worker w1`
    time.sleep(0.5)  # mosquitto reloads its password file
    for user in ("alerts", "w1"):
        c = Client(hub.broker_url, user, _password(hub, user))
        assert c.rc == 0, user
        c.publish(f"camaudit/{user}/key", KEY.encode())  # the broker lets it through: its own subtree
        c.close()
    wait_for(lambda: hub.store.rejects().get("enroll_refused", 0) >= 2, what="refusals counted")
    dev = Client(hub.broker_url, "cam-1", _password(hub, "cam-1"))
    dev.publish("camaudit/cam-1/key", ("22" * 32).encode())
    dev.close()
    wait_for(lambda: [d.device for d in hub.store.devices()] == ["cam-1"], what="cam-1 enrolled")
    assert hub.store.rejects()["enroll_refused"] == 2
    for user in ("alerts", "hub", "w1"):  # nor by hand
        with pytest.raises(HubError, match="hub's own MQTT users"):
            hub.enroll(user, KEY)
    assert [d.device for d in hub.store.devices()] == ["cam-1"]
