"""`camaudit hub --worker NAME`: one of several hub workers splitting the device stream.

A worker connects (MQTT 5) to the hub's broker, or a site's (`--broker`), joins the shared
subscription group `$share/<group>/<p>/+/events` (and checkpoints), links every batch in
the shared hub store (hub/ingest/linkstore.py), and serves the web page from that store on its
own `--listen` port. It never starts or manages a broker.

With the hub's own mosquitto, the worker's MQTT user is created by `camaudit hub
add-worker NAME` (password in `<data_dir>/secrets/NAME.pass`), and the broker URL is read
from the running hub's generated `broker/mosquitto.conf` unless `--broker` is given.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from camaudit.config.hub import HubConfig
from camaudit.hub.broker.files import broker_dir, check_user, is_hub_user, secret_path
from camaudit.hub.store.hub_store import HubError, HubStore

if TYPE_CHECKING:
    from camaudit.hub.run import HubHandle
    from camaudit.store.keys import DeviceKey

log = logging.getLogger(__name__)


def hub_broker_url(data_dir: Path) -> str:
    """The URL of the hub's own mosquitto, from the config it generated in `data_dir`."""
    conf = broker_dir(data_dir) / "mosquitto.conf"
    try:
        text = conf.read_text(encoding="utf-8")
    except OSError:
        raise HubError(f"no hub broker config at {conf}: start `camaudit hub` there first, "
                       "or give the broker with --broker URL") from None
    m = re.search(r"^listener (\d+) (\S+)$", text, re.M)
    if m is None:
        raise HubError(f"{conf}: no `listener PORT HOST` line")
    scheme = "mqtts" if re.search(r"^certfile ", text, re.M) else "mqtt"
    host = m.group(2)
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{m.group(1)}"


def _hub_key(store: HubStore, path: Path, name: str) -> DeviceKey:
    """The one hub key every worker witnesses with (`hub.key`: a checker pins ONE hub key).
    The store names it (meta `hub_public_key`, set by the hub or the first worker); a worker
    whose key is another refuses to start, and none makes a new key next to a named one."""
    from camaudit.store.keys import load_or_create_key

    held = store.meta("hub_public_key")
    if held is not None and not path.exists():
        raise HubError(f"worker {name}: no hub key at {path}: copy the hub's hub.key (public {held[:16]}...) "
                       f"there; every worker countersigns with the one hub key")
    key = load_or_create_key(path)
    store.sql.execute("INSERT INTO meta (key, value) VALUES ('hub_public_key', ?) ON CONFLICT (key) DO NOTHING",
                      (key.public_hex,))
    held = store.meta("hub_public_key")
    if held != key.public_hex:
        raise HubError(f"worker {name}: {path} (public {key.public_hex[:16]}...) is not this store's hub key "
                       f"({str(held)[:16]}...): copy the hub's hub.key there; every worker countersigns with "
                       "the one hub key")
    return key


def start_worker(cfg: HubConfig, name: str) -> HubHandle:
    """Start worker `name` on `cfg`'s store and broker; returns a HubHandle (stop() ends it)."""
    from camaudit.hub.ingest.collector import Collector
    from camaudit.hub.run import _private_dir, _token, serve
    from camaudit.hub.web.live import LiveAlerts
    from camaudit.hub.web.next_steps import publishing_steps

    check_user(name)
    _private_dir(cfg.data_dir)
    url = cfg.broker or hub_broker_url(cfg.data_dir)
    update: dict[str, object] = {"url": url}
    own_broker = cfg.broker is None
    if cfg.mqtt.username is None:
        secret = secret_path(cfg.data_dir, name)
        if not secret.is_file():
            raise HubError(f"worker {name}: no MQTT password at {secret}: run `camaudit hub add-worker {name}` "
                           "(hub's own broker), or give the site broker's user with --username/--password-file")
        update.update(username=name, password_file=str(secret))
    if own_broker and cfg.broker_certfile:
        update.update(ca_file=str(cfg.broker_certfile), insecure=True)
    mqtt = cfg.mqtt.model_copy(update=update)
    mqtt.password()  # an unreadable password file: one error line now, not a silent receiver
    store = HubStore(cfg.db_target)
    try:
        wkey = _hub_key(store, cfg.data_dir / "hub.key", name)
    except BaseException:
        store.close()
        raise
    token = _token(cfg)
    live = LiveAlerts()
    # the hub's mosquitto takes the user name as client id; a site's broker needs a unique one
    client_id = (mqtt.username or name) if own_broker else f"{cfg.client_id}-{name}"
    collector = Collector(store, mqtt, wkey, tofu=cfg.trust_on_first_use, max_bytes=cfg.max_message_bytes,
                          client_id=client_id, on_alerts=publishing_steps(live.publish), receiver_process=True,
                          linking="shared", group=cfg.worker_group, timezone=cfg.timezone,
                          not_device=lambda n: is_hub_user(cfg.data_dir, n) or n == client_id)
    handle = serve(cfg, store, collector, broker_url=url, token=token, hub_public_key=wkey.public_hex,
                   live=live, broker=None)
    log.info("hub worker %s up: broker %s, group %s, web %s", name, url, cfg.worker_group, handle.web_url)
    return handle
