"""Device simulator: N camaudit devices publishing realistic signed streams over MQTT.

Each simulated device has its own Ed25519 key (enrolled on the hub) and its own MQTT user,
and behaves on the wire as the real device does (device/camaudit/mqtt/publisher.py):
- its records are made by the real code (`core.record.seal`, `checkpoint_body`, the
  pipeline's capture bodies and alert text), so the hub verifies hash, signature and chain
  link for real: `device.online`, then captures (capture.start / capture.update /
  capture.end with a verdict and reasons), an `alert` for each unconsented capture of
  identifiable faces, notice.missing / notice.restored, and a `checkpoint` every 100
  records, as the journal writes them;
- it keeps every unacked record in an outbox (here in memory, not in SQLite: 500 journals
  with synchronous=FULL would measure the simulator's disk, not the hub), sends at most
  `max_inflight` past the hub's ack, re-sends from the hub's ack after `ack_timeout_s`
  without progress and after every reconnect, and answers `<p>/<dev>/cmd/replay`;
- `status` retained online / offline (last will), `key` retained, `alerts` with the short
  text, as the real publisher;
- faults: random connection drops (`disconnect_per_min`, the socket shut without an MQTT
  DISCONNECT, so the broker publishes the last will; reconnect 1-3 s later) and `loss`, the
  share of records whose first send is lost on the way (the hub sees a gap and asks for a
  replay, or the device re-sends after its ack timeout).

500 devices on 2 cores do not get 500 paho threads: `procs` processes each drive their
share of the clients from one loop (paho's loop_read / loop_write / loop_misc on an epoll
selector). The aggregate `rate` (records/s) is split over the processes; each record goes
to a random device of the process. It stops by itself after `seconds`, then drains (waits
up to `drain_s` until the hub acked everything) and returns a summary.

Library: `make_fleet`, `SimConfig`, `run(fleet, cfg) -> SimSummary`. Command line (its own
hub on SQLite, or `--bare`: a plain anonymous mosquitto and a counting subscriber, broker
PUBACK as the ack, which is the simulator's own ceiling):

    .venv/bin/python bench/simulate.py --devices 50 --rate 100 --seconds 10 [--bare] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import os
import random
import selectors
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "device") not in sys.path:
    sys.path.insert(0, str(ROOT / "device"))

from camaudit.core.alerts import alert_text  # noqa: E402
from camaudit.core.capture import CaptureBody, FacePx  # noqa: E402
from camaudit.core.policy import Verdict  # noqa: E402
from camaudit.core.record import GENESIS_PREV, checkpoint_body, seal  # noqa: E402
from camaudit.mqtt import topics  # noqa: E402
from camaudit.mqtt.publisher import alert_payload, parse_seq  # noqa: E402

log = logging.getLogger(__name__)

FEEDS = ("counter", "door")
NOTICE = "entrance-sign"
REASONS = ("notice_missing", "outside_hours", "privacy_zone", "no_notice")


@dataclass(frozen=True)
class SimDevice:
    """One simulated device: its id, raw Ed25519 private key, MQTT user and password."""

    id: str
    private_hex: str
    username: str | None = None
    password: str | None = None

    @property
    def public_hex(self) -> str:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.private_hex))
        return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def make_fleet(n: int, prefix: str = "sim") -> list[SimDevice]:
    """`n` devices `<prefix>-0001`.. with fresh keys (no MQTT users yet: see with_users)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out = []
    for i in range(1, n + 1):
        raw = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        out.append(SimDevice(f"{prefix}-{i:04d}", raw.hex()))
    return out


def with_users(fleet: list[SimDevice], password_file: Any) -> list[SimDevice]:
    """The fleet with MQTT user = device id and the password read from `password_file(id)`."""
    return [SimDevice(d.id, d.private_hex, d.id, Path(password_file(d.id)).read_text().strip())
            for d in fleet]


