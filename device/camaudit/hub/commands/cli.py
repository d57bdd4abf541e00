"""`camaudit hub`: run the hub (or, with `--worker NAME`, one of several hub workers);
`camaudit hub enroll DEVICE PUBKEY`; `camaudit hub adduser USER`; `camaudit hub add-worker NAME`."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from camaudit.config.hub import HubConfig, load_hub_config
from camaudit.errors import CamauditError, ConfigError
from camaudit.hub.store.hub_store import HubError

if TYPE_CHECKING:
    from camaudit.hub.store.hub_store import HubStore

DATA_DIR_ENV = "CAMAUDIT_HUB_DIR"
DB_ENV = "CAMAUDIT_HUB_DB"
DB_HELP = (f"Hub store: a SQLite file (default DATA_DIR/hub.db) or postgresql://user@host/db "
           f"(default: ${DB_ENV}; keep the password in ~/.pgpass or PGPASSFILE, not on the command line).")
DATA_DIR_HELP = (f"Hub data folder (default: ${DATA_DIR_ENV}, else /var/lib/camaudit-hub); "
                 "the subcommands need the running hub's.")


def _sub_data_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    """`--data-dir` given after a subcommand counts like one given before it."""
    if value is not None:
        ctx.obj["data_dir"] = value


sub_data_dir = click.option(
    "--data-dir", type=click.Path(path_type=Path, file_okay=False), expose_value=False,
    callback=_sub_data_dir, help=DATA_DIR_HELP,
)


def _sub_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """`--db` given after a subcommand counts like one given before it."""
    if value is not None:
        ctx.obj["db"] = value


sub_db = click.option("--db", expose_value=False, callback=_sub_db, help=DB_HELP)


def _private_folder(path: Path) -> Path:
    """Create `path` and each missing parent readable by its owner only (0700, whatever
    the umask); an existing folder is left as its owner set it."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)
    return path


def _hub_store(cfg: HubConfig) -> HubStore:
    """The running hub's store (a SQLite file must exist), or a one-line error saying where
    it was looked for."""
    from camaudit.hub.store.hub_store import HubStore

    target = cfg.db_target
    if isinstance(target, Path) and not target.is_file():
        raise HubError(
            f"no hub store at {target}: give the running hub's folder with --data-dir DIR "
            f"(or set {DATA_DIR_ENV}), or its store with --db (or {DB_ENV})"
        )
    return HubStore(target)


def _mqtt_user(cfg: HubConfig, user: str, *, reset: bool) -> Path:
    """Create (or with `reset`, re-key) `user` in the hub mosquitto's password file and make
    a running hub's mosquitto reload it (SIGHUP: no restart)."""
    from camaudit.hub.broker.files import broker_dir, ensure_user_secret, signal_reload

    _private_folder(cfg.data_dir)
    secret = ensure_user_secret(cfg.data_dir, broker_dir(cfg.data_dir) / "passwd", user, reset=reset)
    signal_reload(cfg.data_dir)
    return secret


def _config(ctx: click.Context) -> HubConfig:
    o = ctx.obj
    cfg = load_hub_config(o["config"]) if o["config"] else HubConfig()
    passed_through = ("data_dir", "db", "broker", "broker_listen", "listen", "token", "timezone", "group",
                      "venue")
    update: dict[str, Any] = {key: o[key] for key in passed_through if o.get(key)}
    if o["tofu"]:
        update["trust_on_first_use"] = True
    if o.get("shared"):
        update["shared"] = True
    if o.get("username") or o.get("password_file"):  # a worker's user on a site's broker
        mqtt = cfg.mqtt.model_dump()
        if o.get("username"):
            mqtt["username"] = o["username"]
        if o.get("password_file"):
            mqtt["password_file"] = str(o["password_file"])
        update["mqtt"] = mqtt
    if o["users"]:
        update["broker_users"] = [*cfg.broker_users, *o["users"]]
    try:
        return HubConfig.model_validate({**cfg.model_dump(), **update})
    except ValidationError as exc:  # a bad option: one `camaudit: error:` line each
        raise ConfigError("\n".join(
            f"hub setting {'.'.join(map(str, e['loc']))} (--{str(e['loc'][0]).replace('_', '-')}): "
            f"{str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()
        )) from None


@click.group("hub", invoke_without_command=True)
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="Hub YAML config.")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), envvar=DATA_DIR_ENV,
              help=DATA_DIR_HELP)
@click.option("--db", envvar=DB_ENV, help=DB_HELP)
@click.option("--broker", help="A site's own broker mqtt(s)://host:port (default: the hub starts "
              "and supervises its own mosquitto).")
