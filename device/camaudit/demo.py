"""`camaudit demo`: the whole appliance on embedded defaults, as a newcomer first sees it.

An in-process hub (with the mosquitto it supervises on 127.0.0.1: password file, per-device
ACL; collector, web page) and
the device on the bundled clip, publishing to it. Alerts print as they happen; at the end
the hub's view is shown, and the web page stays up until Ctrl-C on a terminal.
"""

from __future__ import annotations

import logging
import socket
import sys
import time
from pathlib import Path
from typing import Any

import click

from camaudit.config.model import Config

log = logging.getLogger(__name__)

DEMO_CLIP = Path(__file__).resolve().parent / "data" / "demo_headpose.gif"
DEVICE_ID = "demo-01"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo_config(data_dir: Path, mqtt: dict[str, Any] | None) -> Config:
    return Config.model_validate(
        {
            "device": {"id": DEVICE_ID, "data_dir": str(data_dir)},
            "capture": {"idle_s": 2, "update_s": 5},
            "feeds": {
                "corridor": {"source": str(DEMO_CLIP), "pace": True, "evidence": "blurred"}
            },
            "mqtt": mqtt,
        }
    )


def _wait_for_hub(handle: object, head_seq: int, timeout: float = 15.0) -> int:
    store = handle.store  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    stored = 0
    while time.monotonic() < deadline:
        stored = store.count_events(DEVICE_ID)
        if stored >= head_seq:
            break
        time.sleep(0.2)
    return int(stored)


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="Where the demo journal, keys, hub database and blurred evidence go.",
)
@click.option("--fresh/--keep", default=True, help="Start from empty journals (default).")
@click.option("--hub/--no-hub", "with_hub", default=True, help="Start the embedded hub and publish to it.")
@click.option("--serve/--no-serve", default=None,
              help="Keep the hub's web page up until Ctrl-C (default: on a terminal).")
def demo_cmd(data_dir: Path, fresh: bool, with_hub: bool, serve: bool | None) -> None:
    """Run the appliance on the bundled clip (Intel sample video, CC-BY-4.0) with an embedded hub."""
    import shutil

    from camaudit.console import ConsoleReporter, summary_lines
    from camaudit.pipeline.runner import run
    from camaudit.store.captures import format_table, list_captures
    from camaudit.store.verify import verify_journal

    if fresh and data_dir.exists():
        for sub in ("device", "hub"):
            shutil.rmtree(data_dir / sub, ignore_errors=True)
    device_dir = data_dir / "device"
    db = device_dir / "journal.db"
    handle = None
    mqtt = None
    if with_hub:
        from camaudit.config.hub import HubConfig
        from camaudit.hub.app import start_hub
        from camaudit.store.keys import load_or_create_key

        hub_cfg = HubConfig(
            data_dir=data_dir / "hub",
            broker_listen="127.0.0.1:0",
            listen="127.0.0.1:8080" if _port_free(8080) else "127.0.0.1:0",
            broker_users=[DEVICE_ID],
        )
        handle = start_hub(hub_cfg)
        key = load_or_create_key(device_dir / "device.key")
        handle.enroll(DEVICE_ID, key.public_hex)
        mqtt = handle.device_mqtt(DEVICE_ID).model_dump()
        click.secho(f"hub: broker {handle.broker_url}, web page {handle.web_url}", bold=True)
    try:
        cfg = demo_config(device_dir, mqtt)
        click.secho(f"device {DEVICE_ID}: clip {DEMO_CLIP.name}, journal {db}", bold=True)
        click.echo("No privacy notice is registered for this feed: identifiable faces raise alerts.\n")
        summary = run(cfg, db=db, reporter=ConsoleReporter())
        click.echo()
        for line in summary_lines(summary):
            click.echo(line)
        click.secho(f"\nCaptures (camaudit log --db {db}):", bold=True)
        click.echo(format_table(list_captures(db)))
        report = verify_journal(db)
        status = "OK" if report.ok else f"FAILED at {report.first_bad}"
        click.secho(
            f"\ncamaudit verify {db}: {status}, {report.events} events, "
            f"{report.checkpoints} checkpoints",
            fg="green" if report.ok else "red",
        )
        if handle is not None:
            stored = _wait_for_hub(handle, report.head_seq)
            rejects = sum(handle.store.rejects().values())
            click.secho(
                f"hub: {stored} of {report.head_seq} events from {DEVICE_ID} verified and stored, "
                f"{rejects} rejected",
                fg="green" if stored >= report.head_seq else "yellow",
            )
            for a in reversed(handle.store.alerts(limit=10)):
                click.secho(f"hub alert: {a['text']}", fg="red")
            keep = serve if serve is not None else sys.stdin.isatty()
            if keep:
                click.secho(
                    f"\nOpen {handle.web_url}/ and log in with token {handle.token}"
                    "\nPress Ctrl-C to stop the hub.",
                    bold=True,
                )
                try:
                    while True:
                        time.sleep(1)
                except KeyboardInterrupt:
                    click.echo()
            else:
                click.echo(f"(hub web page was {handle.web_url}; run `camaudit demo` on a terminal to keep it up)")
        if not report.ok:
            sys.exit(1)
    finally:
        if handle is not None:
            handle.stop()
