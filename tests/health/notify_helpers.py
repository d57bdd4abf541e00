"""A real AF_UNIX datagram socket standing in for systemd's notification socket."""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class NotifyListener:
    def __init__(self, sock: socket.socket, path: Path) -> None:
        self.sock = sock
        self.path = path
        self.seen: list[tuple[float, str]] = []

    def collect(self, seconds: float) -> list[tuple[float, str]]:
        """Every message received in the next `seconds` (monotonic time, text)."""
        got: list[tuple[float, str]] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                break
            got.append((time.monotonic(), data.decode()))
        self.seen.extend(got)
        return got

    def wait_for(self, line: str, timeout: float) -> float:
        """Time at which a message containing the line `line` arrived; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, msg in self.collect(min(0.5, max(0.01, deadline - time.monotonic()))):
                if line in msg.splitlines():
                    return t
        raise AssertionError(f"no {line} within {timeout} s; seen {self.seen[-5:]}")


@contextmanager
def notify_listener() -> Iterator[NotifyListener]:
    folder = Path(tempfile.mkdtemp(prefix="sdn", dir="/tmp"))  # AF_UNIX paths are short
    path = folder / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(str(path))
        yield NotifyListener(sock, path)
    finally:
        sock.close()
        path.unlink(missing_ok=True)
        folder.rmdir()


def lines(msgs: list[tuple[float, str]], line: str) -> list[float]:
    return [t for t, m in msgs if line in m.splitlines()]
