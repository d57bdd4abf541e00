"""`camaudit alerts`: print readable alerts from the broker in a terminal.

Against the hub's own mosquitto, log in as the read-only user `alerts`; its password file
is `<hub data dir>/secrets/alerts.pass` (`camaudit hub` prints the whole command line).
A refused login ("refused: not authorized") and a broker that cannot be reached
("cannot connect") end with different one-line errors, within `--timeout` seconds.

Trust: the sender printed is the device in the TOPIC, which the broker's ACL ties to the
user that logged in (a device writes only `<p>/<its id>/...`); a payload's own "device"
claim is shown only as a claim. Every text from the wire is stripped of control and escape
characters before it reaches the terminal.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from camaudit.core import venue_time
from camaudit.mqtt import topics

HUB_SENDER = "hub"
MAX_TEXT = 200
MAX_LISTED = 100  # alerts taken from one message (a retained list of open alerts)


def clean(value: object, limit: int = MAX_TEXT) -> str:
    """Text from the wire made safe for a terminal: control characters (ESC, CR, BEL, C1),
    bidirectional overrides and other format characters become spaces; at most `limit` chars."""
    text = str(value)[: limit * 4]
    out = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    return " ".join(out.split())[:limit]


def _alerts_in(payload: bytes, from_hub: bool) -> list[dict[str, Any]] | None:
    """The alert objects of one message: one object; from the hub also a list of them, or
    {"alerts": [...]} (every open alert, retained). None when unreadable."""
    try:
        a = json.loads(payload)
    except ValueError:
        return None
    if from_hub and isinstance(a, dict) and isinstance(a.get("alerts"), list):
        a = a["alerts"]
    if from_hub and isinstance(a, list):
        return [x for x in a[:MAX_LISTED] if isinstance(x, dict)]
    return [a] if isinstance(a, dict) else None


def _zone_of(a: dict[str, Any], tz: ZoneInfo | None) -> ZoneInfo:
    if tz is not None:
        return tz
    claimed = a.get("tz")
    return venue_time.zone_or_utc(claimed) if isinstance(claimed, str) and len(claimed) < 64 else venue_time.UTC_ZONE


def _line(sender: str, a: dict[str, Any], tz: ZoneInfo | None) -> str:
    ts = a.get("ts")
    ok_ts = isinstance(ts, int) and not isinstance(ts, bool) and 0 <= ts < 10**14
    when = venue_time.fmt(ts, _zone_of(a, tz)) if ok_ts else "?"
    claimed = a.get("device")
    if sender == HUB_SENDER:
        who = f"hub about {clean(claimed, 64)}" if claimed else "hub"
    else:
        who = clean(sender, 64)
        if claimed is not None and str(claimed) != sender:
            who += f" (payload claims {clean(claimed, 64)!r})"
    feed = f"/{clean(a['feed'], 64)}" if a.get("feed") else ""
    reasons = a.get("reasons") or []
    why = f" ({', '.join(clean(r, 40) for r in reasons[:10])})" if isinstance(reasons, list) and reasons else ""
    seq = a.get("seq")
    seq_txt = str(seq) if isinstance(seq, int) and not isinstance(seq, bool) else clean(seq, 20)
    return f"{when}  {who}{feed}  {clean(a.get('text', ''))}{why}  [seq {seq_txt}]"


def format_alerts(prefix: str, topic: str, payload: bytes, tz: ZoneInfo | None = None) -> list[str]:
    """The lines for one alerts-topic message (none if it is not a readable alert). The
    sender is the device named by the topic, never the payload's claim."""
    where = topics.split(prefix, topic)
    if where is None or where[1] != "alerts":
        return []
    sender = where[0]
    alerts = _alerts_in(payload, sender == HUB_SENDER)
    return [_line(sender, a, tz) for a in alerts or []]


def format_alert(topic: str, payload: bytes, tz: ZoneInfo | None = None) -> str | None:
    """One line for an alerts-topic message under the prefix `camaudit`, or None."""
    prefix = topic.split("/")[0] if "/" in topic else "camaudit"
    lines = format_alerts(prefix, topic, payload, tz)
    return lines[0] if lines else None


