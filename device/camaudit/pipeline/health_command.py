"""`camaudit relearn FEED`: ask the device to learn a feed's camera reference again."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("relearn")
@click.argument("feed")
@click.option("-c", "--config", type=click.Path(path_type=Path), help="YAML config file.")
@click.option("--db", type=click.Path(path_type=Path), help="Journal database (the reference lives next to it).")
def relearn_cmd(feed: str, config: Path | None, db: Path | None) -> None:
    """Learn FEED's camera reference again (after the camera was moved on purpose).

    A running device picks the request up within a second; otherwise the next start does.
    The new reference is journalled as a `camera.reference` event (reason: operator)."""
    from camaudit.config import load_config
    from camaudit.pipeline.camera_health import request_relearn

    cfg = load_config(config) if config else None
    if db is None and cfg is None:
        raise click.UsageError("give --config FILE or --db FILE")
    if cfg is not None and feed not in cfg.feeds:
        raise click.UsageError(f"no feed {feed!r} in {config} (feeds: {', '.join(sorted(cfg.feeds))})")
    if db is not None:
        folder = db.parent
    else:
        assert cfg is not None
        folder = cfg.device.data_dir
    try:
        path = request_relearn(folder / "camera_health", feed)
    except OSError as exc:
        raise click.ClickException(f"{folder}: cannot write the request: {exc.strerror or exc}") from None
    click.echo(f"feed {feed}: the camera reference will be learned again ({path})")