@click.option("--broker-listen", help="host:port of the hub's mosquitto (default 127.0.0.1:1883).")
@click.option("--listen", help="host:port of the web page (default 127.0.0.1:8080).")
@click.option("--token", help="Web login token (default: generated once, kept in the data folder).")
@click.option("--timezone", help="The venue's IANA time zone, for the web page's times (default UTC).")
@click.option("--venue", help="The venue's name, shown on every page (default: the venues the devices name).")
@click.option("--trust-on-first-use", "tofu", is_flag=True,
              help="Enroll unknown devices by the key they announce (off by default).")
@click.option("--user", "users", multiple=True,
              help="Create an MQTT user in the hub's mosquitto (repeatable); its password file is printed.")
@click.option("--worker", metavar="NAME",
              help="Run as hub worker NAME: join the shared subscription group on the hub's (or "
                   "--broker's) broker, link in the shared store, serve the web page; no broker of "
                   "its own. With the hub's mosquitto, create NAME first: `camaudit hub add-worker NAME`.")
@click.option("--group", help="Shared subscription group of the workers (default: on the hub's mosquitto "
              "a random name kept in DATA_DIR/broker/group, which no device can join; on a site's broker "
              "camaudit-hub).")
@click.option("--shared", is_flag=True,
              help="This hub links in the shared store and joins the workers' group (automatic once a "
                   "worker ran on the store); workers cannot start next to a hub that links in memory.")
