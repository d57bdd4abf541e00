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
    "hub": "camaudit.hub.commands.group:hub_cmd",
    "alerts": "camaudit.mqtt.command:alerts_cmd",
    "notice": "camaudit.notices.command:notice_cmd",
    "release": "camaudit.notices.command:release_cmd",
    "snapshot": "camaudit.notices.command:snapshot_cmd",
    "demo": "camaudit.demo:demo_cmd",
    "export": "camaudit.store.pack_command:export_cmd",
    "subject-check": "camaudit.report.command:subject_check_cmd",
    "status": "camaudit.health.command:status_cmd",
    "relearn": "camaudit.pipeline.health_command:relearn_cmd",
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


class VenueClockFormatter(logging.Formatter):
    """Log lines carry the time as the live lines do: venue-local, zone named ("10:54:06 CET").
    `zone` is set once the config names the venue's (UTC until then)."""

    zone: Any = None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        from camaudit.core import venue_time

        return venue_time.fmt_clock(int(record.created * 1000), self.zone or venue_time.UTC_ZONE)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VenueClockFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=max(level, logging.DEBUG), handlers=[handler])


def _log_in_venue_zone(timezone: str | None) -> None:
    from camaudit.core import venue_time

    VenueClockFormatter.zone = venue_time.zone_or_utc(timezone)


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
    _log_in_venue_zone(cfg.device.timezone)
    reporter = QuietReporter() if quiet else ConsoleReporter(timezone=cfg.device.timezone)
    summary = run(cfg, db=db, reporter=reporter)
    if not quiet:
        for line in summary_lines(summary):
            click.echo(line)


@cli.command("check-config")
@click.argument("file", type=click.Path(path_type=Path))
def check_config_cmd(file: Path) -> None:
    """Validate a config file; print each problem with its line and key."""
    from camaudit.config.loader import locate
    from camaudit.errors import ConfigError
    from camaudit.pipeline.policy import policy_from_config

    cfg = _load(file)
    try:
        policy_from_config(cfg)  # what only this machine can check: the venue's time zone
    except ConfigError as exc:
        raise ConfigError(f"{locate(file, ('device', 'timezone'))}: {exc}") from None
    for warning in config_warnings(cfg, file):
        click.secho(f"warning: {warning}", err=True, fg="yellow")
    click.echo(f"{file}: OK ({len(cfg.feeds)} feed(s), {len(cfg.notices)} notice(s))")


def config_warnings(cfg: Any, file: Path) -> list[str]:
    """What is valid but probably not meant: no venue name; hours that run overnight."""
    from camaudit.config.loader import locate
    from camaudit.core.policy import overnight_ranges

    out = []
    if not cfg.device.venue:
        out.append(f"{locate(file, ('device',))}: device.venue is not set: reports and letters will "
                   "say 'Venue: not configured' (set it to the venue's name and address)")
    for nid, notice in sorted(cfg.notices.items()):
        for key, rng in overnight_ranges(notice.hours or {}):
            start, _, end = rng.partition("-")
            out.append(f"{locate(file, ('notices', nid, 'hours', key))}: notices.{nid}.hours.{key}: "
                       f"{rng!r} runs overnight, from {start.strip()} to {end.strip()} the next morning "
                       f"(if you meant {end.strip()}-{start.strip()}, swap the times)")
    return out


@cli.command("config-schema")
def config_schema_cmd() -> None:
    """Print the config JSON Schema (for editor completion)."""
    from camaudit.config import Config

    click.echo(json.dumps(Config.model_json_schema(), indent=2))


