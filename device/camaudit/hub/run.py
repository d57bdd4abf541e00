"""Start a whole hub (its own supervised mosquitto or a site's broker, collector, web page)."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camaudit.config.hub import HubConfig, split_hostport
from camaudit.config.mqtt import MqttConfig
from camaudit.hub.broker.files import (
    ALERTS_USER,
    GUARD_USER,
    HUB_USER,
    RESERVED_USERS,
    check_user,
    ensure_user_secret,
    is_hub_user,
)
from camaudit.hub.broker.front import FrontLimits
from camaudit.hub.broker.mosquitto import BrokerLimits, ManagedMosquitto, free_port
from camaudit.hub.ingest.collector import Collector
from camaudit.hub.ingest.linking import Mode
from camaudit.hub.ingest.linkstore import LinkStore
from camaudit.hub.store.hub_store import HubError, HubStore
from camaudit.hub.web.live import LiveAlerts
from camaudit.hub.web.next_steps import publishing_steps

log = logging.getLogger(__name__)


@dataclass
class HubHandle:
    """A running hub. `stop()` ends it (idempotent)."""

    broker_url: str
    web_url: str | None
    token: str
    store: HubStore
    collector: Collector
    data_dir: Path
    hub_public_key: str
    embedded_broker: ManagedMosquitto | None = None
    _web: Any = None
    _web_thread: threading.Thread | None = None
    _live: LiveAlerts | None = None
    evidence: Any = None  # hub.evidence.EvidenceInbox (blurred frames sent by devices)
    keeper: Any = None  # hub.custody.keeper.Keeper (time-stamps, pruning)
    retained_guard: Any = None  # hub.broker.retained.RetainedGuard (hub's own mosquitto only)
    _stopped: bool = field(default=False)

    def password_file(self, user: str) -> Path:
        """The MQTT password file of a hub-broker user (see HubConfig.broker_users)."""
        return self.data_dir / "secrets" / f"{user}.pass"

    def add_mqtt_user(self, user: str) -> Path:
        """Create `user` in the hub's mosquitto (if new) and make it reload; its password file."""
        b = self.embedded_broker
        if b is None:
            raise HubError("the hub uses an external broker: create MQTT users there")
        had = self.password_file(user).exists()
        secret = ensure_user_secret(self.data_dir, b.passwd_file, check_user(user))
        if not had:
            b.reload()
        return secret

    def device_mqtt(self, user: str | None = None, prefix: str = "camaudit") -> MqttConfig:
        """An MqttConfig a device `user` can use against this hub's broker (with the hub's
        mosquitto the user is created if needed; None: no credentials)."""
        if user is None:
            return MqttConfig(url=self.broker_url, prefix=prefix)
        if self.embedded_broker is not None:
            self.add_mqtt_user(user)
        elif not self.password_file(user).exists():
            return MqttConfig(url=self.broker_url, prefix=prefix)
        return MqttConfig(url=self.broker_url, prefix=prefix, username=user,
                          password_file=str(self.password_file(user)))

    def enroll(self, device: str, public_key_hex: str) -> None:
        if is_hub_user(self.data_dir, device):
            raise HubError(f"enroll: {device!r} is one of the hub's own MQTT users (hub, alerts, a worker)")
        if self.embedded_broker is not None:
            check_user(device)  # it must be able to log in to the hub's mosquitto
        self.store.enroll(device, public_key_hex)
        self.collector.reload_keys()
        if self.embedded_broker is not None:
            self.add_mqtt_user(device)

    def on_alerts(self, fn: Callable[[list[dict[str, Any]]], None]) -> None:
        """Call `fn(alerts)` for every batch of verified, newly stored alert events; each alert
        is {device, seq, ts, feed, text, capture, reasons, ref_seq}. Runs in the collector
        thread: keep it quick (e.g. print)."""
        assert self._live is not None
        self._live.add_listener(fn)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.collector.connected.wait(timeout)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._live is not None:
            self._live.close()
        if self._web is not None:
            self._web.should_exit = True
            if self._web_thread is not None:
                self._web_thread.join(5)
                if self._web_thread.is_alive():
                    self._web.force_exit = True
                    self._web_thread.join(5)
        if self.keeper is not None:
            self.keeper.stop()
        self.collector.stop()
        if self.retained_guard is not None:
            self.retained_guard.stop()
        if self.evidence is not None:
            self.evidence.stop()
            self.evidence.store.sql.close()
        if self.embedded_broker is not None:
            self.embedded_broker.stop()
        self.collector.store.close()
        self.store.close()
        log.info("hub stopped")


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _token(cfg: HubConfig) -> str:
    if cfg.token:
        return cfg.token
    f = cfg.data_dir / "web.token"
    if f.exists():
        return f.read_text().strip()
    tok = secrets.token_urlsafe(24)
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(tok + "\n")
    return tok