def probe(host: str, port: int, timeout: float) -> str | None:
    """None if a TCP connection to host:port opens within `timeout` s, else why not (one line)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror as exc:
        return f"host name {host!r} not found ({exc.strerror or exc})"
    except TimeoutError:
        return f"nothing answered within {timeout:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)


@click.command("alerts")
@click.option("--broker", default="mqtt://127.0.0.1:1883", show_default=True,
              help="mqtt(s)://host:port (the hub and `camaudit demo` print theirs)")
@click.option("--prefix", default="camaudit", show_default=True)
@click.option("--username", help="MQTT user; with the hub's own broker: alerts.")
@click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False),
              help="File holding that user's password (hub: <data dir>/secrets/alerts.pass).")
@click.option("--ca-file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--follow", "-f", is_flag=True, help="Keep printing alerts as they arrive (Ctrl-C ends).")
@click.option("--wait", default=2.0, show_default=True,
              help="Without --follow: seconds to collect the current (retained) alerts before exiting.")
@click.option("--timeout", "connect_timeout", default=5.0, show_default=True,
              help="Seconds to reach and log in to the broker before giving up.")
@click.option("--tz", "tz_name", help="Show times in this IANA zone (default: the zone each alert names, else UTC).")
def alerts_cmd(
    broker: str, prefix: str, username: str | None, password_file: Path | None,
    ca_file: Path | None, follow: bool, wait: float, connect_timeout: float, tz_name: str | None,
) -> None:
    """List the current alerts of devices and the hub (short text, feed, reasons, event seq),
    or with -f follow them; says when it is connected and when the connection drops.

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
    try:
        tz = venue_time.zone(tz_name) if tz_name else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tz") from None
    try:
        cfg.password()
    except CamauditError as exc:
        raise CamauditError(f"alerts: {exc}") from None
    why = probe(cfg.host, cfg.port, connect_timeout)
    if why is not None:
        raise CamauditError(f"cannot connect to {broker}: {why} (is the hub or broker running, "
                            "and is the address right?)")
    # (kind, text): kind "alert" goes to stdout, "state" (connected, dropped) to stderr
    lines: queue.Queue[tuple[str, str]] = queue.Queue()
    connected = threading.Event()
    refused: list[str] = []
    stop = threading.Event()
    seen = [0]

    def on_connect(client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if not rc.is_failure:
            client.subscribe(topics.all_alerts(prefix), qos=1)
            again = connected.is_set()
            connected.set()
            what = "following alerts (Ctrl-C to stop)" if follow else "current alerts:"
            lines.put(("state", f"{'connected again' if again else 'connected'} to {broker}; {what}"))
        else:
            refused.append(str(rc))
            stop.set()

    def on_disconnect(client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if connected.is_set() and not stop.is_set():
            lines.put(("state", f"disconnected from {broker} ({rc}); retrying every few seconds"))

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        if not msg.payload:
            if topics.split(prefix, msg.topic) == (HUB_SENDER, "alerts") and not msg.retain:
                lines.put(("state", "hub: its open alerts were resolved"))
            return
        for line in format_alerts(prefix, msg.topic, msg.payload, tz):
            lines.put(("alert", line))

    import secrets

    client = make_client(cfg, f"camaudit-alerts-{secrets.token_hex(4)}")
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    if follow:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    connect_in_background(client, cfg)
    started = time.monotonic()
    deadline: float | None = None
    try:
        while not stop.is_set():
            if deadline is None and connected.is_set():
                deadline = time.monotonic() + wait
            if not connected.is_set() and time.monotonic() - started > connect_timeout:
                break
            try:
                kind, text = lines.get(timeout=0.1)
            except queue.Empty:
                if not follow and deadline is not None and time.monotonic() > deadline:
                    break
                continue
            if kind == "alert":
                seen[0] += 1
                click.echo(text)
            else:
                click.secho(text, err=True, fg="yellow" if "disconnected" in text else None)
    except KeyboardInterrupt:
        stop.set()
    finally:
        stop.set()
        client.disconnect()
        client.loop_stop()
    if refused:
        who = f"user {username!r}" if username else "a client without user name"
        raise CamauditError(
            f"refused: not authorized: {broker} refused {who} ({refused[0]}); with the hub's own "
            "broker use --username alerts --password-file <hub data dir>/secrets/alerts.pass")
    if not connected.is_set():
        raise CamauditError(f"cannot connect to {broker}: no MQTT answer within {connect_timeout:g} s "
                            "(is it an MQTT broker, and TLS as the URL says?)")
    if not follow and seen[0] == 0:
        click.echo("no current alert on the broker (the hub keeps its open alerts there; "
                   "device alerts show as they happen: add -f to follow)", err=True)
