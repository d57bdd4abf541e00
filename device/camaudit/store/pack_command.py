"""`camaudit export`: write an evidence pack from a device journal."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click


def parse_when(text: str | None, *, end: bool, param: str) -> int | None:
    """UTC ms from an ISO 8601 date or time; local time when no zone is given. A bare
    date means its start (or, for --until, its end)."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date/time", param_hint=param) from None
    if when.tzinfo is None:
        when = when.astimezone()  # the machine's local zone
    ms = int(when.astimezone(UTC).timestamp() * 1000)
    if end and len(text) == 10:  # YYYY-MM-DD: the whole day
        ms += 86_400_000 - 1
    return ms


@click.command("export")
@click.option("--db", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True, help="Journal database.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The pack to write (.zip).")
@click.option("--since", help="First moment (ISO 8601, local time unless a zone is given).")
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
    from camaudit.report.feeds import check_feed, journal_feeds
    from camaudit.store.pack import export_pack

    check_feed(feed, journal_feeds(db), f"journal {db}")
    summary = export_pack(
        db,
        out,
        since_ms=parse_when(since, end=False, param="--since"),
        until_ms=parse_when(until, end=True, param="--until"),
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
