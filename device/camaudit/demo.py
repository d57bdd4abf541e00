"""`camaudit demo`: the whole appliance on embedded defaults, as a newcomer first sees it.

An in-process hub (with the mosquitto it supervises on 127.0.0.1: password file, per-device
ACL; collector, web page) and a device with four feeds, one act of the product's story each
(see demo_story: a notice posted, a notice covered, a release session, outside the posted
hours), publishing to it. Alerts print as they happen; then the story's verdicts, an exported
evidence pack checked against the device key, and the hub's view; the web page stays up until
Ctrl-C on a terminal.
"""

from __future__ import annotations

import logging
import socket
import sys
import time
import zipfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from camaudit import demo_story, demo_trust
from camaudit.config.model import Config

log = logging.getLogger(__name__)

DEVICE_ID = demo_story.DEVICE_ID


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo_config(data_dir: Path, story: dict[str, Any], mqtt: dict[str, Any] | None) -> Config:
    """The demo venue's config: the story's feeds and notices (see demo_story.build)."""
    return Config.model_validate(
        {
            "device": {"id": DEVICE_ID, "data_dir": str(data_dir), "timezone": demo_story.TIMEZONE},
            "capture": {"idle_s": 2, "update_s": 5},
            **story,
            "mqtt": mqtt,
        }
    )


def story_lines(db: Path) -> tuple[list[str], bool]:
    """One line per act: what it shows and the verdict the journal holds for its feed."""
    from camaudit.store.captures import list_captures

    by_feed = {r.feed: r for r in list_captures(db)}
    lines, all_ok = [], True
    for act in demo_story.ACTS:
        row = by_feed.get(act.feed)
        got = "no capture"
        if row is not None:
            got = f"{row.verdict} [{', '.join(row.reasons) or row.basis}]"
        ok = row is not None and act.verdict == row.verdict and act.why in (row.basis, *row.reasons)
        all_ok &= ok
        lines.append(f"{'ok ' if ok else 'BAD'} {act.feed:<9} {act.expect:<63} journal: {got}")
    return lines, all_ok


def camaudit_command() -> str:
    """How to type `camaudit` here: the bare name when it is on PATH (as this one), else
    the path of this installation's script (`.venv/bin/camaudit` after `make demo`)."""
    import os
    import shutil

    script = Path(sys.executable).parent / "camaudit"
    found = shutil.which("camaudit")
    if found is not None and (not script.exists() or Path(found).resolve() == script.resolve()):
        return "camaudit"
    if not script.exists():
        return "camaudit"
    try:
        rel = os.path.relpath(script)
    except ValueError:
        return str(script)
    return rel if not rel.startswith("..") else str(script)


def alerts_command(handle: Any, cmd: str) -> str:
    """The exact `camaudit alerts` line for the demo hub's broker (its port, its user)."""
    return (f"{cmd} alerts --broker {handle.broker_url} --username alerts "
            f"--password-file {handle.password_file('alerts')} --tz {demo_story.TIMEZONE} -f")


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