def start_hub(cfg: HubConfig) -> HubHandle:
    """Start the hub described by `cfg`; returns once the broker and web page listen."""
    from camaudit.hub.custody.keeper import Keeper
    from camaudit.store.keys import load_or_create_key

    _private_dir(cfg.data_dir)
    store = HubStore(cfg.db_target)
    wkey = load_or_create_key(cfg.data_dir / "hub.key")
    store.set_meta("hub_public_key", wkey.public_hex)
    token = _token(cfg)

    broker: ManagedMosquitto | None = None
    if cfg.broker is None:
        host, port = split_hostport(cfg.broker_listen)
        # Only the hub may tell a device what it stored (ack) or to replay: a device user
        # publishing a forged ack could make another device drop events from its outbox.
        # The ACL (broker.acl_text) grants that to the hub user alone.
        broker = ManagedMosquitto(cfg.data_dir, host, port or free_port(host), prefix=cfg.mqtt.prefix,
                                  discovery_prefix=cfg.mqtt.discovery_prefix,
                                  certfile=cfg.broker_certfile, keyfile=cfg.broker_keyfile,
                                  limits=BrokerLimits(max_connections=cfg.broker_max_connections),
                                  front=FrontLimits(max_connections=cfg.broker_max_connections,
                                                    per_address=cfg.broker_max_per_address,
                                                    connect_delay_s=cfg.broker_connect_timeout_s))
        broker.write_config()
        secret = ensure_user_secret(cfg.data_dir, broker.passwd_file, HUB_USER)
        ensure_user_secret(cfg.data_dir, broker.passwd_file, ALERTS_USER)  # `camaudit alerts`
        guard_secret = ensure_user_secret(cfg.data_dir, broker.passwd_file, GUARD_USER)
        for user in cfg.broker_users:
            ensure_user_secret(cfg.data_dir, broker.passwd_file, user)
        for dev in list(store.keys()):  # every enrolled device has its MQTT user
            if dev in RESERVED_USERS:
                continue
            try:
                ensure_user_secret(cfg.data_dir, broker.passwd_file, dev)
            except HubError as exc:
                log.warning("device %s gets no MQTT user on the hub's broker: %s", dev, exc)
        mqtt_update: dict[str, Any] = {"username": HUB_USER, "password_file": str(secret)}
        broker.start()
        # the hub's own clients use mosquitto's private listener (plain MQTT on 127.0.0.1):
        # a flood of the public port (HAProxy's limits) cannot lock the hub out of its broker
        mqtt_update["url"] = broker.private_url
        mqtt = cfg.mqtt.model_copy(update=mqtt_update)
        broker_url = broker.url
    else:
        mqtt = cfg.mqtt.model_copy(update={"url": cfg.broker})
        broker_url = cfg.broker

    live = LiveAlerts()
    links = LinkStore(store.sql)
    # once workers share this store, the hub links there too (hub/ingest/linkstore.py)
    linking: Mode = "shared" if cfg.shared or links.linking_mode() == "shared" else "memory"
    collector = Collector(store, mqtt, wkey, tofu=cfg.trust_on_first_use,
                          max_bytes=cfg.max_message_bytes,
                          client_id=HUB_USER if broker is not None else cfg.client_id,
                          on_alerts=publishing_steps(live.publish), receiver_process=True,
                          linking=linking, group=cfg.worker_group, links=links, timezone=cfg.timezone,
                          not_device=lambda name: is_hub_user(cfg.data_dir, name) or name == mqtt.username)
    handle = serve(cfg, store, collector, broker_url=broker_url, token=token, hub_public_key=wkey.public_hex,
                   live=live, broker=broker)
    handle.keeper = Keeper(cfg, wkey).start()
    if broker is not None:
        from camaudit.hub.broker.retained import RetainedGuard

        guard_mqtt = mqtt.model_copy(update={"username": GUARD_USER, "password_file": str(guard_secret)})
        handle.retained_guard = RetainedGuard(guard_mqtt, cfg.mqtt.discovery_prefix).start()
    log.info("hub up: broker %s, web %s", broker_url, handle.web_url)
    return handle


