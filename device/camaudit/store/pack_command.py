"""`camaudit export`: write an evidence pack from a device journal."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from camaudit.core import venue_time


def parse_when(text: str | None, tz: ZoneInfo | None = None, *, end: bool, param: str) -> int | None:
    """UTC ms from an ISO 8601 date or time; without an offset, the venue's local time
    (`tz`, see camaudit.core.venue_time). A bare date means its start (or, for --until, its end).
    `tz` None is the old rule (this machine's zone), kept only until `hub export` passes its zone."""
    if text is None:
        return None
    try:
        if tz is None:
            return _legacy_machine_zone(text, end)
        return venue_time.parse(text, tz, end=end)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None


def _legacy_machine_zone(text: str, end: bool) -> int:
    from datetime import UTC, datetime

    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.astimezone()
    ms = int(when.astimezone(UTC).timestamp() * 1000)
    return ms + (86_400_000 - 1 if end and len(text) == 10 else 0)


@click.command("export")
@click.option("--db", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True, help="Journal database.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The pack to write (.zip).")
@click.option("--since", help="First moment (ISO 8601; the venue's local time unless an offset is given).")
@click.option("--until", help="Last moment (a bare date means the end of that day).")
@click.option("--feed", help="Report on this feed only (records of all feeds stay, for the chain).")
@click.option("--key", "key_path", type=click.Path(path_type=Path), help="Device key (default: next to the journal).")
@click.option("--evidence-dir", type=click.Path(path_type=Path), help="Evidence frames (default: <journal folder>/evidence).")
def export_cmd(
    db: Path,
    out: Path,
    since: str | None,
    until: str | None,
    feed: str | None,
    key_path: Path | None,
    evidence_dir: Path | None,
) -> None:
    """Write a signed evidence pack (records, safe evidence frames, report) for a complaint."""
    from camaudit.report.feeds import check_feed, journal_feeds, journal_zone
    from camaudit.store.pack import export_pack

    check_feed(feed, journal_feeds(db), f"journal {db}")
    tz = venue_time.zone_or_utc(journal_zone(db))
    since_ms = parse_when(since, tz, end=False, param="--since")
    until_ms = parse_when(until, tz, end=True, param="--until")
    if since is not None or until is not None:
        click.echo(f"window: {venue_time.fmt(since_ms, tz) if since_ms is not None else 'the start'}"
                   f" to {venue_time.fmt(until_ms, tz) if until_ms is not None else 'the end'}"
                   f" (times without an offset are the venue's, {tz.key})", err=True)
    summary = export_pack(
        db,
        out,
        since_ms=since_ms,
        until_ms=until_ms,
        feed=feed,
        key_path=key_path,
        evidence_dir=evidence_dir,
        now_ms=int(time.time() * 1000),
    )
    click.echo(summary.summary())
    click.echo(
        f"check it anywhere with: camaudit verify {out} --pubkey {summary.signer_key}\n"
        "(give that key to the checker apart from the pack: a key read from the pack proves nothing)",
        err=True,
    )
