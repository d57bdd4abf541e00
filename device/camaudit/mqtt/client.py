"""Build a configured paho-mqtt 2.x client (TLS, username/password, last will) from MqttConfig."""

from __future__ import annotations

import logging
import ssl
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paho.mqtt.client import Client

    from camaudit.config.mqtt import MqttConfig

log = logging.getLogger(__name__)


def make_client(
    cfg: MqttConfig,
    client_id: str,
    *,
    clean_session: bool = True,
    will: tuple[str, bytes] | None = None,
    userdata: Any = None,
) -> Client:
    """A paho client with TLS, credentials and (optionally) a retained QoS1 last will set."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
        userdata=userdata,
    )
    if cfg.username is not None:
        client.username_pw_set(cfg.username, cfg.password())
    if cfg.tls:
        client.tls_set(
            ca_certs=cfg.ca_file,
            certfile=cfg.cert_file,
            keyfile=cfg.key_file,
            cert_reqs=ssl.CERT_NONE if cfg.insecure else ssl.CERT_REQUIRED,
        )
        if cfg.insecure:
            client.tls_insecure_set(True)
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client


def connect_in_background(client: Client, cfg: MqttConfig) -> None:
    """Start paho's network thread; it keeps retrying while the broker is down (never raises)."""
    client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
    client.loop_start()
