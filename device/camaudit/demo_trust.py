"""The demo's trusted evidence (issue 24): a local `openssl ts` authority (127.0.0.1, a
temporary folder, stopped at the end) the demo hub stamps its checkpoints with, then a
hub pack whose time-stamp token, signed report and custody entries the demo checks and
points at, one line each."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from camaudit.config.timestamps import TimestampsConfig


@dataclass
class DemoAuthority:
    url: str
    ca: Path
    _stack: contextlib.ExitStack = field(repr=False, default_factory=contextlib.ExitStack)

    def stop(self) -> None:
        self._stack.close()


def start_authority(data_dir: Path) -> DemoAuthority | None:
    """A local time-stamp authority, or None (with a printed line) without openssl. Its CA
    certificate is copied to `data_dir` (to re-run the printed verify command)."""
    if shutil.which("openssl") is None:
        click.echo("trusted time: skipped (no `openssl` command to run a local time-stamp authority)")
        return None
    from camaudit.trust.local_tsa import make_authority, serve

    stack = contextlib.ExitStack()
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="camaudit-demo-tsa-")))
    authority = make_authority(tmp, "camaudit demo TSA")
    url = stack.enter_context(serve(authority))
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = data_dir / "demo-tsa-ca.pem"
    shutil.copyfile(authority.ca, ca)
    click.echo(f"trusted time: a local time-stamp authority (openssl ts) answers at {url}")
    return DemoAuthority(url, ca, stack)


def timestamps(tsa: DemoAuthority | None) -> TimestampsConfig:
    return TimestampsConfig(urls=[tsa.url], every_s=10) if tsa is not None else TimestampsConfig()


def show(handle: Any, data_dir: Path, device: str, tsa: DemoAuthority | None, cmd: str) -> bool:
    """Stamp the newest checkpoint now, export a hub pack (recorded in the custody log),
    verify it against the hub key (and the authority), print where to see each part."""
    from camaudit.errors import CamauditError
    from camaudit.hub.custody.log import cli_who, custody_log
    from camaudit.hub.custody.packs import ExportBy
    from camaudit.hub.evidence.pack import export_hub_pack
    from camaudit.store.keys import load_key
    from camaudit.store.pack_verify import verify_pack
    from camaudit.trust.tsa import load_certs

    hub_key = handle.data_dir / "hub.key"
    out = data_dir / "hub-pack.zip"
    out.unlink(missing_ok=True)
    try:
        if handle.keeper is not None:
            handle.keeper.run_once(handle.store)
        by = ExportBy(custody_log(handle.store, hub_key), cli_who(), "local", "demo")
        export_hub_pack(handle.store, hub_key, device, out, now_ms=int(time.time() * 1000), custody=by)
        certs = load_certs(tsa.ca.read_bytes()) if tsa is not None else None
        hub_pub = load_key(hub_key).public_bytes
        result = verify_pack(out, None, hub_pub, certs)
    except CamauditError as exc:
        click.secho(f"\nhub pack {out}: FAILED: {exc}", fg="red")
        return False
    pin = f"--hub-key {hub_pub.hex()}"
    click.secho(f"\nThe hub's evidence pack {out} ({cmd} verify {out} {pin}"
                + (f" --tsa-cert {tsa.ca}" if tsa is not None else "") + "):", bold=True)
    if tsa is not None and result.times and "existed by" in result.times[0]:
        click.secho(f"  trusted time: {result.times[0]}; the token is under timestamps/ in the pack", fg="green")
    elif tsa is not None:
        click.secho("  trusted time: no token in the pack (the hub had no checkpoint to stamp)", fg="yellow")
    click.secho(f"  signed report: {result.pdf_signature}; check it with `pdfsig report.pdf` after unzipping",
                fg="green")
    for line in result.custody:
        click.secho(f"  {line}", fg="green")
    click.echo(f"  custody log: `{cmd} hub audit-log --data-dir {handle.data_dir}`, or {handle.web_url}/audit-log")
    return bool(result.custody) and bool(result.pdf_signature)