@dataclass
class SimConfig:
    url: str
    rate: float = 10.0  # records/s over all devices
    seconds: float = 10.0
    procs: int = 2
    prefix: str = "camaudit"
    max_inflight: int = 1000
    ack_timeout_s: float = 10.0
    disconnect_per_min: float = 0.0  # per device: chance of a connection drop per minute
    loss: float = 0.0  # share of records whose first send is lost
    drain_s: float = 60.0
    ack_mode: str = "hub"  # "hub": the hub's ack topic; "broker": the broker's PUBACK (no hub)
    checkpoint_every: int = 100
    keepalive_s: int = 30
    seed: int = 1
    connect_timeout_s: float = 60.0


@dataclass
class SimSummary:
    devices: int
    procs: int
    rate_asked: float
    seconds: float  # the generation window
    generated: int = 0  # records made (each seq once): what the hub must end up storing
    published: int = 0  # records published on <p>/<dev>/events, re-sends included
    acked: int = 0  # records the hub (or broker, ack_mode broker) acknowledged
    resent: int = 0  # publishes of a seq sent before
    resend_rounds: int = 0  # ack timeouts that rewound a device to its ack
    replays_answered: int = 0  # cmd/replay requests acted on
    acks_received: int = 0  # ack messages from the hub (one may cover many records)
    disconnects: int = 0
    connects: int = 0
    lost_first_send: int = 0  # records whose first send was dropped on purpose (`loss`)
    refused: int = 0  # CONNACK refusals (bad password, ...)
    drain_s: float = 0.0  # time from the end of generation until everything was acked
    cpu_s: float = 0.0  # CPU seconds of the simulator's processes (whole run)
    heads: dict[str, int] = field(default_factory=dict)  # device -> last seq generated

    @property
    def rate(self) -> float:
        return self.generated / self.seconds if self.seconds else 0.0

    @property
    def unacked(self) -> int:
        return self.generated - self.acked

    def line(self) -> str:
        return (f"simulator: {self.devices} devices in {self.procs} process(es), asked {self.rate_asked:.0f} "
                f"records/s for {self.seconds:.0f} s: generated {self.generated} ({self.rate:.0f}/s), "
                f"published {self.published}, acked {self.acked}, re-sent {self.resent} "
                f"({self.resend_rounds} ack timeouts), replays answered {self.replays_answered}, "
                f"disconnects {self.disconnects}, drained in {self.drain_s:.1f} s, "
                f"simulator CPU {self.cpu_s:.1f} s")