@click.option("--username", help="Worker: MQTT user on a site's broker (default: NAME on the hub's).")
@click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Worker: that user's password file.")
@click.pass_context
def hub_cmd(ctx: click.Context, /, **opts: Any) -> None:
    """Collect, verify and show events from camaudit devices."""
    ctx.obj = opts
    if ctx.invoked_subcommand is not None:
        return
    from camaudit.hub.run import start_hub

    cfg = _config(ctx)
    if opts["worker"]:
        _run_worker(cfg, opts["worker"])
        return
    handle = start_hub(cfg)
    click.echo(f"broker  {handle.broker_url}")
    for user in cfg.broker_users:
        click.echo(f"  MQTT user {user}: password file {handle.password_file(user)}")
    click.echo(f"web     {handle.web_url}  (login token in {_token_where(cfg)})")  # issue 21: never the token itself (stdout is the system journal)
    click.echo(f"hub key {handle.hub_public_key}")
    if handle.embedded_broker is not None:
        click.echo(f"alerts  camaudit alerts --broker {handle.broker_url} --username alerts "
                   f"--password-file {handle.password_file('alerts')}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # >>> issue 21: systemd watchdog (Type=notify): READY=1, pings only while the parts live
    from camaudit.health.hub_watchdog import HubWatchdog, hub_checks

    dog = HubWatchdog(hub_checks(handle))
    try:
        while not stop.wait(dog.every_s):
            dog.tick()
    finally:
        dog.stopping()
        # <<< issue 21
        handle.stop()


def _token_where(cfg: HubConfig) -> str:  # issue 21: where the web token is, not the token
    return "the --token / config value" if cfg.token else str(cfg.data_dir / "web.token")


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def _run_worker(cfg: HubConfig, name: str) -> None:
    from camaudit.hub.commands.worker import start_worker

    handle = start_worker(cfg, name)
    click.echo(f"worker  {name} in group {cfg.worker_group}")
    click.echo(f"broker  {handle.broker_url}")
    click.echo(f"web     {handle.web_url}  (login token in {_token_where(cfg)})" if handle.web_url else "web     off")  # issue 21
    click.echo(f"hub key {handle.hub_public_key}")
    try:
        _wait_for_signal()
    finally:
        handle.stop()
        st = handle.collector.stats
        click.echo(f"stopped: stored {st['stored']} duplicates {st['duplicates']} rejected {st['rejected']} "
                   f"acks {st['acks']} replays {st['replays']}")


@hub_cmd.command("add-worker")
@click.argument("name")
@sub_data_dir
@click.pass_context
def add_worker_cmd(ctx: click.Context, name: str) -> None:
    """Create hub worker NAME's MQTT user in the hub's mosquitto (reads every device's stream,
    writes acks and commands); a running hub's mosquitto applies it at once."""
    from camaudit.hub.broker.files import add_worker

    cfg = _config(ctx)
    if cfg.broker is not None:
        raise HubError("add-worker: the hub uses a site's broker: create the worker's user there")
    target = cfg.db_target
    if not isinstance(target, Path) or target.is_file():
        store = _hub_store(cfg)
        try:
            if store.public_key(name) is not None:
                raise HubError(f"add-worker: {name!r} is an enrolled device")
        finally:
            store.close()
    _private_folder(cfg.data_dir)
    secret = add_worker(cfg.data_dir, name, cfg.mqtt.prefix, cfg.mqtt.discovery_prefix)
    click.echo(f"worker {name}: MQTT user {name}, password in {secret}")
    click.echo(f"run it: camaudit hub --data-dir {cfg.data_dir} --worker {name} --listen 127.0.0.1:PORT")


@hub_cmd.command("enroll")
@click.argument("device")
@click.argument("pubkey")
@click.option("--after", metavar="SEQ:HASH",
              help="The device pruned its journal up to SEQ (hash HASH) before this hub had it: "
                   "start its chain there (`camaudit device-key` on the device prints this).")
@sub_data_dir
@sub_db
@click.pass_context
def enroll_cmd(ctx: click.Context, device: str, pubkey: str, after: str | None) -> None:
    """Trust DEVICE's Ed25519 public key PUBKEY (64 hex digits, shown by the device)."""
    from camaudit.hub.store.hub_store import HubStore, check_base

    base: tuple[int, str] | None = None
    if after is not None:
        seq, _, digest = after.partition(":")
        if not seq.isdigit() or not digest:
            raise click.BadParameter("expected SEQ:HASH, e.g. 5000:3fa9...", param_hint="--after")
        base = (int(seq), digest.strip().lower())
        check_base(device, *base)  # before enrolling: all or nothing
    from camaudit.hub.broker.files import RESERVED_USERS

    cfg = _config(ctx)
    target = cfg.db_target
    if isinstance(target, Path):
        _private_folder(target.parent)
    if device in RESERVED_USERS:
        raise HubError(f"enroll: {device!r} is reserved for the hub's own MQTT users")
    if cfg.broker is None:
        from camaudit.hub.broker.files import check_user, read_workers

        if device in read_workers(cfg.data_dir):
            raise HubError(f"enroll: {device!r} is a hub worker's MQTT user")
        check_user(device)  # it must be able to log in to the hub's mosquitto
    store = HubStore(target)
    try:
        store.enroll(device, pubkey.strip().lower())
        if base is not None:
            store.set_base(device, *base)
    finally:
        store.close()
    click.echo(f"enrolled {device} in {cfg.db_where} (a running hub picks it up within seconds)")
    if cfg.broker is None:
        secret = _mqtt_user(cfg, device, reset=False)
        click.echo(f"{device}: MQTT user {device}, password in {secret} "
                   "(copy it to the device's mqtt.password_file)")
    if base is not None:
        click.echo(f"{device}: the hub's copy of its chain starts after seq {base[0]}; "
                   f"seqs 1..{base[0]} were pruned on the device and are not on the hub")


@hub_cmd.command("export")
@click.argument("device")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The pack to write (.zip).")
@click.option("--since", help="First moment (ISO 8601; the venue's local time unless an offset is given: "
              "the zone the device journalled, else the hub's `timezone`).")
@click.option("--until", help="Last moment (a bare date means the end of that day, venue time).")
@click.option("--feed", help="Report on this feed only (records of all feeds stay, for the chain).")
@sub_data_dir
@sub_db
@click.pass_context
def export_cmd(
    ctx: click.Context, device: str, out: Path, since: str | None, until: str | None, feed: str | None
) -> None:
    """Write an evidence pack of DEVICE from what the hub stored, signed by the hub."""
    import time

    from camaudit.core import venue_time
    from camaudit.hub.custody.log import cli_who, custody_log
    from camaudit.hub.custody.packs import ExportBy
    from camaudit.hub.evidence.pack import export_hub_pack
    from camaudit.report.feeds import check_feed
    from camaudit.store.pack_command import parse_when

    cfg = _config(ctx)
    store = _hub_store(cfg)
    try:
        check_feed(feed, store.device_feeds(device), f"the hub's records of {device}")
        # a time without an offset is the venue's: the zone the device journalled, else the hub's
        tz = venue_time.zone_or_utc(_zone(store, device) or cfg.timezone)
        since_ms = parse_when(since, tz, end=False, param="--since")
        until_ms = parse_when(until, tz, end=True, param="--until")
        if since is not None or until is not None:
            click.echo(f"window: {venue_time.fmt(since_ms, tz) if since_ms is not None else 'the start'} to "
                       f"{venue_time.fmt(until_ms, tz) if until_ms is not None else 'the end'} ({tz.key})", err=True)
        summary = export_hub_pack(
            store,
            cfg.data_dir / "hub.key",
            device,
            out,
            since_ms=since_ms,
            until_ms=until_ms,
            feed=feed,
            now_ms=int(time.time() * 1000),
            custody=ExportBy(custody_log(store, cfg.data_dir / "hub.key"), cli_who(), "local"),
        )
    finally:
        store.close()
    click.echo(summary.summary())
    click.echo(f"check it anywhere with: camaudit verify {out}", err=True)


@hub_cmd.command("subject-check")
@click.argument("device")
@click.option("--feed", required=True, help="The camera (feed) the person passed.")
@click.option("--from", "since", required=True, help="Start of the window (ISO 8601; venue local time unless an offset is given).")
@click.option("--to", "until", required=True, help="End of the window.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Folder for the pack and the letters.")
@sub_data_dir
@sub_db
@click.pass_context
def subject_check_cmd(
    ctx: click.Context, device: str, feed: str, since: str, until: str, out: Path | None
) -> None:
    """Was anyone captured on DEVICE's FEED in the window? From the hub store, read-only."""
    import time

    from camaudit.hub.custody.log import cli_who, custody_log
    from camaudit.hub.custody.packs import ExportBy
    from camaudit.hub.evidence.pack import export_hub_pack
    from camaudit.report.command import run_subject_check
    from camaudit.report.feeds import check_feed

    cfg = _config(ctx)
    store = _hub_store(cfg)
    try:
        check_feed(feed, store.device_feeds(device), f"the hub's records of {device}")
        clog = custody_log(store, cfg.data_dir / "hub.key")
        by = ExportBy(clog, cli_who(), "local", "subject check")

        def make(pack: Path, since_ms: int, until_ms: int) -> object:
            clog.record(by.who, "subject.check", by.where, {"device": device, "feed": feed, "since": since_ms,
                                                             "until": until_ms})
            return export_hub_pack(store, cfg.data_dir / "hub.key", device, pack, since_ms=since_ms,
                                   until_ms=until_ms, feed=feed, now_ms=int(time.time() * 1000), custody=by)

        run_subject_check(make, feed, since, until, out, _zone(store, device), signer=_signer(cfg))
    finally:
        store.close()


@hub_cmd.command("adduser")
@click.argument("user")
@sub_data_dir
@click.pass_context
def adduser_cmd(ctx: click.Context, user: str) -> None:
    """Create (or reset) an MQTT user of the hub's mosquitto; prints its password file.

    A running hub's mosquitto reloads its password file at once (no restart)."""
    from camaudit.hub.broker.files import HUB_USER

    if user == HUB_USER:
        raise HubError(f"adduser: {HUB_USER!r} is the hub's own MQTT user (created at hub start)")
    cfg = _config(ctx)
    path = _mqtt_user(cfg, user, reset=True)
    click.echo(f"{user}: password in {path} (a running hub's broker applies it now)")


@hub_cmd.command("forks")
@sub_data_dir
@sub_db
@click.pass_context
def forks_cmd(ctx: click.Context) -> None:
    """List open forks: devices with two validly signed histories (acks to them are stopped)."""
    store = _hub_store(_config(ctx))
    try:
        forks = store.forks()
        for f in forks:
            click.echo(f"{f['device']}: fork from seq {f['fork_seq']}, {f['quarantined']} record(s) "
                       f"quarantined; resolve with `camaudit hub resolve-fork {f['device']} "
                       "--keep stored|quarantined`")
            for q in store.quarantined(str(f["device"])):  # what the operator compares (docs/hub-security.md)
                seq = int(q["seq"])
                click.echo(f"  seq {seq}: stored hash {store.hash_at(str(f['device']), seq) or '-'}, "
                           f"quarantined hash {q['hash']} (device time {q['ts']} ms, received "
                           f"{q['received_ms']} ms)")
        if not forks:
            click.echo("no open forks")
    finally:
        store.close()


@hub_cmd.command("resolve-fork")
@click.argument("device")
@sub_data_dir
@sub_db
@click.option("--keep", type=click.Choice(["stored", "quarantined"]), required=True,
              help="stored: the chain the hub holds is the real device's (the clone was given a new "
                   "id and key); quarantined: the hub's records from the fork on came from the clone "
                   "(they move to quarantine; the real device re-sends its own).")
@click.pass_context
def resolve_fork_cmd(ctx: click.Context, device: str, keep: str) -> None:
    """Close DEVICE's open fork; a running hub resumes its acks within seconds."""
    from camaudit.hub.custody.log import cli_who, custody_log

    store = _hub_store(_config(ctx))
    try:
        moved = store.resolve_fork(device, keep)
        custody_log(store, _config(ctx).data_dir / "hub.key").record(cli_who(), "fork.resolve", "local",
                                                                     {"device": device, "keep": keep, "moved": moved})
    finally:
        store.close()
    click.echo(f"{device}: fork resolved, kept the {keep} copy"
               + (f"; {moved} record(s) moved to quarantine" if moved else "")
               + "; acks resume")


def _zone(store: HubStore, device: str) -> str | None:
    """The venue's time zone as `device` last journalled it in the hub store; None if unknown."""
    try:
        return store.timezone(device)
    except CamauditError:
        return None


def _signer(cfg: HubConfig) -> object:
    """The hub key's report-signing identity (trust.pdf_sign), for the subject check's letter."""
    from camaudit.store.keys import load_key
    from camaudit.trust.pdf_sign import signing_identity

    return signing_identity(load_key(cfg.data_dir / "hub.key").private_key, "hub", "hub")

