"""Issue 20, item 8 (subscriptions): one device cannot grow the hub's mosquitto with
subscriptions. mosquitto 2.0's acl_file grants every SUBSCRIBE; the hub's broker loads
plugin/camaudit_subscribe_acl.c, which refuses every filter off the client's list (against
the real hub, its mosquitto and the plugin built into the venv by the Makefile)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from brokers import wait_for
from test_hub_isolation import Client, _password, rss_kb

from camaudit.hub.broker.files import add_worker, worker_group
from camaudit.hub.broker.subscribe_acl import PLUGIN_NAME, config_lines, device_filters, plugin_path
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
MANUAL = Path(__file__).resolve().parents[2] / "docs" / "hub-security.md"

N = 2000  # filters of each kind a hostile device sends
REFUSED_311, REFUSED_5 = 0x80, 0x87  # SUBACK: failure / "not authorized"


class V5Client(Client):
    """The same recording client on MQTT 5 (or 3.1)."""

    def __init__(self, url: str, user: str, password: str, protocol: int = mqtt.MQTTv5) -> None:
        host, port = url.rsplit("/", 1)[1].split(":")
        self.rc = None
        self.granted: list[int] = []
        self.messages: list[tuple[str, bytes]] = []
        self.disconnects = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=protocol)
        c.username_pw_set(user, password)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_message = lambda cl, ud, m: self.messages.append((m.topic, m.payload))
        c.on_disconnect = self._on_disconnect
        self.c = c
        c.connect(host, int(port), keepalive=30)
        c.loop_start()
        wait_for(lambda: self.rc is not None, timeout=10, what=f"CONNACK for {user}")


def _hostile_filters(dev: str) -> list[str]:
    return ([f"camaudit/other{n}/events" if n % 2 else f"x/{n}/#" for n in range(N)]  # off the list
            + [f"camaudit/{dev}/cmd/c{n}" for n in range(N)]  # its own cmd/ subtree, not on the list
            + [f"$share/g{n}/camaudit/{dev}/ack" for n in range(N)])  # its own ack, shared


def _subscribe_all(c: Client, filters: list[str]) -> list[int]:
    codes: list[int] = []
    for i in range(0, len(filters), 500):
        codes += c.subscribe(*filters[i:i + 500])
    return codes


def test_a_device_cannot_hold_subscriptions_off_its_list(make_hub, tmp_path: Path) -> None:
    hub = make_hub(broker_users=["dev1", "dev2", "dev3"])
    assert hub.wait_connected() and hub.retained_guard.ready.wait(10)
    b = hub.embedded_broker
    assert f"plugin {plugin_path()}" in b.conf_file.read_text().splitlines()
    dev1 = Client(hub.broker_url, "dev1", _password(hub, "dev1"))
    dev2 = V5Client(hub.broker_url, "dev2", _password(hub, "dev2"))
    dev3 = V5Client(hub.broker_url, "dev3", _password(hub, "dev3"), mqtt.MQTTv31)  # SUBACK has no failure code
    # what a device subscribes to (mqtt/publisher.py) is granted, on 3.1.1 and 5
    assert dev1.subscribe(*(f.replace("%u", "dev1") for f in device_filters("camaudit"))) == [1, 1, 1]
    assert dev2.subscribe(*(f.replace("%u", "dev2") for f in device_filters("camaudit"))) == [1, 1, 1]
    time.sleep(0.5)
    before = rss_kb(b.pid)
    t0 = time.monotonic()
    assert _subscribe_all(dev1, _hostile_filters("dev1")) == [REFUSED_311] * (3 * N)
    assert _subscribe_all(dev2, _hostile_filters("dev2")) == [REFUSED_5] * (3 * N)
    assert set(_subscribe_all(dev3, _hostile_filters("dev3"))) == {1}  # 3.1: its QoS, yet not kept (RSS)
    # and another device's own filters, the alerts user's, the wildcards over its own
    for c, code, dev in ((dev1, REFUSED_311, "dev1"), (dev2, REFUSED_5, "dev2")):
        assert c.subscribe("camaudit/dev9/ack", "camaudit/+/alerts", f"camaudit/{dev}/#", "#",
                           f"camaudit/{dev}/cmd/+", f"$share/hub/camaudit/{dev}/cmd/replay") == [code] * 6
    took = time.monotonic() - t0
    time.sleep(0.5)
    grown = rss_kb(b.pid) - before
    print(f"\n{3 * 3 * N} refused subscriptions in {took:.1f} s; broker RSS {before} -> {before + grown} kB")
    assert grown < 512, f"broker grew {grown} kB"
    # the device's own subscriptions still deliver: acks a hub worker sends
    add_worker(hub.data_dir, "w-ack", "camaudit")
    time.sleep(0.5)
    hub_c = Client(hub.broker_url, "w-ack", _password(hub, "w-ack"))
    hub_c.publish("camaudit/dev1/ack", b"7")
    hub_c.publish("camaudit/dev2/cmd/evidence_ack", b"8")
    wait_for(lambda: ("camaudit/dev1/ack", b"7") in dev1.messages
             and ("camaudit/dev2/cmd/evidence_ack", b"8") in dev2.messages, what="acks delivered")
    assert all(t.startswith("camaudit/dev1/") for t, _ in dev1.messages)
    # control: the same number granted (to the worker, whose subscriptions the acl_file
    # decides, as it did every device's before the plugin) shows in the same measure
    before = rss_kb(b.pid)
    granted = _subscribe_all(hub_c, [f"camaudit/dev1/cmd/c{n}" for n in range(3 * 3 * N)])
    assert granted == [1] * (3 * 3 * N)
    time.sleep(0.5)
    control = rss_kb(b.pid) - before
    print(f"the same number granted: broker RSS {before} -> {before + control} kB")
    assert control > 1024 > grown
    for c in (dev1, dev2, dev3, hub_c):
        c.close()


def test_an_enrolled_device_gets_its_acks_and_the_alerts_user_its_alerts(make_hub, tmp_path: Path) -> None:
    """End to end: the device enrolled while the hub runs (SIGHUP: the plugin needs no
    per-user state) subscribes, publishes, gets the hub's acks; `alerts` reads every alert."""
    hub = make_hub()
    assert hub.wait_connected()
    alerts = Client(hub.broker_url, "alerts", _password(hub, "alerts"))
    assert alerts.subscribe("camaudit/+/alerts") == [1]
    assert alerts.subscribe("#", "camaudit/#", "camaudit/+/events", "camaudit/cafe-01/alerts",
                            "$share/g/camaudit/+/alerts") == [REFUSED_311] * 5
    journal = Journal.open(tmp_path / "journal.db", "cafe-01", checkpoint_every=1000)
    hub.enroll("cafe-01", journal.public_key.hex())
    pub = Publisher(hub.device_mqtt("cafe-01"), journal)
    pub.start()
    try:
        for i in range(3):
            journal.append("alert", "counter", {"text": f"notice torn down {i}", "capture": f"c-{i}",
                                                "reasons": ["notice_missing"], "ref_seq": 0}, 1795651200000 + i)
        pub.notify()
        head = journal.head[0]
        wait_for(lambda: hub.store.count_events("cafe-01") == head, what="stored")
        wait_for(lambda: pub.hub_acked == head, what="the hub's ack reached the device")
        wait_for(lambda: sum(t == "camaudit/cafe-01/alerts" for t, _ in alerts.messages) >= 3,
                 what="alerts delivered to the alerts user")
    finally:
        pub.stop()
        journal.close()
        alerts.close()


