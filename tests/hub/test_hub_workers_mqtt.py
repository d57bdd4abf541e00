"""Several hub workers on one broker and one store, for real: `camaudit hub --worker`
processes on the hub's own mosquitto (ManagedMosquitto, its generated ACL), devices from
tests/mqtt/devicesim.py streaming; a worker SIGKILLed mid-stream loses nothing; a device
cannot read other devices through a shared subscription; workers refuse to start next to
a hub that links in memory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from brokers import require_mosquitto, wait_for
from click.testing import CliRunner

from camaudit.hub.broker.files import ensure_user_secret
from camaudit.hub.broker.mosquitto import ManagedMosquitto, free_port
from camaudit.hub.commands.cli import hub_cmd
from camaudit.hub.store.hub_store import HubStore
from camaudit.store.journal import Journal

HERE = Path(__file__).resolve().parents[1] / "mqtt"
CAMAUDIT = Path(sys.executable).with_name("camaudit")
DEVICES = ("cam-a", "cam-b", "cam-c")


class Site:
    """The hub's data folder with its mosquitto running, devices enrolled, workers added."""

    def __init__(self, root: Path, db: Path | str | None = None) -> None:
        self.dir = root / "hub"
        self.db: Path | str = db or self.dir / "hub.db"
        self.broker = ManagedMosquitto(self.dir, port=free_port())
        self.broker.write_config()
        self.broker.start()
        self.procs: list[subprocess.Popen[str]] = []

    def add_worker(self, name: str) -> None:
        r = CliRunner().invoke(hub_cmd, ["--data-dir", str(self.dir), "add-worker", name])
        assert r.exit_code == 0, r.output
        assert f"password in {self.dir / 'secrets' / (name + '.pass')}" in r.output

    def device(self, root: Path, dev: str) -> Path:
        journal = root / dev / "journal.db"
        with Journal.open(journal, dev) as j:
            key = j.public_key.hex()
        store = HubStore(self.db)
        store.enroll(dev, key)
        store.close()
        ensure_user_secret(self.dir, self.broker.passwd_file, dev)
        self.broker.reload()
        return journal

    def worker(self, name: str) -> subprocess.Popen[str]:
        p = subprocess.Popen(
            [str(CAMAUDIT), "hub", "--data-dir", str(self.dir), "--db", str(self.db), "--worker", name,
             "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.procs.append(p)
        return p

    def sim(self, journal: Path, dev: str, count: int, rate: float) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        p = subprocess.Popen(
            [sys.executable, str(HERE / "devicesim.py"), str(journal), dev, self.broker.url, str(count),
             str(rate), "1.5", dev, str(self.dir / "secrets" / f"{dev}.pass")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        self.broker.stop()


@pytest.fixture
def site(tmp_path: Path):
    require_mosquitto()
    s = Site(tmp_path)
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_site(request, tmp_path: Path):
    """The site with its store in a SQLite file, or in a real PostgreSQL."""
    require_mosquitto()
    s = Site(tmp_path, None if request.param == "sqlite" else request.getfixturevalue("pg_url"))
    yield s
    s.close()


def _lines_until(proc: subprocess.Popen[str], pred, timeout: float) -> list[str]:
    """Read proc's stdout lines (in a thread: readline blocks) until pred(line) or timeout."""
    out: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line.strip())
            if pred(line.strip()):
                done.set()
                return
        done.set()

    threading.Thread(target=read, daemon=True).start()
    if not done.wait(timeout) or not out or not pred(out[-1]):
        pytest.fail(f"process did not report in {timeout} s (rc {proc.poll()}): {out[-5:]}")
    return out


def _web_url(proc: subprocess.Popen[str]) -> str:
    lines = _lines_until(proc, lambda s: s.startswith("hub key"), 30)
    (web,) = [ln for ln in lines if ln.startswith("web ")]
    return web.split()[1]


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return proc.returncode, out


def _assert_exactly_once(db: Path | str, dev: str, head: int) -> None:
    store = HubStore(db)
    try:
        assert store.seqs(dev) == list(range(1, head + 1))
        row = store.sql.execute("SELECT COUNT(*), COUNT(DISTINCT seq) FROM events WHERE device = ?",
                                 (dev,)).fetchone()
        assert row == (head, head)
        (d,) = [r for r in store.devices() if r.device == dev]
        assert d.head_seq == head
        assert store.sql.execute("SELECT COUNT(*) FROM pending WHERE device = ?", (dev,)).fetchone()[0] == 0
    finally:
        store.close()


def _journal_done(journal: Path, dev: str) -> int:
    with Journal.open(journal, dev) as j:
        assert j.outbox_size() == 0  # every event acked by the hub, so nothing left to prune-block
        return j.head[0]


@pytest.mark.integration
@pytest.mark.timeout(180)
@pytest.mark.parametrize("kill", [False, True], ids=["two-workers", "one-killed-mid-stream"])
def test_two_workers_split_the_stream_store_each_event_once(any_site: Site, tmp_path: Path, kill: bool) -> None:
    site = any_site
    count, rate = 600, 150.0
    journals = {dev: site.device(tmp_path, dev) for dev in DEVICES}
    for w in ("w1", "w2"):
        site.add_worker(w)
    w1, w2 = site.worker("w1"), site.worker("w2")
    web1 = _web_url(w1)
    _web_url(w2)
    time.sleep(1.0)  # both subscribed in the group before the devices stream
    sims = {dev: site.sim(j, dev, count, rate) for dev, j in journals.items()}
    if kill:
        _lines_until(sims["cam-a"], lambda s: s.startswith("appended") and int(s.split()[1]) >= 200, 60)
        w1.send_signal(signal.SIGKILL)  # with events in flight, uncommitted, unacked
        w1.wait(10)
    for dev, p in sims.items():
        _lines_until(p, lambda s: s == "done", 120)
        assert p.wait(20) == 0, dev
    for dev, j in journals.items():
        head = _journal_done(j, dev)
        assert head >= count
        _assert_exactly_once(site.db, dev, head)
    # the web page works from a worker: it reads the shared store
    if not kill:
        token = (site.dir / "web.token").read_text().strip()
        r = httpx.get(web1 + "/", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200 and "cam-a" in r.text
    rc2, out2 = _stop(w2)
    assert rc2 == 0
    stored = {w: int(ln.split("stored ")[1].split()[0]) for w, o in (("w2", out2),) for ln in o.splitlines()
              if ln.startswith("stopped:")}
    assert stored["w2"] > 0
    total = sum(_journal_done(j, d) for d, j in journals.items())
    if kill:
        assert stored["w2"] < total  # w1 had stored its share before it was killed
    if not kill:
        rc1, out1 = _stop(w1)
        assert rc1 == 0
        s1 = next(int(ln.split("stored ")[1].split()[0]) for ln in out1.splitlines() if ln.startswith("stopped:"))
        assert s1 > 0  # the shared subscription split the stream between the two
        assert s1 + stored["w2"] == total


@pytest.mark.timeout(60)
def test_device_user_gets_nothing_of_other_devices_through_a_shared_subscription(site: Site, tmp_path: Path) -> None:
    site.device(tmp_path, "cam-a")
    site.device(tmp_path, "cam-b")
    site.add_worker("w1")
    got: dict[str, list[str]] = {"cam-a": [], "w1": []}
    clients = []
    group = (site.dir / "broker" / "group").read_text().strip()  # made by add-worker, 0600
    assert group.startswith("camaudit-hub-") and len(group) > 30
    assert (site.dir / "broker" / "group").stat().st_mode & 0o077 == 0
    # cam-a tries the public default group name and any other: if it could join the workers'
    # group, mosquitto would hand it its turn of the group's messages and drop them (ACL)
    for user, filters in (("w1", [f"$share/{group}/camaudit/+/events"]),
                          ("cam-a", ["$share/g/camaudit/+/events", "$share/g/#", "$share/camaudit-hub/camaudit/+/events",
                                     "$share/x/camaudit/cam-b/#"])):
        ready = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
        c.username_pw_set(user, (site.dir / "secrets" / f"{user}.pass").read_text().strip())
        c.on_connect = lambda cl, u, f, rc, p, fl=filters: cl.subscribe([(x, 1) for x in fl])
        c.on_subscribe = lambda cl, u, mid, rcs, p, r=ready: r.set()
        c.on_message = lambda cl, u, m, who=user: got[who].append(m.topic)
        c.connect("127.0.0.1", site.broker.port)
        c.loop_start()
        assert ready.wait(10)
        clients.append(c)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cam-b")
    pub.username_pw_set("cam-b", (site.dir / "secrets" / "cam-b.pass").read_text().strip())
    pub.connect("127.0.0.1", site.broker.port)
    pub.loop_start()
    try:
        for i in range(5):
            pub.publish("camaudit/cam-b/events", f"{i}".encode(), qos=1).wait_for_publish(5)
        wait_for(lambda: len(got["w1"]) == 5, timeout=10, what="the worker got all of cam-b's events")
        time.sleep(0.5)
        assert got["cam-a"] == []
        assert len(got["w1"]) == 5
    finally:
        for c in [*clients, pub]:
            c.disconnect()
            c.loop_stop()


@pytest.mark.timeout(90)
def test_worker_refuses_to_start_next_to_a_hub_that_links_in_memory(make_hub, tmp_path: Path) -> None:
    hub = make_hub()
    data_dir = tmp_path / "hub"
    r = CliRunner().invoke(hub_cmd, ["--data-dir", str(data_dir), "add-worker", "w1"])
    assert r.exit_code == 0, r.output
    p = subprocess.run([str(CAMAUDIT), "hub", "--data-dir", str(data_dir), "--worker", "w1", "--listen",
                        "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("camaudit: error: hub store ")
    assert "restart that hub with `camaudit hub --shared`" in line
    assert hub.collector.linking == "memory"


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_shared_hub_and_a_worker_split_the_stream(make_hub, tmp_path: Path) -> None:
    """`camaudit hub --shared` (the hub with its mosquitto) collects in the group next to a worker."""
    hub = make_hub(shared=True)
    assert hub.collector.linking == "shared"
    data_dir = tmp_path / "hub"
    r = CliRunner().invoke(hub_cmd, ["--data-dir", str(data_dir), "add-worker", "w1"])
    assert r.exit_code == 0, r.output
    w1 = subprocess.Popen([str(CAMAUDIT), "hub", "--data-dir", str(data_dir), "--worker", "w1", "--listen",
                           "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _web_url(w1)
        journals = {}
        for dev in DEVICES[:2]:
            journals[dev] = tmp_path / dev / "journal.db"
            with Journal.open(journals[dev], dev) as j:
                hub.enroll(dev, j.public_key.hex())
        time.sleep(1.0)
        env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        sims = [subprocess.Popen(
            [sys.executable, str(HERE / "devicesim.py"), str(j), dev, hub.broker_url, "400", "150", "1.5", dev,
             str(hub.password_file(dev))], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
            for dev, j in journals.items()]
        for p in sims:
            _lines_until(p, lambda s: s == "done", 120)
            assert p.wait(20) == 0
        rc, out = _stop(w1)
        assert rc == 0
        worker_stored = next(int(ln.split("stored ")[1].split()[0]) for ln in out.splitlines()
                             if ln.startswith("stopped:"))
        total = 0
        for dev, j in journals.items():
            head = _journal_done(j, dev)
            _assert_exactly_once(data_dir / "hub.db", dev, head)
            total += head
        assert 0 < worker_stored < total
        assert 0 < hub.collector.stats["stored"] == total - worker_stored
    finally:
        if w1.poll() is None:
            w1.kill()
            w1.wait(10)


def test_a_hub_on_a_store_where_a_worker_ran_links_shared(make_hub, tmp_path: Path) -> None:
    from camaudit.hub.ingest.linkstore import LinkStore

    store = HubStore(tmp_path / "hub" / "hub.db")
    links = LinkStore(store.sql)
    links.register("w1@elsewhere", "shared")
    links.unregister("w1@elsewhere")
    store.close()
    hub = make_hub()
    assert hub.collector.linking == "shared"
    assert all(t.startswith("$share/camaudit-hub-") for t, _ in hub.collector._subscriptions()[:2])


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_worker_on_a_site_broker_with_its_own_user_and_folder(site: Site, tmp_path: Path) -> None:
    """`--broker URL --username U --password-file F --group G`, its own data folder (another
    machine), the shared store: it collects and acks; its refusal lines are one line each."""
    journal = site.device(tmp_path, "cam-a")
    site.add_worker("w9")
    secret = site.dir / "secrets" / "w9.pass"
    other = tmp_path / "machine2"
    cmd = [str(CAMAUDIT), "hub", "--data-dir", str(other), "--db", str(site.db), "--broker", site.broker.url,
           "--username", "w9", "--group", "g-site", "--listen", "127.0.0.1:0", "--worker", "w9"]
    p = subprocess.run([*cmd[:-2], "--password-file", str(tmp_path / "nope.pass"), *cmd[-2:]],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("camaudit: error: ") and "nope.pass: cannot read MQTT password file" in line
    # the hub's key is named by the store: a worker without it, or with another, refuses
    from camaudit.store.keys import DeviceKey, load_or_create_key

    hub_key = load_or_create_key(site.dir / "hub.key")
    store = HubStore(site.db)
    store.set_meta("hub_public_key", hub_key.public_hex)
    store.close()
    for attempt in ("missing", "another"):
        if attempt == "another":
            other.mkdir(exist_ok=True)
            (other / "hub.key").write_bytes(DeviceKey.generate().pem())
            (other / "hub.key").chmod(0o600)
        p = subprocess.run([*cmd[:-2], "--password-file", str(secret), *cmd[-2:]],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, p.stderr
        (line,) = p.stderr.strip().splitlines()
        assert "copy the hub's hub.key" in line
        assert (attempt == "missing") == ("no hub key at" in line)
    shutil.copy(site.dir / "hub.key", other / "hub.key")
    w = subprocess.Popen([*cmd[:-2], "--password-file", str(secret), *cmd[-2:]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    site.procs.append(w)
    lines = _lines_until(w, lambda s: s.startswith("hub key"), 30)
    assert "worker  w9 in group g-site" in lines
    sim = site.sim(journal, "cam-a", 200, 200)
    _lines_until(sim, lambda s: s == "done", 90)
    assert sim.wait(20) == 0
    _assert_exactly_once(site.db, "cam-a", _journal_done(journal, "cam-a"))
    rc, _ = _stop(w)
    assert rc == 0