@cli.command("log")
@click.option("--db", type=click.Path(path_type=Path), help="Journal database (default: the config's data_dir/journal.db).")
@click.option("-c", "--config", type=click.Path(path_type=Path), help="Device config: its journal and the venue's time zone.")
@click.option("--tz", help="Show times in this IANA time zone (default: the config's device.timezone, else the zone the journal records).")
@click.option("--json", "as_json", is_flag=True, help="JSON list of captures (times in UTC ms).")
@click.option("--tracks", is_flag=True, help="One entry per track (its signed record: frames, boxes, criteria); see docs/tracks.md.")
def log_cmd(db: Path | None, config: Path | None, tz: str | None, as_json: bool, tracks: bool) -> None:
    """List the captures in a journal, times in the venue's local time with the zone named."""
    from camaudit.core.policy import load_timezone
    from camaudit.report.feeds import journal_zone
    from camaudit.store.captures import format_table, format_tracks, list_captures, list_tracks

    cfg = _load(config)
    if db is None and cfg is None:
        raise click.UsageError("give --db FILE or -c CONFIG")
    if db is None:
        db = cfg.device.data_dir / "journal.db"
    zone_name = tz or (cfg.device.timezone if cfg is not None else None)
    if zone_name is None and db.is_file():
        zone_name = journal_zone(db) or "UTC"  # the venue's zone as the device journalled it
    try:
        zone = load_timezone(zone_name) if zone_name else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tz" if tz else "device.timezone") from None
    if tracks:
        records = list_tracks(db)
        click.echo(json.dumps(records, indent=1) if as_json else format_tracks(records))
        return
    rows = list_captures(db)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        table = format_table(rows, zone)
        if rows:  # the notices under the table; its last line (the zone) stays last
            body, _, last = table.rpartition("\n")
            table = f"{body}\n{_notice_lines(db, rows, zone_name or 'UTC')}\n\n{last}"
        click.echo(table)


def _notice_lines(db: Path, rows: list[Any], zone: str) -> str:
    """Per capture, the notices covering its camera at its start and their hours, in the
    words of the report and the hub's capture page (camaudit.report.notice_facts)."""
    from camaudit.report import notice_facts
    from camaudit.report.model import Clock
    from camaudit.store.captures import list_notice_records

    history = notice_facts.NoticeHistory.from_records(list_notice_records(db))
    clock = Clock(zone)
    lines = ["", "notices at each capture's start (state, since, hours stated):"]
    for r in rows:
        start = r.start if r.start is not None else r.ts
        end = r.end if r.end is not None else r.ts
        facts = history.at(r.feed, start, end)
        lines.append(f"  {r.capture} ({r.feed or '-'}): {notice_facts.words(facts, clock.both, clock.zone)}")
    return "\n".join(lines)


