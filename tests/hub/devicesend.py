"""Publish signed records as a device (or as a clone holding its card's credentials)."""

from __future__ import annotations

import time
from collections.abc import Callable

import paho.mqtt.client as mqtt


def publish_as(url: str, user: str, password: str, payloads: list[str]) -> None:
    """Publish as `user` (the device, or the clone with the credentials found on the card),
    once the broker has taken the user in (enroll reloads it)."""
    host, port = url.rsplit("/", 1)[1].split(":")
    deadline = time.monotonic() + 20
    while True:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
        c.username_pw_set(user, password)
        c.connect(host, int(port))
        c.loop_start()
        end = time.monotonic() + 2
        while not c.is_connected() and time.monotonic() < end:
            time.sleep(0.05)
        if c.is_connected():
            break
        c.loop_stop()
        assert time.monotonic() < deadline, "broker never accepted the device"
    try:
        for p in payloads:
            c.publish(f"camaudit/{user}/events", p, qos=1).wait_for_publish(5)
    finally:
        c.disconnect()
        c.loop_stop()


def settles(pred: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True
