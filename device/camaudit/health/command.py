"""`camaudit status`: how the device on this machine is doing (exit 0 running, 1 degraded, 3 not running)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

DEFAULT_CONFIG = Path("/etc/camaudit/config.yaml")


@click.command("status")
@click.option("-c", "--config", type=click.Path(path_type=Path), help=f"Config file (default {DEFAULT_CONFIG}).")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              help="The daemon's data folder (default: from the config).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def status_cmd(config: Path | None, data_dir: Path | None, as_json: bool) -> None:
    """Running or not, feeds and frames/s, last capture, broker, outbox, journal, disk, temperature."""
    from camaudit.health.report import format_text, gather

    zone: str | None = None
    if data_dir is None:
        from camaudit.config import load_config

        cfg_path = config or DEFAULT_CONFIG
        if config is None and not cfg_path.exists():
            raise click.UsageError(f"no {DEFAULT_CONFIG}: give --config FILE or --data-dir DIR")
        cfg = load_config(cfg_path)
        data_dir, zone = cfg.device.data_dir, cfg.device.timezone
    report = gather(data_dir)
    if zone is None and report["journal"].get("exists") and "error" not in report["journal"]:
        from camaudit.report.feeds import journal_zone

        zone = journal_zone(Path(report["journal"]["path"]))  # as the device journalled it
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        for line in format_text(report, timezone=zone):
            click.echo(line)
    if not report["running"]:
        sys.exit(3)
    if any(f["state"] != "up" for f in report["feeds"].values()):
        sys.exit(1)
