"""`camaudit alerts`: print readable alerts from the broker in a terminal.

Against the hub's own mosquitto, log in as the read-only user `alerts`; its password file
is `<hub data dir>/secrets/alerts.pass` (`camaudit hub` prints the whole command line).
A refused login ("refused: not authorized") and a broker that cannot be reached
("cannot connect") end with different one-line errors.
"""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from camaudit.mqtt import topics


def format_alert(topic: str, payload: bytes) -> str | None:
    """One line for an alerts-topic message, or None if it is not a readable alert."""
    try:
        a = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(a, dict):
        return None
    ts = a.get("ts")
    when = (
        datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(ts, int) and not isinstance(ts, bool) else "?"
    )
    device = str(a.get("device") or topic.split("/")[-2])
    feed = f"/{a['feed']}" if a.get("feed") else ""
    reasons = a.get("reasons") or []
    why = f" ({', '.join(str(r) for r in reasons)})" if isinstance(reasons, list) and reasons else ""
    text = str(a.get("text", ""))[:200].replace("\n", " ")
    return f"{when} UTC  {device}{feed}  {text}{why}  [seq {a.get('seq')}]"


@click.command("alerts")
@click.option("--broker", default="mqtt://127.0.0.1:1883", show_default=True,
              help="mqtt(s)://host:port")
@click.option("--prefix", default="camaudit", show_default=True)
@click.option("--username", help="MQTT user; with the hub's own broker: alerts.")
@click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False),
              help="File holding that user's password (hub: <data dir>/secrets/alerts.pass).")
@click.option("--ca-file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--follow", "-f", is_flag=True, help="Keep printing alerts as they arrive.")
@click.option("--wait", default=2.0, show_default=True,
              help="Without --follow: seconds to wait for alerts before exiting.")
def alerts_cmd(
    broker: str, prefix: str, username: str | None, password_file: Path | None,
    ca_file: Path | None, follow: bool, wait: float,
) -> None:
    """Print alerts published by devices and the hub (short text, feed, reasons, event seq).

    \b
    With the hub's own mosquitto (no anonymous access):
      camaudit alerts --broker mqtt://127.0.0.1:1883 --username alerts \\
        --password-file /var/lib/camaudit-hub/secrets/alerts.pass -f
    """
    from camaudit.config.mqtt import MqttConfig
    from camaudit.errors import CamauditError
    from camaudit.mqtt.client import connect_in_background, make_client

    try:
        cfg = MqttConfig(url=broker, prefix=prefix, username=username,
                         password_file=str(password_file) if password_file else None,
                         ca_file=str(ca_file) if ca_file else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None
    lines: queue.Queue[str] = queue.Queue()
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if not rc.is_failure:
            client.subscribe(topics.all_alerts(prefix), qos=1)
            connected.set()
        else:
            refused.append(str(rc))
            stop.set()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        line = format_alert(msg.topic, msg.payload)
        if line:
            lines.put(line)

    import secrets

    stop = threading.Event()
    try:
        cfg.password()
    except CamauditError as exc:
        raise CamauditError(f"alerts: {exc}") from None
    client = make_client(cfg, f"camaudit-alerts-{secrets.token_hex(4)}")
    client.on_connect = on_connect
    client.on_message = on_message
    if follow:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    connect_in_background(client, cfg)
    deadline = time.monotonic() + wait
    try:
        while not stop.is_set():
            try:
                click.echo(lines.get(timeout=0.2))
            except queue.Empty:
                if not follow and time.monotonic() > deadline:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
    if refused:
        who = f"user {username!r}" if username else "a client without user name"
        raise CamauditError(
            f"refused: not authorized: {broker} refused {who} ({refused[0]}); with the hub's own "
            "broker use --username alerts --password-file <hub data dir>/secrets/alerts.pass")
    if not connected.is_set():
        raise CamauditError(f"cannot connect to {broker}: nothing answered within {wait:g} s "
                            "(is the hub or broker running, and is the address right?)")
