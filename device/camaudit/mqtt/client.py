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
    v5: bool = False,
) -> Client:
    """A paho client with TLS, credentials and (optionally) a retained QoS1 last will set.
    `v5`: MQTT 5 (shared subscriptions of hub workers), session ending at disconnect."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client: Client = _client_class()(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if v5 else clean_session,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
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


_CLIENT_CLASS: Any = None
READ_CHUNK = 65536


class BufferedSocket:
    """A connected (TLS) socket that reads in large chunks and hands paho its small reads.

    paho reads each packet with 2-3 `recv` calls (1 byte, the length bytes, the rest) and
    runs `select` between packets: one QoS1 message costs ~5 system calls. Here one `recv`
    takes whatever the kernel holds (often hundreds of packets); `pending()` tells paho's
    loop that bytes are buffered, so it reads them without waiting in `select` (paho's own
    rule for TLS sockets).
    """

    __slots__ = ("_sock", "_buf", "_pos")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._buf):
            data: bytes = self._sock.recv(READ_CHUNK)  # BlockingIOError / SSLWantReadError go to paho
            if not data:
                return data  # EOF
            self._buf, self._pos = data, 0
        out = self._buf[self._pos:self._pos + bufsize]
        self._pos += len(out)
        return out

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buf) - self._pos + inner

    def __getattr__(self, name: str) -> Any:  # send, fileno, setblocking, close, ...
        return getattr(self._sock, name)


def _client_class() -> Any:
    """paho's Client with buffered socket reads (see BufferedSocket)."""
    global _CLIENT_CLASS
    if _CLIENT_CLASS is None:
        import paho.mqtt.client as mqtt

        class BufferedClient(mqtt.Client):
            def _create_socket(self) -> Any:
                sock = super()._create_socket()
                if self._transport == "websockets":
                    return sock
                return BufferedSocket(sock)

        _CLIENT_CLASS = BufferedClient
    return _CLIENT_CLASS


def connect_in_background(client: Client, cfg: MqttConfig) -> None:
    """Start paho's network thread; it keeps retrying while the broker is down (never raises)."""
    client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
    client.loop_start()