@cli.command("verify")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--pubkey", help="Pin the device's Ed25519 public key: 64 hex digits, or a file holding them.")
@click.option("--hub-key", "hub_key", help="Pin the hub's public key (hex or a file); a hub-signed pack needs it.")
@click.option(
    "--witness",
    type=click.Path(path_type=Path),
    help="Journals: a hub export of this device (needs --hub-key); fails if the journal ends before it.",
)
@click.option(
    "--tsa-cert",
    "tsa_certs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Packs: pin a time-stamp authority's CA certificate (PEM/DER; repeatable); every token must chain to one.",
)
def verify_cmd(
    file: Path, pubkey: str | None, hub_key: str | None, witness: Path | None, tsa_certs: tuple[Path, ...]
) -> None:
    """Check a journal, or an evidence pack (.zip from `camaudit export`), offline.

    Exit 0: authentic against a pinned key (packs) / intact (journals); 1: FAILED (forged,
    damaged, not a pack); 2: unusable input; 3: a pack that is internally consistent but
    whose origin no pinned key proves (compare the printed fingerprints); 4: a pack whose
    records are proven but whose report files another camaudit rendered (not re-derived)."""
    from camaudit.errors import VerifyError
    from camaudit.store.pack_verify import (
        EXIT_REPORTS_UNCHECKED,
        EXIT_UNPROVEN,
        fingerprint,
        is_pack,
        verify_pack,
    )
    from camaudit.store.verify import verify_journal

    key = _pinned_key(pubkey, "--pubkey")
    hkey = _pinned_key(hub_key, "--hub-key")
    if witness is not None and hkey is None:
        raise click.UsageError("--witness needs --hub-key: the witness is only as good as the hub key you pin")
    if is_pack(file):
        if witness is not None:
            raise click.UsageError("--witness is for journals; a pack's own signer already vouches for its end")
        result = verify_pack(file, key, hkey, _tsa_certs(tsa_certs) or None)
        click.echo(f"{file}: {result.summary()}")
        for line in (result.pdf_signature, *result.deletions, *result.times, *result.custody):
            if not line:
                continue
            click.echo(f"  {line}")
        if not result.proven:
            sys.exit(EXIT_UNPROVEN)
        if result.reports_unchecked:
            click.echo(f"REPORTS NOT CHECKED: {result.reports_unchecked}")
            sys.exit(EXIT_REPORTS_UNCHECKED)
        return
    if tsa_certs:
        raise click.UsageError("--tsa-cert is for packs: a journal's tokens are checked when it is exported")
    report = verify_journal(file, key)
    if not report.ok:
        raise VerifyError(f"{file}: FAILED at {report.first_bad}")
    tail = "no witness: records deleted from the end cannot be seen (give --witness)"
    if witness is not None and hkey is not None:
        from camaudit.store.witness_check import check_witness

        tail = check_witness(file, report, witness, hkey)
    click.echo(
        f"{file}: OK, {report.events} events, {report.checkpoints} checkpoints, head seq {report.head_seq}, "
        f"device key fingerprint {fingerprint(report.public_key)}"
        + ("" if key else " (the journal's own key: pin it with --pubkey)")
        + f"; {tail}"
    )


def _tsa_certs(paths: tuple[Path, ...]) -> list[object]:
    from camaudit.trust.tsa import load_certs

    out: list[object] = []
    for p in paths:
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise click.BadParameter(f"{p}: {exc.strerror or exc}", param_hint="--tsa-cert") from None
        out += load_certs(data, str(p))
    return out


def _pinned_key(value: str | None, hint: str) -> bytes | None:
    """A 32-byte public key from hex, or from a file whose last hex word is the key."""
    if value is None:
        return None
    text = value.strip()
    if not _is_hex_key(text):
        path = Path(value)
        try:
            words = path.read_text(encoding="utf-8", errors="replace").split()
        except OSError as exc:
            raise click.BadParameter(
                f"neither 64 hex digits nor a readable file ({exc.strerror or exc})", param_hint=hint
            ) from None
        found = [w for w in words if _is_hex_key(w)]
        if not found:
            raise click.BadParameter(f"{path}: holds no 64-hex-digit public key", param_hint=hint)
        text = found[-1]
    return bytes.fromhex(text)


def _is_hex_key(text: str) -> bool:
    if len(text) != 64:
        return False
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


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


def _error(message: str, exit_code: int) -> None:
    """Every failure ends as `camaudit: error: ...` lines on stderr (one per problem)."""
    for line in message.splitlines() or ["failed"]:
        if line.strip():
            click.secho(f"camaudit: error: {line}", err=True, fg="red")
    sys.exit(exit_code)


def _usage_message(exc: click.UsageError) -> str:
    """click's usage error (`Usage:` block, hint, `Error:` line) as one line, with the help
    command that explains it."""
    msg = exc.format_message().replace("\n", " ").rstrip(".")
    if exc.ctx is not None:
        msg += f" (see `{exc.ctx.command_path} --help`)"
    return msg


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="camaudit", standalone_mode=False)
    except CamauditError as exc:
        _error(str(exc) or type(exc).__name__, exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        _error(_usage_message(exc), exc.exit_code)
    except click.ClickException as exc:
        _error(exc.format_message(), exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:  # a file or folder the user named cannot be used
        _error(f"{str(exc.filename) + ': ' if exc.filename else ''}{exc.strerror or exc}", 2)


if __name__ == "__main__":
    main()
