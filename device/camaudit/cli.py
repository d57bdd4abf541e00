"""The `camaudit` command: a thin click layer over the library."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from camaudit import __version__
from camaudit.errors import CamauditError

log = logging.getLogger("camaudit")

# Commands that live next to their feature; imported only when used.
LAZY_COMMANDS: dict[str, str] = {
    "detect": "camaudit.detect.command:detect_cmd",
    "hub": "camaudit.hub.command:hub_cmd",
    "alerts": "camaudit.mqtt.command:alerts_cmd",
    "notice": "camaudit.notices.command:notice_cmd",
    "release": "camaudit.notices.command:release_cmd",
    "snapshot": "camaudit.notices.command:snapshot_cmd",
    "demo": "camaudit.demo:demo_cmd",
    "export": "camaudit.store.pack_command:export_cmd",
    "status": "camaudit.health.command:status_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name].split(":")
            try:
                cmd: click.Command = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                reason = f"command {name!r} is not available here: {exc}"

                def unavailable() -> None:
                    raise click.ClickException(reason)

                return click.Command(name, callback=unavailable, help=f"(unavailable: {exc})")
            return cmd
        return super().get_command(ctx, name)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="camaudit")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Audit camera capture of people's faces against the privacy notices posted at a venue."""
    _setup_logging(verbose)


def _load(config: Path | None) -> Any:
    from camaudit.config import load_config

    return load_config(config) if config else None


@cli.command("run")
@click.option("-c", "--config", type=click.Path(path_type=Path), help="YAML config file.")
@click.option("--source", help="Run one feed from this file, folder, URL, device or 'picamera2'.")
@click.option("--feed", "feed_name", default="main", show_default=True, help="Name of the --source feed.")
@click.option("--db", type=click.Path(path_type=Path), help="Journal database (default: data_dir/journal.db).")
@click.option("--device-id", help="Device id (overrides the config).")
@click.option("--model", help="Detector model name (overrides the config).")
@click.option("--min-face-px", type=int, help="Face height (px) from which a face is identifiable.")
@click.option("--fps", type=float, help="Frames per second to process for --source.")
@click.option("--loop/--no-loop", default=None, help="Loop a --source video file.")
@click.option("--pace/--no-pace", default=None, help="Play a --source video at its own speed.")
@click.option("--quiet", is_flag=True, help="No progress or capture lines (logs only).")
def run_cmd(
    config: Path | None,
    source: str | None,
    feed_name: str,
    db: Path | None,
    device_id: str | None,
    model: str | None,
    min_face_px: int | None,
    fps: float | None,
    loop: bool | None,
    pace: bool | None,
    quiet: bool,
) -> None:
    """Watch the feeds, journal every capture with its verdict, until the feeds end or SIGTERM."""
    from camaudit.config.overrides import apply_run_overrides
    from camaudit.console import ConsoleReporter, summary_lines
    from camaudit.pipeline.runner import QuietReporter, run

    if config is None and source is None:
        raise click.UsageError("give --config FILE, or --source PATH_OR_URL (with --db FILE)")
    cfg = apply_run_overrides(
        _load(config),
        source=source,
        feed_name=feed_name,
        db=db,
        device_id=device_id,
        model=model,
        min_face_px=min_face_px,
        fps=fps,
        loop=loop,
        pace=pace,
    )
    reporter = QuietReporter() if quiet else ConsoleReporter()
    summary = run(cfg, db=db, reporter=reporter)
    if not quiet:
        for line in summary_lines(summary):
            click.echo(line)


@cli.command("check-config")
@click.argument("file", type=click.Path(path_type=Path))
def check_config_cmd(file: Path) -> None:
    """Validate a config file; print each problem with its line and key."""
    cfg = _load(file)
    click.echo(f"{file}: OK ({len(cfg.feeds)} feed(s), {len(cfg.notices)} notice(s))")


@cli.command("config-schema")
def config_schema_cmd() -> None:
    """Print the config JSON Schema (for editor completion)."""
    from camaudit.config import Config

    click.echo(json.dumps(Config.model_json_schema(), indent=2))


@cli.command("log")
@click.option("--db", type=click.Path(path_type=Path), required=True, help="Journal database.")
@click.option("--json", "as_json", is_flag=True, help="JSON list of captures.")
def log_cmd(db: Path, as_json: bool) -> None:
    """List the captures in a journal."""
    from camaudit.store.captures import format_table, list_captures

    rows = list_captures(db)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        click.echo(format_table(rows))


@cli.command("verify")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--pubkey", help="Expected device public key (hex); default: the one in the file.")
def verify_cmd(file: Path, pubkey: str | None) -> None:
    """Check a journal, or an evidence pack (.zip from `camaudit export`), offline."""
    from camaudit.errors import VerifyError
    from camaudit.store.pack_verify import is_pack, verify_pack
    from camaudit.store.verify import verify_journal

    try:
        key = bytes.fromhex(pubkey) if pubkey else None
    except ValueError:
        raise click.BadParameter("not hex", param_hint="--pubkey") from None
    if key is not None and len(key) != 32:
        raise click.BadParameter("an Ed25519 public key is 32 bytes (64 hex digits)", param_hint="--pubkey")
    if is_pack(file):
        click.echo(f"{file}: {verify_pack(file, key).summary()}")
        return
    report = verify_journal(file, key)
    if not report.ok:
        raise VerifyError(f"{file}: FAILED at {report.first_bad}")
    click.echo(
        f"{file}: OK, {report.events} events, {report.checkpoints} checkpoints, head seq {report.head_seq}"
    )


@cli.command("device-key")
@click.option("-c", "--config", type=click.Path(path_type=Path), help="YAML config file.")
@click.option("--db", type=click.Path(path_type=Path), help="Journal database (key lives next to it).")
def device_key_cmd(config: Path | None, db: Path | None) -> None:
    """Print this device's id and Ed25519 public key (created if absent), for `hub enroll`."""
    from camaudit.store.keys import load_or_create_key

    cfg = _load(config)
    if db is None and cfg is None:
        raise click.UsageError("give --config FILE or --db FILE")
    folder = db.parent if db is not None else cfg.device.data_dir
    key = load_or_create_key(folder / "device.key")
    device = cfg.device.id if cfg is not None else "<device id>"
    click.echo(f"{device} {key.public_hex}")
    journal = db if db is not None else folder / "journal.db"
    after = ""
    if journal.is_file():
        from camaudit.store.journal import pruned_point

        seq, digest = pruned_point(journal)
        if seq:
            click.echo(f"journal pruned up to seq {seq} (hash {digest}): a new hub starts after it")
            after = f" --after {seq}:{digest}"
    click.echo(f"on the hub: camaudit hub enroll {device} {key.public_hex}{after}", err=True)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="camaudit", standalone_mode=False)
    except CamauditError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            click.secho(f"camaudit: error: {line}", err=True, fg="red")
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
