"""The managed mosquitto's files: users and passwords (`mosquitto_passwd`), the ACL, the
hub's workers, and where they all live under `<data_dir>/`. Nothing here runs mosquitto
itself (mosquitto.py does); `signal_reload` asks a running one to re-read these files."""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

from camaudit.hub.store.hub_store import HubError

log = logging.getLogger(__name__)

HUB_USER = "hub"
ALERTS_USER = "alerts"
GUARD_USER = "hub-retained"  # broker/retained.py: clears retained messages past the bounds
#: MQTT user names that are not devices (a device may not be enrolled under these).
RESERVED_USERS = frozenset({HUB_USER, ALERTS_USER, GUARD_USER})
_USER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def is_hub_user(data_dir: Path, name: str) -> bool:
    """True for the MQTT users that are not devices: the hub, `alerts`, the hub's workers."""
    return name in RESERVED_USERS or name in read_workers(data_dir)


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def _need(tool: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
    if path is None:
        raise HubError(f"{tool} is not installed: run `sudo apt-get install mosquitto` "
                       "(Debian / Raspberry Pi OS), or start the hub with --broker URL")
    return path


def check_user(name: str) -> str:
    if not _USER_RE.match(name):
        raise HubError(f"bad MQTT user name or device id {name!r} (use 1-64 of A-Z a-z 0-9 _ . -)")
    return name


def acl_text(prefix: str, discovery_prefix: str = "homeassistant", workers: Iterable[str] = ()) -> str:
    """The broker's ACL: mosquitto only allows what a line grants, everything else is denied.

    `pattern` lines apply to every user with %u replaced by its name, so a device `d1` may:
    write `<p>/d1/{events,checkpoints,alerts,status,key}`, `<p>/d1/feeds/+/{faces,unconsented_today}`,
    `<p>/d1/notices/+`, its evidence frames `<p>/d1/evidence/<seq>/<sha>` and its Home Assistant
    discovery configs `<d>/+/camaudit_d1/+/config`; read `<p>/d1/ack`, `<p>/d1/cmd/replay` and
    `<p>/d1/cmd/evidence_ack`. Nothing else: not another device's topics, not its own
    acks/commands. What it may retain is bounded by broker/retained.py (user `hub-retained`,
    which may clear any device's retained topics).

    Each hub worker (`camaudit hub --worker`, its own user: the broker takes the user name
    as client id) reads every device's events, checkpoints, status, key and evidence frames
    (also through a `$share/<group>/` subscription: mosquitto checks the filter without that
    prefix) and writes acks, commands and the hub's alerts; nothing else.
    """
    p = prefix
    lines = [
        "# Written by camaudit hub; edits are overwritten at start.",
        f"user {HUB_USER}",
        f"topic readwrite {p}/#",
        "",
        f"user {ALERTS_USER}",
        f"topic read {p}/+/alerts",
        "",
        f"user {GUARD_USER}",
        f"topic readwrite {p}/+/status",
        f"topic readwrite {p}/+/key",
        f"topic readwrite {p}/+/feeds/+/+",
        f"topic readwrite {p}/+/notices/+",
        f"topic readwrite {discovery_prefix}/+/+/+/config",
        "",
    ]
    for w in workers:
        lines.append(f"user {check_user(w)}")
        lines += [f"topic read {p}/+/{sub}" for sub in ("events", "checkpoints", "status", "key", "evidence/+/+")]
        lines += [f"topic write {p}/+/ack", f"topic write {p}/+/cmd/#", f"topic write {p}/hub/alerts", ""]
    for sub in ("events", "checkpoints", "alerts", "status", "key", "feeds/+/faces",
                "feeds/+/unconsented_today", "notices/+", "evidence/+/+"):
        lines.append(f"pattern write {p}/%u/{sub}")
    lines.append(f"pattern write {discovery_prefix}/+/camaudit_%u/+/config")
    lines.append(f"pattern read {p}/%u/ack")
    lines.append(f"pattern read {p}/%u/cmd/replay")
    lines.append(f"pattern read {p}/%u/cmd/evidence_ack")
    return "\n".join(lines) + "\n"


BROKER_ACCOUNT = "mosquitto"  # Debian's mosquitto package creates it; a root hub's broker runs as it


def broker_account(data_dir: Path) -> tuple[int, int] | None:
    """(uid, gid) mosquitto drops to when the hub runs as root; None when it need not (the
    hub is not root) or cannot: no such account, or a folder above `data_dir` it could not
    pass through (it then stays root, with a warning)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pw = pwd.getpwnam(BROKER_ACCOUNT)
    except KeyError:
        return None
    for parent in data_dir.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            return None
    return pw.pw_uid, pw.pw_gid


def _match_dir_owner(path: Path) -> None:
    """As root: a file in the broker folder belongs to the folder's owner (the broker's
    account), so mosquitto still reads it after dropping privileges (SIGHUP reload)."""
    if os.geteuid() == 0:
        st = path.parent.stat()
        os.chown(path, st.st_uid, st.st_gid)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)
    _match_dir_owner(path)


def add_user(passwd_file: Path, username: str, password: str | None = None) -> str:
    """Add or replace `username` in mosquitto's password file (with `mosquitto_passwd`,
    the password on its stdin, never on a command line); returns the password."""
    check_user(username)
    password = password or secrets.token_urlsafe(24)
    passwd_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = [_need("mosquitto_passwd")]
    if not passwd_file.exists():
        cmd.append("-c")
    cmd += [str(passwd_file), username]
    try:
        res = subprocess.run(cmd, input=f"{password}\n{password}\n", capture_output=True,
                             text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HubError(f"mosquitto_passwd {passwd_file}: {exc}") from None
    if res.returncode != 0:
        raise HubError(f"mosquitto_passwd {passwd_file}: {res.stderr.strip() or res.returncode}")
    os.chmod(passwd_file, 0o600)
    _match_dir_owner(passwd_file)
    return password


def has_user(passwd_file: Path, username: str) -> bool:
    if not passwd_file.exists():
        return False
    return any(ln.startswith(username + ":") for ln in passwd_file.read_text().splitlines())


def secret_path(data_dir: Path, username: str) -> Path:
    return data_dir / "secrets" / f"{check_user(username)}.pass"


def ensure_user_secret(data_dir: Path, passwd_file: Path, username: str, *, reset: bool = False) -> Path:
    """A password file `<data_dir>/secrets/<user>.pass` (0600) for `username`, created once
    and registered in the broker's password file. Returns its path (for MqttConfig.password_file)."""
    secret = secret_path(data_dir, username)
    if not reset and secret.exists() and has_user(passwd_file, username):
        return secret
    secret.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(secret.parent, 0o700)
    password = add_user(passwd_file, username)
    _write_private(secret, password + "\n")
    log.info("MQTT user %s created (password in %s)", username, secret)
    return secret