# ---- one simulated device ---------------------------------------------------------------
class _Scenario:
    """What happens in front of one device's cameras: captures, notices, verdicts."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n_capture = 0
        self.open: dict[str, Any] | None = None
        self.notice_visible = True

    def step(self, ts: int) -> list[tuple[str, str | None, dict[str, Any]]]:
        rng = self.rng
        if self.open is None:
            if rng.random() < 0.05:  # the sign is torn down or put back up
                self.notice_visible = not self.notice_visible
                state = "VISIBLE" if self.notice_visible else "MISSING"
                return [("notice.restored" if self.notice_visible else "notice.missing", "door",
                         {"notice": NOTICE, "state": state,
                          "previous": "MISSING" if self.notice_visible else "VISIBLE",
                          "watch_feed": "door", "covers": ["counter"], "last_seen": ts,
                          "why": "marker read" if self.notice_visible else "marker not read for 60 s",
                          "grace_ms": 60000})]
            self.n_capture += 1
            reasons: list[str] = []
            if not self.notice_visible:
                reasons.append("notice_missing")
            if rng.random() < 0.1:
                reasons.append(rng.choice(("outside_hours", "privacy_zone")))
            faces = rng.randint(1, 4)
            self.open = {"id": f"c-{self.n_capture:06d}", "start": ts, "feed": rng.choice(FEEDS),
                         "reasons": tuple(sorted(set(reasons))), "updates": rng.randint(0, 3),
                         "faces": faces, "tracks": faces + rng.randint(0, 3), "frames": 0}
            return [("capture.start", self.open["feed"], self._body(ts, None))]
        c = self.open
        c["frames"] += rng.randint(5, 60)
        if c["updates"] > 0:
            c["updates"] -= 1
            return [("capture.update", c["feed"], self._body(ts, None))]
        body = self._body(ts, ts)
        self.open = None
        out: list[tuple[str, str | None, dict[str, Any]]] = [("capture.end", c["feed"], body)]
        if c["reasons"] and body["identifiable_tracks"] > 0:
            verdict = Verdict("unconsented", c["reasons"], None)
            out.append(("alert", c["feed"], {
                "text": alert_text(verdict, c["feed"], body["identifiable_tracks"]),
                "capture": c["id"], "reasons": list(c["reasons"]),
                "identifiable_tracks": body["identifiable_tracks"], "ref_seq": None}))
        return out

    def _body(self, ts: int, end: int | None) -> dict[str, Any]:
        assert self.open is not None
        return _capture_body(self.open, end, self.rng)


def _capture_body(c: dict[str, Any], end: int | None, rng: random.Random) -> dict[str, Any]:
    unconsented = bool(c["reasons"])
    px = sorted(rng.randint(18, 120) for _ in range(3))
    return CaptureBody(
        capture=c["id"], start=c["start"], end=end, frames=c["frames"], max_faces=c["faces"],
        distinct_tracks=c["tracks"], identifiable_tracks=min(c["tracks"], rng.randint(0, c["faces"])),
        face_px=FacePx(px[0], px[1], px[2]),
        verdict="unconsented" if unconsented else "consented", reasons=c["reasons"],
        basis=None if unconsented else f"notice:{NOTICE}",
    ).to_dict()


class _Dev:
    """A device's journal (in memory), outbox and MQTT client, driven by the process loop."""

    def __init__(self, spec: SimDevice, cfg: SimConfig, rng: random.Random, sel: selectors.BaseSelector,
                 summary: SimSummary) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.id = spec.id
        self.cfg = cfg
        self.rng = rng
        self.sel = sel
        self.s = summary
        self.key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(spec.private_hex))
        self.public_hex = spec.public_hex
        self.scenario = _Scenario(rng)
        self.seq = 0
        self.head = GENESIS_PREV
        self.cp_seq = 0
        self.outbox: dict[int, tuple[str, bytes, bytes | None]] = {}
        self.acked = 0
        self.cursor = 0
        self.max_sent = 0
        self.t_wait = 0.0
        self.connected = False
        self.down_until = 0.0
        self.mids: dict[int, int] = {}
        self.client = self._client(spec)

    # -- journal --
    def append(self, type: str, feed: str | None, body: dict[str, Any], ts: int) -> None:
        self.seq += 1
        ev = seal(device=self.id, seq=self.seq, ts=ts, type=type, feed=feed, body=body, prev=self.head,
                  sign=self.key.sign)
        self.head = ev.hash
        self.outbox[ev.seq] = (type, ev.to_json(), alert_payload(ev) if type == "alert" else None)
        if type != "checkpoint" and self.seq - self.cp_seq >= self.cfg.checkpoint_every:
            self.cp_seq = self.seq
            self.append("checkpoint", None, checkpoint_body(self.seq, self.head, self.key.sign), ts)

    def step(self, ts: int) -> int:
        before = self.seq
        if self.seq == 0:
            self.append("device.online", None, {"venue": f"Simulated venue {self.id}", "timezone": "UTC",
                                                "feeds": list(FEEDS)}, ts)
        for type, feed, body in self.scenario.step(ts):
            self.append(type, feed, body, ts)
        return self.seq - before

    def ack(self, seq: int, now: float) -> None:
        if seq > self.seq or seq <= self.acked:
            return
        for s in range(self.acked + 1, seq + 1):
            self.outbox.pop(s, None)
        self.s.acked += seq - self.acked
        self.acked = seq
        self.t_wait = now

    # -- MQTT --
    def _client(self, spec: SimDevice) -> Any:
        import paho.mqtt.client as mqtt

        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=spec.username or spec.id,
                        clean_session=True, protocol=mqtt.MQTTv311)
        if spec.username:
            c.username_pw_set(spec.username, spec.password)
        p = self.cfg.prefix
        c.will_set(topics.status(p, self.id), topics.OFFLINE, qos=1, retain=True)
        c.max_inflight_messages_set(0)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        c.on_socket_open = self._sock_open
        c.on_socket_close = self._sock_close
        c.on_socket_register_write = self._want_write
        c.on_socket_unregister_write = self._done_write
        return c

    def _sock_open(self, client: Any, userdata: Any, sock: Any) -> None:
        self.sel.register(sock, selectors.EVENT_READ, self)

    def _sock_close(self, client: Any, userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(sock)

    def _want_write(self, client: Any, userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def _done_write(self, client: Any, userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.modify(sock, selectors.EVENT_READ, self)

    def connect(self, host: str, port: int) -> None:
        try:
            self.client.connect(host, port, keepalive=self.cfg.keepalive_s)
        except OSError as exc:
            log.warning("%s: connect failed: %s", self.id, exc)
            self.down_until = time.monotonic() + 2.0

    def reconnect(self) -> None:
        try:
            self.client.reconnect()
        except OSError as exc:
            log.warning("%s: reconnect failed: %s", self.id, exc)
            self.down_until = time.monotonic() + 2.0

    def drop(self) -> None:
        """Lose the connection the hard way: no DISCONNECT, the broker sends the last will."""
        sock = self.client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self.s.refused += 1
            log.warning("%s: connect refused: %s", self.id, rc)
            return
        p = self.cfg.prefix
        client.subscribe([(topics.ack(p, self.id), 1), (topics.replay(p, self.id), 1)])
        client.publish(topics.key(p, self.id), self.public_hex.encode(), qos=1, retain=True)
        client.publish(topics.status(p, self.id), topics.ONLINE, qos=1, retain=True)
        self.connected = True
        self.cursor = self.acked  # re-send everything unacked, as the real device does
        self.t_wait = time.monotonic()
        self.s.connects += 1

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if self.connected:
            self.s.disconnects += 1
        self.connected = False
        self.mids.clear()
        self.down_until = time.monotonic() + self.rng.uniform(1.0, 3.0)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        seq = parse_seq(msg.payload)
        if seq is None:
            return
        now = time.monotonic()
        if msg.topic.endswith("/ack"):
            self.s.acks_received += 1
            if self.cfg.ack_mode == "hub":
                self.ack(seq, now)
        else:  # cmd/replay: send again from `seq`
            self.s.replays_answered += 1
            self.cursor = min(self.cursor, max(self.acked, seq - 1))
            self.t_wait = now

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        seq = self.mids.pop(mid, None)
        if seq is not None and self.cfg.ack_mode == "broker":
            self.ack(seq, time.monotonic())

    def pump(self, now: float) -> None:
        """Send what the window allows (the real publisher's rules)."""
        if not self.connected:
            return
        cfg = self.cfg
        if self.cursor > self.acked and now - self.t_wait > cfg.ack_timeout_s:
            self.s.resend_rounds += 1
            self.cursor = self.acked
            self.t_wait = now
        self.cursor = max(self.cursor, self.acked)
        upto = min(self.seq, self.acked + cfg.max_inflight)
        if self.cursor >= upto:
            return
        if self.cursor <= self.acked:
            self.t_wait = now
        p, c = cfg.prefix, self.client
        for s in range(self.cursor + 1, upto + 1):
            typ, data, alert = self.outbox[s]
            first = s > self.max_sent
            if first:
                self.max_sent = s
            else:
                self.s.resent += 1
            if first and cfg.loss and self.rng.random() < cfg.loss:
                self.s.lost_first_send += 1
                continue
            info = c.publish(topics.events(p, self.id), data, qos=1)
            if cfg.ack_mode == "broker":
                self.mids[info.mid] = s
            if typ == "checkpoint":
                c.publish(topics.checkpoints(p, self.id), data, qos=1)
            elif alert is not None:
                c.publish(topics.alerts(p, self.id), alert, qos=1)
            self.s.published += 1
        self.cursor = upto

    def due(self, now: float) -> bool:
        """Unacked records and an ack timeout that has passed."""
        return self.connected and self.cursor > self.acked and now - self.t_wait > self.cfg.ack_timeout_s


# ---- one simulator process ----------------------------------------------------------------
def _proc_main(specs: list[SimDevice], cfg: SimConfig, rate: float, seed: int, conn: Any) -> None:
    """Drive `specs` from one selector loop: connect all, wait for "go", run, drain, report."""
    from urllib.parse import urlsplit

    logging.basicConfig(level=logging.WARNING)
    cpu0 = time.process_time()
    rng = random.Random(seed)
    sel = selectors.DefaultSelector()
    s = SimSummary(devices=len(specs), procs=1, rate_asked=rate, seconds=cfg.seconds)
    devs = [_Dev(spec, cfg, random.Random(rng.random()), sel, s) for spec in specs]
    u = urlsplit(cfg.url)
    host, port = u.hostname or "127.0.0.1", u.port or 1883

    def io(timeout: float) -> None:
        for key, mask in sel.select(timeout):
            d: _Dev = key.data
            if mask & selectors.EVENT_READ:
                d.client.loop_read(1000)
            if mask & selectors.EVENT_WRITE:
                d.client.loop_write()

    for d in devs:
        d.connect(host, port)
        io(0)
    deadline = time.monotonic() + cfg.connect_timeout_s
    while not all(d.connected for d in devs) and time.monotonic() < deadline:
        io(0.05)
        for d in devs:
            d.client.loop_misc()
    conn.send(("ready", sum(d.connected for d in devs)))
    conn.recv()  # go
    t0 = time.monotonic()
    t_gen_end = t0 + cfg.seconds
    generated = 0
    drop_p = cfg.disconnect_per_min / 60.0 * 0.25  # per housekeeping tick (0.25 s)
    t_house = t0
    generating = True
    t_drained: float | None = None
    while True:
        now = time.monotonic()
        if generating:
            if now >= t_gen_end:
                generating = False
            else:
                due = int((now - t0) * rate)
                wall = int(time.time() * 1000)
                burst = 0
                while generated < due and burst < 500:
                    d = devs[rng.randrange(len(devs))]
                    n = d.step(wall)
                    generated += n
                    burst += n
                    d.pump(now)
        else:
            if all(d.acked >= d.seq for d in devs):
                t_drained = now
                break
            if now - t_gen_end > cfg.drain_s:
                break
        if now - t_house >= 0.25:
            t_house = now
            for d in devs:
                d.client.loop_misc()
                if d.connected:
                    if generating and drop_p and d.rng.random() < drop_p:
                        d.drop()
                    elif d.due(now):
                        d.pump(now)
                elif now >= d.down_until and d.client.socket() is None:
                    d.reconnect()
        behind = generating and generated < int((time.monotonic() - t0) * rate)
        io(0 if behind else 0.002 if generating else 0.02)
        if not generating:
            for d in devs:
                if d.connected and d.cursor < min(d.seq, d.acked + cfg.max_inflight):
                    d.pump(now)
        elif generating:
            for d in devs:
                if d.connected and d.cursor < d.seq and d.cursor < d.acked + cfg.max_inflight:
                    d.pump(now)
    end = time.monotonic()
    s.drain_s = (t_drained or end) - t_gen_end
    # stop as the real device does: retained offline, clean disconnect
    for d in devs:
        if d.connected:
            d.client.publish(topics.status(cfg.prefix, d.id), topics.OFFLINE, qos=1, retain=True)
    t_flush = time.monotonic() + 2.0
    while time.monotonic() < t_flush and any(d.client.want_write() for d in devs if d.connected):
        io(0.02)
    for d in devs:
        d.connected = False  # a stop, not a drop: not counted in disconnects
        with contextlib.suppress(Exception):
            d.client.disconnect()
    io(0.05)
    s.generated = sum(d.seq for d in devs)
    s.heads = {d.id: d.seq for d in devs}
    s.cpu_s = time.process_time() - cpu0
    conn.send(("done", asdict(s)))


def run(fleet: list[SimDevice], cfg: SimConfig) -> SimSummary:
    """Run the fleet for cfg.seconds at cfg.rate (split over cfg.procs processes), drain, sum up."""
    procs = max(1, min(cfg.procs, len(fleet)))
    ctx = multiprocessing.get_context("spawn")
    parts = [fleet[i::procs] for i in range(procs)]
    children = []
    for i, part in enumerate(parts):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_proc_main, args=(part, cfg, cfg.rate * len(part) / len(fleet),
                                                  cfg.seed * 1000 + i, child), daemon=True,
                        name=f"sim-{i}")
        p.start()
        child.close()
        children.append((p, parent))
    try:
        for p, conn in children:
            if not conn.poll(cfg.connect_timeout_s + 30):
                raise TimeoutError("simulator: a process did not connect its devices in time")
            kind, n = conn.recv()
            log.info("simulator process %s: %d device(s) connected", p.name, n)
        for _, conn in children:
            conn.send("go")
        total = SimSummary(devices=len(fleet), procs=procs, rate_asked=cfg.rate, seconds=cfg.seconds)
        for p, conn in children:
            if not conn.poll(cfg.seconds + cfg.drain_s + 60):
                raise TimeoutError("simulator: a process did not finish in time")
            _, part = conn.recv()
            for k in ("generated", "published", "acked", "resent", "resend_rounds", "replays_answered", "acks_received",
                      "disconnects", "connects", "lost_first_send", "refused"):
                setattr(total, k, getattr(total, k) + part[k])
            total.drain_s = max(total.drain_s, part["drain_s"])
            total.cpu_s += part["cpu_s"]
            total.heads.update(part["heads"])
            p.join(10)
        return total
    finally:
        for p, conn in children:
            if p.is_alive():
                p.kill()
                p.join(5)
            conn.close()


# ---- the peer: a bare broker and a counting subscriber --------------------------------------
def _count_main(url: str, topic: str, conn: Any) -> None:
    from urllib.parse import urlsplit

    import paho.mqtt.client as mqtt

    n = [0]
    u = urlsplit(url)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sim-counter")
    c.on_connect = lambda cl, *_: cl.subscribe(topic, 1)
    c.on_subscribe = lambda *_: conn.send("ready")

    def on_message(*_: Any) -> None:
        n[0] += 1

    c.on_message = on_message
    c.connect(u.hostname or "127.0.0.1", u.port or 1883)
    c.loop_start()
    conn.recv()  # stop
    cpu = time.process_time()
    c.disconnect()
    c.loop_stop()
    conn.send((n[0], cpu))


class BareBroker:
    """Debian's mosquitto, anonymous, no limits, and a subscriber process counting events."""

    def __init__(self, workdir: Path, prefix: str = "camaudit") -> None:
        import shutil
        import subprocess

        from camaudit.hub.broker.mosquitto import free_port

        self.port = free_port()
        conf = workdir / "bare.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
                        "max_inflight_messages 0\nmax_connections -1\n"
                        + ("user root\n" if os.geteuid() == 0 else ""))
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.url = f"mqtt://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._counter = ctx.Process(target=_count_main, args=(self.url, f"{prefix}/+/events", child),
                                    daemon=True)
        self._counter.start()
        if not self._conn.poll(10):
            raise TimeoutError("counting subscriber did not subscribe")
        self._conn.recv()

    def stop(self) -> tuple[int, float]:
        """(events the subscriber received, its CPU seconds)."""
        self._conn.send("stop")
        n, cpu = self._conn.recv() if self._conn.poll(10) else (-1, 0.0)
        self._counter.join(5)
        self.proc.terminate()
        self.proc.wait(10)
        return n, cpu


