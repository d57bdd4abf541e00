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

    if data_dir is None:
        from camaudit.config import load_config

        cfg_path = config or DEFAULT_CONFIG
        if config is None and not cfg_path.exists():
            raise click.UsageError(f"no {DEFAULT_CONFIG}: give --config FILE or --data-dir DIR")
        data_dir = load_config(cfg_path).device.data_dir
    report = gather(data_dir)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        for line in format_text(report):
            click.echo(line)
    if not report["running"]:
        sys.exit(3)
    if any(f["state"] != "up" for f in report["feeds"].values()):
        sys.exit(1)
