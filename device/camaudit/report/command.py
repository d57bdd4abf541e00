"""`camaudit subject-check` (device journal) and the hub's variant's shared steps."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import click

from camaudit.core import venue_time
from camaudit.errors import JournalError


def default_out(feed: str, since: str) -> Path:
    return Path(f"subject-check-{re.sub(r'[^A-Za-z0-9_.-]+', '', feed + '-' + since)[:80]}")


def parse_in_zone(text: str, zone: str | None, *, end: bool, param: str) -> int:
    """UTC ms of an ISO 8601 date/time; without an offset it is the venue's local time
    (`zone`, as the device journalled it; UTC when unknown), by camaudit.core.venue_time.
    A bare date means its start (for --to, its end)."""
    try:
        return venue_time.parse(text, venue_time.zone_or_utc(zone), end=end)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None


def run_subject_check(
    make_pack: Callable[[Path, int, int], object],
    feed: str,
    since: str,
    until: str,
    out: Path | None,
    zone: str | None = None,
    signer: object = None,
) -> None:
    """Export a pack of the window with `make_pack(path, since_ms, until_ms)`, then list the
    captures and write the letters next to it. Times without an offset are in `zone`.
    `signer` (trust.pdf_sign.SigningIdentity of the pack's key) signs letter.pdf."""
    from camaudit.report.subject import check, summary_lines, write_letters

    since_ms = parse_in_zone(since, zone, end=False, param="--from")
    until_ms = parse_in_zone(until, zone, end=True, param="--to")
    if until_ms < since_ms:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    out_dir = out if out is not None else default_out(feed, since)
    pack = out_dir / "pack.zip"
    if pack.exists():
        raise JournalError(f"subject-check: {pack} exists; not overwriting evidence")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        make_pack(pack, since_ms, until_ms)
    except JournalError as exc:
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()  # nothing to keep: leave no empty folder behind
        if "no record" not in str(exc):
            raise
        click.echo(f"no record at all between {since} and {until}: the device journalled nothing "
                   "then (off, or no event), so no capture is recorded; no pack or letter written")
        return
    res = check(pack, feed, since_ms, until_ms)
    for line in summary_lines(res):
        click.echo(line)
    for p in write_letters(res, out_dir, signer):
        click.echo(f"letter: {p}")
    if signer is not None and res.letters:
        click.echo(f"letter.pdf is signed: certificate SHA-256 {getattr(signer, 'fingerprint', '')}")


@click.command("subject-check")
@click.option("--db", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True, help="Journal database.")
@click.option("--feed", required=True, help="The camera (feed) the person passed.")
@click.option("--from", "since", required=True, help="Start of the window (ISO 8601; the venue's local time unless an offset is given).")
@click.option("--to", "until", required=True, help="End of the window (a bare date means the end of that day).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Folder for the pack and the letters (default: ./subject-check-FEED-FROM).")
def subject_check_cmd(db: Path, feed: str, since: str, until: str, out: Path | None) -> None:
    """Was anyone captured on FEED between --from and --to? Captures, their verdicts and
    notice states, an evidence pack and a GDPR Art. 15 access-request letter. No face matching."""
    from camaudit.report.feeds import check_feed, journal_feeds, journal_zone
    from camaudit.store.pack import export_pack

    check_feed(feed, journal_feeds(db), f"journal {db}")

    def make(pack: Path, since_ms: int, until_ms: int) -> object:
        return export_pack(db, pack, since_ms=since_ms, until_ms=until_ms, feed=feed,
                           now_ms=int(time.time() * 1000))

    from camaudit.store.db import open_readonly, read_meta
    from camaudit.store.keys import load_key
    from camaudit.trust.pdf_sign import signing_identity

    conn = open_readonly(db)
    try:
        device = read_meta(conn).get("device", "")
    finally:
        conn.close()
    # the key that signs the pack signs the letter (the same certificate as its report.pdf)
    signer = signing_identity(load_key(db.parent / "device.key").private_key, "device", device)
    run_subject_check(make, feed, since, until, out, journal_zone(db), signer)