def broker_dir(data_dir: Path) -> Path:
    return data_dir / "broker"


def workers_file(data_dir: Path) -> Path:
    return broker_dir(data_dir) / "workers"


def read_workers(data_dir: Path) -> list[str]:
    """The hub workers' MQTT users (`camaudit hub add-worker`), in the order added."""
    try:
        text = workers_file(data_dir).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    names = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return [check_user(n) for n in dict.fromkeys(names)]


def worker_group(data_dir: Path) -> str:
    """The shared subscription group of the hub's workers on the hub's own mosquitto: a name
    no device can guess (kept 0600 in the broker folder). A device may subscribe to any
    `$share/<group>/...` filter; the ACL lets it read nothing of other devices, but mosquitto
    would still hand it its turn of the group's messages and drop them: a device that joined
    the workers' group would make the hub miss a share of every device's events."""
    f = broker_dir(data_dir) / "group"
    try:
        name = f.read_text(encoding="utf-8").strip()
        if name:
            return name
    except FileNotFoundError:
        pass
    f.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(f.parent, 0o700)
    name = f"camaudit-hub-{secrets.token_hex(12)}"
    _write_private(f, name + "\n")
    return name


def add_worker(data_dir: Path, name: str, prefix: str, discovery_prefix: str = "homeassistant") -> Path:
    """Create the MQTT user of hub worker `name` with the worker's ACL rights; a running hub's
    mosquitto reloads its password and ACL files at once. Returns the password file."""
    check_user(name)
    if name in RESERVED_USERS:
        raise HubError(f"add-worker: {name!r} is one of the hub's own MQTT users")
    d = broker_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    workers = read_workers(data_dir)
    if name not in workers:
        workers.append(name)
        _write_private(workers_file(data_dir), "".join(w + "\n" for w in workers))
    secret = ensure_user_secret(data_dir, d / "passwd", name)
    worker_group(data_dir)
    _write_private(d / "acl", acl_text(prefix, discovery_prefix, workers))
    signal_reload(data_dir)
    log.info("hub worker %s: MQTT user created (password in %s)", name, secret)
    return secret


def signal_reload(data_dir: Path) -> bool:
    """SIGHUP the hub's running mosquitto (from its pid file), so it re-reads the password
    and ACL files. False if no hub broker runs for `data_dir`."""
    pid_file = broker_dir(data_dir) / "mosquitto.pid"
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    if b"mosquitto" not in cmdline or str(broker_dir(data_dir) / "mosquitto.conf").encode() not in cmdline:
        return False  # a stale pid file: that pid is some other process now
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError:
        return False
    log.info("asked the hub's mosquitto (pid %d) to reload its password and ACL files", pid)
    return True
