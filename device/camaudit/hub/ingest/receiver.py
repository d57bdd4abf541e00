"""The hub's MQTT receive side in a child process of its own.

paho parses every incoming packet in Python (~0.3 ms per QoS1 message here), as much CPU
as checking the event's signature. In one process both share one GIL; here the child
receives, answers PUBACKs and hands batches of raw messages to the hub over a pipe, and
publishes what the hub asks for (acks, replay requests). It exits when the hub goes away.

Messages to the hub:  ("up",) (connected and subscribed) | ("down",) | ("msgs", [(topic, payload, received_ms, retain)])
Messages from the hub: ("pub", topic, payload, qos, retain) | ("stop",)
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

FLUSH_S = 0.005
MAX_BATCH = 1000


def receiver_main(cfg: dict[str, Any], client_id: str, subs: list[tuple[str, int]], conn: Any,
                  v5: bool = False) -> None:
    """Entry point of the receiver process (spawned by Collector); `v5`: MQTT 5 (hub workers)."""
    import signal

    from camaudit.config.mqtt import MqttConfig
    from camaudit.mqtt.client import connect_in_background, make_client

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C: the hub stops this process itself
    logging.basicConfig(level=logging.WARNING, format="hub receiver: %(message)s")
    mqtt = MqttConfig.model_validate(cfg)
    lock = threading.Lock()
    send_lock = threading.Lock()
    pending: list[tuple[str, bytes, int, bool]] = []
    wake = threading.Event()
    stop = threading.Event()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock:
            try:
                conn.send(msg)
            except (OSError, EOFError, BrokenPipeError):
                stop.set()
                wake.set()

    def on_connect(client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            logging.warning("connect refused: %s", rc)
            return
        client.subscribe(subs)

    def on_subscribe(client: Any, userdata: Any, mid: Any, rcs: Any, props: Any) -> None:
        refused = [sub for sub, rc in zip(subs, rcs, strict=False) if getattr(rc, "is_failure", False)]
        if refused:  # e.g. a site broker's ACL denies the workers' shared subscription
            logging.error("the broker refused subscription(s) %s", ", ".join(t for t, _ in refused))
        send(("up",))  # subscribed: from now on the broker delivers events to the hub

    def on_disconnect(client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        send(("down",))

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        with lock:
            pending.append((msg.topic, msg.payload, int(time.time() * 1000), bool(msg.retain)))
            if len(pending) >= MAX_BATCH:
                wake.set()

    def flusher() -> None:
        while not stop.is_set():
            wake.wait(FLUSH_S)
            wake.clear()
            with lock:
                batch = pending[:]
                pending.clear()
            if batch:
                send(("msgs", batch))

    client = make_client(mqtt, client_id, clean_session=False, v5=v5)
    client.on_connect, client.on_disconnect, client.on_message = on_connect, on_disconnect, on_message
    client.on_subscribe = on_subscribe
    t = threading.Thread(target=flusher, daemon=True)
    t.start()
    connect_in_background(client, mqtt)
    try:
        while not stop.is_set():
            try:
                cmd = conn.recv()
            except (EOFError, OSError):
                break  # the hub is gone
            if cmd[0] == "pub":
                client.publish(cmd[1], cmd[2], qos=cmd[3], retain=cmd[4])
            elif cmd[0] == "stop":
                break
    finally:
        stop.set()
        wake.set()
        t.join(1)
        client.disconnect()
        client.loop_stop()
