"""The hub's MQTT broker: Debian's Eclipse Mosquitto in a child process the hub supervises.

The hub writes the broker's whole configuration into `<data_dir>/broker/`:

- `mosquitto.conf`: one listener on the given host (127.0.0.1 by default), no anonymous
  clients, client id = user name, persistence on, and the limits of `BrokerLimits`;
- `passwd`: the password file, maintained with `mosquitto_passwd` (PBKDF2-SHA512); the
  clear passwords live in `<data_dir>/secrets/<user>.pass` (0600) for the clients;
- `acl`: see `acl_text`: each device writes only its own subtree and reads only its own
  `ack` and `cmd/#`; only the hub user and the hub's workers (`workers`, one user name a
  line: `camaudit hub add-worker NAME`) read every device's stream and write acks and commands.

Users added while the broker runs (`camaudit hub enroll`, `hub adduser`) take effect on
SIGHUP (`reload`), which mosquitto answers by re-reading the password and ACL files: no
restart, no dropped connection. If mosquitto dies, the supervisor thread starts it again on
the same port; with persistence its sessions and retained messages come back.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from camaudit.hub.store.hub_store import HubError

log = logging.getLogger(__name__)

HUB_USER = "hub"
ALERTS_USER = "alerts"
#: MQTT user names that are not devices (a device may not be enrolled under these).
RESERVED_USERS = frozenset({HUB_USER, ALERTS_USER})
_USER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def _need(tool: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
    if path is None:
        raise HubError(f"{tool} is not installed: run `sudo apt-get install mosquitto` "
                       "(Debian / Raspberry Pi OS), or start the hub with --broker URL")
    return path


@dataclass(frozen=True)
class BrokerLimits:
    """Limits written into mosquitto.conf (the README says why each value)."""

    max_packet_size: int = 128 * 1024  # a hub-accepted message (64 KiB) + topic and headers
    max_queued_messages: int = 20_000  # per client: ~10 s of the 2,000 events/s goal for the hub
    max_queued_bytes: int = 32 * 1024 * 1024  # per client, whichever of the two comes first
    max_inflight_messages: int = 100
    max_connections: int = 256
    max_keepalive: int = 3600  # the longest keepalive a device config allows (MqttConfig)


def check_user(name: str) -> str:
    if not _USER_RE.match(name):
        raise HubError(f"bad MQTT user name or device id {name!r} (use 1-64 of A-Z a-z 0-9 _ . -)")
    return name


def acl_text(prefix: str, discovery_prefix: str = "homeassistant", workers: Iterable[str] = ()) -> str:
    """The broker's ACL: mosquitto only allows what a line grants, everything else is denied.

    `pattern` lines apply to every user with %u replaced by its name, so a device `d1` may:
    write `<p>/d1/{events,checkpoints,alerts,status,key}`, `<p>/d1/feeds/#`,
    `<p>/d1/notices/#`, its evidence frames `<p>/d1/evidence/<seq>/<sha>` and its Home Assistant
    discovery configs; read `<p>/d1/ack` and `<p>/d1/cmd/#` (which carries evidence acks).
    Nothing else: not another device's topics, not its own acks/commands.

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
    ]
    for w in workers:
        lines.append(f"user {check_user(w)}")
        lines += [f"topic read {p}/+/{sub}" for sub in ("events", "checkpoints", "status", "key", "evidence/+/+")]
        lines += [f"topic write {p}/+/ack", f"topic write {p}/+/cmd/#", f"topic write {p}/hub/alerts", ""]
    for sub in ("events", "checkpoints", "alerts", "status", "key", "feeds/#", "notices/#",
                "evidence/+/+"):
        lines.append(f"pattern write {p}/%u/{sub}")
    lines.append(f"pattern write {discovery_prefix}/+/camaudit_%u/#")
    lines.append(f"pattern read {p}/%u/ack")
    lines.append(f"pattern read {p}/%u/cmd/#")
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


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


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: mosquitto gets SIGTERM when the hub process dies, and does not hold the port."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ManagedMosquitto:
    """mosquitto on host:port with the hub's generated config, restarted if it dies."""

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        prefix: str = "camaudit",
        discovery_prefix: str = "homeassistant",
        certfile: Path | None = None,
        keyfile: Path | None = None,
        limits: BrokerLimits | None = None,
        restart_delay_s: float = 0.5,
    ) -> None:
        self.data_dir = data_dir
        self.dir = broker_dir(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.prefix = prefix
        self.discovery_prefix = discovery_prefix
        self.certfile = certfile
        self.keyfile = keyfile
        self.limits = limits or BrokerLimits()
        self.restart_delay_s = restart_delay_s
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watch: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "mqtts" if self.certfile else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def passwd_file(self) -> Path:
        return self.dir / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.dir / "acl"

    @property
    def conf_file(self) -> Path:
        return self.dir / "mosquitto.conf"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def config_text(self) -> str:
        lim = self.limits
        d = self.dir
        lines = [
            "# Written by camaudit hub at every start; edit the hub's config instead.",
            f"pid_file {d / 'mosquitto.pid'}",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {self.passwd_file}",
            f"acl_file {self.acl_file}",
            "persistence true",
            f"persistence_location {d / 'db'}/",
            "autosave_interval 5",
            f"max_packet_size {lim.max_packet_size}",
            f"max_queued_messages {lim.max_queued_messages}",
            f"max_queued_bytes {lim.max_queued_bytes}",
            f"max_inflight_messages {lim.max_inflight_messages}",
            f"max_keepalive {lim.max_keepalive}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages false",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # keep the hub's own user: the 0600 files stay readable
        lines += [
            "",
            f"listener {self.port} {self.host}",
            f"max_connections {lim.max_connections}",
            "use_username_as_clientid true",
        ]
        if self.certfile:
            lines.append(f"certfile {self.certfile}")
            lines.append(f"keyfile {self.keyfile or self.certfile}")
        return "\n".join(lines) + "\n"

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        (self.dir / "db").mkdir(exist_ok=True)
        _write_private(self.acl_file, acl_text(self.prefix, self.discovery_prefix, read_workers(self.data_dir)))
        _write_private(self.conf_file, self.config_text())
        if not self.passwd_file.exists():
            _write_private(self.passwd_file, "")

    def start(self, timeout: float = 10.0) -> None:
        self.write_config()
        self._stopping.clear()
        self._spawn(timeout)
        self._watch = threading.Thread(target=self._supervise, name="hub-mosquitto", daemon=True)
        self._watch.start()

    def _spawn(self, timeout: float) -> None:
        binary = mosquitto_binary() or _need("mosquitto")
        log_file = open(self.dir / "mosquitto.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            proc = subprocess.Popen(
                [binary, "-c", str(self.conf_file)], stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=log_file, preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
        finally:
            log_file.close()
        with self._lock:
            self._proc = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise HubError(f"mosquitto on {self.host}:{self.port} exited (code {proc.returncode}): "
                               f"{self._log_tail()}")
            try:
                socket.create_connection((self.host, self.port), 0.2).close()
                log.info("mosquitto (pid %d) listening on %s", proc.pid, self.url)
                return
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait(5)
        raise HubError(f"mosquitto did not start on {self.host}:{self.port}: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            lines = (self.dir / "mosquitto.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "no log"

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                proc = self._proc
            if proc is None or proc.poll() is None:
                continue
            if self._stopping.is_set():
                return
            log.warning("mosquitto (pid %d) exited with %s; restarting", proc.pid, proc.returncode)
            time.sleep(self.restart_delay_s)
            while not self._stopping.is_set():
                try:
                    self._spawn(10.0)
                    self.restarts += 1
                    break
                except HubError as exc:
                    log.error("%s; retrying in 2 s", exc)
                    self._stopping.wait(2.0)

    def reload(self) -> None:
        """SIGHUP: mosquitto re-reads the password and ACL files (no restart)."""
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGHUP)
            log.info("mosquitto reloads its password and ACL files")

    def kill(self) -> None:
        """SIGKILL mosquitto (fault tests); the supervisor starts it again."""
        with self._lock:
            proc = self._proc
        if proc is not None:
            proc.kill()
            proc.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._watch is not None:
            self._watch.join(timeout)
            self._watch = None
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.info("mosquitto stopped")
