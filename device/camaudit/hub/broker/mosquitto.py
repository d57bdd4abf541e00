"""The hub's MQTT broker: Debian's Eclipse Mosquitto in a child process the hub supervises.

The hub writes the broker's whole configuration into `<data_dir>/broker/`:

- `mosquitto.conf`: one listener on the given host (127.0.0.1 by default), no anonymous
  clients, client id = user name, persistence on, and the limits of `BrokerLimits`;
- `passwd`: the password file, maintained with `mosquitto_passwd` (PBKDF2-SHA512); the
  clear passwords live in `<data_dir>/secrets/<user>.pass` (0600) for the clients;
- `acl`: see `acl_text`: each device writes only its own subtree and reads only its own
  `ack` and `cmd/#`; only the hub user and the hub's workers (`workers`, one user name a
  line: `camaudit hub add-worker NAME`) read every device's stream and write acks and commands;
- the `plugin` lines of subscribe_acl.py: what each client may subscribe to (the acl_file grants
  every SUBSCRIBE in mosquitto 2.0), so a device holds at most three subscriptions.

With a front (`FrontLimits`, what the hub itself runs: hub/run.py), mosquitto listens only on a
private 127.0.0.1 port, and HAProxy (broker/front.py) on the public host:port: it drops a
client that sends no complete MQTT CONNECT within seconds and bounds connections per source
address and in total. The hub's own clients (collector, retained guard) use the private port.

Users added while the broker runs (`camaudit hub enroll`, `hub adduser`) take effect on
SIGHUP (`reload`), which mosquitto answers by re-reading the password and ACL files: no
restart, no dropped connection. If mosquitto dies, the supervisor thread starts it again on
the same port; with persistence its sessions and retained messages come back. HAProxy is
supervised the same way.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from camaudit.hub.broker import subscribe_acl
from camaudit.hub.broker.files import (
    BROKER_ACCOUNT,
    _need,
    _write_private,
    acl_text,
    broker_account,
    broker_dir,
    mosquitto_binary,
    read_workers,
    workers_file,
)
from camaudit.hub.broker.front import (
    FrontLimits,
    check_config,
    front_config_text,
    front_pem_text,
    need_haproxy,
)
from camaudit.hub.broker.front import files_needed as front_files_needed
from camaudit.hub.broker.logpump import MAX_LOG_BYTES, LogPump
from camaudit.hub.store.hub_store import HubError

log = logging.getLogger(__name__)

#: mosquitto behind the front accepts this many connections more than the front lets through:
#: the hub's own clients (collector, retained guard, workers on this machine) connect directly.
DIRECT_CLIENTS = 64

def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class BrokerLimits:
    """Limits written into mosquitto.conf (docs/hub-security.md says why each value)."""

    max_packet_size: int = 128 * 1024  # a hub-accepted message (64 KiB) + topic and headers
    max_queued_messages: int = 20_000  # per client: ~10 s of the 2,000 events/s goal for the hub
    max_queued_bytes: int = 32 * 1024 * 1024  # per client, whichever of the two comes first
    max_inflight_messages: int = 100
    max_connections: int = 256
    max_keepalive: int = 3600  # the longest keepalive a device config allows (MqttConfig)


def files_needed(max_connections: int) -> int:
    """Descriptors mosquitto needs: one a connection, as many again for the sockets the kernel
    hands it past the limit before it closes them, and its own files (log, db, listener)."""
    return 2 * max_connections + 64


def _child_setup(nofile: int) -> Callable[[], None]:
    def setup() -> None:  # pragma: no cover - runs in the child between fork and exec
        """Linux: mosquitto gets SIGTERM when the hub process dies, and does not hold the port;
        its open-file limit is raised to `nofile` (as far as the hard limit lets it)."""
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < nofile:
            top = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))

    return setup


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
        front: FrontLimits | None = None,
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
        self.front = front
        self.backend_port = self._private_port() if front is not None else self.port
        self.front_restarts = 0
        self.front_log_bytes = MAX_LOG_BYTES
        self._front_proc: subprocess.Popen[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watch: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "mqtts" if self.certfile else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"

    def _private_port(self) -> int:
        """mosquitto's private port behind the front: the one of the last start if it is still
        free (workers on this machine read it from mosquitto.conf when they start), else a new one."""
        f = self.dir / "private-port"
        with contextlib.suppress(OSError, ValueError):
            port = int(f.read_text().strip())
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as mosquitto binds
                s.bind(("127.0.0.1", port))
            return port
        port = free_port("127.0.0.1")
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        _write_private(f, f"{port}\n")
        return port

    @property
    def private_url(self) -> str:
        """Where the hub's own clients connect: mosquitto's private listener behind the front
        (plain MQTT on 127.0.0.1), or the one listener without a front."""
        return f"mqtt://127.0.0.1:{self.backend_port}" if self.front is not None else self.url

    @property
    def front_conf_file(self) -> Path:
        return self.dir / "haproxy.cfg"

    @property
    def front_pem(self) -> Path:
        return self.dir / "front.pem"

    @property
    def front_pid(self) -> int | None:
        return self._front_proc.pid if self._front_proc is not None else None

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
            *subscribe_acl.config_lines(self.prefix, workers_file(self.data_dir),  # before any listener
                                        passwd_file=self.passwd_file),
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
        if broker_account(self.data_dir) is not None:  # a root hub: mosquitto drops to its own account
            lines.append(f"user {BROKER_ACCOUNT}")
        elif os.geteuid() == 0:
            lines.append("user root")  # no such account: stays root (warned at start)
        if self.front is not None:  # only HAProxy and the hub's own clients reach it
            return "\n".join([*lines, "", f"listener {self.backend_port} 127.0.0.1",
                              f"max_connections {self.front.max_connections + DIRECT_CLIENTS}",
                              "use_username_as_clientid true"]) + "\n"
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
        account = broker_account(self.data_dir)
        if account is not None:
            # the broker folder is the broker account's; the data folder lets that group
            # pass through (0710), not list it; secrets/ and the rest stay the hub's
            uid, gid = account
            os.chown(self.data_dir, 0, gid)
            os.chmod(self.data_dir, 0o710)
            for path in (self.dir, *self.dir.rglob("*")):
                os.chown(path, uid, gid)
        elif os.geteuid() == 0:
            log.warning("no %r account, or it cannot reach %s: the hub's mosquitto runs as root",
                        BROKER_ACCOUNT, self.dir)
        _write_private(self.acl_file, acl_text(self.prefix, self.discovery_prefix, read_workers(self.data_dir)))
        _write_private(self.conf_file, self.config_text())
        if not self.passwd_file.exists():
            _write_private(self.passwd_file, "")
        if self.front is not None:
            self._write_front_config(account)

    def _write_front_config(self, account: tuple[int, int] | None) -> None:
        binary = need_haproxy()
        pem = None
        if self.certfile:
            pem = self.front_pem
            _write_private(pem, front_pem_text(self.certfile, self.keyfile))
        assert self.front is not None
        _write_private(self.front_conf_file, front_config_text(
            host=self.host, port=self.port, backend_port=self.backend_port, limits=self.front,
            pem=pem, account=account))
        check_config(binary, self.front_conf_file)

    def start(self, timeout: float = 10.0) -> None:
        self.write_config()
        self._stopping.clear()
        self._spawn(timeout)
        if self.front is not None:
            try:
                self._spawn_front(timeout)
            except BaseException:
                self.stop()
                raise
        self._watch = threading.Thread(target=self._supervise, name="hub-mosquitto", daemon=True)
        self._watch.start()

    def _spawn(self, timeout: float) -> None:
        binary = mosquitto_binary() or _need("mosquitto")
        log_file = open(self.dir / "mosquitto.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            proc = subprocess.Popen(
                [binary, "-c", str(self.conf_file)], stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=log_file,
                preexec_fn=_child_setup(files_needed(self.limits.max_connections)),  # noqa: PLW1509
                start_new_session=True,  # a terminal's Ctrl-C reaches the hub, which stops it; not it
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
                socket.create_connection(self._mosquitto_address, 0.2).close()
                log.info("mosquitto (pid %d) listening on %s", proc.pid, self.private_url)
                return
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait(5)
        raise HubError(f"mosquitto did not start on {self.host}:{self.port}: {self._log_tail()}")

    @property
    def _mosquitto_address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.backend_port) if self.front is not None else (self.host, self.port)

    def _spawn_front(self, timeout: float) -> None:
        """HAProxy on host:port (foreground, `-db`); its log, one line a connection it ended
        with the client's address, goes to haproxy.log in the broker folder, bounded
        (broker/logpump.py)."""
        assert self.front is not None
        proc = subprocess.Popen(
            [need_haproxy(), "-db", "-f", str(self.front_conf_file)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(front_files_needed(self.front)),  # noqa: PLW1509
            start_new_session=True,
        )
        assert proc.stdout is not None
        pump = LogPump(proc.stdout, self.dir / "haproxy.log", self.front_log_bytes)
        pump.start()
        with self._lock:
            self._front_proc = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pump.join(2.0)
                raise HubError(f"haproxy on {self.host}:{self.port} exited (code {proc.returncode}): "
                               f"{self._log_tail('haproxy.log')}")
            try:
                socket.create_connection((self.host, self.port), 0.2).close()
                log.info("haproxy (pid %d) in front of mosquitto on %s", proc.pid, self.url)
                return
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait(5)
        raise HubError(f"haproxy did not start on {self.host}:{self.port}: {self._log_tail('haproxy.log')}")

    def _log_tail(self, name: str = "mosquitto.log") -> str:
        try:
            lines = (self.dir / name).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "no log"

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                proc, front = self._proc, self._front_proc
            if proc is not None and proc.poll() is not None and not self._stopping.is_set():
                log.warning("mosquitto (pid %d) exited with %s; restarting", proc.pid, proc.returncode)
                if self._respawn(self._spawn):
                    self.restarts += 1
            if front is not None and front.poll() is not None and not self._stopping.is_set():
                log.warning("haproxy (pid %d) exited with %s; restarting", front.pid, front.returncode)
                if self._respawn(self._spawn_front):
                    self.front_restarts += 1

    def _respawn(self, spawn: Callable[[float], None]) -> bool:
        time.sleep(self.restart_delay_s)
        while not self._stopping.is_set():
            try:
                spawn(10.0)
                return True
            except HubError as exc:
                log.error("%s; retrying in 2 s", exc)
                self._stopping.wait(2.0)
        return False

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

    def kill_front(self) -> None:
        """SIGKILL HAProxy (fault tests); the supervisor starts it again."""
        with self._lock:
            proc = self._front_proc
        if proc is not None:
            proc.kill()
            proc.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._watch is not None:
            self._watch.join(timeout)
            self._watch = None
        with self._lock:
            front, self._front_proc = self._front_proc, None
            proc, self._proc = self._proc, None
        for name, p in (("haproxy", front), ("mosquitto", proc)):
            if p is None:
                continue
            p.terminate()
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            log.info("%s stopped", name)
