"""`camaudit demo`: the device on the bundled clip, on embedded defaults, as a newcomer sees it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from camaudit.config.model import Config

log = logging.getLogger(__name__)

DEMO_CLIP = Path(__file__).resolve().parent / "data" / "demo_headpose.gif"


def demo_config(data_dir: Path, loops: int) -> Config:
    return Config.model_validate(
        {
            "device": {"id": "demo-01", "data_dir": str(data_dir)},
            "capture": {"idle_s": 2, "update_s": 5},
            "feeds": {
                "corridor": {"source": str(DEMO_CLIP), "pace": True, "evidence": "blurred"}
            },
        }
    )


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="Where the demo journal, key and blurred evidence go.",
)
@click.option("--fresh/--keep", default=True, help="Start from an empty journal (default).")
def demo_cmd(data_dir: Path, fresh: bool) -> None:
    """Run the device on the bundled clip (Intel sample video, CC-BY-4.0) and show the audit."""
    from camaudit.console import ConsoleReporter, summary_lines
    from camaudit.pipeline.runner import run
    from camaudit.store.captures import format_table, list_captures
    from camaudit.store.verify import verify_journal

    db = data_dir / "journal.db"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    cfg = demo_config(data_dir, 1)
    click.secho(f"camaudit demo: clip {DEMO_CLIP.name}, journal {db}", bold=True)
    click.echo("No privacy notice is registered for this feed, so identifiable faces are alerts.\n")
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
    if not report.ok:
        sys.exit(1)