def _export_and_verify(db: Path, out: Path, cmd: str = "camaudit") -> bool:
    """Export the whole journal as an evidence pack and check it against the device key."""
    from camaudit.errors import CamauditError
    from camaudit.store.keys import load_or_create_key
    from camaudit.store.pack import export_pack
    from camaudit.store.pack_verify import verify_pack

    pubkey = load_or_create_key(db.parent / "device.key").public_hex
    out.unlink(missing_ok=True)  # the previous demo's pack (export never overwrites one)
    try:
        export_pack(db, out, since_ms=None, until_ms=None, feed=None, key_path=None,
                    evidence_dir=None, now_ms=int(time.time() * 1000))
        result = verify_pack(out, bytes.fromhex(pubkey))
    except CamauditError as exc:
        click.secho(f"\nevidence pack {out}: FAILED: {exc}", fg="red")
        return False
    click.secho(f"\n{cmd} export --db {db} --out {out}", bold=True)
    click.secho(f"{cmd} verify {out} --pubkey {pubkey[:16]}...: {result.summary()}", fg="green")
    report_dir = out.parent / "report"
    report_dir.mkdir(exist_ok=True)
    with zipfile.ZipFile(out) as z:
        for name in ("report.pdf", "report.html", "captures.csv"):
            (report_dir / name).write_bytes(z.read(name))
    click.secho(f"the pack's report: {report_dir / 'report.pdf'} (also report.html, captures.csv)", bold=True)
    return True


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
    """Run the appliance on the bundled clips (Intel sample videos, CC-BY-4.0) with an embedded hub:
    a notice posted, a notice covered, a release session, outside the posted hours."""
    import shutil

    from camaudit.console import ConsoleReporter, summary_lines
    from camaudit.pipeline.runner import run
    from camaudit.store.captures import format_table, list_captures
    from camaudit.store.verify import verify_journal

    cmd = camaudit_command()
    if fresh and data_dir.exists():
        olds = [data_dir / sub for sub in ("device", "hub", "story", "report") if (data_dir / sub).exists()]
        if olds:
            click.echo(f"starting afresh: deleting the previous demo's journal, device key, hub and "
                       f"report in {data_dir}/ ({', '.join(p.name for p in olds)}); --keep keeps them")
        for sub in olds:
            shutil.rmtree(sub, ignore_errors=True)
    device_dir = data_dir / "device"
    db = device_dir / "journal.db"
    handle = None
    mqtt = None
    tsa = demo_trust.start_authority(data_dir) if with_hub else None
    if with_hub:
        from camaudit.config.hub import HubConfig
        from camaudit.hub.run import start_hub
        from camaudit.store.keys import load_or_create_key

        hub_cfg = HubConfig(
            data_dir=data_dir / "hub",
            broker_listen="127.0.0.1:0",
            listen="127.0.0.1:8080" if _port_free(8080) else "127.0.0.1:0",
            broker_users=[DEVICE_ID],
            timezone=demo_story.TIMEZONE,
            timestamps=demo_trust.timestamps(tsa),
        )
        handle = start_hub(hub_cfg)
        key = load_or_create_key(device_dir / "device.key")
        handle.enroll(DEVICE_ID, key.public_hex)
        mqtt = handle.device_mqtt(DEVICE_ID).model_dump()
        click.secho(f"hub: broker {handle.broker_url}, web page {handle.web_url}", bold=True)
        click.echo(f"watch its alerts in another terminal while it runs:\n  {alerts_command(handle, cmd)}")
    try:
        now = int(time.time() * 1000)
        story = demo_story.build(data_dir / "story", now)
        demo_story.declare_release(device_dir, now)
        cfg = demo_config(device_dir, story, mqtt)
        click.secho(f"device {DEVICE_ID}: venue in {demo_story.TIMEZONE}, journal {db}", bold=True)
        for act in demo_story.ACTS:
            click.echo(f"  feed {act.feed:<9} {act.expect}")
        click.echo()
        summary = run(cfg, db=db, reporter=ConsoleReporter(timezone=demo_story.TIMEZONE))
        click.echo()
        for line in summary_lines(summary):
            click.echo(line)
        if summary.interrupted:
            click.echo(f"demo stopped (Ctrl-C); what it journalled so far is in {db}")
            sys.exit(130)
        click.secho(f"\nCaptures ({cmd} log --db {db}):", bold=True)
        click.echo(format_table(list_captures(db), ZoneInfo(demo_story.TIMEZONE)))
        click.secho("\nThe story, act by act:", bold=True)
        lines, story_ok = story_lines(db)
        for line in lines:
            click.secho(line, fg="green" if line.startswith("ok") else "red")
        report = verify_journal(db)
        status = "OK" if report.ok else f"FAILED at {report.first_bad}"
        click.secho(
            f"\n{cmd} verify {db}: {status}, {report.events} events, "
            f"{report.checkpoints} checkpoints",
            fg="green" if report.ok else "red",
        )
        pack_ok = _export_and_verify(db, data_dir / "evidence-pack.zip", cmd)
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
            pack_ok = demo_trust.show(handle, data_dir, DEVICE_ID, tsa, cmd) and pack_ok
            keep = serve if serve is not None else sys.stdin.isatty()
            if keep:
                click.secho(
                    f"\nOpen {handle.web_url}/ and log in with token {handle.token}"
                    f"\nAlerts in a terminal: {alerts_command(handle, cmd)}"
                    "\nPress Ctrl-C to stop the hub.",
                    bold=True,
                )
                try:
                    while True:
                        time.sleep(1)
                except KeyboardInterrupt:
                    click.echo("\nstopping the demo hub")
            else:
                click.echo(f"(hub web page was {handle.web_url}; run `{cmd} demo` on a terminal to keep it up)")
        if not (report.ok and story_ok and pack_ok):
            sys.exit(1)
    finally:
        if handle is not None:
            handle.stop()
        if tsa is not None:
            tsa.stop()
