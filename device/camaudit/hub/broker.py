"""Embedded MQTT broker (amqtt) for a one-box hub: bound explicitly, password file.

amqtt binds 0.0.0.0 unless told otherwise, so the bind address is always explicit here.
By default the broker runs in a child process the hub starts and stops (its own
interpreter, so it does not compete with signature checks for the GIL; it exits when the
hub dies); `process=False` runs it in a thread instead. Sessions live in memory only:
devices re-send whatever the hub has not acked, so a hub restart loses nothing.

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
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from camaudit.hub.store import HubError

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
    """Add or replace `username` in an amqtt/argon2 password file; returns the password."""
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
    """amqtt broker on host:port, in a child process (default) or a thread of its own."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        password_file: Path | None = None,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        process: bool = True,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.password_file = password_file
        self.certfile = certfile
        self.keyfile = keyfile
        self.process = process
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        scheme = "mqtts" if self.certfile else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        listener: dict[str, Any] = {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 0}
        if self.certfile:
            listener.update(ssl=True, certfile=str(self.certfile), keyfile=str(self.keyfile))
        plugins: dict[str, Any]
        if self.password_file is not None:
            plugins = {"amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(self.password_file)}}
        else:
            plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        return {"listeners": {"default": listener}, "plugins": plugins}

    def start(self, timeout: float = 10.0) -> None:
        if self.process:
            self._start_process(timeout)
            return
        self._thread = threading.Thread(target=self._main, name="amqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise HubError(f"embedded broker did not start on {self.host}:{self.port}")
        if self._error is not None:
            raise HubError(f"embedded broker on {self.host}:{self.port}: {self._error}")
        log.info("embedded broker listening on %s (%s)", self.url,
                 "password file" if self.password_file else "anonymous")

    def _main(self) -> None:
        from amqtt.broker import Broker

        _coalesce_writes()
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._broker = Broker(self._config(), loop=loop)
            loop.run_until_complete(self._broker.start())
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
        fut = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        try:
            fut.result(timeout)
        except Exception as exc:
            log.warning("embedded broker shutdown: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        self._thread = None
        log.info("embedded broker stopped")


def _coalesce_writes() -> None:
    """Make amqtt write each connection's packets once per event-loop pass, not one by one.

    amqtt writes every packet (PUBACK to the device, PUBLISH to the hub, ...) straight to
    its socket: one `send` system call each, ~40% of the broker's CPU under load (py-spy).
    Here packets written in one pass of the loop leave in one `send`. Order and
    backpressure are kept: a connection's bytes go out in write order, and `drain()` still
    waits while the transport's own buffer is full.
    """
    import amqtt.adapters
    import amqtt.broker

    base = amqtt.adapters.StreamWriterAdapter
    if getattr(amqtt.broker.StreamWriterAdapter, "coalescing", False):
        return

    class CoalescingWriter(base):  # type: ignore[misc, valid-type]
        coalescing = True

        def __init__(self, writer: asyncio.StreamWriter) -> None:
            super().__init__(writer)
            self._buf = bytearray()
            self._scheduled = False

        def write(self, data: bytes) -> None:
            if self.is_closed:
                return
            self._buf += data
            if len(self._buf) >= COALESCE_MAX:
                self._flush()
            elif not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._flush)

        def _flush(self) -> None:
            self._scheduled = False
            if self._buf:
                data = bytes(self._buf)
                self._buf.clear()
                if not self._writer.transport.is_closing():
                    self._writer.write(data)

        async def close(self) -> None:
            self._flush()
            await super().close()

    amqtt.broker.StreamWriterAdapter = CoalescingWriter


COALESCE_MAX = 256 * 1024


def _main() -> int:
    ap = argparse.ArgumentParser(prog="python -m camaudit.hub.broker")
    ap.add_argument("--bind", required=True)
    ap.add_argument("--password-file", type=Path)
    ap.add_argument("--cert", type=Path)
    ap.add_argument("--key", type=Path)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="broker: %(message)s")
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    host, _, port = a.bind.rpartition(":")
    b = EmbeddedBroker(host, int(port), password_file=a.password_file, certfile=a.cert,
                       keyfile=a.key, process=False)
    b.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(0.5):
        if os.getppid() != parent:  # the hub died: do not linger holding the port
            break
    b.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