def serve(cfg: HubConfig, store: HubStore, collector: Collector, *, broker_url: str, token: str,
          hub_public_key: str, live: LiveAlerts, broker: ManagedMosquitto | None) -> HubHandle:
    """Start `collector` with its evidence inbox, then the web page (the hub and every worker);
    whatever started is stopped again if a later step fails."""
    inbox = _evidence_inbox(cfg, store, collector)
    collector.evidence = inbox
    try:
        collector.start()
    except BaseException:  # e.g. another collector links this store in memory
        inbox.stop()
        if broker is not None:
            broker.stop()
        store.close()
        raise
    handle = HubHandle(broker_url=broker_url, web_url=None, token=token, store=HubStore(cfg.db_target),
                       collector=collector, data_dir=cfg.data_dir, hub_public_key=hub_public_key,
                       embedded_broker=broker, _live=live, evidence=inbox)
    if cfg.web:
        try:
            _start_web(handle, cfg, live)
        except BaseException:
            handle.stop()
            raise
    return handle


def _evidence_inbox(cfg: HubConfig, store: HubStore, collector: Collector) -> Any:
    """Checks and stores the blurred evidence frames devices send (hub/evidence/inbox.py)."""
    from camaudit.hub.evidence.inbox import EventLookup, EvidenceInbox, EvidenceStore, FaceCheck
    from camaudit.hub.store.sql import open_sql

    sql = open_sql(cfg.db_target)
    return EvidenceInbox(
        EvidenceStore(sql), EventLookup(sql), cfg.mqtt.prefix,
        publish=lambda topic, payload, qos=1: collector._publish(topic, payload, qos),
        count_rejects=lambda rejects: store.write_batch([], {}, {}, rejects, []),
        face_check=FaceCheck(),
    ).start()


def _start_web(handle: HubHandle, cfg: HubConfig, live: LiveAlerts) -> None:
    import uvicorn

    from camaudit.hub.web.app import create_app

    host, port = split_hostport(cfg.listen)
    port = port or free_port(host)
    app = create_app(handle.store, handle.token, live, timezone=cfg.timezone, hub_key=cfg.data_dir / "hub.key",
                     evidence=handle.evidence.store if handle.evidence is not None else None,
                     venue=cfg.venue, on_ack=handle.collector.publish_open_alerts)
    from camaudit.hub.web.routes.public import PublicSettings

    app.state.public = PublicSettings(url=cfg.public.url, operator=cfg.public.operator, cameras={
        k: v.model_dump(exclude_none=True) for k, v in cfg.public.cameras.items()})
    # X-Forwarded-For names the client (login limits) only behind a proxy the site names in
    # FORWARDED_ALLOW_IPS (uvicorn reads it); otherwise the socket's address, even from loopback
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="off", timeout_graceful_shutdown=2,
                                           proxy_headers=bool(os.environ.get("FORWARDED_ALLOW_IPS"))))
    thread = threading.Thread(target=server.run, name="hub-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise HubError(f"hub web page could not listen on {host}:{port}")
        time.sleep(0.02)
    handle._web, handle._web_thread = server, thread
    handle.web_url = f"http://{host}:{port}"
