"""Embedded MQTT broker for a one-box hub: bound to one address, password file, TLS.

The broker is the hub's own (camaudit.hub.mqttd: pure-Python asyncio, MQTT 3.1.1). It
listens on the given host only (127.0.0.1 by default). By default it runs in a child
process the hub starts and stops (its own interpreter, so it does not compete with
signature checks for the GIL; it exits when the hub dies); `process=False` runs it in a
thread instead. Sessions live in memory only: devices re-send whatever the hub has not
acked, so a hub restart loses nothing.

    python -m camaudit.hub.broker --bind 127.0.0.1:1883 [--password-file F] [--cert C --key K]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from camaudit.hub.store import HubError

if TYPE_CHECKING:
    from camaudit.hub.mqttd import Broker

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def hash_password(password: str) -> str:
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    return PasswordHash((Argon2Hasher(),)).hash(password)


def add_user(passwd_file: Path, username: str, password: str | None = None) -> str:
    """Add or replace `username` in the broker's password file (`user:<argon2 hash>` lines);
    returns the password."""
    if not username or ":" in username:
        raise HubError(f"bad MQTT user name {username!r}")
    password = password or secrets.token_urlsafe(18)
    passwd_file.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if passwd_file.exists():
        lines = [ln for ln in passwd_file.read_text().splitlines() if not ln.startswith(username + ":")]
    lines.append(f"{username}:{hash_password(password)}")
    _write_private(passwd_file, "\n".join(lines) + "\n")
    return password


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


def ensure_user_secret(data_dir: Path, passwd_file: Path, username: str) -> Path:
    """A password file `<data_dir>/secrets/<user>.pass` (0600) for `username`, created once
    and registered in the broker's password file. Returns its path (for MqttConfig.password_file)."""
    secret = data_dir / "secrets" / f"{username}.pass"
    if secret.exists() and passwd_file.exists() and any(
        ln.startswith(username + ":") for ln in passwd_file.read_text().splitlines()
    ):
        return secret
    secret.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(secret.parent, 0o700)
    password = add_user(passwd_file, username)
    _write_private(secret, password + "\n")
    return secret


class EmbeddedBroker:
    """The hub's MQTT broker on host:port, in a child process (default) or a thread of its own."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        password_file: Path | None = None,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        process: bool = True,
        protected: tuple[str, ...] = (),
        admins: tuple[str, ...] = (),
    ) -> None:
        """`protected`: topic filters only the `admins` users may publish to (with a
        password file; see mqttd.Broker)."""
        self.host = host
        self.port = port or free_port(host)
        self.password_file = password_file
        self.certfile = certfile
        self.keyfile = keyfile
        self.process = process
        self.protected = protected
        self.admins = admins
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Broker | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        scheme = "mqtts" if self.certfile else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.certfile:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.certfile), str(self.keyfile) if self.keyfile else None)
        return ctx

    async def serve(self) -> Broker:
        """Start listening in the running event loop (the thread and the child process use this)."""
        from camaudit.hub.mqttd import Broker

        broker = Broker(password_file=self.password_file, protected=self.protected,
                        admins=frozenset(self.admins))
        await broker.start(self.host, self.port, self._ssl_context())
        return broker

    def start(self, timeout: float = 10.0) -> None:
        if self.process:
            self._start_process(timeout)
            return
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._main, name="mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise HubError(f"embedded broker did not start on {self.host}:{self.port}")
        if self._error is not None:
            raise HubError(f"embedded broker on {self.host}:{self.port}: {self._error}")
        log.info("embedded broker listening on %s (%s)", self.url,
                 "password file" if self.password_file else "anonymous")

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._broker = loop.run_until_complete(self.serve())
        except BaseException as exc:  # report to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _start_process(self, timeout: float) -> None:
        cmd = [sys.executable, "-m", "camaudit.hub.broker", "--bind", f"{self.host}:{self.port}"]
        if self.password_file is not None:
            cmd += ["--password-file", str(self.password_file)]
        if self.certfile:
            cmd += ["--cert", str(self.certfile), "--key", str(self.keyfile)]
        for f in self.protected:
            cmd += ["--protect", f]
        for user in self.admins:
            cmd += ["--admin", user]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise HubError(f"embedded broker on {self.host}:{self.port} exited "
                               f"(code {self._proc.returncode}); is the port in use?")
            try:
                socket.create_connection((self.host, self.port), 0.2).close()
                log.info("embedded broker (pid %d) listening on %s (%s)", self._proc.pid, self.url,
                         "password file" if self.password_file else "anonymous")
                return
            except OSError:
                time.sleep(0.05)
        self._proc.kill()
        raise HubError(f"embedded broker did not start on {self.host}:{self.port}")

    def kill(self) -> None:
        """SIGKILL the broker process (fault tests)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
            self._proc = None

    def stop(self, timeout: float = 5.0) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
            self._proc = None
            log.info("embedded broker stopped")
            return
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(broker.close(), loop)
        try:
            fut.result(timeout)
        except Exception as exc:
            log.warning("embedded broker shutdown: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        self._thread = None
        log.info("embedded broker stopped")


def _main() -> int:
    ap = argparse.ArgumentParser(prog="python -m camaudit.hub.broker")
    ap.add_argument("--bind", required=True)
    ap.add_argument("--password-file", type=Path)
    ap.add_argument("--cert", type=Path)
    ap.add_argument("--key", type=Path)
    ap.add_argument("--protect", action="append", default=[], metavar="FILTER",
                    help="topic filter only --admin users may publish to (repeatable)")
    ap.add_argument("--admin", action="append", default=[], metavar="USER")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="broker: %(message)s")
    host, _, port = a.bind.rpartition(":")
    b = EmbeddedBroker(host, int(port), password_file=a.password_file, certfile=a.cert,
                       keyfile=a.key, process=False, protected=tuple(a.protect),
                       admins=tuple(a.admin))
    try:
        asyncio.run(_serve_until_stopped(b))
    except OSError as exc:
        log.error("cannot listen on %s: %s", a.bind, exc)
        return 1
    return 0


async def _serve_until_stopped(b: EmbeddedBroker) -> None:
    """Serve until SIGTERM / SIGINT, or until the parent (the hub) is gone."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    broker = await b.serve()
    parent = os.getppid()
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except TimeoutError:
                if os.getppid() != parent:  # the hub died: do not linger holding the port
                    break
    finally:
        await broker.close()


if __name__ == "__main__":
    sys.exit(_main())
