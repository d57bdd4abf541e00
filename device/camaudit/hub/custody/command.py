"""`camaudit hub audit-log [--since T] [--json]`: the custody log, oldest first, each time
in the venue's zone (core/venue_time.py) with the zone named; the chain and the hub
signatures are checked first (a removed or changed entry: an error naming it)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from camaudit.core import venue_time
from camaudit.hub.commands.cli import _config, _hub_store, hub_cmd, sub_data_dir, sub_db
from camaudit.hub.custody.log import custody_log


@hub_cmd.command("audit-log")
@click.option("--since", help="First moment (ISO 8601; the venue's local time unless a zone is given).")
@click.option("--json", "as_json", is_flag=True, help="One JSON entry per line, as stored and signed.")
@click.option("--timezone", "zone_name", help="The venue's IANA zone for printed times (default: the hub's).")
@sub_data_dir
@sub_db
@click.pass_context
def audit_log_cmd(ctx: click.Context, since: str | None, as_json: bool, zone_name: str | None) -> None:
    """Print the hub's custody log: who logged in, viewed, exported, checked, acknowledged
    or resolved what, when and from where."""
    cfg = _config(ctx)
    tz = venue_time.zone(zone_name or cfg.timezone)
    since_ms = venue_time.parse(since, tz) if since else None
    store = _hub_store(cfg)
    try:
        clog = custody_log(store, Path(cfg.data_dir) / "hub.key")
        n = clog.check() if clog.key is not None else None
        lines = clog.lines(since_ms)
    finally:
        store.close()
    for line in lines:
        if as_json:
            click.echo(line)
            continue
        e = json.loads(line)
        detail = ", ".join(f"{k}={v}" for k, v in sorted(e["detail"].items()) if v is not None)
        click.echo(f"{e['seq']:>6}  {venue_time.fmt(e['ts'], tz)}  {e['what']:<13} {e['who']} "
                   f"from {e['where']}" + (f"  ({detail})" if detail else ""))
    if not as_json:
        said = f"{n} entries, chain and hub signatures checked" if n is not None else "no hub key to check it"
        click.echo(f"custody log: {said}", err=True)