def test_a_worker_added_while_the_hub_runs_joins_the_group(make_hub) -> None:
    """The hub's workers (a file the plugin re-reads on SIGHUP) subscribe as before; a device
    may not join their group."""
    hub = make_hub(broker_users=["dev1"])
    assert hub.wait_connected()
    group = worker_group(hub.data_dir)
    share = [f"$share/{group}/camaudit/+/{s}" for s in ("events", "checkpoints", "status", "key")]
    dev1 = Client(hub.broker_url, "dev1", _password(hub, "dev1"))
    assert dev1.subscribe(*share) == [REFUSED_311] * 4
    add_worker(hub.data_dir, "w1", "camaudit")
    time.sleep(0.5)
    w1 = Client(hub.broker_url, "w1", _password(hub, "w1"))
    assert w1.subscribe(*share) == [1] * 4
    assert dev1.subscribe(*share, "#") == [REFUSED_311] * 5  # after the reload as before it
    assert dev1.subscribe("camaudit/dev1/ack") == [1]
    for c in (dev1, w1):
        c.close()


def test_a_hub_without_the_plugin_refuses_to_start_its_broker(tmp_path: Path) -> None:
    """The hub in a Python environment where the plugin was never built (a venv of its own
    that sees this one's packages): one line naming the file and how to build it."""
    venv = tmp_path / "bare"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)],
                   check=True, timeout=60)
    site = subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "camaudit-here.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    missing = venv / "lib" / "camaudit" / PLUGIN_NAME
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    r = subprocess.run([venv / "bin" / "python", "-m", "camaudit.cli", "hub", "--data-dir", str(tmp_path / "hub"),
                        "--broker-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    err = [ln for ln in r.stderr.splitlines() if "error" in ln.lower()]
    assert len(err) == 1 and f"{missing} is missing" in err[0] and "build-broker-plugin.sh" in err[0], r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "hub" / "broker" / "mosquitto.pid").exists()


def test_the_manual_shows_the_plugin_lines_the_hub_writes() -> None:
    block = re.search(r"The lines the\s+hub writes into `mosquitto.conf`.*?```\n(.*?)```", MANUAL.read_text(), re.S)
    assert block is not None
    shown = block.group(1).splitlines()
    written = config_lines("camaudit", Path("/var/lib/camaudit-hub/broker/workers"),
                           passwd_file=Path("/var/lib/camaudit-hub/broker/passwd"))
    assert shown[0] == "plugin /opt/camaudit/venv/lib/camaudit/camaudit_subscribe_acl.so"
    assert written[0] == f"plugin {plugin_path()}" and shown[1:] == written[1:]


def test_the_lists_follow_the_topic_prefix(make_hub) -> None:
    hub = make_hub(broker_users=["dev1"], mqtt={"prefix": "site/7", "homeassistant": False})
    assert hub.wait_connected()
    dev1 = Client(hub.broker_url, "dev1", _password(hub, "dev1"))
    assert dev1.subscribe("site/7/dev1/ack", "site/7/dev1/cmd/replay", "site/7/dev1/cmd/evidence_ack") == [1] * 3
    assert dev1.subscribe("camaudit/dev1/ack", "site/7/#", "site/7/dev1/cmd/#") == [REFUSED_311] * 3
    alerts = Client(hub.broker_url, "alerts", _password(hub, "alerts"))
    assert alerts.subscribe("site/7/+/alerts", "camaudit/+/alerts") == [1, REFUSED_311]
    for c in (dev1, alerts):
        c.close()
