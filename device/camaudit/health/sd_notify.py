"""systemd's sd_notify protocol with the standard library: one datagram per message.

systemd passes NOTIFY_SOCKET (a path, or an abstract name starting with '@') to a
Type=notify service, and WATCHDOG_USEC (+ WATCHDOG_PID) when WatchdogSec= is set. Outside
systemd NOTIFY_SOCKET is absent and every call is a no-op that returns False.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

MAX_STATUS_CHARS = 400  # STATUS= is one line shown by `systemctl status`; keep it short


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_s = _watchdog_s(env)
        self._sock: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send `KEY=value` lines in one datagram; False when not under systemd or it failed."""
        if self.address is None:
            return False
        msg = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(msg, self.address)
        except OSError as exc:
            if not self._failed:  # say it once, not at every ping
                log.warning("sd_notify to %r failed: %s", self.address, exc)
            self._failed = True
            return False
        if self._failed:
            log.info("sd_notify works again")
        self._failed = False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status[:MAX_STATUS_CHARS]}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text[:MAX_STATUS_CHARS]}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _address(raw: str) -> str | bytes | None:
    if not raw:
        return None
    if raw.startswith("@"):  # abstract namespace socket
        return b"\0" + raw[1:].encode()
    if raw.startswith("/"):
        return raw
    log.warning("NOTIFY_SOCKET=%r is neither a path nor an abstract name: ignored", raw)
    return None


def _watchdog_s(env: Mapping[str, str]) -> float | None:
    """The watchdog period in seconds, when systemd armed one for this process."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process (our parent, say)
    return int(usec) / 1_000_000