def bare_ceiling(n_devices: int, rate: float, seconds: float, procs: int = 2) -> dict[str, Any]:
    """The simulator against a bare mosquitto + counting subscriber (PUBACK as the ack): what
    the simulator itself sustains, with no hub behind the broker."""
    with tempfile.TemporaryDirectory(prefix="camaudit-sim-") as d:
        bare = BareBroker(Path(d))
        try:
            s = run(make_fleet(n_devices, "bare"), SimConfig(url=bare.url, rate=rate, seconds=seconds,
                                                            procs=procs, ack_mode="broker", drain_s=30))
        finally:
            received, sub_cpu = bare.stop()
    return {"generated": s.generated, "eps": round(s.rate, 1), "received": received,
            "sim_cpu_s": round(s.cpu_s, 1), "subscriber_cpu_s": round(sub_cpu, 1),
            "unacked": s.unacked}


# ---- command line -------------------------------------------------------------------------------
def _hub_run(args: argparse.Namespace) -> dict[str, Any]:
    """Own hub (SQLite, its own mosquitto), enroll the fleet, run, check the store."""
    from camaudit.config.hub import HubConfig
    from camaudit.hub.broker.mosquitto import free_port
    from camaudit.hub.run import start_hub

    with tempfile.TemporaryDirectory(prefix="camaudit-sim-") as d:
        # the whole fleet connects from 127.0.0.1: the front's per-address bound must admit it
        hub = start_hub(HubConfig(data_dir=Path(d) / "hub", web=False,
                                  broker_listen=f"127.0.0.1:{free_port()}",
                                  broker_max_per_address=args.devices + 16,
                                  broker_max_connections=max(256, args.devices + 16)))
        try:
            fleet = make_fleet(args.devices)
            for dev in fleet:
                hub.enroll(dev.id, dev.public_hex)
            fleet = with_users(fleet, hub.password_file)
            hub.wait_connected()
            s = run(fleet, SimConfig(url=hub.broker_url, rate=args.rate, seconds=args.seconds, procs=args.procs,
                                     disconnect_per_min=args.disconnects, loss=args.loss,
                                     ack_timeout_s=args.ack_timeout))
            stored = dict(hub.store.sql.execute(
                "SELECT device, COUNT(DISTINCT seq) FROM events GROUP BY device").fetchall())
            rejects = hub.store.rejects()
        finally:
            hub.stop()
    lost = sum(max(0, h - stored.get(dev, 0)) for dev, h in s.heads.items())
    print(s.line())
    return {"summary": {k: v for k, v in asdict(s).items() if k != "heads"}, "lost": lost,
            "rejects": rejects}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--rate", type=float, default=100.0, help="records/s over all devices")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--disconnects", type=float, default=1.0, help="per device per minute")
    ap.add_argument("--loss", type=float, default=0.001, help="share of first sends lost")
    ap.add_argument("--ack-timeout", type=float, default=10.0)
    ap.add_argument("--bare", action="store_true", help="no hub: a bare mosquitto and a counting subscriber")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.bare:
        out = bare_ceiling(args.devices, args.rate, args.seconds, args.procs)
        text = (f"simulator alone (bare mosquitto, PUBACK as ack): {out['eps']:.0f} records/s of "
                f"{args.rate:.0f} asked, subscriber received {out['received']} of {out['generated']}, "
                f"simulator CPU {out['sim_cpu_s']} s, subscriber CPU {out['subscriber_cpu_s']} s")
    else:
        out = _hub_run(args)
        text = (f"hub stored every record: {'yes' if out['lost'] == 0 else 'NO'} (lost {out['lost']}); "
                f"rejected by the hub: {out['rejects'] or 'none'}")
    print(json.dumps(out) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
